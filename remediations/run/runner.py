"""Run a remediation over many hosts: bounded pool, serial batches, max-fail, locks, events."""

from __future__ import annotations

import functools
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING

from remediations.connections import connect as default_connect
from remediations.connections.base import (
    CommandResult,
    Connection,
    ReleasesLock,
    SelfLocking,
    capability,
)
from remediations.connections.batch import run_batch
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
from remediations.run import locks
from remediations.run.report import Event, Report
from remediations.run.target import RunContext, Target

if TYPE_CHECKING:
    from remediations.inventory import Host

Remediation = Callable[[Target], Result]
Connect = Callable[..., Connection]
Serial = int | str | Sequence[int | str] | None

# How long past a host's own timeout the runner waits before giving up on its thread.
_GRACE = 15.0


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
        if self.forks < 1:
            raise InvalidInput(f"forks must be at least 1, got {self.forks}")
        if self.timeout <= 0:
            raise InvalidInput(f"timeout must be positive, got {self.timeout}")
        if self.max_fail_percentage is not None and not 0 <= self.max_fail_percentage <= 100:
            raise InvalidInput("max_fail_percentage must be between 0 and 100")
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
    sizes = [serial] if isinstance(serial, (int, str)) else list(serial)
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
        size = int(spec)
        if size < 1:
            raise ValueError
        return size
    except ValueError:
        raise InvalidInput(f"serial must be a positive number or percentage, got {spec!r}") from None


class _Deadline:
    """Bounds every command of one host by what is left of the host's timeout."""

    def __init__(self, conn: Connection, deadline: float) -> None:
        self._conn = conn
        self.name = conn.name
        self._deadline = deadline

    def run(self, argv: Sequence[str], *, timeout: float | None = None,
            check: bool = True) -> CommandResult:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise CommandTimeout(" ".join(argv), 0)
        return self._conn.run(argv, timeout=min(timeout, left) if timeout else left, check=check)

    def run_batch(self, argvs: Sequence[Sequence[str]], *,
                  timeout: float | None = None) -> list[CommandResult]:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise CommandTimeout(" ".join(argvs[0]) if argvs else "", 0)
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
        redactor: Redactor | None = None) -> Report:
    """Apply `remediation` to every host and return the report; never raises for a host's failure."""
    opts = options or RunOptions()
    ctx = run or RunContext.new()
    label = name or remediation_name(remediation)
    redact = redactor or Redactor(s for h in hosts for s in h.secret_values())
    emit_lock = threading.Lock()
    started = time.monotonic()

    def emit(event: Event) -> None:
        if on_event is not None:
            with emit_lock:
                on_event(event)

    def event(kind: str, **kw: object) -> Event:
        return Event(kind, ctx.run_id, label, check=ctx.check, **kw)  # type: ignore[arg-type]

    def one(host: Host) -> Result:
        begun = time.monotonic()
        emit(event("host_started", host=host.name))
        result = _run_host(remediation, host, ctx, opts, label, connect)
        result = redact.result(result.replace(duration=time.monotonic() - begun))
        emit(event("host_finished", host=host.name, result=result))
        return result

    by_name = {h.name: h for h in hosts}
    emit(event("run_started", hosts=tuple(by_name)))
    results: dict[str, Result] = {}
    stop_reason = ""
    with ThreadPoolExecutor(max_workers=min(opts.forks, max(1, len(hosts))),
                            thread_name_prefix="remediations") as pool:
        for batch in batches(list(by_name), opts.serial):
            if stop_reason:
                for h in batch:
                    results[h] = _skipped(h, label, ctx, stop_reason)
                    emit(event("host_finished", host=h, result=results[h]))
                continue
            emit(event("batch_started", hosts=tuple(batch)))
            futures: dict[Future[Result], str] = {pool.submit(one, by_name[h]): h for h in batch}
            done, pending = wait(futures, timeout=opts.timeout + _GRACE)
            for fut in done:
                results[futures[fut]] = fut.result()
            for fut in pending:
                h = futures[fut]
                fut.cancel()
                results[h] = Result(h, label, Status.FAILED,
                                    f"no answer within {opts.timeout:g}s; abandoned", check=ctx.check)
                emit(event("host_finished", host=h, result=results[h]))
            stop_reason = _should_stop([results[h] for h in batch], opts)
    report = Report(ctx.run_id, label, ctx.started_at,
                    tuple(results[h] for h in by_name if h in results), ctx.check,
                    time.monotonic() - started)
    emit(event("run_finished", report=report))
    return report


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
              label: str, connect: Connect) -> Result:
    def failed(message: str, evidence: str = "", status: Status = Status.FAILED,
               **data: object) -> Result:
        return Result(host.name, label, status, message, evidence=evidence, check=ctx.check,
                      data=data)

    try:
        conn = connect(host, timeout=opts.timeout)
    except RemediationError as exc:
        return failed(str(exc))
    bounded = _Deadline(conn, time.monotonic() + opts.timeout)
    locked = opts.lock and not ctx.check
    # A host's own lock goes with the remediation's first command (one round trip less);
    # a connection with a lock of its own (a Deployment annotation) takes it up front.
    folded = locked and capability(conn, SelfLocking) is None
    reach: Connection = locks.LockedConnection(
        bounded, ctx, stale_after=opts.lock_stale_after,
        release_early=bool(getattr(_unwrapped(remediation), "reads_after_acting", False)),
    ) if folded else bounded
    target = Target(host, reach, ctx)
    try:
        if locked and not folded:
            _acquire(bounded, ctx, opts.lock_stale_after)
        try:
            return remediation(target)
        finally:
            if locked:
                _release_quietly(reach, ctx)
    except Unreachable as exc:
        return failed(str(exc), status=Status.UNREACHABLE)
    except HostLocked as exc:
        return failed(f"{exc}; nothing done", status=Status.SKIPPED, locked_by=exc.owner)
    except CommandTimeout as exc:
        return failed(f"timed out: {exc}")
    except CommandFailed as exc:
        return failed(f"`{exc.result.command}` exited {exc.result.exit_code}", exc.result.tail())
    except RemediationError as exc:
        return failed(str(exc))
    except Exception as exc:  # noqa: BLE001 (a bug must not take the other hosts down)
        return failed(f"internal error: {type(exc).__name__}: {exc}", traceback.format_exc())
    finally:
        conn.close()


def _release_quietly(conn: Connection, ctx: RunContext) -> None:
    try:
        _release(conn, ctx)
    except RemediationError:
        pass  # the host went away mid-run; its lock is stale and will be broken later
