"""systemd units: facts read with `systemctl show`, decisions made by pure functions."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from remediations.connections.base import (
    CommandResult,
    Connection,
    HostGuard,
    capability,
    check_argv,
)
from remediations.connections.batch import run_batch
from remediations.core import validate
from remediations.core.databases import is_database_unit
from remediations.core.errors import InvalidInput
from remediations.core.result import Diff, Result, Status, Step
from remediations.host import systemd_guard
from remediations.run import markers
from remediations.run.contract import Probe, Verification, apply, reads_after_acting
from remediations.run.target import Target

_PROPS = ("Id", "LoadState", "ActiveState", "SubState", "MainPID", "ActiveEnterTimestamp",
          "UnitFileState", "Result", "Type", "CanReload")
_TS_FORMATS = ("%a %Y-%m-%d %H:%M:%S.%f %Z", "%a %Y-%m-%d %H:%M:%S %Z")


@dataclass(frozen=True, slots=True)
class UnitState:
    """What `systemctl show` says about one unit."""

    unit: str
    load_state: str
    active_state: str
    sub_state: str
    main_pid: int
    active_since: datetime | None
    unit_file_state: str = ""
    result: str = ""
    type: str = ""
    can_reload: bool = True

    @property
    def exists(self) -> bool:
        return self.load_state not in ("not-found", "")

    @property
    def active(self) -> bool:
        return self.active_state == "active"

    @property
    def start_limit_hit(self) -> bool:
        return self.result == "start-limit-hit"

    def describe(self) -> str:
        since = self.active_since.isoformat(timespec="seconds") if self.active_since else "-"
        return (f"{self.unit}: {self.active_state} ({self.sub_state}), MainPID {self.main_pid}, "
                f"since {since}")


def parse_timestamp(value: str) -> datetime | None:
    """systemd's `Mon 2026-11-23 10:40:01.123456 UTC` (with --timestamp=us+utc) to a datetime."""
    value = value.strip()
    if not value or value == "n/a":
        return None
    for fmt in _TS_FORMATS:
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def parse_unit_state(unit: str, text: str) -> UnitState:
    """Parse `systemctl show -p ...` output (KEY=value lines)."""
    props = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    try:
        pid = int(props.get("MainPID", "0") or 0)
    except ValueError:
        pid = 0
    return UnitState(
        unit=unit, load_state=props.get("LoadState", ""), active_state=props.get("ActiveState", ""),
        sub_state=props.get("SubState", ""), main_pid=pid,
        active_since=parse_timestamp(props.get("ActiveEnterTimestamp", "")),
        unit_file_state=props.get("UnitFileState", ""), result=props.get("Result", ""),
        type=props.get("Type", ""), can_reload=props.get("CanReload", "yes") != "no",
    )


def show_argv(*units: str) -> list[str]:
    return ["systemctl", "show", "--timestamp=us+utc", "-p", ",".join(_PROPS), *units]


def _show(conn: Connection, units: Sequence[str]) -> str:
    res = conn.run(show_argv(*units), check=False)
    if res.failed and "timestamp" in res.stderr:
        # systemd < 248 has no --timestamp; its local-time stamps are parsed when in UTC.
        res = conn.run(["systemctl", "show", "-p", ",".join(_PROPS), *units])
    return res.stdout


def unit_state(conn: Connection, unit: str) -> UnitState:
    """Read one unit's state (one round trip)."""
    return parse_unit_state(unit, _show(conn, [unit]))


def plan_service_running(state: UnitState, *, restart: bool, run_started: datetime) -> list[Step]:
    """The commands that leave `state.unit` running; a restart only if none happened this run."""
    unit = state.unit
    steps: list[Step] = []
    if not state.active and (state.active_state == "failed" or state.start_limit_hit):
        steps.append(Step(["systemctl", "reset-failed", unit], "clear the failed state first"))
    if state.active or state.active_state in ("activating", "reloading"):
        if not restart:
            return steps
        if state.active_since is not None and state.active_since >= run_started:
            return steps  # already (re)started since this run began: done once per run
        return [*steps, Step(["systemctl", "restart", unit], "restart requested")]
    return [*steps, Step(["systemctl", "start", unit], f"unit is {state.active_state}")]


