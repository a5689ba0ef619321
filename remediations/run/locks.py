"""An atomic per-host lock, held on the host itself, so two runs never act at once."""

from __future__ import annotations

import time
from collections.abc import Sequence

from remediations.connections.base import CommandResult, Connection, HostGuard, capability, sh
from remediations.connections.batch import run_batch
from remediations.core.errors import CommandFailed, HostLocked, Unreachable
from remediations.core.runs import LockOwner, RunContext, owner_line
from remediations.core.scripts import script

# /run/lock is a world-writable tmpfs on Debian/Ubuntu/RHEL: cleared by a reboot,
# which is exactly when a lock left by a crashed run should go.
LOCK_DIR = "/run/lock/remediations.lock"
STALE_AFTER = 3600.0

# %-templates for `sh` (each value pasted shell-quoted), in remediations/scripts/.
# mkdir is atomic: exactly one run creates the directory. The owner line is written
# after, so a reader may briefly see no owner: it is then treated as held. A held
# lock exits 3, so a batch that begins with this script stops there.
_ACQUIRE = script("lock-acquire.sh")
# A look at the lock without taking it: HELD as above (exit 3), else FREE; no process
# is started on the host when it is free (`[` is a shell builtin).
_PEEK = script("lock-peek.sh")
_BREAK = "mv %s %s 2>/dev/null && rm -rf %s; true"
# `read` is a shell builtin: no process but the `rm` is started on the host.
_RELEASE = script("lock-release.sh")
_HEADS = tuple(t.split("%s", 1)[0] for t in (_ACQUIRE, _PEEK, _RELEASE))


def is_lock_argv(argv: Sequence[str]) -> bool:
    """Whether `argv` is one of this module's lock commands (take, look, drop), not a step."""
    return (len(argv) == 3 and argv[0] == "sh" and argv[1] == "-c"
            and argv[2].startswith(_HEADS))


def acquire_argv(run: RunContext, path: str = LOCK_DIR) -> list[str]:
    """The command that takes the lock: prints ACQUIRED, or HELD and the holder (exit 3)."""
    return sh(_ACQUIRE, path, owner_line(run), path, path, path)


def peek_argv(path: str = LOCK_DIR) -> list[str]:
    """The command that looks at the lock: FREE, or HELD and the holder (exit 3)."""
    return sh(_PEEK, path, path, path)


def acquire(conn: Connection, run: RunContext, *, path: str = LOCK_DIR,
            stale_after: float = STALE_AFTER, answer: str | None = None) -> None:
    """Take the host's lock for `run`, or raise `HostLocked` naming its holder.

    The same run id takes its own lock again (a resumed run); a lock older than
    `stale_after` seconds is broken. `answer` is the output of `acquire_argv` when the
    caller already sent it (in a batch with its first command).
    """
    for attempt in range(2):
        if attempt == 0 and answer is not None:
            out = answer
        else:
            out = conn.run(acquire_argv(run, path), check=False).stdout
        lines = out.splitlines()
        if lines and lines[0] == "ACQUIRED":
            return
        fields = dict(line.split("=", 1) for line in lines[1:] if "=" in line)
        owner = LockOwner.parse(fields.get("owner", ""))
        if owner.run_id == run.run_id:
            return
        age = _age(fields.get("now", ""), fields.get("mtime", ""))
        if attempt == 0 and age is not None and age > stale_after:
            stale = f"{path}.stale.{int(time.time())}"
            conn.run(sh(_BREAK, path, stale, stale), check=False)
            continue
        since = owner.since + (f" by {owner.who}" if owner.who else "")
        raise HostLocked(conn.name, owner.run_id, since, age=age, stale_after=stale_after)


def release_argv(run: RunContext, path: str = LOCK_DIR) -> list[str]:
    """The command that drops `run`'s lock; someone else's lock is left alone."""
    return sh(_RELEASE, path, run.run_id, path)


def release(conn: Connection, run: RunContext, *, path: str = LOCK_DIR) -> None:
    """Drop the lock if this run holds it; someone else's lock is left alone."""
    conn.run(release_argv(run, path), check=False)


def _age(now: str, mtime: str) -> float | None:
    try:
        return float(now) - float(mtime)
    except ValueError:
        return None


def hold(conn: object) -> None:
    """Take the host's lock now if `conn` defers it to its first command (see below).

    For a remediation about to reach the host some way other than `conn.run`.
    """
    guard = capability(conn, HostGuard)
    if guard is not None:
        guard.hold_lock()


