"""Invoke tasks for queue workers, the queue and redis (registered by `build_namespace`)."""

from __future__ import annotations

import functools
from typing import Any

from invoke.collection import Collection

from remediations.cli.options import Common, make_task, run_remediation, validated
from remediations.cli.values import DAY, Range, Text


def _ids(text: str) -> list[str]:
    from remediations.laravel.queue import job_ids

    return job_ids([i.strip() for i in text.split(",") if i.strip()])


def restart_workers(c: Any, opts: Common, group: str = "laravel-worker") -> None:
    """Restart a supervisor worker group once per run, verified RUNNING with new pids."""
    from remediations.host.supervisor import program_name, workers_restarted

    group = validated(opts, lambda: program_name(group, "group"))
    run_remediation(opts, functools.partial(workers_restarted, group=group),
                    name="workers_restarted")


def start_workers(c: Any, opts: Common, group: str = "laravel-worker") -> None:
    """Start the stopped processes of a supervisor group; verified RUNNING."""
    from remediations.host.supervisor import program_name, programs_running

    chosen = validated(opts, lambda: program_name(group, "group")) if group else None
    run_remediation(opts, functools.partial(programs_running, group=chosen),
                    name="programs_running")


def scale_workers(c: Any, opts: Common, count: int = 0, program: str = "laravel-worker") -> None:
    """Run exactly --count processes of a supervisor program (numprocs, reread, update)."""
    from remediations.core.errors import InvalidInput
    from remediations.host.supervisor import MAX_NUMPROCS, program_name, workers_scaled

    def check() -> str:
        if not 1 <= count <= MAX_NUMPROCS:
            raise InvalidInput(f"--count must be 1-{MAX_NUMPROCS}, e.g. --count 4")
        return program_name(program)

    name = validated(opts, check)
    run_remediation(opts, functools.partial(workers_scaled, numprocs=count, program=name),
                    name="workers_scaled")


def queue_length(c: Any, opts: Common, queue: str = "default", max: int = -1) -> None:
    """Report the length of a redis queue (LLEN queues:<queue>); with --max, fail above it."""
    from remediations.laravel import queue as q

    validated(opts, q.queue_name, queue)
    fn = functools.partial(q.queue_length, queue=queue, max_length=None if max == -1 else max)
    run_remediation(opts, fn, name="queue_length", lock=False)


def wait_queue_drained(c: Any, opts: Common, queue: str = "default", wait: float = 120.0) -> None:
    """Wait until a redis queue is empty (LLEN 0), at most --wait seconds; a check."""
    from remediations.laravel import queue as q

    validated(opts, q.queue_name, queue)
    run_remediation(opts, functools.partial(q.queue_drained, queue=queue, timeout=wait),
                    name="queue_drained", lock=False)


def restart_queue(c: Any, opts: Common, group: str = "laravel-worker") -> None:
    """artisan queue:restart once per run, verified by the workers re-spawning (new pids)."""
    from remediations.host.supervisor import program_name
    from remediations.laravel.queue import queue_restarted

    chosen = validated(opts, lambda: program_name(group, "group")) if group else None
    run_remediation(opts, functools.partial(queue_restarted, group=chosen),
                    name="queue_restarted")


def retry_failed_jobs(c: Any, opts: Common, ids: str = "") -> None:
    """Push failed jobs back onto their queue (all, or --ids a,b); nothing failed = ok."""
    from remediations.laravel.queue import failed_jobs_retried

    chosen = validated(opts, lambda: _ids(ids)) if ids else None
    run_remediation(opts, functools.partial(failed_jobs_retried, ids=chosen),
                    name="failed_jobs_retried")


def forget_failed_jobs(c: Any, opts: Common, ids: str = "") -> None:
    """Delete failed jobs --ids a,b from failed_jobs (queue:forget); already gone = ok."""
    from remediations.core.errors import InvalidInput
    from remediations.laravel.queue import failed_jobs_forgotten

    def check() -> list[str]:
        chosen = _ids(ids)
        if not chosen:
            raise InvalidInput("--ids is required, e.g. --ids 5f1e...,6a2b...")
        return chosen

    chosen = validated(opts, check)
    run_remediation(opts, functools.partial(failed_jobs_forgotten, ids=chosen),
                    name="failed_jobs_forgotten",
                    confirm=("forget-failed-jobs deletes failed jobs",
                             "list the jobs it would delete"))