def journal_tail(conn: Connection, unit: str, lines: int = 30) -> str:
    res = conn.run(["journalctl", "-u", unit, "-n", str(lines), "--no-pager", "-o", "short-iso"],
                   check=False)
    return f"journalctl -u {unit} (last {lines}):\n{res.tail(lines)}"


def wait_until(conn: Connection, unit: str, settled: Callable[[UnitState], bool], *,
               timeout: float = 30.0, interval: float = 0.5) -> UnitState:
    """Poll the unit until `settled(state)` or time runs out; returns the last state seen."""
    from tenacity import RetryCallState, Retrying, retry_if_result, stop_after_delay, wait_fixed

    def last_seen(state: RetryCallState) -> UnitState:
        assert state.outcome is not None
        return state.outcome.result()  # type: ignore[no-any-return]

    retry = Retrying(stop=stop_after_delay(timeout), wait=wait_fixed(interval),
                     retry=retry_if_result(lambda s: not settled(s)),
                     retry_error_callback=last_seen)
    return retry(unit_state, conn, unit)


def wait_active(conn: Connection, unit: str, *, old_pid: int | None, timeout: float = 30.0,
                interval: float = 0.5) -> UnitState:
    """Poll until the unit is active (with a MainPID other than `old_pid`) or time runs out."""
    return wait_until(conn, unit, lambda s: active_settled(s, old_pid), timeout=timeout,
                      interval=interval)


def active_settled(s: UnitState, old_pid: int | None) -> bool:
    """Whether waiting for `s` to become active (with a new MainPID) is over, either way."""
    if s.active_state == "failed":
        return True  # it will not get better by waiting
    if not s.active:
        return False  # activating, or not yet picked up
    return old_pid is None or s.main_pid == 0 or s.main_pid != old_pid


def _unusable(t: Target, name: str, state: UnitState) -> Result | None:
    """A failed result when the unit cannot be acted on at all (missing or masked)."""
    if not state.exists:
        return t.result(name, Status.FAILED, f"{state.unit} not found on {t.name}")
    if state.load_state == "masked" or state.unit_file_state == "masked":
        return t.result(name, Status.FAILED, f"{state.unit} is masked; unmask it first")
    return None


def is_database(unit: str) -> bool:
    """Whether `unit` is a database (mysql, mariadb, postgresql, postgresql@*, pgbouncer, ...:
    `core.databases`, shared with compose and Kubernetes)."""
    return is_database_unit(validate.unit_name(unit))


def restart_allowed(unit: str, *, allow_database_restart: bool = False) -> str:
    """The validated unit name; `InvalidInput` for a database restart not explicitly allowed."""
    unit = validate.unit_name(unit)
    if is_database(unit) and not allow_database_restart:
        raise InvalidInput(
            f"refusing to restart {unit}: restarting a database is a last resort (it drops every "
            "connection); pass allow_database_restart=True (--allow-database-restart) to do it")
    return unit


