"""Invoke tasks for Laravel Horizon and the queue's smoke check (registered by `build_namespace`)."""

from __future__ import annotations

import functools
from typing import Any

from invoke.collection import Collection

from remediations.cli.options import Common, make_task, run_remediation, validated
from remediations.cli.values import Range


def horizon_status(c: Any, opts: Common) -> None:
    """Report Horizon's masters and status; ok only when running (a fact)."""
    from remediations.laravel.horizon import horizon_status as fact

    run_remediation(opts, fact, name="horizon_status", lock=False)


def horizon_pause(c: Any, opts: Common, wait: float = 30.0) -> None:
    """Pause Horizon (horizon:pause), verified by horizon:status; already paused = ok."""
    from remediations.laravel.horizon import horizon_paused

    run_remediation(opts, functools.partial(horizon_paused, timeout=wait), name="horizon_paused")


def horizon_continue(c: Any, opts: Common, wait: float = 30.0) -> None:
    """Continue a paused Horizon (horizon:continue), verified running; already running = ok."""
    from remediations.laravel.horizon import horizon_continued

    run_remediation(opts, functools.partial(horizon_continued, timeout=wait),
                    name="horizon_continued")


def horizon_terminate(c: Any, opts: Common, wait: float = 90.0) -> None:
    """horizon:terminate once per run, verified by a new master pid and horizon:status running."""
    from remediations.laravel.horizon import horizon_terminated

    run_remediation(opts, functools.partial(horizon_terminated, timeout=wait),
                    name="horizon_terminated")


def queue_smoke(c: Any, opts: Common, queue: str = "remediations-smoke", wait: float = 60.0) -> None:
    """Push a Ping job on a smoke queue and work it with queue:work --once; verified processed."""
    from remediations.laravel import queue as q

    validated(opts, q.queue_name, queue)
    run_remediation(opts, functools.partial(q.queue_worker_processes_job, queue=queue,
                                            timeout=wait), name="queue_worker_processes_job")


def queue_failed(c: Any, opts: Common) -> None:
    """List the failed jobs (queue:failed): ids, queue, failed at, exception; ok when none."""
    from remediations.laravel.queue import failed_jobs_listed

    run_remediation(opts, failed_jobs_listed, name="failed_jobs_listed", lock=False)


def register(ns: Collection) -> None:
    """Add this area's tasks to `ns`."""
    wait = ("wait", 30.0, "seconds to wait for horizon:status to agree", Range(0, 3600, low_open=True))
    ns.add_task(make_task(horizon_status, name="horizon-status", params=()))
    ns.add_task(make_task(horizon_pause, name="horizon-pause", params=(wait,)))
    ns.add_task(make_task(horizon_continue, name="horizon-continue", params=(wait,)))
    ns.add_task(make_task(horizon_terminate, name="horizon-terminate", params=(
        ("wait", 90.0, "seconds to wait for a new running master", Range(0, 3600, low_open=True)),)))
    ns.add_task(make_task(queue_smoke, name="queue-smoke", params=(
        ("queue", "remediations-smoke", "the dedicated queue the Ping job goes on"),
        ("wait", 60.0, "seconds queue:work --once may take", Range(0, 3600, low_open=True)))))
    ns.add_task(make_task(queue_failed, name="queue-failed", params=()))
