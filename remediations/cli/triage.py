"""The `triage` task: a read-only snapshot of every selected host, what looks wrong first."""

from __future__ import annotations

import functools
from typing import Any

from invoke.collection import Collection

from remediations.cli.options import Common, make_task, run_remediation, validated
from remediations.cli.values import Range, Text


def triage(c: Any, opts: Common, save: str = "", lines: int = 20) -> None:
    """Snapshot each host read-only (services, disk, load, queue, logs, health...); worst first."""
    from remediations.snapshot import triage as snapshot
    from remediations.snapshot.save import save_dir

    where = validated(opts, save_dir, save) if save else None
    fn = functools.partial(snapshot, lines=lines, save_to=where)
    run_remediation(opts, fn, name="triage", lock=False)


def register(ns: Collection) -> None:
    """Add the triage task to `ns`."""
    ns.add_task(make_task(triage, name="triage", params=(
        ("save", "", "also write each host's snapshot (secrets redacted) to "
                     "DIR/<run id>/<host>.json, with a summary.txt", Text(path=True)),
        ("lines", 20, "lines of each log shown (1-1000)", Range(1, 1000)),
    )))