@reads_after_acting
def service_running(t: Target, unit: str, *, restart: bool = False,
                    verify_timeout: float = 30.0, allow_database_restart: bool = False) -> Result:
    """Leave `unit` active; with `restart`, restart it at most once per run.

    Verified: the unit is active and, after a restart, has a new MainPID. Restarting a
    database unit is refused unless `allow_database_restart` (starting one is not).
    Example: `service_running(target, "nginx", restart=True)`.
    """
    verify_timeout = validate.seconds(verify_timeout, "verify_timeout")
    unit = (restart_allowed(unit, allow_database_restart=allow_database_restart) if restart
            else validate.unit_name(unit))
    name = "service_restarted" if restart else "service_running"
    trip = _decided_on_host(t, unit, restart=restart)
    # A start the host left to Python was read without the lock: read again under it.
    seen = trip.before if trip is not None and (restart or trip.plan == "none") else None
    before = parse_unit_state(unit, seen) if seen is not None else unit_state(t.conn, unit)
    if (bad := _unusable(t, name, before)) is not None:
        return bad
    steps = plan_service_running(before, restart=restart, run_started=t.run.started_at)
    ran: list[CommandResult] | None = None
    if trip is not None and trip.plan == "none":
        steps = []  # the host saw nothing to do (and released the lock): so it stays
    elif trip is not None and trip.plan == "restart":
        # Done on the host already: report what it ran (the plan above says the same).
        steps = [Step(["systemctl", "restart", unit], "restart requested")]
        ran = [r for r in (trip.acted, trip.after) if r is not None]
    restarting = any(s.argv[1] == "restart" for s in steps)
    old_pid = before.main_pid if restarting else None

    def judge(read_back: CommandResult) -> Verification:
        # The state read in the same round trip as the restart; poll only if it is not settled.
        seen = parse_unit_state(unit, read_back.stdout) if read_back.succeeded else None
        after = seen if seen is not None and active_settled(seen, old_pid) else wait_active(
            t.conn, unit, old_pid=old_pid, timeout=verify_timeout)
        data = {"main_pid_before": before.main_pid, "main_pid": after.main_pid}
        if not after.active:
            return Verification(False, f"{unit} is {after.active_state} ({after.sub_state})",
                                journal_tail(t.conn, unit), data)
        if restarting and after.main_pid and after.main_pid == before.main_pid:
            return Verification(False, f"{unit} kept MainPID {after.main_pid}",
                                journal_tail(t.conn, unit), data)
        return Verification(True, f"active, MainPID {before.main_pid} -> {after.main_pid}", "", data)

    if not steps:
        why = (f"already restarted by this run at {before.active_since:%H:%M:%S}"
               if restart else "already active")
        ok_msg = f"{unit} {why} (MainPID {before.main_pid})"
    else:
        ok_msg = ""
    verb = "restart" if restarting else "start"
    after_text = f"{unit}: active (running), new MainPID" if restarting else f"{unit}: active"
    return apply(t, name, steps, verify=Probe(show_argv(unit), judge), ok_message=ok_msg,
                 action=f"{verb} {unit}", done=f"{verb}ed {unit}",
                 diff=Diff(before.describe(), after_text),
                 data={"unit": unit, "main_pid_before": before.main_pid},
                 on_failure=lambda: journal_tail(t.conn, unit), ran=ran)


def _decided_on_host(t: Target, unit: str, *, restart: bool) -> systemd_guard.Trip | None:
    """Lock, inspect, act, verify and unlock in one round trip, when the runner holds the lock.

    Only through a connection that takes the host's lock with its first batch (the
    runner's); None otherwise (check mode, no lock, a plain connection: plan in Python).
    Without `restart` the script only reads: the lock is looked at, not taken (no
    process is started on the host for it), and a unit that must be started is read
    again under the lock.
    """
    guard = capability(t.conn, HostGuard)
    if t.check or guard is None:
        return None
    show = show_argv(unit)
    argv = systemd_guard.script(unit, show, restart=restart, run_started=t.run.started_at)
    ran = guard.run_read_batch([argv]) if not restart else run_batch(t.conn, [argv], last=True)
    if not ran:
        return None
    trip = systemd_guard.parse(ran[0], restart_command=shlex.join(["systemctl", "restart", unit]),
                               show_command=shlex.join(show))
    if not trip.plan and ran[0].succeeded:
        # No decision came back, yet the batch went on to release the lock: hold it again.
        guard.lock_again()
    return trip


def default_config_test(unit: str) -> list[str] | None:
    """The command that checks a server's configuration before it is reloaded, if known."""
    base = validate.unit_name(unit).removesuffix(".service")
    if base == "nginx":
        return ["nginx", "-t"]
    if base in ("apache2", "httpd"):
        return ["apache2ctl" if base == "apache2" else "apachectl", "configtest"]
    # php-fpm exits on a reload with a broken pool file; Debian names it php-fpm8.2.
    fpm = re.fullmatch(r"php(\d+(?:\.\d+)*)-fpm|php-fpm", base)
    if fpm:
        return [f"php-fpm{fpm.group(1) or ''}", "-t"]
    return None


def plan_service_reloaded(state: UnitState, *, already_reloaded: bool, mark: Step) -> list[Step]:
    """Reload an active unit once per run; start an inactive one (that loads it too)."""
    unit = state.unit
    if state.active or state.active_state == "reloading":
        return [] if already_reloaded else [Step(["systemctl", "reload", unit], "reload requested"),
                                            mark]
    if state.active_state == "activating":
        return []  # a start in progress reads the current configuration anyway
    steps = [Step(["systemctl", "reset-failed", unit], "clear the failed state first")] if (
        state.active_state == "failed") else []
    return [*steps, Step(["systemctl", "start", unit], f"unit is {state.active_state}"), mark]


