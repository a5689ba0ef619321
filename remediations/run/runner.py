"""Run a remediation over many hosts: bounded pool, serial batches, max-fail, locks, events."""

from __future__ import annotations

import functools
import shlex
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING

from remediations.connections import connect as default_connect
from remediations.connections import preload
from remediations.connections.base import (
    CommandResult,
    Connection,
    ReleasesLock,
    SelfLocking,
    capability,
)
from remediations.connections.batch import run_batch
from remediations.core import validate
from remediations.core.errors import (
    CommandFailed,
    CommandTimeout,
    HostLocked,
    InvalidInput,
    RemediationError,
    Unreachable,
)
from remediations.core.redact import Redactor
from remediations.core.result import Result, Status
from remediations.run import app_service, locks, unknown
from remediations.run.interrupt import Interrupt
from remediations.run.report import Event, Report
from remediations.run.target import RunContext, Target

if TYPE_CHECKING:
    from remediations.inventory import Host

Remediation = Callable[[Target], Result]
Connect = Callable[..., Connection]
Serial = int | str | Sequence[int | str] | None

# More threads than this is a typo: each holds a connection.
MAX_FORKS = 1000
# How long past a host's own timeout the runner waits before giving up on its thread.
_GRACE = 15.0
# How often the runner looks at the clock and at Ctrl-C while hosts run (a host that
# finishes wakes it at once).
_POLL = 0.25


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How hosts are walked. `serial` and `max_fail_percentage` behave as Ansible's."""

    forks: int = 5
    serial: Serial = None
    max_fail_percentage: float | None = None
    timeout: float = 300.0
    lock: bool = True
    lock_stale_after: float = locks.STALE_AFTER

    def __post_init__(self) -> None:
        validate.count(self.forks, "forks", low=1, high=MAX_FORKS)
        validate.seconds(self.timeout, "timeout")
        validate.seconds(self.lock_stale_after, "lock_stale_after", high=30 * 86400)
        if self.max_fail_percentage is not None:
            validate.number(self.max_fail_percentage, "max_fail_percentage", low=0, high=100)
        batches(["x"], self.serial)  # validates serial early


def _unwrapped(fn: Callable[..., object]) -> Callable[..., object]:
    while isinstance(fn, functools.partial):
        fn = fn.func
    return fn


def remediation_name(fn: Callable[..., object]) -> str:
    fn = _unwrapped(fn)
    return str(getattr(fn, "remediation_name", None) or getattr(fn, "__name__", "remediation"))


def batches(items: Sequence[str], serial: Serial) -> list[list[str]]:
    """Split hosts into batches: an int, a percentage, or a list of them (last one repeats)."""
    if serial is None or serial == 0 or serial == "":
        return [list(items)] if items else []
    sizes = [serial] if isinstance(serial, (int, float, str)) else list(serial)
    if not sizes:
        return [list(items)] if items else []
    parsed = [_batch_size(s, len(items)) for s in sizes]
    out: list[list[str]] = []
    i = 0
    while i < len(items):
        size = parsed[min(len(out), len(parsed) - 1)]
        out.append(list(items[i:i + size]))
        i += size
    return out


def _batch_size(spec: int | str, total: int) -> int:
    try:
        if isinstance(spec, str) and spec.strip().endswith("%"):
            pct = float(spec.strip()[:-1])
            if not 0 < pct <= 100:
                raise ValueError
            return max(1, int(total * pct / 100))
        if isinstance(spec, bool) or (isinstance(spec, float) and spec != int(spec)):
            raise ValueError
        size = int(spec)
        if size < 1:
            raise ValueError
        return size
    except (ValueError, TypeError, OverflowError):
        raise InvalidInput(f"serial must be a positive number or percentage, got {spec!r}") from None


