"""The scheduler as a fact: what triggers `schedule:run` on a host, and what `schedule:list` lists.

A scheduler triggered twice on one host (a cron line and a timer, two cron lines) runs
every task twice: the fact fails and names the triggers. Triggered on more than one host,
each task runs once per host unless every task is `onOneServer()` with a shared cache
store: `hosts_triggering_same_app` finds that across the hosts of a run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from remediations.connections.batch import run_batch
from remediations.core.result import Result, Status
from remediations.laravel.php import artisan_argv
from remediations.laravel.scheduler import Triggers, parse_triggers, triggers_argv
from remediations.run.target import Target

# Laravel 8's table row: | Command | Interval | Description | Next Due |
_ROW = re.compile(r"^\|\s*(?P<cmd>.+?)\s*\|\s*(?P<expr>[^|]+?)\s*\|\s*(?P<desc>[^|]*?)\s*\|"
                  r"\s*(?P<next>[^|]+?)\s*\|$")
# Laravel 9+: `  * * * * *  php artisan inspire ........ Next Due: 1 minute from now`
_LINE = re.compile(r"^\s*(?P<expr>(?:\S+\s+){4}\S+)\s+(?P<cmd>.+?)\s*\.*\s*Next Due:\s*(?P<next>.+)$")


@dataclass(frozen=True, slots=True)
class ScheduledTask:
    """One entry of `artisan schedule:list`."""

    command: str
    expression: str
    next_due: str
    description: str = ""


def parse_schedule_list(text: str) -> list[ScheduledTask]:
    """The tasks `schedule:list` prints, as Laravel 8's table or Laravel 9+'s lines."""
    tasks: list[ScheduledTask] = []
    for raw in text.splitlines():
        row = _ROW.match(raw.strip())
        if row and row.group("cmd") != "Command":
            tasks.append(ScheduledTask(row.group("cmd"), row.group("expr"), row.group("next"),
                                       row.group("desc")))
            continue
        line = _LINE.match(raw)
        if line:
            tasks.append(ScheduledTask(line.group("cmd"), line.group("expr"), line.group("next")))
    return tasks


def app_key(t: Target) -> str:
    """Which app a host's scheduler runs: inventory `app_name`, else its `app_path`."""
    return str(t.var("app_name") or t.var("app_path") or "")


def doubled(found: Triggers, app: str = "") -> dict[str, list[str]]:
    """App directory -> its running triggers, for every app with more than one on the host.

    A trigger naming no directory counts as `app`'s (the host's app).
    """
    by_app: dict[str, list[str]] = {}
    for state in found.timers:
        if state.active:
            by_app.setdefault(state.app_dir or app, []).append(f"timer {state.unit}")
    for line in found.cron_lines:
        if not line.paused:
            by_app.setdefault(line.app_dir or app, []).append(describe_line(line.source, line.number))
    return {app: names for app, names in by_app.items() if len(names) > 1}


def describe_line(source: str, number: int) -> str:
    who = f"crontab of {source.removeprefix('crontab:')}" if source.startswith("crontab:") else source
    return f"cron line {number} of {who}"


def scheduler_status(t: Target) -> Result:
    """Report the scheduler's triggers (timers, cron lines; paused or not) and scheduled tasks.

    One round trip: the triggers and `artisan schedule:list`. Failed when the app's
    scheduler is triggered twice on this host (every task would run twice).
    `data["active"]` counts the running triggers, `data["app"]` names the app
    (`hosts_triggering_same_app` compares hosts by it). Example: `scheduler_status(t)`.
    """
    name = "scheduler_status"
    argvs = [triggers_argv()]
    if t.var("app_path"):
        argvs.append(artisan_argv(t, "schedule:list"))
    ran = run_batch(t.conn, argvs, timeout=120)
    app = str(t.var("app_path") or "")
    found = parse_triggers(ran[0].stdout).for_app(app)
    listed = ran[1] if len(ran) > 1 else None
    tasks = parse_schedule_list(listed.stdout) if listed is not None and listed.succeeded else []
    twice = doubled(found, app)
    running = found.active()
    data = {"app": app_key(t), "triggers": found.listed(), "active": len(running),
            "schedule": [{"command": s.command, "expression": s.expression,
                          "next_due": s.next_due} for s in tasks],
            "doubled": twice}
    if listed is not None and listed.failed:
        data["schedule_error"] = listed.tail(5)
    summary = (f"{len(running)} trigger(s) running ({'; '.join(running) or 'none'}), "
               f"{sum(1 for r in found.listed() if r['paused'])} paused; "
               f"{len(tasks)} scheduled task(s)")
    if twice:
        names = "; ".join(f"{app or 'the app'}: {' and '.join(v)}" for app, v in twice.items())
        return t.result(name, Status.FAILED, f"scheduler triggered twice on {t.name} ({names}): "
                        "every task runs twice; pause all but one", data=data)
    return t.result(name, Status.OK, summary, data=data)


def hosts_triggering_same_app(results: Iterable[Result] | Mapping[str, Result]) -> dict[str, list[str]]:
    """App -> the hosts whose scheduler runs it, for every app run by more than one host.

    Takes the `scheduler_status` results of a run (a list, or host -> result). Each task of
    such an app runs once per host unless it is `onOneServer()` on a shared cache store.
    """
    items = results.values() if isinstance(results, Mapping) else results
    hosts: dict[str, list[str]] = {}
    for r in items:
        if r.status in (Status.OK, Status.FAILED) and r.data.get("active"):
            hosts.setdefault(str(r.data.get("app", "")), []).append(r.host)
    return {app: sorted(names) for app, names in hosts.items() if len(names) > 1}
