"""Laravel's redis queue: its length (a fact), queue:restart once per run, draining, failed jobs,
and a smoke check of a worker (`queue:work --once`).

Where Horizon runs for the app (`runtime.app_runtime`), restarting the queue is
`horizon:terminate`, as Horizon's deploy docs ask: its master and supervisors keep the old
code and configuration until replaced. Elsewhere `queue:restart` is verified by the workers
re-spawning: under supervisor by new pids in the group; where the image has no
supervisorctl (a container, a pod) by the `queue:work` processes themselves, read from /proc
(`queue_restart_verified`): every worker seen before is gone (pid + start time, so a
restarted container's new pid 7 is told from the old one) and as many run again.

Keys follow Laravel's redis queue: the list `queues:<name>` holds waiting jobs, the
sorted sets `queues:<name>:delayed` and `:reserved` the delayed and running ones.
Inventory `redis_prefix` (default empty) is prepended, as Laravel's redis prefix is.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from remediations.connections.base import Connection
from remediations.core import validate
from remediations.core.errors import CommandFailed, InvalidInput, RemediationError
from remediations.core.result import Result, Status, Step
from remediations.core.scripts import script
from remediations.host import redis as rds
from remediations.host.supervisor import (
    Program,
    program_name,
    supervisor_programs,
    wait_programs,
    worker_log_tail,
)
from remediations.laravel.app import artisan_argv
from remediations.laravel.horizon import horizon_terminated
from remediations.laravel.php import app_path, as_app_user
from remediations.laravel.runtime import app_runtime
from remediations.run import markers
from remediations.run.contract import Verification, apply
from remediations.run.target import Target

__all__ = ["failed_jobs_forgotten", "failed_jobs_listed", "failed_jobs_retried", "queue_drained",
           "queue_length", "queue_restart_verified", "queue_restarted", "queue_worker_processes_job",
           "queue_workers"]

_QUEUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")
# One round trip for all three: EVAL runs the read-only calls together.
_LENGTHS = script("queue-lengths.lua")
# Laravel 9+ prints `  2026-11-23 10:00:00 <id> ...... redis@default App\Jobs\Ping`.
_DETAIL = re.compile(r"^\s*(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\s+(\S+)\s+\.*\s*([^\s@]+)@(\S+)\s+(\S.*?)\s*$")
_IDS_PER_COMMAND = 100
_WORKERS = script("queue-workers.sh")
_SMOKE = script("queue-smoke.php")
SMOKE_QUEUE = "remediations-smoke"


def queue_name(value: str) -> str:
    """A Laravel queue name: letters, digits, '_', '.', ':', '-'."""
    if not isinstance(value, str) or not _QUEUE.fullmatch(value):
        raise InvalidInput(f"not a valid queue name: {value!r}")
    return value


def job_ids(values: Sequence[str]) -> list[str]:
    """Failed-job ids (UUIDs or numbers), de-duplicated in order."""
    if isinstance(values, str):
        raise InvalidInput(f"job ids are a list, not a string: {values!r}")
    for value in values:
        if not isinstance(value, str) or not _JOB_ID.fullmatch(value):
            raise InvalidInput(f"not a valid failed-job id: {value!r}")
    return list(dict.fromkeys(values))


@dataclass(frozen=True, slots=True)
class QueueLength:
    """How many jobs wait, are delayed and are being worked on in one queue."""

    queue: str
    key: str
    length: int
    delayed: int
    reserved: int

    def describe(self) -> str:
        return (f"{self.key}: {self.length} waiting, {self.delayed} delayed, "
                f"{self.reserved} reserved")

    def data(self) -> dict[str, object]:
        return {"queue": self.queue, "key": self.key, "length": self.length,
                "delayed": self.delayed, "reserved": self.reserved}


def queue_key(t: Target, queue: str) -> str:
    prefix = str(t.var("redis_prefix") or "")
    if prefix:
        rds.redis_text(prefix, "prefix")
    return f"{prefix}queues:{queue_name(queue)}"


def queue_lengths(t: Target, queue: str = "default", *, db: int | None = None) -> QueueLength:
    """Read LLEN and the delayed/reserved ZCARDs (one round trip); `RuntimeError` if redis fails."""
    key = queue_key(t, queue)
    res = rds.call(t, "EVAL", _LENGTHS, "3", key, f"{key}:delayed", f"{key}:reserved", db=db)
    numbers = res.stdout.split()
    if res.failed or len(numbers) != 3 or not all(n.isdigit() for n in numbers):
        raise RuntimeError(rds.error_of(res, t) or f"unexpected answer {res.stdout.strip()!r}")
    length, delayed, reserved = map(int, numbers)
    return QueueLength(queue, key, length, delayed, reserved)


def queue_length(t: Target, queue: str = "default", *, max_length: int | None = None,
                 db: int | None = None) -> Result:
    """Report the length of a redis queue (LLEN queues:<queue>); never changes anything.

    With `max_length`, a check: failed when more jobs than that are waiting.
    Example: `queue_length(t, "default", max_length=1000)`.
    """
    if max_length is not None:
        max_length = validate.count(max_length, "max_length")
    db = rds.db_number(db)
    name = "queue_length"
    try:
        q = queue_lengths(t, queue, db=db)
    except RuntimeError as exc:
        return rds.masked(t, t.result(name, Status.FAILED, f"could not read the queue: {exc}",
                                      evidence=str(exc)))
    data = {**q.data(), "max_length": max_length}
    if max_length is not None and q.length > max_length:
        return t.result(name, Status.FAILED, f"{q.describe()}; more than {max_length}", data=data)
    return t.result(name, Status.OK, q.describe(), data=data)


def queue_drained(t: Target, queue: str = "default", *, timeout: float = 120.0,
                  interval: float = 2.0, group: str = "laravel-worker",
                  db: int | None = None) -> Result:
    """Check that `queues:<queue>` drains: wait (polling) until LLEN is 0, at most `timeout`.

    Never changes anything; in check mode it reads once and says it would wait.
    `group` only names the workers whose state is shown as evidence on failure.
    Example: `queue_drained(t, "default", timeout=300)`.
    """
    timeout = validate.seconds(timeout, "timeout")
    interval = validate.seconds(interval, "interval")
    db = rds.db_number(db)
    name = "queue_drained"
    started = time.monotonic()
    seen: list[int] = []

    def read() -> QueueLength | None:
        try:
            q = queue_lengths(t, queue, db=db)
        except RuntimeError:
            return None  # a moment without redis: keep waiting until the deadline
        seen.append(q.length)
        return q

    first = read()
    if first is None:
        return queue_length(t, queue, db=db).replace(remediation=name)
    if first.length and t.check:
        return t.result(name, Status.OK, f"would wait up to {timeout:g}s for {first.key} "
                        f"to drain ({first.length} waiting now)", data=first.data())
    last = first
    if first.length:
        retry = Retrying(stop=stop_after_delay(timeout), wait=wait_fixed(interval),
                         retry=retry_if_result(lambda q: q is None or q.length > 0),
                         retry_error_callback=lambda s: s.outcome.result() if s.outcome else None)
        last = retry(read) or first
    waited = round(time.monotonic() - started, 1)
    data = {**last.data(), "length_first": first.length, "waited": waited,
            "lengths_seen": seen[-20:]}
    if last.length:
        return t.result(name, Status.FAILED,
                        f"{last.key} still holds {last.length} job(s) after {waited:g}s "
                        f"(was {first.length})", evidence=worker_log_tail(t.conn, group), data=data)
    how = f"drained {first.length} -> 0 in {waited:g}s" if first.length else "empty"
    return t.result(name, Status.OK, f"{last.key} {how}", data=data)


@dataclass(frozen=True, slots=True)
class Worker:
    """A `queue:work` (or `horizon:work`) process: pid and start time (ticks since boot)."""

    pid: int
    started: int
    user: str
    args: str

    @property
    def identity(self) -> tuple[int, int]:
        return self.pid, self.started


def parse_workers(text: str) -> list[Worker]:
    """The lines of `queue-workers.sh`: `PID START_TICKS USER ARGS`."""
    found: list[Worker] = []
    for line in text.splitlines():
        parts = line.split(" ", 3)
        if len(parts) == 4 and parts[0].isdigit() and parts[1].isdigit():
            found.append(Worker(int(parts[0]), int(parts[1]), parts[2], parts[3]))
    return found


def queue_workers(conn: Connection) -> list[Worker]:
    """The worker processes, read from /proc (no ps or supervisorctl needed); raises on failure."""
    return parse_workers(conn.run(["sh", "-c", _WORKERS], timeout=30).stdout)


def workers_renewed(before: Sequence[Worker], after: Sequence[Worker]) -> bool:
    """Every worker of `before` is gone (pid + start time) and at least as many run again."""
    old = {w.identity for w in before}
    return not old & {w.identity for w in after} and len(after) >= len(before)


def queue_restart_verified(conn: Connection, before: Sequence[Worker], *, timeout: float = 120.0,
                           interval: float = 1.0) -> Verification:
    """Whether the workers `before` (read with `queue_workers`) were all replaced within `timeout`.

    For hosts, containers and pods without supervisorctl: polls the /proc listing, riding
    out moments when the container restarts and cannot be reached. A pod's connection
    (`connections.pod`) works the same way.
    Example: `before = queue_workers(conn)`; send queue:restart;
    `queue_restart_verified(conn, before, timeout=60)`.
    """
    timeout = validate.seconds(timeout, "timeout")
    interval = validate.seconds(interval, "interval")
    deadline = time.monotonic() + timeout
    after: list[Worker] = []
    while True:
        try:
            after = queue_workers(conn)
        except RemediationError:
            after = []  # the container is restarting: look again
        if workers_renewed(before, after) or time.monotonic() >= deadline:
            break
        time.sleep(interval)
    data = {"workers_before": [w.pid for w in before], "workers": [w.pid for w in after]}
    if not workers_renewed(before, after):
        left = sorted(w.pid for w in before if w.identity in {a.identity for a in after})
        why = (f"still running: pid(s) {', '.join(map(str, left))}" if left else
               f"{len(after)} worker(s) running again, expected {len(before)}")
        listing = "\n".join(f"{w.pid} {w.user} {w.args}" for w in after) or "(no worker process)"
        return Verification(False, f"workers not re-spawned within {timeout:g}s: {why}",
                            f"queue:work processes now:\n{listing}", data)
    moves = ", ".join(str(w.pid) for w in before)
    return Verification(True, f"{len(before)} worker process(es) replaced (pids {moves} -> "
                        f"{', '.join(str(w.pid) for w in after)})", data=data)


def _no_supervisor(exc: CommandFailed) -> bool:
    res = exc.result
    return res.exit_code == 127 or "not found" in f"{res.stdout} {res.stderr}".lower()


def queue_restarted(t: Target, *, group: str | None = "laravel-worker",
                    timeout: float = 120.0) -> Result:
    """Leave the queue workers re-spawned, at most once per run.

    Where Horizon runs for the app: `horizon:terminate`, verified by a new master
    (`horizon_terminated`). Elsewhere `artisan queue:restart`: each worker exits after
    its current job and its manager starts it again, verified by every RUNNING process
    of supervisor `group` getting a new pid within `timeout`; where there is no
    supervisorctl (an app image) or `group=None`, by the `queue:work` processes in /proc
    (`queue_restart_verified`). No worker at all to watch: sent and said so.
    Example: `queue_restarted(t)`.
    """
    timeout = validate.seconds(timeout, "timeout")
    name = "queue_restarted"
    group = program_name(group, "group") if group is not None else None
    argv = artisan_argv(t, "queue:restart")
    if markers.done(t.conn, t.run, "queue-restart"):
        return t.result(name, Status.OK, "queue:restart already sent by this run")
    try:
        rt = app_runtime(t)
    except RemediationError as exc:
        return t.result(name, Status.FAILED, "could not tell whether Horizon runs here",
                        evidence=str(exc))
    if rt.horizon:
        res = horizon_terminated(t, timeout=timeout, name=name, runtime=rt)
        return res.replace(message=f"Horizon runs here: {res.message}",
                           data={**res.data, "via": "horizon:terminate"})
    before: list[Program] = []
    procs: list[Worker] | None = None
    if group is not None:
        try:
            before = [p for p in supervisor_programs(t.conn, group=group, precise=False)
                      if p.running]
        except CommandFailed as exc:
            if not _no_supervisor(exc):
                return t.result(name, Status.FAILED, "supervisord did not answer; "
                                "cannot see the workers re-spawn", evidence=str(exc))
            group = None  # no supervisorctl in this image: watch the processes themselves
    if group is None:
        procs = queue_workers(t.conn)
    elif not before and not t.check:
        # In check mode a step before this one (starting the workers) only said it would.
        idle = "; Horizon is installed but inactive: start it (see horizon-status)" \
            if rt.horizon_status == "inactive" else ""
        return t.result(name, Status.FAILED,
                        f"no RUNNING process in supervisor group {group!r} to re-spawn; "
                        f"start the workers first{idle}", evidence=worker_log_tail(t.conn, group))
    old = {p.spec: p.pid for p in before}

    def respawned(ps: list[Program]) -> bool:
        now = {p.spec: p for p in ps}
        return all(s in now and now[s].running and now[s].pid not in (0, pid)
                   for s, pid in old.items())

    def verify() -> Verification:
        if procs is not None:
            return queue_restart_verified(t.conn, procs, timeout=timeout)
        assert group is not None
        after = wait_programs(t.conn, respawned, group=group, timeout=timeout)
        pids = {p.spec: p.pid for p in after}
        data = {"pids_before": old, "pids": pids}
        if not respawned(after):
            stale = [s for s in old if pids.get(s) in (None, 0, old[s])]
            return Verification(False, f"not re-spawned within {timeout:g}s: {', '.join(stale)}",
                                worker_log_tail(t.conn, group), data)
        moves = ", ".join(f"{old[s]}->{pids[s]}" for s in old)
        return Verification(True, f"{len(old)} worker(s) re-spawned (pids {moves})", data=data)

    watch = verify if procs is None or procs else None
    steps = [Step(argv, "workers exit after their current job; their manager restarts them"),
             markers.mark_step(t.run, "queue-restart")]
    data: dict[str, object] = {"pids_before": old, "via": "queue:restart"}
    if procs is not None:
        data["workers_before"] = [w.pid for w in procs]
    done = "sent queue:restart" if watch else \
        "sent queue:restart (no queue:work process here to watch re-spawn)"
    return apply(t, name, steps, verify=watch, ok_message="", action="send queue:restart",
                 done=done, data=data)


@dataclass(frozen=True, slots=True)
class FailedJob:
    """One row of `artisan queue:failed`."""

    id: str
    connection: str
    queue: str
    job: str
    failed_at: str


def parse_failed_jobs(text: str) -> list[FailedJob]:
    """Parse `queue:failed`: Laravel 8's table or Laravel 9+'s dotted lines."""
    jobs: list[FailedJob] = []
    for line in text.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) >= 5 and cells[0] != "ID" and _JOB_ID.fullmatch(cells[0]):
                jobs.append(FailedJob(cells[0], cells[1], cells[2], cells[3], cells[4]))
        elif m := _DETAIL.match(line):
            failed_at, job_id, connection, queue, job = m.groups()
            if _JOB_ID.fullmatch(job_id):
                jobs.append(FailedJob(job_id, connection, queue, job, failed_at))
    return jobs


def failed_jobs(t: Target) -> list[FailedJob]:
    """The failed jobs `artisan queue:failed` lists; raises `CommandFailed`."""
    return parse_failed_jobs(t.conn.run(artisan_argv(t, "queue:failed")).stdout)


def plan_failed_jobs_retried(t: Target, failed: Sequence[FailedJob],
                             ids: Sequence[str] | None) -> list[Step]:
    """`queue:retry ID...` for the failed jobs asked for (all when `ids` is None)."""
    present = [j.id for j in failed if ids is None or j.id in ids]
    return [Step(artisan_argv(t, "queue:retry", *present[i:i + _IDS_PER_COMMAND]),
                 "push the failed job(s) back onto their queue")
            for i in range(0, len(present), _IDS_PER_COMMAND)]


def plan_failed_jobs_forgotten(t: Target, failed: Sequence[FailedJob],
                               ids: Sequence[str]) -> list[Step]:
    """`queue:forget ID` (it takes one id) for each asked-for job still failed."""
    return [Step(artisan_argv(t, "queue:forget", j.id), "delete the failed job")
            for j in failed if j.id in ids]


def _listing_failed(t: Target, name: str, exc: CommandFailed) -> Result:
    return t.result(name, Status.FAILED, "`artisan queue:failed` failed", evidence=str(exc))


def failed_jobs_retried(t: Target, ids: Sequence[str] | None = None) -> Result:
    """Leave no failed job (of `ids`; all when None) in failed_jobs: pushed back onto its queue.

    Nothing failed (or the ids are no longer failed) = ok. A retried job that fails
    again at once is back with a newer failed-at time; that counts as retried.
    Example: `failed_jobs_retried(t)` or `failed_jobs_retried(t, ["5f1e..."])`.
    """
    name = "failed_jobs_retried"
    wanted = job_ids(ids) if ids is not None else None
    try:
        before = failed_jobs(t)
    except CommandFailed as exc:
        return _listing_failed(t, name, exc)
    steps = plan_failed_jobs_retried(t, before, wanted)
    chosen = {j.id: j for j in before if wanted is None or j.id in wanted}
    unknown = [i for i in wanted or [] if i not in chosen]

    def verify() -> Verification:
        try:
            after = {j.id: j for j in failed_jobs(t)}
        except CommandFailed as exc:
            return Verification(False, "`artisan queue:failed` failed", str(exc))
        stuck = [i for i, j in chosen.items() if i in after and after[i].failed_at == j.failed_at]
        again = [i for i in chosen if i in after and i not in stuck]
        data = {"failed_again": again, "still_failed": stuck}
        if stuck:
            return Verification(False, f"still in failed_jobs: {', '.join(stuck)}", data=data)
        note = f" ({len(again)} failed again since)" if again else ""
        return Verification(True, f"{len(chosen)} no longer in failed_jobs{note}", data=data)

    ok_msg = ("no failed jobs" if wanted is None
              else f"nothing to retry: none of {', '.join(wanted)} is in failed_jobs")
    return apply(t, name, steps, verify=verify, ok_message=ok_msg,
                 action=f"retry {len(chosen)} failed job(s)", done=f"retried {len(chosen)} job(s)",
                 data={"ids": list(chosen), "not_failed": unknown, "failed_total": len(before)})


def failed_jobs_forgotten(t: Target, ids: Sequence[str]) -> Result:
    """Leave the failed jobs `ids` deleted from failed_jobs (`queue:forget`); absent = ok.

    Example: `failed_jobs_forgotten(t, ["5f1e..."])`.
    """
    name = "failed_jobs_forgotten"
    wanted = job_ids(ids)
    if not wanted:
        raise InvalidInput("give at least one failed-job id to forget")
    try:
        before = failed_jobs(t)
    except CommandFailed as exc:
        return _listing_failed(t, name, exc)
    steps = plan_failed_jobs_forgotten(t, before, wanted)
    chosen = [j.id for j in before if j.id in wanted]

    def verify() -> Verification:
        try:
            left = [j.id for j in failed_jobs(t) if j.id in chosen]
        except CommandFailed as exc:
            return Verification(False, "`artisan queue:failed` failed", str(exc))
        if left:
            return Verification(False, f"still in failed_jobs: {', '.join(left)}")
        return Verification(True, f"{len(chosen)} gone from failed_jobs")

    return apply(t, name, steps, verify=verify,
                 ok_message=f"none of {', '.join(wanted)} is in failed_jobs",
                 action=f"forget {len(chosen)} failed job(s)", done=f"forgot {len(chosen)} job(s)",
                 data={"ids": chosen, "not_failed": [i for i in wanted if i not in chosen]})


_FAILED = script("failed-jobs.php")


def failed_jobs_listed(t: Target, *, limit: int = 50) -> Result:
    """A fact: the failed jobs (as `queue:failed` lists them), with each exception's first line.

    `data["jobs"]`: id, connection, queue, job, failed_at, exception (newest `limit`);
    `data["total"]`. Ok when none failed, failed otherwise (what to retry or forget).
    Example: `failed_jobs_listed(t)`.
    """
    limit = validate.count(limit, "limit", low=1, high=10_000)
    app = app_path(t)
    name = "failed_jobs_listed"
    res = t.conn.run(as_app_user(t, ["php", "-r", _FAILED, "--", app, str(limit)]), check=False,
                     timeout=120)
    try:
        found = json.loads((res.stdout.strip().splitlines() or ["?"])[-1])
        total, jobs = int(found["total"]), list(found["jobs"])
    except (ValueError, KeyError, TypeError):
        return t.result(name, Status.FAILED, "could not list the failed jobs (the app did not "
                        "boot, or its failed-job store is unreachable)", evidence=res.tail(15))
    data = {"total": total, "jobs": jobs}
    if not total:
        return t.result(name, Status.OK, "no failed jobs", data=data)
    newest = jobs[0] if jobs else {}
    return t.result(name, Status.FAILED,
                    f"{total} failed job(s); newest {newest.get('id')} on "
                    f"{newest.get('queue')} at {newest.get('failed_at')}: "
                    f"{newest.get('exception') or newest.get('job')} (retry-failed-jobs / "
                    "forget-failed-jobs)", data=data)


def _smoke_state(t: Target, mode: str, queue: str) -> dict[str, object]:
    res = t.conn.run(as_app_user(t, ["php", "-r", _SMOKE, "--", app_path(t), mode, queue]),
                     check=False, timeout=120)
    try:
        found: dict[str, object] = json.loads((res.stdout.strip().splitlines() or ["?"])[-1])
    except ValueError:
        raise CommandFailed(res) from None
    return found


def smoke_key(queue: str) -> str:
    return f"queue-smoke@{queue}"


def queue_worker_processes_job(t: Target, *, queue: str = SMOKE_QUEUE,
                               timeout: float = 60.0) -> Result:
    """Leave a job proven processed by a worker of this release: a smoke check, once per run.

    Pushes one harmless job (the framework's QueuedCommand running `artisan list`) onto
    the dedicated `queue`, on the app's default queue connection, then runs
    `artisan queue:work --once --queue=<queue> --stop-when-empty --tries=1` as the app
    user (at most `timeout`). Verified: the worker printed the job processed and the
    queue is empty. Nobody else works `queue`, so the job is this check's own. The same
    run id again = ok. Check mode plans the commands only. Example:
    `queue_worker_processes_job(t)` after a deploy.
    """
    q = queue_name(queue)
    timeout = validate.seconds(timeout, "timeout")
    app = app_path(t)
    name = "queue_worker_processes_job"
    push = as_app_user(t, ["php", "-r", _SMOKE, "--", app, "push", q])
    work = as_app_user(t, ["timeout", f"{timeout:g}", "php", f"{app}/artisan", "queue:work",
                           "--once", f"--queue={q}", "--stop-when-empty", "--tries=1",
                           f"--timeout={max(1, int(timeout) - 1)}"])
    if markers.done(t.conn, t.run, smoke_key(q)):
        return t.result(name, Status.OK, f"a job on {q} was already processed in this run")
    steps = [Step(push, f"push one QueuedCommand(list) onto {q}"),
             Step(work, "one worker run of this release works it"),
             markers.mark_step(t.run, smoke_key(q))]
    if t.check:
        return apply(t, name, steps, verify=None, ok_message="",
                     action=f"push a job onto {q} and work it with queue:work --once")
    try:
        pushed = _smoke_state(t, "push", q)
    except CommandFailed as exc:
        return t.result(name, Status.FAILED, "could not push the smoke job (the app did not "
                        "boot, or its queue is unreachable)", commands=[steps[0].command],
                        evidence=str(exc))
    if not pushed.get("pushed"):
        return t.result(name, Status.FAILED, f"the default queue connection "
                        f"{pushed.get('connection')!r} is {pushed.get('driver')}: no worker to "
                        "check", commands=[steps[0].command], data=pushed)
    ran = t.conn.run(work, check=False, timeout=timeout + 30)
    out = ran.stdout + ran.stderr
    processed = bool(re.search(r"Processed:\s+\S*QueuedCommand|QueuedCommand\b.*\bDONE", out))
    failed = bool(re.search(r"Failed:\s+\S*QueuedCommand|QueuedCommand\b.*\bFAIL", out))
    try:
        after = _smoke_state(t, "size", q)
    except CommandFailed as exc:
        after = {"size": None, "error": str(exc)[:300]}
    data = {"queue": q, "connection": pushed.get("connection"), "size_after": after.get("size"),
            "worker_exit": ran.exit_code, "worker_output": ran.tail(6)}
    commands = [s.command for s in steps[:2]]
    if ran.failed or failed or not processed or after.get("size") != 0:
        why = ("the job failed (see failed_jobs)" if failed else
               f"queue:work exited {ran.exit_code}" if ran.failed else
               "the worker did not report the job processed" if not processed else
               f"{q} still holds {after.get('size')} job(s)")
        return t.result(name, Status.FAILED, f"smoke job on {q}: {why}", commands=commands,
                        evidence=out.strip()[-2000:], data=data)
    t.conn.run(steps[2].argv)
    return t.result(name, Status.CHANGED, f"a worker processed the smoke job on {q} "
                    f"({pushed.get('connection')}); {q} is empty",
                    commands=[*commands, steps[2].command], data=data)
