"""Clear the lock a dead run left on a host, named by its run id (`invoke unlock`).

A lock is never broken before it is stale (`locks.STALE_AFTER`); a run that died
(the controller killed) leaves its lock until then. `lock_released(t)` removes it
now, only when its owner is the run it is asked about (`t.run.run_id`), so a live run's
lock is never taken away by mistake. Run it with the runner's own locking off.
"""

from __future__ import annotations

from remediations.connections.base import PeeksLock, SelfLocking, capability
from remediations.core.result import Result, Status, Step
from remediations.core.runs import LockOwner, how_long
from remediations.run import locks
from remediations.run.contract import Verification, apply
from remediations.run.target import Target

NAME = "lock_released"


def lock_holder(t: Target) -> tuple[LockOwner | None, float | None]:
    """Who holds the host's (or the Deployment's) lock, and for how long; (None, None) if free."""
    if capability(t.conn, SelfLocking) is not None:
        peeker = capability(t.conn, PeeksLock)
        line = peeker.peek_lock() if peeker is not None else ""
        if not line:
            return None, None
        owner = LockOwner.parse(line)
        return owner, owner.age()
    out = t.conn.run(locks.peek_argv(), check=False).stdout
    if not out.startswith("HELD"):
        return None, None
    fields = dict(line.split("=", 1) for line in out.splitlines()[1:] if "=" in line)
    try:
        age: float | None = float(fields.get("now", "")) - float(fields.get("mtime", ""))
    except ValueError:
        age = None
    return LockOwner.parse(fields.get("owner", "")), age


def lock_released(t: Target) -> Result:
    """Leave the host without the lock of run `t.run.run_id`; another run's lock is left alone.

    `ok` when there is no such lock; `changed` when it was removed (check mode: would
    be); `skipped` naming the holder when another run holds the lock.
    """
    owner, age = lock_holder(t)
    mine = t.run.run_id
    if owner is None:
        return t.result(NAME, Status.OK, f"no lock on {t.name}; nothing to clear")
    held = f"since {owner.since}" + (f" by {owner.who}" if owner.who else "") + (
        f", {how_long(age)}" if age is not None else "")
    if owner.run_id != mine:
        return t.result(NAME, Status.SKIPPED, f"the lock is run {owner.run_id}'s ({held}), "
                        f"not run {mine}'s; left alone", data={"locked_by": owner.run_id})
    own = capability(t.conn, SelfLocking)
    if own is not None:
        if t.check:
            return t.result(NAME, Status.CHANGED, f"would clear run {mine}'s lock ({held})",
                            commands=(f"remove the lock annotation of {t.name}",))
        own.release_lock(t.run)
        after, _ = lock_holder(t)
        if after is not None and after.run_id == mine:
            return t.result(NAME, Status.FAILED, f"run {mine}'s lock is still there")
        return t.result(NAME, Status.CHANGED, f"cleared run {mine}'s lock ({held})")

    def verify() -> Verification:
        after, _ = lock_holder(t)
        if after is not None and after.run_id == mine:
            return Verification(False, f"run {mine}'s lock is still there")
        return Verification(True, "the lock is gone")

    return apply(t, NAME, [Step(locks.release_argv(t.run), f"remove run {mine}'s lock")],
                 verify=verify, ok_message="no lock", action=f"clear run {mine}'s lock ({held})",
                 done=f"cleared run {mine}'s lock ({held})", data={"was_held": held})

