"""The Laravel scheduler: its systemd timer paused and resumed, its overlap locks cleared.

The trigger of `schedule:run` is a systemd timer (inventory `scheduler_unit`, default
`laravel-scheduler.timer`). Paused means the timer is stopped, not disabled: a reboot
ends a forgotten pause rather than leaving the scheduler off for good. Pausing records a
marker in /run (gone at reboot, like the pause), so resuming starts only a timer that
was paused, or that is enabled: a timer disabled on purpose (the scheduler runs on one
host of several) is left alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from remediations.connections.base import Connection
from remediations.core import validate
from remediations.core.result import Result, Status, Step
from remediations.host.systemd import parse_unit_state
from remediations.laravel.php import app_checked, artisan_argv, probe
from remediations.run.contract import Verification, apply
from remediations.run.target import Target

DEFAULT_UNIT = "laravel-scheduler.timer"
MARKER_DIR = "/run/lock"
_PROPS = "Id,LoadState,ActiveState,SubState,UnitFileState,Triggers,NextElapseUSecRealtime"


@dataclass(frozen=True, slots=True)
class TimerState:
    """What `systemctl show` says about the timer, and whether we paused it."""

    unit: str
    load_state: str
    active_state: str
    unit_file_state: str
    triggers: str
    next_elapse: str
    paused_by_us: bool

    @property
    def exists(self) -> bool:
        return self.load_state not in ("not-found", "")

    @property
    def active(self) -> bool:
        return self.active_state == "active"

    def describe(self) -> str:
        return f"{self.unit}: {self.active_state}, {self.unit_file_state or 'no unit file'}"


def marker_path(unit: str) -> str:
    return f"{MARKER_DIR}/remediations.paused.{unit}"


def parse_timer_state(unit: str, show: str, *, paused_by_us: bool) -> TimerState:
    base = parse_unit_state(unit, show)
    props = dict(line.split("=", 1) for line in show.splitlines() if "=" in line)
    return TimerState(unit, base.load_state, base.active_state, base.unit_file_state,
                      props.get("Triggers", ""), props.get("NextElapseUSecRealtime", ""),
                      paused_by_us)


def timer_state(conn: Connection, unit: str) -> TimerState:
    show = conn.run(["systemctl", "show", "-p", _PROPS, unit], check=False).stdout
    paused = conn.run(["test", "-e", marker_path(unit)], check=False).succeeded
    return parse_timer_state(unit, show, paused_by_us=paused)


def _unit(t: Target, unit: str | None) -> str:
    return validate.unit_name(unit or t.var("scheduler_unit") or DEFAULT_UNIT)


def _missing(t: Target, name: str, state: TimerState) -> Result | None:
    if not state.exists:
        return t.result(name, Status.FAILED,
                        f"{state.unit} not found on {t.name} (inventory var scheduler_unit)")
    if state.unit_file_state == "masked":
        return t.result(name, Status.FAILED, f"{state.unit} is masked")
    return None


def plan_scheduler_paused(state: TimerState) -> list[Step]:
    if not state.active:
        return []
    return [Step(["systemctl", "stop", state.unit], "scheduler running"),
            Step(["touch", marker_path(state.unit)], "remember the pause for resume")]


def plan_scheduler_resumed(state: TimerState) -> tuple[list[Step], str]:
    """Steps, and why nothing is done when there are none."""
    if state.active:
        return [], "already running"
    if not state.paused_by_us and state.unit_file_state != "enabled":
        return [], "disabled on this host and not paused by remediations"
    steps = [Step(["systemctl", "start", state.unit],
                  "paused by remediations" if state.paused_by_us else "enabled but stopped")]
    if state.paused_by_us:
        steps.append(Step(["rm", "-f", marker_path(state.unit)], "forget the pause"))
    return steps, ""


def scheduler_paused(t: Target, *, unit: str | None = None) -> Result:
    """Leave the scheduler paused: its timer stopped (a tick already running finishes).

    Example: `scheduler_paused(t)` during a Redis or provider outage.
    """
    name = "scheduler_paused"
    unit = _unit(t, unit)
    before = timer_state(t.conn, unit)
    failed = _missing(t, name, before)
    if failed:
        return failed
    steps = plan_scheduler_paused(before)

    def verify() -> Verification:
        after = timer_state(t.conn, unit)
        return Verification(not after.active, after.describe())

    return apply(t, name, steps, verify=verify, ok_message=f"already paused ({before.describe()})",
                 action=f"stop {unit}", done=f"stopped {unit}",
                 data={"unit": unit, "was_active": before.active})


def scheduler_resumed(t: Target, *, unit: str | None = None) -> Result:
    """Leave the scheduler running: its timer started, if it was paused or is enabled.

    A timer that is disabled and was not paused by remediations is `skipped`: the
    scheduler is off on this host by design. Example: `scheduler_resumed(t)`.
    """
    name = "scheduler_resumed"
    unit = _unit(t, unit)
    before = timer_state(t.conn, unit)
    failed = _missing(t, name, before)
    if failed:
        return failed
    steps, why = plan_scheduler_resumed(before)
    data = {"unit": unit, "paused_by_us": before.paused_by_us}
    if not steps and not before.active:
        return t.result(name, Status.SKIPPED,
                        f"{unit} is {why}: not started (enable it to run the scheduler here)",
                        data=data)

    def verify() -> Verification:
        after = timer_state(t.conn, unit)
        for _ in range(20):  # the next elapse is computed a moment after the start
            if not after.active or after.next_elapse:
                break
            time.sleep(0.25)
            after = timer_state(t.conn, unit)
        return Verification(after.active, f"{after.describe()}, next tick {after.next_elapse or '?'}",
                            data={"next_elapse": after.next_elapse})

    return apply(t, name, steps, verify=verify, ok_message=f"{unit} {why}",
                 action=f"start {unit}", done=f"started {unit}", data=data)


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
