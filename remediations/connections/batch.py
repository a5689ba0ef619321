"""Several commands in one round trip: one `sh -c` script, each command's output framed.

A remediation's phases (lock and inspect; act and verify) each cost one remote
round trip this way instead of one per command. Every command keeps its own
exit code, stdout and stderr; the script stops after the first that fails.
"""

from __future__ import annotations

from collections.abc import Sequence

from remediations.connections.base import Batching, CommandResult, Connection, HostGuard
from remediations.connections.framing import run_framed, script, split

__all__ = ["run_batch", "run_framed", "script", "split"]


def run_batch(conn: Connection, argvs: Sequence[Sequence[str]], *,
              timeout: float | None = None, last: bool = False) -> list[CommandResult]:
    """Run `argvs` on `conn` in one round trip when it can batch, else one by one.

    Stops after the first command that fails; returns the results of those that ran.
    `last`: after this batch the remediation only reads, so a connection holding the
    host's lock for it may release the lock in the same round trip (`run_final_batch`).
    """
    if last and isinstance(conn, HostGuard):
        return list(conn.run_final_batch(argvs, timeout=timeout))
    if isinstance(conn, Batching):
        return list(conn.run_batch(argvs, timeout=timeout))
    results: list[CommandResult] = []
    for argv in argvs:
        results.append(conn.run(argv, timeout=timeout, check=False))
        if results[-1].failed:
            break
    return results