def service_reloaded(t: Target, unit: str, *, config_test: Sequence[str] | None = None) -> Result:
    """Leave `unit` running with its current configuration loaded: reloaded once per run.

    A unit that is not running is started instead. nginx, apache2 and php-fpm get their
    configuration tested first (`config_test` overrides; `[]` skips the test); a failing
    test means no reload, so the running server keeps its last good configuration.
    Example: `service_reloaded(target, "nginx")`.
    """
    unit = validate.unit_name(unit)
    if config_test is None:
        test = default_config_test(unit) or []
    else:
        test = list(check_argv(config_test)) if len(config_test) else []
    name = "service_reloaded"
    before = unit_state(t.conn, unit)
    if (bad := _unusable(t, name, before)) is not None:
        return bad
    if before.active and not before.can_reload:
        return t.result(name, Status.FAILED, f"{unit} cannot reload its configuration; "
                        "restart it instead", data={"unit": unit})
    key = markers.reload_key(unit)
    steps = plan_service_reloaded(before, already_reloaded=markers.done(t.conn, t.run, key),
                                  mark=markers.mark_step(t.run, key))
    if not steps:
        why = ("is starting" if before.active_state == "activating"
               else "already reloaded by this run")
        return apply(t, name, [], verify=None, action="", done="", data={"unit": unit},
                     ok_message=f"{unit} {why} (MainPID {before.main_pid})")
    verb = "reload" if steps[0].argv[1] == "reload" else "start"
    tested: tuple[str, ...] = ()
    if test:
        # Read-only, so it runs in check mode too: check mode then says whether it would work.
        res = t.conn.run(test, check=False, timeout=60)
        tested = (res.command,)
        if res.failed:
            kept = "; it keeps running its current configuration" if before.active else ""
            return t.result(name, Status.FAILED,
                            f"config test `{res.command}` failed: {unit} not {verb}ed{kept}",
                            commands=tested, evidence=res.tail(30),
                            data={"unit": unit, "config_test": res.command})

    def verify() -> Verification:
        after = wait_active(t.conn, unit, old_pid=None)
        data = {"main_pid": after.main_pid}
        if not after.active:
            return Verification(False, f"{unit} is {after.active_state} ({after.sub_state})",
                                journal_tail(t.conn, unit), data)
        return Verification(True, f"active, MainPID {before.main_pid} -> {after.main_pid}",
                            "", data)

    passed = f" (config test `{tested[0]}` passed)" if tested else ""
    result = apply(t, name, steps, verify=verify, ok_message="",
                   action=f"{verb} {unit}{passed}", done=f"{verb}ed {unit}{passed}",
                   diff=Diff(before.describe(), f"{unit}: active, configuration (re)loaded"),
                   data={"unit": unit, "main_pid_before": before.main_pid,
                         "config_test": tested[0] if tested else None},
                   on_failure=lambda: journal_tail(t.conn, unit))
    return result.replace(commands=tested + result.commands)


def service_stopped(t: Target, unit: str) -> Result:
    """Leave `unit` not running (inactive, or failed: neither runs anything).

    Example: `service_stopped(target, "php8.2-fpm")`.
    """
    unit = validate.unit_name(unit)
    name = "service_stopped"
    before = unit_state(t.conn, unit)
    if not before.exists:
        return t.result(name, Status.FAILED, f"{unit} not found on {t.name}")
    stopped = before.active_state in ("inactive", "failed")
    steps = [] if stopped else [Step(["systemctl", "stop", unit], f"unit is {before.active_state}")]

    def verify() -> Verification:
        after = wait_until(t.conn, unit, lambda s: s.active_state in ("inactive", "failed"))
        if after.active_state not in ("inactive", "failed"):
            return Verification(False, f"{unit} is still {after.active_state} ({after.sub_state})",
                                journal_tail(t.conn, unit))
        return Verification(True, f"{after.active_state} ({after.sub_state})")

    return apply(t, name, steps, verify=verify, action=f"stop {unit}", done=f"stopped {unit}",
                 ok_message=f"{unit} already {before.active_state} ({before.sub_state})",
                 diff=Diff(before.describe(), f"{unit}: inactive (dead)"),
                 data={"unit": unit, "main_pid_before": before.main_pid},
                 on_failure=lambda: journal_tail(t.conn, unit))


