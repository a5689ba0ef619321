"""Laravel Horizon: its status (a fact), paused and continued, terminated once per run.

What Horizon is doing is read with `app_runtime` (one round trip): the master processes
(`php artisan horizon`) of the app, and what `artisan horizon:status` prints ("Horizon is
running." / "paused" / "inactive"). `horizon:pause` and `horizon:continue` are commands the
master picks up on its next loop, so each is verified by polling `horizon:status` until it
says so. `horizon:terminate` makes the master finish its jobs and exit; the process manager
(supervisor, systemd, the container's restart policy) starts a new one: verified by a
master pid not seen before and `horizon:status` running. It is done at most once per run
(a run marker, shared with `queue_restarted` on a Horizon host).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from remediations.core import validate
from remediations.core.errors import RemediationError
from remediations.core.result import Diff, Result, Status, Step
from remediations.laravel.php import app_checked, artisan_argv
from remediations.laravel.runtime import Runtime, app_runtime
from remediations.run import markers
from remediations.run.contract import Verification, apply
from remediations.run.target import Target

__all__ = ["horizon_continued", "horizon_paused", "horizon_status", "horizon_terminated"]

START_HINT = ("start it under its process manager (e.g. `supervisorctl start horizon`, "
              "or the unit / container that runs `php artisan horizon`)")


def terminate_key(app: str) -> str:
    """The run marker of "Horizon terminated (so restarted) by this run" for the app at `app`."""
    return f"horizon-terminate@{app}"


def describe(rt: Runtime) -> str:
    masters = ", ".join(map(str, rt.horizon_masters)) or "none"
    return f"Horizon is {rt.horizon_status or ('running' if rt.horizon else 'inactive')} " \
           f"(master pid {masters})"


def _state(rt: Runtime) -> str:
    """running / paused / inactive / not-installed, from a `Runtime`."""
    if rt.horizon_status:
        return rt.horizon_status
    return "running" if rt.horizon_masters else "not-installed"


def _read(t: Target, name: str) -> tuple[Runtime | None, Result | None]:
    try:
        return app_runtime(t), None
    except RemediationError as exc:
        return None, t.result(name, Status.FAILED, "could not read Horizon's state",
                              evidence=str(exc))


def _wait(t: Target, settled: Callable[[Runtime], bool], timeout: float,
          interval: float = 1.0) -> Runtime | None:
    """Poll `app_runtime` until `settled`; the last state read (None if none could be read)."""
    deadline = time.monotonic() + timeout
    last: Runtime | None = None
    while True:
        try:
            last = app_runtime(t)
        except RemediationError:
            pass  # a moment without the host (a container restarting): keep polling
        if (last is not None and settled(last)) or time.monotonic() >= deadline:
            return last
        time.sleep(interval)


def horizon_status(t: Target) -> Result:
    """A fact: Horizon's masters, their pids and status; ok only when running.

    `data`: status (running / paused / inactive / not-installed), masters (pids).
    Failed otherwise, saying what to do. Example: `horizon_status(t)`.
    """
    app_checked(t)
    name = "horizon_status"
    rt, failed = _read(t, name)
    if rt is None:
        assert failed is not None
        return failed
    state = _state(rt)
    data = {"status": state, "masters": list(rt.horizon_masters)}
    if state == "running":
        return t.result(name, Status.OK, describe(rt), data=data)
    hint = {"paused": "continue it with `horizon-continue` (artisan horizon:continue)",
            "inactive": START_HINT,
            "not-installed": "Horizon is not installed for this app (no vendor/laravel/horizon, "
                             "no `artisan horizon` process)"}.get(state, START_HINT)
    return t.result(name, Status.FAILED, f"{describe(rt)}: {hint}", data=data)


def _switched(t: Target, name: str, want: str, command: str, timeout: float) -> Result:
    app_checked(t)
    timeout = validate.seconds(timeout, "timeout")
    rt, failed = _read(t, name)
    if rt is None:
        assert failed is not None
        return failed
    state = _state(rt)
    data = {"status_before": state, "masters": list(rt.horizon_masters)}
    if state in ("inactive", "not-installed"):
        return t.result(name, Status.FAILED, f"{describe(rt)}: cannot {command.split(':')[1]} "
                        f"it; {START_HINT}", data=data)
    steps = [] if state == want else [Step(artisan_argv(t, command), f"Horizon is {state}")]

    def verify() -> Verification:
        last = _wait(t, lambda r: _state(r) == want, timeout)
        now = _state(last) if last is not None else "unreadable"
        if now != want:
            return Verification(False, f"horizon:status says {now} after {timeout:g}s, "
                                f"not {want}", data={"status": now})
        return Verification(True, f"horizon:status says {want}", data={"status": now})

    return apply(t, name, steps, verify=verify, ok_message=f"Horizon already {want}",
                 action=f"{command.split(':')[1]} Horizon", done=f"sent {command}",
                 diff=Diff(f"horizon: {state}", f"horizon: {want}"), data=data)


def horizon_paused(t: Target, *, timeout: float = 30.0) -> Result:
    """Leave Horizon paused (`artisan horizon:pause`): its workers take no new jobs.

    Already paused = ok. Verified by `horizon:status` saying paused within `timeout`.
    Example: `horizon_paused(t)` before a risky migration.
    """
    return _switched(t, "horizon_paused", "paused", "horizon:pause", timeout)


def horizon_continued(t: Target, *, timeout: float = 30.0) -> Result:
    """Leave Horizon running again after a pause (`artisan horizon:continue`).

    Already running = ok. Verified by `horizon:status` saying running within `timeout`.
    Example: `horizon_continued(t)`.
    """
    return _switched(t, "horizon_continued", "running", "horizon:continue", timeout)


def horizon_terminated(t: Target, *, timeout: float = 90.0, name: str = "horizon_terminated",
                       runtime: Runtime | None = None) -> Result:
    """Leave Horizon restarted once in this run: `horizon:terminate`, its manager starts a new one.

    The master finishes the jobs in hand and exits; verified by a master pid not seen
    before and `horizon:status` running within `timeout`. Done at most once per run (a
    run marker): the same run id again is ok. Horizon not running fails, saying how to
    start it. Example: `horizon_terminated(t)` after a deploy.
    """
    app = app_checked(t)
    timeout = validate.seconds(timeout, "timeout")
    key = terminate_key(app)
    if markers.done(t.conn, t.run, key):
        return t.result(name, Status.OK, "Horizon already terminated (restarted) by this run")
    rt = runtime
    if rt is None:
        rt, failed = _read(t, name)
        if rt is None:
            assert failed is not None
            return failed
    state = _state(rt)
    old = set(rt.horizon_masters)
    data = {"status_before": state, "masters_before": sorted(old)}
    if state in ("inactive", "not-installed") and not old:
        return t.result(name, Status.FAILED, f"{describe(rt)}: nothing to terminate; "
                        f"{START_HINT}", data=data)
    steps = [Step(artisan_argv(t, "horizon:terminate"),
                  "the master finishes its jobs and exits; its process manager starts a new one"),
             markers.mark_step(t.run, key)]

    def renewed(r: Runtime) -> bool:
        return bool(r.horizon_masters) and not old & set(r.horizon_masters) \
            and _state(r) == "running"

    def verify() -> Verification:
        last = _wait(t, renewed, timeout)
        if last is None or not renewed(last):
            seen = describe(last) if last is not None else "the state could not be read"
            return Verification(False, f"no new running master within {timeout:g}s: {seen}",
                                data={"masters": list(last.horizon_masters) if last else []})
        moves = f"{', '.join(map(str, sorted(old)))} -> " \
                f"{', '.join(map(str, last.horizon_masters))}"
        return Verification(True, f"new master running (pid {moves})",
                            data={"masters": list(last.horizon_masters)})

    return apply(t, name, steps, verify=verify, ok_message="", action="terminate Horizon "
                 "(its process manager restarts it)", done="sent horizon:terminate",
                 data=data)
