"""Roll every selected target back to one release: symlink and git hosts, compose hosts, Deployments.

    from remediations import load_inventory, rollback
    report = rollback(load_inventory("inventories/production.yml"), "v1.2.2", limit="web",
                      serial=1)
    if not report.ok:
        for result in report.failed:
            print(result.host, result.message)

What it guarantees, in order:
1. **Nothing is touched when the release is missing anywhere.** Every target is read
   first (read-only, in parallel); a target that lacks the release, or cannot be read,
   raises `ReleaseMissing` naming each of them; a target that has it but refuses to move
   (a git work tree with local changes to tracked files) raises `ReleaseRefused`.
   Unreachable targets are reported and left out; the others go on.
2. **Batches stop at the first failure.** With `serial`, hosts go in batches (as
   Ansible's `serial`); the first batch where a target fails (its switch, a hook, or the
   health check after it) ends the rollback: later batches are not run.
3. **The failed targets of that batch are put back** on the release each was on,
   verified the same way (`auto_revert=False` leaves them as they are). Targets of the
   batch that verified stay on the new release.
4. **Resumable.** The release each target was on is kept in the run's record on the
   first attempt; re-running the same `run_id` after a cut-off finishes the remaining
   targets (each one's finished steps are not repeated) and still knows where to put a
   failed target back.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from os import PathLike
from typing import TYPE_CHECKING

from remediations.connections import connect as default_connect
from remediations.connections import preload
from remediations.connections.base import CommandResult, Connection
from remediations.connections.batch import run_batch
from remediations.core.errors import InvalidInput, RemediationError
from remediations.core.result import Result, Status
from remediations.core.values import Release
from remediations.release.kinds import ReleaseState, at_release, import_clients, release_state
from remediations.run import state
from remediations.run.interrupt import Interrupt
from remediations.run.report import Event, Report
from remediations.run.runner import Connect, RunOptions, Serial, batches, run
from remediations.run.target import RunContext, Target

if TYPE_CHECKING:
    from remediations.inventory import Host, Inventory

__all__ = ["ReleaseMissing", "ReleaseRefused", "RollbackInterrupted", "rollback",
           "rollback_hosts"]

NAME = "rollback"
_PREFLIGHT_TIMEOUT = 120.0


class RollbackInterrupted(RemediationError):
    """Ctrl-C / SIGTERM came while the targets were being read; nothing was changed."""

    def __init__(self, signal: str) -> None:
        self.signal = signal
        super().__init__(f"interrupted by {signal} while reading the targets; nothing was changed")


class ReleaseMissing(InvalidInput):
    """Some targets lack the release (or could not be read); nothing was changed anywhere."""

    def __init__(self, release: str, missing: Mapping[str, str]) -> None:
        self.release = release
        self.missing = dict(missing)
        lines = "\n".join(f"  {host}: {why}" for host, why in self.missing.items())
        super().__init__(f"release {release} is missing on {len(self.missing)} target(s); "
                         f"nothing was changed:\n{lines}")


class ReleaseRefused(InvalidInput):
    """Some targets have the release but refuse to move to it; nothing was changed anywhere."""

    def __init__(self, release: str, refused: Mapping[str, str]) -> None:
        self.release = release
        self.refused = dict(refused)
        lines = "\n".join(f"  {host}: {why}" for host, why in self.refused.items())
        super().__init__(f"{len(self.refused)} target(s) refuse to move to release {release}; "
                         f"nothing was changed:\n{lines}")


def rollback(inventory: Inventory | str | PathLike[str] | Iterable[str | PathLike[str]],
             release: str, *, limit: str | None = None, check: bool = False, diff: bool = False,
             serial: Serial = None, maintenance: bool = False, auto_revert: bool = True,
             run_id: str | None = None, forks: int = 5, timeout: float = 300.0,
             connection: str | None = None,
             on_event: Callable[[Event], None] | None = None) -> Report:
    """Roll the hosts of `inventory` matching `limit` back to `release`; see the module doc.

    `inventory` is an `Inventory` or the path(s) to load. Raises `ReleaseMissing` (nothing
    changed) or another `InvalidInput` / `InventoryError` for bad input; a target's failure
    is in the report, never raised.
    """
    from remediations.inventory import Inventory, load_inventory

    release = Release.parse(release)
    RunOptions(forks=forks, serial=serial, timeout=timeout)  # refuses bad numbers before anything
    inv = inventory if isinstance(inventory, Inventory) else load_inventory(inventory)
    if connection:
        inv = inv.with_connection(connection)
    hosts = inv.select(limit or None)
    ctx = state.start_run(run_id, check=check, diff=diff)
    return rollback_hosts(hosts, release, run=ctx, serial=serial, maintenance=maintenance,
                          auto_revert=auto_revert, forks=forks, timeout=timeout,
                          on_event=on_event)


def rollback_hosts(hosts: Sequence[Host], release: str, *, run: RunContext, serial: Serial = None,
                   maintenance: bool = False, auto_revert: bool = True, forks: int = 5,
                   timeout: float = 300.0, on_event: Callable[[Event], None] | None = None,
                   connect: Connect = default_connect,
                   interrupt: Interrupt | None = None) -> Report:
    """`rollback` over hosts already selected, inside run `run` (the CLI's entry point).

    Ctrl-C / SIGTERM as `runner.run` takes them, over the whole rollback: no batch is
    started after the first, nothing is put back after it (a re-run with the same run
    id finishes the rollback).
    """
    if interrupt is None:
        interrupt = Interrupt()
        with interrupt.handling():
            return rollback_hosts(hosts, release, run=run, serial=serial,
                                  maintenance=maintenance, auto_revert=auto_revert, forks=forks,
                                  timeout=timeout, on_event=on_event, connect=connect,
                                  interrupt=interrupt)
    release = Release.parse(release)
    options = RunOptions(forks=forks, serial=serial, timeout=timeout,
                         max_fail_percentage=0.0 if serial else None)
    started = time.monotonic()
    import_clients(hosts)
    if connect is default_connect:
        preload(hosts)  # the runner does it for its own connect only
    kept = KeptConnections(connect)
    try:
        return _rollback(hosts, release, run, serial, maintenance, auto_revert, forks, timeout,
                         on_event, kept, interrupt, options, started)
    finally:
        kept.close()


def _rollback(hosts: Sequence[Host], release: Release, run: RunContext, serial: Serial,
              maintenance: bool, auto_revert: bool, forks: int, timeout: float,
              on_event: Callable[[Event], None] | None, kept: KeptConnections,
              interrupt: Interrupt, options: RunOptions, started: float) -> Report:
    states, unreachable = _preflight(hosts, release, run, forks, kept.reading, interrupt)
    connect: Connect = kept.acting
    previous = {h: state.remember(run.run_id, f"rollback.from.{h}", s.current)
                for h, s in states.items()}
    reachable = [h for h in hosts if h.name in states]

    def relay(event: Event) -> None:
        if on_event is None or event.kind == "run_finished":
            return
        if event.kind == "run_started":
            event = dataclasses.replace(event, hosts=tuple(h.name for h in hosts))
        on_event(event)
        if event.kind == "run_started":
            for r in unreachable:
                on_event(Event("host_finished", run.run_id, NAME, host=r.host, result=r,
                               check=run.check))

    move = functools.partial(at_release, release=release, maintenance=maintenance,
                             reason=f"rollback to {release} (run {run.run_id})", timeout=timeout)
    report = run_fn(move, reachable, run, options, relay, connect, interrupt)
    results = {r.host: r for r in report}
    failing = _first_failing_batch([h.name for h in reachable], serial, results)
    if failing is not None:
        index, batch = failing
        for name in [h.name for h in reachable]:
            if results[name].status is Status.SKIPPED and results[name].message.startswith("not run"):
                results[name] = results[name].replace(
                    message=f"not run: the rollback stopped after batch {index} "
                            f"({', '.join(batch)}) failed")
        if auto_revert and not run.check and not interrupt.requested:
            back = {n: previous.get(n) for n in batch
                    if results[n].status is Status.FAILED and previous.get(n) not in (None, release)}
            results.update(_put_back(back, release, reachable, run, forks, timeout, results,
                                     on_event, connect, interrupt))
    results.update((r.host, r) for r in unreachable)
    merged = Report(run.run_id, NAME, run.started_at, tuple(results[h.name] for h in hosts),
                    run.check, time.monotonic() - started, interrupted=interrupt.signal)
    if on_event is not None:
        on_event(Event("run_finished", run.run_id, NAME, check=run.check, report=merged))
    return merged


class KeptConnections:
    """The connections the read before a rollback opened, kept for the run that follows.

    Reading every target first costs each a connection; the run that then acts reuses it
    (no second ssh handshake). A connection is handed to the run once; the ones never
    handed over (a target left out) are closed by `close`.
    """

    def __init__(self, connect: Connect) -> None:
        self._connect = connect
        self._open: dict[str, Connection] = {}
        self._lock = threading.Lock()

    def reading(self, host: Host, *, timeout: float | None = None) -> Connection:
        """A connection for the read, which the read's `close` leaves open."""
        conn = self._connect(host, timeout=timeout)
        with self._lock:
            self._open[host.name] = conn
        return _Kept(conn)

    def acting(self, host: Host, *, timeout: float | None = None) -> Connection:
        """The read's connection to `host` when there is one, else a new one."""
        with self._lock:
            conn = self._open.pop(host.name, None)
        return conn if conn is not None else self._connect(host, timeout=timeout)

    def close(self) -> None:
        with self._lock:
            left, self._open = list(self._open.values()), {}
        for conn in left:
            conn.close()


class _Kept:
    """A connection whose `close` leaves it open (the read's, kept for the run)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.name = conn.name

    @property
    def inner(self) -> Connection:
        return self._conn

    def run(self, argv: Sequence[str], *, timeout: float | None = None,
            check: bool = True) -> CommandResult:
        return self._conn.run(argv, timeout=timeout, check=check)

    def run_batch(self, argvs: Sequence[Sequence[str]], *,
                  timeout: float | None = None) -> list[CommandResult]:
        return run_batch(self._conn, argvs, timeout=timeout)

    def close(self) -> None:
        return None


def run_fn(fn: Callable[[Target], Result], hosts: Sequence[Host], ctx: RunContext,
           options: RunOptions, on_event: Callable[[Event], None] | None,
           connect: Connect, interrupt: Interrupt | None = None) -> Report:
    return run(fn, hosts, run=ctx, options=options, name=NAME, on_event=on_event, connect=connect,
               interrupt=interrupt)


def _preflight(hosts: Sequence[Host], release: Release, ctx: RunContext, forks: int,
               connect: Connect, interrupt: Interrupt
               ) -> tuple[dict[str, ReleaseState], list[Result]]:
    """Read every target; raise `ReleaseMissing` / `ReleaseRefused` before anything is touched."""

    found: dict[str, ReleaseState] = {}

    def read(t: Target) -> Result:
        found[t.name] = release_state(t, release)
        return t.result("release_state", Status.OK, found[t.name].detail)  # a check-mode run

    quiet = dataclasses.replace(ctx, check=True)
    report = run(read, hosts, run=quiet, options=RunOptions(
        forks=max(forks, 1), timeout=_PREFLIGHT_TIMEOUT, lock=False), name="release_state",
        connect=connect, interrupt=interrupt)
    if interrupt.requested:
        raise RollbackInterrupted(interrupt.signal)
    states: dict[str, ReleaseState] = {}
    missing: dict[str, str] = {}
    refused: dict[str, str] = {}
    unreachable: list[Result] = []
    for r in report:
        if r.status is Status.UNREACHABLE:
            unreachable.append(r.replace(remediation=NAME, check=ctx.check,
                                         message=f"{r.message}; not rolled back"))
        elif r.failed:
            missing[r.host] = f"could not be read: {r.message}"
        else:
            states[r.host] = found[r.host]
            if not found[r.host].has_release:
                missing[r.host] = f"{found[r.host].kind}: {found[r.host].detail}"
            elif found[r.host].blocked:
                refused[r.host] = f"{found[r.host].kind}: {found[r.host].blocked}"
    if missing:
        raise ReleaseMissing(release, {**missing, **{h: f"refused: {why}"
                                                     for h, why in refused.items()}})
    if refused:
        raise ReleaseRefused(release, refused)
    return states, unreachable


def _first_failing_batch(names: list[str], serial: Serial,
                         results: Mapping[str, Result]) -> tuple[int, list[str]] | None:
    for index, batch in enumerate(batches(names, serial), start=1):
        if any(results[n].status is Status.FAILED for n in batch):
            return index, batch
    return None


def _put_back(back: Mapping[str, str | None], release: Release, hosts: Sequence[Host],
              ctx: RunContext, forks: int, timeout: float, results: Mapping[str, Result],
              on_event: Callable[[Event], None] | None,
              connect: Connect, interrupt: Interrupt) -> dict[str, Result]:
    """Each failed target of the failing batch, back on the release it was on."""
    if not back:
        return {}

    def revert(t: Target) -> Result:
        return at_release(t, str(back[t.name]), reason=f"auto-revert: {release} failed "
                          f"verification (run {ctx.run_id})", timeout=timeout)

    def relay(event: Event) -> None:
        if on_event is not None and event.kind != "run_finished":
            on_event(dataclasses.replace(event, remediation="auto_revert"))

    report = run(revert, [h for h in hosts if h.name in back], run=ctx,
                 options=RunOptions(forks=forks, timeout=timeout), name="auto_revert",
                 on_event=relay, connect=connect, interrupt=interrupt)
    merged: dict[str, Result] = {}
    for r in report:
        failed = results[r.host]
        outcome = (f"put back on {back[r.host]} ({r.message})" if not r.failed
                   else f"putting it back on {back[r.host]} FAILED: {r.message}")
        evidence = "\n".join(e for e in (failed.evidence, r.evidence) if e)
        merged[r.host] = failed.replace(
            message=f"{failed.message}; {outcome}", evidence=evidence,
            commands=failed.commands + r.commands,
            data={**failed.data, "auto_revert": r.to_dict()})
    return merged