def parse_units(units: Sequence[str], text: str) -> dict[str, UnitState]:
    """Split `systemctl show u1 u2 ...` output (blank-line separated, in argument order)."""
    blocks = [b for b in re.split(r"\n\s*\n", text.strip()) if b.strip()]
    if len(blocks) == len(units):
        return {u: parse_unit_state(u, b) for u, b in zip(units, blocks, strict=True)}
    by_id = {dict(line.split("=", 1) for line in b.splitlines() if "=" in line).get("Id", ""): b
             for b in blocks}
    return {u: parse_unit_state(u, by_id.get(u, "LoadState=not-found")) for u in units}


def pick_php_fpm_unit(list_unit_files: str) -> str | None:
    """The highest versioned `phpX.Y-fpm.service` listed, else plain `php-fpm.service`."""
    from remediations.host.units import parse_units as parse_unit_files

    return parse_unit_files(list_unit_files).php_fpm


def php_fpm_unit(t: Target) -> str:
    """The host's php-fpm unit: inventory `php_fpm_service`, else the highest version installed.

    `ServiceNotInstalled` (naming `php_fpm_service`) when the host has none: call it only
    where php-fpm is needed; `host_units(t).php_fpm` is None on a mod_php host.
    Example: `service_running(target, php_fpm_unit(target), restart=True)`.
    """
    from remediations.host.units import required

    configured = t.var("php_fpm_service")
    if configured:
        return validate.unit_name(str(configured))
    return required(t, "php_fpm")


_OPTIONAL_UNITS = ("mysql", "mariadb", "postgresql")


def services_status(t: Target, units: Sequence[str] | None = None) -> Result:
    """A fact: the state of several units, read in one `systemctl show`.

    `ok` when every unit is active, `failed` naming the others. Without `units`: the
    stack `host_units` discovers (one `systemctl list-unit-files` before) (web server, php-fpm, redis, supervisor, each where
    installed: no php-fpm on a mod_php host is not a failure) and mysql, mariadb,
    postgresql (absent ones are reported as `not-found` without failing). Data:
    `{"units": {"nginx.service": {"active", "sub", "main_pid", "since", "load"}}}`.
    Example: `services_status(target, ["nginx", "php8.2-fpm"])`.
    """
    from remediations.host.units import host_units

    if units is not None:
        wanted = list(dict.fromkeys(validate.unit_name(u) for u in units))
        if not wanted:
            raise InvalidInput("services_status needs at least one unit")
        optional: set[str] = set()
    else:
        found = host_units(t)
        maybe = [validate.unit_name(u) for u in _OPTIONAL_UNITS]
        optional = set(maybe) - set(found.databases)
        wanted = list(dict.fromkeys([*found.stack(), *found.databases, *maybe]))
        if not found.stack():
            return t.result("services_status", Status.FAILED,
                            "systemctl list-unit-files lists no web server, php-fpm, redis or "
                            "supervisor unit: name the units to show (--services)")
    states = parse_units(wanted, _show(t.conn, wanted))
    data = {u: {"active": s.active_state if s.exists else "not-found", "sub": s.sub_state,
                "main_pid": s.main_pid, "load": s.load_state or "not-found",
                "since": s.active_since.isoformat() if s.active_since else None}
            for u, s in states.items()}
    absent = [u for u, s in states.items() if u in optional and not s.exists]
    counted = [u for u in states if u not in absent]
    down = [u for u in counted if not states[u].active]
    summary = ", ".join(f"{u} {data[u]['active']}" for u in counted) + (
        f"; not installed: {', '.join(absent)}" if absent else "")
    if down:
        names = ", ".join(f"{u} ({data[u]['active']})" for u in down)
        return t.result("services_status", Status.FAILED,
                        f"{len(down)} of {len(counted)} not active: {names}", evidence=summary,
                        data={"units": data})
    return t.result("services_status", Status.OK, f"all active: {summary}", data={"units": data})