def redis_ping(c: Any, opts: Common, db: int = -1) -> None:
    """Check that redis answers PING with PONG (with the inventory's redis_password)."""
    from remediations.host.redis import redis_pong

    run_remediation(opts, functools.partial(redis_pong, db=db if db >= 0 else None),
                    name="redis_pong", lock=False)


def delete_redis_keys(c: Any, opts: Common, key: str = "", pattern: str = "", db: int = -1,
                      count: int = 500, allow_all: bool = False, max_keys: int = 10_000) -> None:
    """Delete a redis key (--key) or the keys matching a glob (--pattern, walked with SCAN)."""
    from remediations.core.errors import InvalidInput
    from remediations.host import redis as rds

    def check() -> None:
        if bool(key) == bool(pattern):
            raise InvalidInput("give exactly one of --key K or --pattern P")
        if key:
            rds.redis_text(key, "key")
        else:
            rds.redis_pattern(pattern, allow_all=allow_all)

    validated(opts, check)
    fn = functools.partial(rds.redis_keys_deleted, key=key or None, pattern=pattern or None,
                           db=db if db >= 0 else None, count=count, allow_all=allow_all,
                           max_keys=max_keys)
    run_remediation(opts, fn, name="redis_keys_deleted",
                    confirm=("delete-redis-keys deletes data", "list the keys it would delete"))


def register(ns: Collection) -> None:
    """Add this area's tasks to `ns`."""
    group = ("group", "laravel-worker", "supervisor group of the queue workers")
    ns.add_task(make_task(restart_workers, name="restart-workers", params=(group,)))
    ns.add_task(make_task(start_workers, name="start-workers", params=(
        ("group", "laravel-worker", "supervisor group to start ('' for every program)"),)))
    ns.add_task(make_task(scale_workers, name="scale-workers", params=(
        ("count", 0, "how many processes to run (numprocs, 1-64), e.g. 4", Range(1, 64, unset=0)),
        ("program", "laravel-worker", "supervisor program to scale"),
    )))
    queue = ("queue", "default", "queue name (redis list queues:<queue>)")
    ns.add_task(make_task(queue_length, name="queue-length", params=(
        queue, ("max", -1, "fail when more jobs than this wait", Range(0, 10**9, unset=-1)))))
    ns.add_task(make_task(wait_queue_drained, name="wait-queue-drained", params=(
        queue, ("wait", 120.0, "seconds to wait for the queue to empty",
                Range(0, DAY, low_open=True)))))
    ns.add_task(make_task(restart_queue, name="restart-queue", params=(
        ("group", "laravel-worker", "supervisor group whose re-spawn verifies it ('' to skip)"),)))
    ns.add_task(make_task(retry_failed_jobs, name="retry-failed-jobs", params=(
        ("ids", "", "comma-separated failed-job ids (default: every failed job)"),)))
    ns.add_task(make_task(forget_failed_jobs, name="forget-failed-jobs", params=(
        ("ids", "", "comma-separated failed-job ids to delete"),),
        yes="confirm deleting the jobs (not needed with --check)"))
    db = ("db", -1, "redis database number, 0-1024 (default: inventory redis_db, else 0)",
          Range(0, 1024, unset=-1))
    ns.add_task(make_task(redis_ping, name="redis-ping", params=(db,)))
    ns.add_task(make_task(delete_redis_keys, name="delete-redis-keys", params=(
        # A redis key may start with '-': it comes after the command word, never as a flag.
        ("key", "", "one exact key to delete", Text(dash=True)),
        ("pattern", "", "glob of keys to delete, e.g. 'laravel_cache:rate-limit:*'",
         Text(dash=True)),
        db,
        ("count", 500, "SCAN COUNT hint: keys looked at per SCAN call (1-100000)",
         Range(1, 100_000)),
        ("allow_all", False, "allow a pattern made only of wildcards ('*')"),
        ("max_keys", 10_000, "refuse (delete nothing) when more keys than this match "
                             "(at most 10000000)", Range(1, 10**7)),
    ), yes="confirm deleting the keys (not needed with --check)"))