class _Deadline:
    """Bounds every command of one host by what is left of the host's timeout.

    It also keeps what it sent (`sent`), so a host the run stops waiting for can be
    reported with the commands that may still be running there.
    """

    def __init__(self, conn: Connection, deadline: float, sent: list[Sequence[str]]) -> None:
        self._conn = conn
        self.name = conn.name
        self._deadline = deadline
        self.sent = sent

    def run(self, argv: Sequence[str], *, timeout: float | None = None,
            check: bool = True) -> CommandResult:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise CommandTimeout(shlex.join(argv), 0, sent=False)
        self.sent.append(argv)
        return self._conn.run(argv, timeout=min(timeout, left) if timeout else left, check=check)

    def run_batch(self, argvs: Sequence[Sequence[str]], *,
                  timeout: float | None = None) -> list[CommandResult]:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise CommandTimeout(shlex.join(argvs[0]) if argvs else "", 0, sent=False)
        self.sent.extend(argvs)
        return run_batch(self._conn, argvs, timeout=min(timeout, left) if timeout else left)

    def close(self) -> None:
        self._conn.close()

    @property
    def inner(self) -> Connection:
        """The connection whose commands this one bounds (its cluster handle, its own lock)."""
        return self._conn


def _acquire(conn: Connection, ctx: RunContext, stale_after: float) -> None:
    """The connection's own lock when it has one (a Deployment annotation), else the host's."""
    own = capability(conn, SelfLocking)
    if own is not None:
        own.acquire_lock(ctx, stale_after=stale_after)
    else:
        locks.acquire(conn, ctx, stale_after=stale_after)


def _release(conn: Connection, ctx: RunContext) -> None:
    own = capability(conn, ReleasesLock)
    if own is not None:
        own.release_lock(ctx)
    else:
        locks.release(conn, ctx)


def run(remediation: Remediation, hosts: Sequence[Host], *, run: RunContext | None = None,
        options: RunOptions | None = None, name: str | None = None,
        on_event: Callable[[Event], None] | None = None, connect: Connect = default_connect,
        redactor: Redactor | None = None, interrupt: Interrupt | None = None) -> Report:
    """Apply `remediation` to every host and return the report; never raises for a host's failure.

    Ctrl-C / SIGTERM (handled here when called from the main thread without an
    `interrupt` of the caller's): the first stops starting hosts and lets the ones in
    flight finish; a second stops waiting for them, whose results are then `unknown`.
    The report's `interrupted` names the signal.
    """
    if interrupt is None:
        interrupt = Interrupt()
        with interrupt.handling():
            return _run(remediation, hosts, run, options, name, on_event, connect, redactor,
                        interrupt)
    return _run(remediation, hosts, run, options, name, on_event, connect, redactor, interrupt)


