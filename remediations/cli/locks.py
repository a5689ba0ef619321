"""`invoke unlock -l HOST --run-id X`: clear the lock a dead run left (registered by `build_namespace`)."""

from __future__ import annotations

from typing import Any

from invoke.collection import Collection

from remediations.cli.options import Common, make_task, required, run_remediation


def unlock(c: Any, opts: Common) -> None:
    """Clear the lock run --run-id left on the selected hosts (another run's lock stays).

    A run that died (its controller killed) keeps its hosts locked until the lock is
    stale (an hour); a run that failed or was interrupted releases its own. Resuming the
    same --run-id also takes the lock back, and releases it when done.
    """
    from remediations.run.unlock import lock_released

    required(opts, opts.run_id, "--run-id", "20261206T101500Z-3f9a1c (the run that holds it)")
    run_remediation(opts, lock_released, name="lock_released", lock=False)


def register(ns: Collection) -> None:
    """Add this area's tasks to `ns`."""
    ns.add_task(make_task(unlock, name="unlock"))
