"""systemd units: facts read with `systemctl show`, decisions made by pure functions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tenacity import RetryCallState, Retrying, retry_if_result, stop_after_delay, wait_fixed

from remediations import validate
from remediations.connections.base import Connection
from remediations.contract import Verification, apply
from remediations.result import Diff, Result, Status, Step
from remediations.target import Target

_PROPS = ("Id", "LoadState", "ActiveState", "SubState", "MainPID", "ActiveEnterTimestamp",
          "UnitFileState", "Result", "Type")
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
        type=props.get("Type", ""),
    )


def show_argv(unit: str) -> list[str]:
    return ["systemctl", "show", "--timestamp=us+utc", "-p", ",".join(_PROPS), unit]


def unit_state(conn: Connection, unit: str) -> UnitState:
    """Read one unit's state (one round trip)."""
    res = conn.run(show_argv(unit), check=False)
    if res.failed and "timestamp" in res.stderr:
        # systemd < 248 has no --timestamp; its local-time stamps are parsed when in UTC.
        res = conn.run(["systemctl", "show", "-p", ",".join(_PROPS), unit])
    return parse_unit_state(unit, res.stdout)


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


def wait_active(conn: Connection, unit: str, *, old_pid: int | None, timeout: float = 30.0,
                interval: float = 0.5) -> UnitState:
    """Poll until the unit is active (with a MainPID other than `old_pid`) or time runs out."""
    def pending(s: UnitState) -> bool:
        if s.active_state == "failed":
            return False  # it will not get better by waiting
        if not s.active:
            return True  # activating, or not yet picked up
        return old_pid is not None and s.main_pid != 0 and s.main_pid == old_pid

    def last_seen(state: RetryCallState) -> UnitState:
        assert state.outcome is not None
        return state.outcome.result()  # type: ignore[no-any-return]

    retry = Retrying(stop=stop_after_delay(timeout), wait=wait_fixed(interval),
                     retry=retry_if_result(pending), retry_error_callback=last_seen)
    return retry(unit_state, conn, unit)


def service_running(t: Target, unit: str, *, restart: bool = False,
                    verify_timeout: float = 30.0) -> Result:
    """Leave `unit` active; with `restart`, restart it at most once per run.

    Verified: the unit is active and, after a restart, has a new MainPID.
    Example: `service_running(target, "nginx", restart=True)`.
    """
    unit = validate.unit_name(unit)
    name = "service_restarted" if restart else "service_running"
    before = unit_state(t.conn, unit)
    if not before.exists:
        return Result(t.name, name, Status.FAILED, f"{unit} not found on {t.name}", check=t.check)
    if before.load_state == "masked" or before.unit_file_state == "masked":
        return Result(t.name, name, Status.FAILED, f"{unit} is masked; unmask it first",
                      check=t.check)
    steps = plan_service_running(before, restart=restart, run_started=t.run.started_at)
    restarting = any(s.argv[1] == "restart" for s in steps)

    def verify() -> Verification:
        after = wait_active(t.conn, unit, old_pid=before.main_pid if restarting else None,
                            timeout=verify_timeout)
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
    return apply(t, name, steps, verify=verify, ok_message=ok_msg,
                 action=f"{verb} {unit}", done=f"{verb}ed {unit}",
                 diff=Diff(before.describe(), after_text),
                 data={"unit": unit, "main_pid_before": before.main_pid},
                 on_failure=lambda: journal_tail(t.conn, unit))