def _run(remediation: Remediation, hosts: Sequence[Host], run: RunContext | None,
         options: RunOptions | None, name: str | None, on_event: Callable[[Event], None] | None,
         connect: Connect, redactor: Redactor | None, interrupt: Interrupt) -> Report:
    opts = options or RunOptions()
    ctx = run or RunContext.new()
    label = name or remediation_name(remediation)
    redact = redactor or Redactor(s for h in hosts for s in h.secret_values())
    emit_lock = threading.Lock()
    started = time.monotonic()
    begun: dict[str, float] = {}  # host -> when its thread started on it
    sent: dict[str, list[Sequence[str]]] = {}  # host -> the commands sent to it, in order
    given_up: set[str] = set()  # hosts the run stopped waiting for: their late end is not news

    def emit(event: Event) -> None:
        if on_event is not None:
            with emit_lock:
                if event.kind != "host_finished" or event.host not in given_up:
                    on_event(event)

    def event(kind: str, **kw: object) -> Event:
        return Event(kind, ctx.run_id, label, check=ctx.check, **kw)  # type: ignore[arg-type]

    def one(host: Host) -> Result:
        if interrupt.requested:
            result = _skipped(host.name, label, ctx, _interrupted(interrupt))
        else:
            begun[host.name] = time.monotonic()
            emit(event("host_started", host=host.name))
            result = _run_host(remediation, host, ctx, opts, label, connect,
                               sent.setdefault(host.name, []))
            result = redact.result(result.replace(duration=time.monotonic() - begun[host.name]))
            unknown.settle(host.name, result, ctx)
        emit(event("host_finished", host=host.name, result=result))
        return result

    def give_up(fut: Future[Result], h: str, why: str) -> None:
        """Stop waiting for `h`: not started -> skipped; started -> its state is unknown."""
        given_up.add(h)
        if fut.cancel() or h not in begun:
            results[h] = _skipped(h, label, ctx, _interrupted(interrupt))
        else:
            results[h] = redact.result(_unknown(h, label, ctx, why, sent.get(h, []),
                                                time.monotonic() - begun[h]))
            unknown.settle(h, results[h], ctx)
        with emit_lock:
            if on_event is not None:
                on_event(event("host_finished", host=h, result=results[h]))

    by_name = {h.name: h for h in hosts}
    if connect is default_connect:
        preload(hosts)
    emit(event("run_started", hosts=tuple(by_name)))
    results: dict[str, Result] = {}
    stop_reason = ""
    announced = False
    pool = ThreadPoolExecutor(max_workers=min(opts.forks, max(1, len(hosts))),
                              thread_name_prefix="remediations")
    try:
        for batch in batches(list(by_name), opts.serial):
            if interrupt.requested and not stop_reason:
                stop_reason = _interrupted(interrupt)
            if stop_reason:
                for h in batch:
                    results[h] = _skipped(h, label, ctx, stop_reason)
                    emit(event("host_finished", host=h, result=results[h]))
                continue
            emit(event("batch_started", hosts=tuple(batch)))
            futures: dict[Future[Result], str] = {pool.submit(one, by_name[h]): h for h in batch}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=_POLL, return_when=FIRST_COMPLETED)
                for fut in done:
                    if futures[fut] not in given_up:
                        results[futures[fut]] = fut.result()
                if interrupt.requested and not announced:
                    announced = True
                    flying = tuple(futures[f] for f in pending if futures[f] in begun)
                    emit(event("interrupted", hosts=flying, message=_interrupt_note(
                        interrupt, flying)))
                now = time.monotonic()
                for fut in list(pending):
                    h = futures[fut]
                    if interrupt.at_once:
                        why = f"stopped waiting at a second {interrupt.signal}"
                    elif h in begun and now > begun[h] + opts.timeout + _GRACE:
                        why = f"no answer within {opts.timeout:g}s; abandoned"
                    else:
                        continue
                    pending.discard(fut)
                    give_up(fut, h, why)
            stop_reason = _should_stop([results[h] for h in batch], opts)
    finally:
        # Threads the run gave up on are not waited for; the others are done by now.
        pool.shutdown(wait=not given_up, cancel_futures=True)
    report = Report(ctx.run_id, label, ctx.started_at,
                    tuple(results[h] for h in by_name if h in results), ctx.check,
                    time.monotonic() - started, interrupted=interrupt.signal)
    emit(event("run_finished", report=report))
    return report


def _interrupted(interrupt: Interrupt) -> str:
    return f"not run: the run was interrupted ({interrupt.signal or 'stopped'})"


def _interrupt_note(interrupt: Interrupt, flying: Sequence[str]) -> str:
    if not flying:
        return f"{interrupt.signal}: no new host will be started"
    return (f"{interrupt.signal}: no new host will be started; waiting for "
            f"{', '.join(flying)} to finish (send it again to stop waiting at once)")


def _unknown(host: str, label: str, ctx: RunContext, why: str, sent: Sequence[Sequence[str]],
             duration: float) -> Result:
    """The result of a host the run stopped waiting for: unknown once a command reached it."""
    if not sent:
        return Result(host, label, Status.FAILED, f"{why}: nothing reached the host",
                      duration=duration, check=ctx.check, data={"state": "untouched"})
    steps = [a for a in sent if not locks.is_lock_argv(a)] or list(sent)
    last = _head(shlex.join(steps[-1]))
    return Result(host, label, Status.UNKNOWN,
                  f"{why}: the host's state is unknown; last sent: `{last}`",
                  commands=tuple(shlex.join(a) for a in sent), duration=duration,
                  check=ctx.check, data={"state": "unknown", "last_sent": last})


