"""The Laravel scheduler: its triggers (systemd timers, cron lines) paused and resumed, its overlap
locks cleared.

`schedule:run` is triggered by a systemd timer (inventory `scheduler_unit`, default
`laravel-scheduler.timer`) or by a cron line (Forge's `* * * * * cd /var/www/app && php
artisan schedule:run`); `triggers` finds every one on a host in one round trip. A timer
paused is stopped, not disabled: a reboot ends a forgotten pause rather than leaving the
scheduler off for good. Pausing it records the run id in a marker in /run (gone at reboot,
like the pause), so resuming starts only a timer that was paused, or that is enabled: a
timer disabled on purpose (the scheduler runs on one host of several) is left alone. A cron
line paused is commented out with the run id (`remediations.laravel.cron`), and restored
exactly on resume.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from remediations.connections.base import Connection, sh
from remediations.core import validate
from remediations.core.result import Diff, Result, Status, Step
from remediations.core.scripts import script
from remediations.host.systemd import parse_unit_state
from remediations.laravel.cron import (
    CronLine,
    Crontab,
    app_dir_of,
    decode,
    describe,
    diff_of,
    plan_cron_paused,
    plan_cron_resumed,
    same_app,
)
from remediations.laravel.php import app_checked, artisan_argv, probe
from remediations.run.contract import Verification, apply
from remediations.run.target import Target

DEFAULT_UNIT = "laravel-scheduler.timer"
MARKER_DIR = "/run/lock"
_PROPS = "Id,LoadState,ActiveState,SubState,UnitFileState,Triggers,NextElapseUSecRealtime"


@dataclass(frozen=True, slots=True)
class TimerState:
    """What `systemctl show` says about the timer, and whether we paused it (and in which run)."""

    unit: str
    load_state: str
    active_state: str
    unit_file_state: str
    triggers: str
    next_elapse: str
    paused_by_us: bool
    paused_by: str = ""   # the run id in the pause marker ("" for an empty, older marker)
    app_dir: str = ""     # the app its service runs schedule:run for, when known

    @property
    def exists(self) -> bool:
        return self.load_state not in ("not-found", "")

    @property
    def active(self) -> bool:
        return self.active_state == "active"

    def describe(self) -> str:
        return f"{self.unit}: {self.active_state}, {self.unit_file_state or 'no unit file'}"


@dataclass(frozen=True, slots=True)
class Triggers:
    """Everything on a host that runs `artisan schedule:run`: timers and crontabs."""

    timers: tuple[TimerState, ...] = ()
    crontabs: tuple[Crontab, ...] = ()

    @property
    def cron_lines(self) -> list[CronLine]:
        return [line for tab in self.crontabs for line in tab.lines()]

    def for_app(self, app: str) -> Triggers:
        """The triggers of the app at `app` (a trigger naming no directory counts as the app's)."""
        return Triggers(tuple(s for s in self.timers if same_app(s.app_dir, app)),
                        tuple(tab for tab in self.crontabs
                              if any(same_app(line.app_dir, app) for line in tab.lines())))

    def active(self) -> list[str]:
        """One description per trigger that runs now."""
        return ([f"timer {s.unit}" for s in self.timers if s.active]
                + [describe(line) for line in self.cron_lines if not line.paused])

    def paused(self) -> list[str]:
        """One description per trigger that does not run now."""
        return ([s.describe() for s in self.timers if not s.active]
                + [describe(line) for line in self.cron_lines if line.paused])

    def listed(self) -> list[dict[str, object]]:
        """The triggers as data: kind, source, paused, by which run, the app directory."""
        rows: list[dict[str, object]] = [
            {"kind": "timer", "source": s.unit, "paused": not s.active,
             "paused_by": s.paused_by if s.paused_by_us else "", "state": s.describe(),
             "app_dir": s.app_dir} for s in self.timers]
        rows += [{"kind": "cron", "source": line.source, "line_number": line.number,
                  "line": line.line, "paused": line.paused, "paused_by": line.paused_by,
                  "app_dir": line.app_dir} for line in self.cron_lines]
        return rows


def marker_path(unit: str) -> str:
    return f"{MARKER_DIR}/remediations.paused.{unit}"


def parse_timer_state(unit: str, show: str, *, paused_by_us: bool, paused_by: str = "",
                      app_dir: str = "") -> TimerState:
    base = parse_unit_state(unit, show)
    props = dict(line.split("=", 1) for line in show.splitlines() if "=" in line)
    return TimerState(unit, base.load_state, base.active_state, base.unit_file_state,
                      props.get("Triggers", ""), props.get("NextElapseUSecRealtime", ""),
                      paused_by_us, paused_by, app_dir)


def timer_state(conn: Connection, unit: str) -> TimerState:
    show = conn.run(["systemctl", "show", "-p", _PROPS, unit], check=False).stdout
    marker = conn.run(["cat", marker_path(unit)], check=False)
    return parse_timer_state(unit, show, paused_by_us=marker.succeeded,
                             paused_by=marker.stdout.strip().split("\n")[0])


def parse_triggers(text: str) -> Triggers:
    """The records of scheduler-triggers.sh (its header says what each holds)."""
    timers: list[TimerState] = []
    tabs: list[Crontab] = []
    for record in text.splitlines():
        kind, _, rest = record.partition("\t")
        fields = rest.split("\t")
        if kind == "timer" and len(fields) >= 7:
            unit, active, enabled, service, marker, workdir = fields[:6]
            argv = "\t".join(fields[6:])
            timers.append(TimerState(
                unit, "loaded", active, enabled, service, "", marker.startswith("="),
                marker[1:].strip(), app_dir_of(argv) or (workdir if workdir not in ("", "!") else "")))
        elif kind == "crontab" and len(fields) == 2:
            tabs.append(Crontab(f"crontab:{fields[0]}", decode(fields[1])))
        elif kind == "cronfile" and len(fields) == 2:
            tabs.append(Crontab(fields[0], decode(fields[1])))
    return Triggers(tuple(timers), tuple(tabs))


def triggers_argv() -> list[str]:
    return ["sh", "-c", script("scheduler-triggers.sh")]


def triggers(conn: Connection) -> Triggers:
    """Every trigger of schedule:run on the host (one round trip; root reads every crontab)."""
    return parse_triggers(conn.run(triggers_argv(), check=False, timeout=60).stdout)


def _unit(t: Target, unit: str | None) -> str:
    return validate.unit_name(unit or t.var("scheduler_unit") or DEFAULT_UNIT)


def _missing(t: Target, name: str, state: TimerState) -> Result | None:
    if not state.exists:
        return t.result(name, Status.FAILED,
                        f"{state.unit} not found on {t.name} (inventory var scheduler_unit)")
    if state.unit_file_state == "masked":
        return t.result(name, Status.FAILED, f"{state.unit} is masked")
    return None


def pause_marker_step(unit: str, run_id: str) -> Step:
    return Step(sh("echo %s > %s", run_id, marker_path(unit)),
                "remember the pause (and its run) for resume")


def plan_scheduler_paused(state: TimerState, run_id: str = "") -> list[Step]:
    if not state.active:
        return []
    return [Step(["systemctl", "stop", state.unit], "scheduler running"),
            pause_marker_step(state.unit, run_id or "-")]


def plan_scheduler_resumed(state: TimerState, *, only_run: str = "") -> tuple[list[Step], str]:
    """Steps, and why nothing is done when there are none.

    `only_run`: start the timer only when that run paused it.
    """
    if state.active:
        return [], "already running"
    if only_run and not (state.paused_by_us and state.paused_by == only_run):
        return [], f"not paused by run {only_run}"
    if not state.paused_by_us and state.unit_file_state != "enabled":
        return [], "disabled on this host and not paused by remediations"
    steps = [Step(["systemctl", "start", state.unit],
                  "paused by remediations" if state.paused_by_us else "enabled but stopped")]
    if state.paused_by_us:
        steps.append(Step(["rm", "-f", marker_path(state.unit)], "forget the pause"))
    return steps, ""


def _app(t: Target) -> str:
    value = t.var("app_path")
    return app_checked(t) if value else ""


def _discovered(t: Target, name: str, unit: str | None) -> tuple[Triggers, Result | None]:
    """The triggers to act on: the timer `unit` alone when asked for, else every trigger of the app.

    A `scheduler_unit` the inventory names must be among them.
    """
    if unit:
        state = timer_state(t.conn, _unit(t, unit))
        return Triggers((state,)), _missing(t, name, state)
    found = triggers(t.conn).for_app(_app(t))
    named = t.var("scheduler_unit")
    if named and validate.unit_name(named) not in {s.unit for s in found.timers}:
        return found, _missing(t, name, timer_state(t.conn, validate.unit_name(named))) or \
            t.result(name, Status.FAILED, f"{named} (inventory var scheduler_unit) does not run "
                                          f"schedule:run on {t.name}")
    return found, None


def _reread(t: Target, unit: str | None) -> Triggers:
    if unit:
        return Triggers((timer_state(t.conn, _unit(t, unit)),))
    return triggers(t.conn).for_app(_app(t))


def _timer_diff(before: Sequence[TimerState], after: dict[str, str]) -> tuple[str, str]:
    return ("\n".join(f"# timer\n{s.describe()}" for s in before if s.unit in after),
            "\n".join(f"# timer\n{after[s.unit]}" for s in before if s.unit in after))


def _diff(timers: Sequence[TimerState], after: dict[str, str],
          changes: list[tuple[Crontab, str]]) -> Diff | None:
    cron = diff_of(changes)
    tb, ta = _timer_diff(timers, after)
    if not tb and cron is None:
        return None
    return Diff("\n".join(p for p in (tb, cron.before if cron else "") if p),
                "\n".join(p for p in (ta, cron.after if cron else "") if p))


def scheduler_paused(t: Target, *, unit: str | None = None) -> Result:
    """Leave the scheduler paused: every timer and cron line that runs its schedule:run stopped.

    Timers are stopped (a tick already running finishes), cron lines commented out with
    this run's id. `unit`: that timer only. Example: `scheduler_paused(t)` during a Redis
    or provider outage.
    """
    name = "scheduler_paused"
    found, failed = _discovered(t, name, unit)
    if failed:
        return failed
    rid = t.run.run_id
    steps = [s for state in found.timers for s in plan_scheduler_paused(state, rid)]
    stopped = {s.unit: f"{s.unit}: inactive, paused by run {rid}" for s in found.timers if s.active}
    cron_steps, changes = plan_cron_paused(found.crontabs, rid, _app(t))
    steps += cron_steps
    running = found.active()
    data = {"triggers": found.listed(), "paused_now": running,
            "unit": unit or (found.timers[0].unit if found.timers else ""),
            "was_active": bool(running)}
    if not found.timers and not found.crontabs:
        return t.result(name, Status.OK, "no timer or cron line runs schedule:run on this host",
                        data=data)

    def verify() -> Verification:
        left = _reread(t, unit).active()
        return Verification(not left, "still running: " + "; ".join(left) if left else
                            "no trigger of schedule:run left running")

    paused = "; ".join(running)
    return apply(t, name, steps, verify=verify, diff=_diff(found.timers, stopped, changes),
                 ok_message="already paused: " + "; ".join(found.paused()),
                 action=f"pause {paused}", done=f"paused {paused}", data=data)


def scheduler_resumed(t: Target, *, unit: str | None = None, this_run: bool = False) -> Result:
    """Leave the scheduler running: its timers started and cron lines restored, if paused.

    A timer is started if it was paused or is enabled; a timer disabled and not paused by
    remediations is left alone (`skipped` when nothing else runs): the scheduler is off on
    this host by design. `this_run`: resume only what this run paused (a runbook that
    paused it), not a pause of someone else. Example: `scheduler_resumed(t)`.
    """
    name = "scheduler_resumed"
    found, failed = _discovered(t, name, unit)
    if failed:
        return failed
    only = t.run.run_id if this_run else ""
    steps: list[Step] = []
    whys: list[str] = []
    started: dict[str, str] = {}
    for state in found.timers:
        planned, why = plan_scheduler_resumed(state, only_run=only)
        steps += planned
        if planned:
            started[state.unit] = f"{state.unit}: active"
        else:
            whys.append(f"{state.unit} {why}")
    cron_steps, changes = plan_cron_resumed(found.crontabs, _app(t), only_run=only)
    steps += cron_steps
    restored = [describe(line) for tab, _ in changes for line in tab.lines() if line.paused
                and (not only or line.paused_by == only)]
    resumed = [f"timer {u}" for u in started] + restored
    data = {"triggers": found.listed(), "paused_by_us": any(s.paused_by_us for s in found.timers),
            "unit": unit or (found.timers[0].unit if found.timers else ""), "resumed": resumed}
    if not found.timers and not found.crontabs:
        return t.result(name, Status.SKIPPED, "no timer or cron line runs schedule:run on this host",
                        data=data)
    if not steps and not found.active() and not only:
        return t.result(name, Status.SKIPPED,
                        "; ".join(whys) + ": not started (enable it to run the scheduler here)",
                        data=data)
    wanted = set(started)

    def verify() -> Verification:
        after = _reread(t, unit)
        for _ in range(20):  # the next elapse is computed a moment after the start
            if not wanted or all(s.active for s in after.timers if s.unit in wanted):
                break
            time.sleep(0.25)
            after = _reread(t, unit)
        down = [s.unit for s in after.timers if s.unit in wanted and not s.active]
        down += [describe(line) for line in after.cron_lines if line.paused
                 and (not only or line.paused_by == only)]
        nxt = _next_tick(t, wanted, unit)
        return Verification(not down, "still paused: " + "; ".join(down) if down else
                            "running again" + (f", next tick {nxt}" if wanted else ""),
                            data={"next_elapse": nxt})

    why = "; ".join(whys) if whys else "nothing paused: " + "; ".join(found.active())
    if only and not steps:
        why = f"nothing paused by run {only} ({why})"
    return apply(t, name, steps, verify=verify, diff=_diff(found.timers, started, changes),
                 ok_message=why, action="resume " + "; ".join(resumed),
                 done="resumed " + "; ".join(resumed), data=data)


def _next_tick(t: Target, units: set[str], unit: str | None) -> str:
    """When the first started timer fires next (systemd fills it in a moment after the start)."""
    for name in sorted(units):
        for _ in range(20):
            state = timer_state(t.conn, name)
            if state.next_elapse or not state.active:
                return state.next_elapse or "?"
            time.sleep(0.25)
    return "?"


def schedule_cache_cleared(t: Target) -> Result:
    """Leave no overlap lock (withoutOverlapping mutex) held for any scheduled task.

    A tick killed mid-task leaves its mutex in the cache store, and the task is skipped
    until the lock expires (24 h by default). Inspected the way `schedule:clear-cache`
    does: each scheduled event's mutex `exists()`. Example: `schedule_cache_cleared(t)`.
    """
    app_checked(t)
    locks = probe(t, "mutexes")["mutexes"]
    steps = [Step(artisan_argv(t, "schedule:clear-cache"), f"{len(locks)} lock(s) held")] if locks else []
    held = ", ".join(str(m["command"]) for m in locks)

    def verify() -> Verification:
        left = probe(t, "mutexes")["mutexes"]
        return Verification(not left, "locks left: " + ", ".join(str(m["command"]) for m in left)
                            if left else "no overlap lock held")

    return apply(t, "schedule_cache_cleared", steps, verify=verify,
                 ok_message="no overlap lock held", action=f"release overlap locks of {held}",
                 done=f"released overlap locks of {held}", data={"locks": locks})
