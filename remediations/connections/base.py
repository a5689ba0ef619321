"""What every connection offers: run an argument list, get a `CommandResult`."""

from __future__ import annotations

import shlex
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, Self, TypeVar, runtime_checkable

from remediations.connections.framing import run_framed
from remediations.core.commands import CommandResult, check_argv, sh
from remediations.core.errors import CommandFailed, CommandTimeout

if TYPE_CHECKING:
    from remediations.core.runs import RunContext

__all__ = ["BaseConnection", "Batching", "ClusterBacked", "CommandResult", "Connection", "HostGuard",
           "PeeksLock", "ReleasesLock", "SelfLocking", "Wrapper", "capability", "check_argv", "sh", "timed_out"]


@runtime_checkable
class Connection(Protocol):
    """How a command reaches a host. Implementations translate their own errors."""

    name: str

    def run(self, argv: Sequence[str], *, timeout: float | None = None,
            check: bool = True) -> CommandResult:
        """Run `argv` on the host; raise `CommandFailed` on non-zero exit when `check`."""
        ...

    def close(self) -> None: ...


# What a connection can do beyond `run`, as typed interfaces. A remediation or the runner
# asks `capability(conn, Batching)` instead of probing for attributes; a wrapper (the
# runner's deadline, the host lock) says what it wraps with `inner`, and is seen through.

@runtime_checkable
class Batching(Protocol):
    """Runs several commands in one round trip (`connections.batch.run_batch` uses it)."""

    def run_batch(self, argvs: Sequence[Sequence[str]], *,
                  timeout: float | None = None) -> list[CommandResult]: ...


@runtime_checkable
class HostGuard(Batching, Protocol):
    """Holds the host's lock for one remediation (`run.locks.LockedConnection`).

    The lock goes in the round trip of the first command; `run_final_batch` drops it with
    the last batch that acts, `run_read_batch` only looks at it, `hold_lock` takes it now
    (before the remediation reaches the host another way: the Docker engine).
    """

    def run_final_batch(self, argvs: Sequence[Sequence[str]], *,
                        timeout: float | None = None) -> list[CommandResult]: ...

    def run_read_batch(self, argvs: Sequence[Sequence[str]], *,
                       timeout: float | None = None) -> list[CommandResult]: ...

    def lock_again(self) -> None: ...

    def hold_lock(self) -> None: ...


@runtime_checkable
class ReleasesLock(Protocol):
    """Drops a run's lock itself (the host guard, or a connection with a lock of its own)."""

    def release_lock(self, run: RunContext) -> None: ...


@runtime_checkable
class SelfLocking(ReleasesLock, Protocol):
    """Has a lock of its own instead of the host's lock directory (a Deployment's annotation)."""

    def acquire_lock(self, run: RunContext, *, stale_after: float) -> None: ...


@runtime_checkable
class PeeksLock(Protocol):
    """Shows its own lock without taking it (a Deployment's annotation)."""

    def peek_lock(self) -> str:
        """The lock's owner line (`<run id>\t<since>\t<who>`), or "" when it is free."""
        ...


@runtime_checkable
class ClusterBacked(Protocol):
    """Reaches a Kubernetes API server: `cluster` for API calls (`connections.pod`)."""

    @property
    def cluster(self) -> object:
        """A `connections.cluster.Cluster`; `cluster_of` checks it (that module imports this one)."""
        ...


@runtime_checkable
class Wrapper(Protocol):
    """A connection around another one, which it names."""

    @property
    def inner(self) -> Connection: ...


C = TypeVar("C")


def capability(conn: object, kind: type[C]) -> C | None:
    """`conn`, or the connection it wraps, when it offers `kind`; None when none does.

    `capability(t.conn, Batching)` -> the object whose `run_batch` to call.
    """
    seen: object | None = conn
    while seen is not None:
        if isinstance(seen, kind):
            return seen
        seen = seen.inner if isinstance(seen, Wrapper) else None
    return None


class BaseConnection:
    """Shared plumbing: argv checks, become, timing, `check` handling."""

    name: str
    default_timeout: float | None = None

    def __init__(self, name: str, *, become: bool = False, become_user: str = "root",
                 default_timeout: float | None = None) -> None:
        self.name = name
        self.become = become
        self.become_user = become_user
        self.default_timeout = default_timeout

    def run(self, argv: Sequence[str], *, timeout: float | None = None,
            check: bool = True) -> CommandResult:
        items = check_argv(argv)
        limit = timeout if timeout is not None else self.default_timeout
        command = shlex.join(items)
        started = time.monotonic()
        exit_code, out, err = self._execute(self._wrap(items), limit, command)
        result = CommandResult(command, exit_code, out, err, time.monotonic() - started)
        if check and result.failed:
            raise CommandFailed(result)
        return result

    def run_batch(self, argvs: Sequence[Sequence[str]], *,
                  timeout: float | None = None) -> list[CommandResult]:
        """Run `argvs` in order in one round trip, stopping after the first that fails.

        Returns the results of the commands that ran; none of them raises for its exit code.
        """
        return run_framed(argvs, lambda argv: self.run(argv, timeout=timeout, check=False))

    def _wrap(self, argv: tuple[str, ...]) -> tuple[str, ...]:
        """Prefix `sudo` when the inventory asks for become."""
        if not self.become:
            return argv
        return ("sudo", "-n", "-H", "-u", self.become_user, "--", *argv)

    def _execute(self, argv: tuple[str, ...], timeout: float | None,
                 command: str) -> tuple[int, str, str]:
        raise NotImplementedError

    def close(self) -> None:
        return None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def timed_out(command: str, timeout: float | None) -> CommandTimeout:
    return CommandTimeout(command, timeout or 0.0)