def _head(command: str, width: int = 120) -> str:
    line = " ".join(command.split())
    return line if len(line) <= width else line[:width - 3] + "..."


def _should_stop(batch: list[Result], opts: RunOptions) -> str:
    failed = sum(r.failed for r in batch)
    if not failed:
        return ""
    if opts.max_fail_percentage is not None and failed * 100 / len(batch) > opts.max_fail_percentage:
        return (f"not run: {failed} of {len(batch)} hosts in an earlier batch failed, "
                f"over max_fail_percentage={opts.max_fail_percentage:g}")
    if opts.serial and failed == len(batch):
        return "not run: every host of an earlier batch failed"
    return ""


def _skipped(host: str, label: str, ctx: RunContext, why: str) -> Result:
    return Result(host, label, Status.SKIPPED, why, check=ctx.check)


def _run_host(remediation: Remediation, host: Host, ctx: RunContext, opts: RunOptions,
              label: str, connect: Connect, sent: list[Sequence[str]]) -> Result:
    def failed(message: str, evidence: str = "", status: Status = Status.FAILED,
               **data: object) -> Result:
        return Result(host.name, label, status, message, evidence=evidence, check=ctx.check,
                      data=data)

    try:
        conn = connect(host, timeout=opts.timeout)
    except RemediationError as exc:
        return failed(str(exc))
    bounded = _Deadline(conn, time.monotonic() + opts.timeout, sent)
    locked = opts.lock and not ctx.check
    # A host's own lock goes with the remediation's first command (one round trip less);
    # a connection with a lock of its own (a Deployment annotation) takes it up front.
    folded = locked and capability(conn, SelfLocking) is None
    reach: Connection = locks.LockedConnection(
        bounded, ctx, stale_after=opts.lock_stale_after,
        release_early=bool(getattr(_unwrapped(remediation), "reads_after_acting", False)),
    ) if folded else bounded
    target = Target(host, reach, ctx)
    earlier: unknown.Earlier | None = None
    try:
        # A host an earlier run stopped waiting for: read back what it shows first.
        earlier = unknown.read_back(host.name, bounded, ctx)
        if locked and not folded:
            _acquire(bounded, ctx, opts.lock_stale_after)
        try:
            # The app's state is changed where the app runs: in the app service's containers
            # on a compose host (run.app_service), in every pod of a Deployment for state
            # that lives in each pod (run.per_pod), or refused.
            result = app_service.call(remediation, target, label)
        finally:
            if locked:
                _release_quietly(reach, ctx)
    except Unreachable as exc:
        result = failed(str(exc), status=Status.UNREACHABLE)
    except HostLocked as exc:
        result = failed(f"{exc}; nothing done; {exc.hint}", status=Status.SKIPPED,
                        locked_by=exc.owner)
    except CommandTimeout as exc:
        result = (_unknown(host.name, label, ctx, f"timed out: no answer within {exc.timeout:g}s",
                           sent, 0.0) if exc.sent else failed(f"timed out: {exc}"))
    except CommandFailed as exc:
        result = failed(f"`{exc.result.command}` exited {exc.result.exit_code}", exc.result.tail())
    except RemediationError as exc:
        result = failed(str(exc))
    except Exception as exc:  # noqa: BLE001 (a bug must not take the other hosts down)
        result = failed(f"internal error: {type(exc).__name__}: {exc}", traceback.format_exc())
    finally:
        conn.close()
    return unknown.noted(result, earlier)


def _release_quietly(conn: Connection, ctx: RunContext) -> None:
    try:
        _release(conn, ctx)
    except RemediationError:
        pass  # the host went away mid-run; its lock is stale and will be broken later