class LockedConnection:
    """A host's connection that takes the host's lock in the round trip of its first command.

    Nothing reaches the host before the remediation's first command (or batch); that one
    goes in the same script as the lock, after it, and only runs when the lock was taken.
    A host held by another run raises `HostLocked` for that command and every later one.
    With `release_early`, the lock is dropped in the remediation's final batch
    (`run_final_batch`); what it runs after that (reads) goes straight through.
    A remediation that reaches the host another way (the Docker engine) takes the lock
    first with `hold(t.conn)`.
    """

    def __init__(self, conn: Connection, run: RunContext, *, stale_after: float = STALE_AFTER,
                 path: str = LOCK_DIR, release_early: bool = False) -> None:
        self._conn = conn
        self._release_early = release_early
        self._released = False
        self.name = conn.name
        self._run = run
        self._stale_after = stale_after
        self._path = path
        self._held = False
        self._sent = False  # the lock script went out: the lock may be ours even if no answer came
        self._refused: HostLocked | None = None

    @property
    def inner(self) -> Connection:
        """The connection this one takes the lock through."""
        return self._conn

    @property
    def held(self) -> bool:
        """Whether this run holds the host's lock through this connection."""
        return self._held

    def run(self, argv: Sequence[str], *, timeout: float | None = None,
            check: bool = True) -> CommandResult:
        if not self._pending():
            return self._conn.run(argv, timeout=timeout, check=check)
        (res,) = self._with_lock([argv], timeout)
        if check and res.failed:
            raise CommandFailed(res)
        return res

    def run_batch(self, argvs: Sequence[Sequence[str]], *,
                  timeout: float | None = None) -> list[CommandResult]:
        if not self._pending():
            return run_batch(self._conn, argvs, timeout=timeout)
        return self._with_lock(argvs, timeout)

    def run_final_batch(self, argvs: Sequence[Sequence[str]], *,
                        timeout: float | None = None) -> list[CommandResult]:
        """A batch after which the remediation only reads: the lock's release goes with it.

        Only with `release_early` (the remediation run by itself says it only reads
        afterwards); the release runs only if every command of the batch succeeded.
        """
        if not self._release_early or self._released:
            return self.run_batch(argvs, timeout=timeout)
        drop = release_argv(self._run, self._path)
        if self._pending():
            results = self._with_lock([*argvs, drop], timeout)
        else:
            results = run_batch(self._conn, [*argvs, drop], timeout=timeout)
        if len(results) > len(argvs):
            self._released = results[-1].succeeded
            self._held, self._sent = not self._released, False
            return results[:len(argvs)]
        return results

    def lock_again(self) -> None:
        """After a final batch released the lock, take it again with the next command.

        For a remediation whose final batch turned out not to be final after all.
        """
        if self._released:
            self._released = False

    def run_read_batch(self, argvs: Sequence[Sequence[str]], *,
                       timeout: float | None = None) -> list[CommandResult]:
        """A batch that only reads: the lock is looked at in the same round trip, not taken.

        A host locked by another run raises `HostLocked`, as a taking batch would (the
        run's own lock, or a stale one, is taken as usual). A free host is read without
        the lock, so there is nothing to release; a remediation that then acts takes the
        lock with its next command and reads again under it.
        """
        if not self._pending():
            return run_batch(self._conn, argvs, timeout=timeout)
        peek, *rest = run_batch(self._conn, [peek_argv(self._path), *argvs], timeout=timeout)
        if not peek.stdout.startswith("HELD"):
            return rest
        return self._take_held(peek.stdout, argvs, timeout)

    def hold_lock(self) -> None:
        """Take the lock now, before the remediation reaches the host some other way."""
        if self._pending():
            acquire(self._conn, self._run, path=self._path, stale_after=self._stale_after)
            self._held = True

    def release_lock(self, run: RunContext) -> None:
        """Drop `run`'s lock if this connection may have taken it; nothing is sent otherwise.

        After a batch that timed out or lost the host, whether the lock was taken is
        unknown; releasing is safe either way (only this run's own lock is removed).
        """
        if self._held or (self._sent and self._refused is None):
            self._held = self._sent = False
            release(self._conn, run, path=self._path)

    def close(self) -> None:
        self._conn.close()

    def _pending(self) -> bool:
        if self._refused is not None:
            raise self._refused
        return not (self._held or self._released)

    def _with_lock(self, argvs: Sequence[Sequence[str]],
                   timeout: float | None) -> list[CommandResult]:
        self._sent = True
        try:
            lock, *rest = run_batch(self._conn, [acquire_argv(self._run, self._path), *argvs],
                                    timeout=timeout)
        except Unreachable:
            self._sent = False  # never reached it (or lost it): a release would only wait again
            raise
        if lock.stdout.startswith("ACQUIRED"):
            self._held = True
            return rest
        return self._take_held(lock.stdout, argvs, timeout)

    def _take_held(self, answer: str, argvs: Sequence[Sequence[str]],
                   timeout: float | None) -> list[CommandResult]:
        """The lock was held: by this run (a resumed one) or stale, it is still ours to take;
        then `argvs` run under it. Another run's lock refuses this and every later command."""
        try:
            acquire(self._conn, self._run, path=self._path, stale_after=self._stale_after,
                    answer=answer)
        except HostLocked as exc:
            self._refused = exc
            raise
        self._held = True
        return run_batch(self._conn, argvs, timeout=timeout)
