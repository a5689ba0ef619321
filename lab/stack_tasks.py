"""Invoke tasks for the Docker lab (compose project `remlab` + ssh Docker host).

The repository's tasks.py mounts them as `stack.*`:

invoke stack.up       # build what changed, start what is missing, wait until all healthy
invoke stack.up --compose v1   # the same, the project created by docker-compose 1.29
invoke stack.status   # table (or --json)
invoke stack.down     # remove the project's containers and the ssh host, keep images

REMEDIATIONS_LAB_SLOT=k runs them on slot k's copy (project remlab<k>, ports +10k, inventory
.lab/lab-docker-slot<k>.yml); see lab/stack.py.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from ._run import LabError


def _progress(line: str) -> None:
    # Progress goes to stderr so `invoke stack.status --json` stays machine-readable.
    print(f"stack: {line}", file=sys.stderr, flush=True)


def _table(rows: list[dict[str, Any]]) -> str:
    columns = ("service", "container", "state", "health", "version", "ports", "image", "compose")
    cells = [list(columns)]
    for row in rows:
        cells.append(["-" if row.get(col) in (None, "") else str(row[col]) for col in columns])
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells
    )


@task(help={"fresh": "recreate the project (dropping the db volume) and the ssh host",
            "compose": "the compose CLI that creates the project: v2 (default) or v1"})
def up(c: Context, fresh: bool = False, compose: str = "v2") -> None:
    """Start the Docker lab: images, compose project remlab, ssh Docker host; wait healthy.

    REMEDIATIONS_LAB_SLOT=k starts slot k's copy (remlab<k>, ports +10k). `--compose v1`
    creates the project with docker-compose 1.29 and prints the inventory that uses it.
    """
    from . import stack  # imported by the task, not by `invoke --list`

    try:
        info = stack.up(_progress, fresh=fresh, compose_version=compose)
    except LabError as exc:
        raise Exit(f"stack.up failed: {exc}", code=1) from exc
    _progress(f"backend: {info.backend_url}")
    _progress(f"docker host: ssh -i {info.ssh_key} -p {info.ssh_port} root@127.0.0.1")
    _progress(f"inventory: {info.inventory}")


@task
def down(c: Context) -> None:
    """Remove the compose project's containers and the ssh host (images and db volume stay)."""
    from . import stack  # imported by the task, not by `invoke --list`

    try:
        stack.down(_progress)
    except LabError as exc:
        raise Exit(f"stack.down failed: {exc}", code=1) from exc


@task(help={"json": "print JSON instead of a table"})
def status(c: Context, json_: bool = False) -> None:
    """Show each container of the stack: state, health, ports, image, and what /up answers."""
    from . import stack  # imported by the task, not by `invoke --list`

    try:
        rows = stack.status()
    except LabError as exc:
        raise Exit(f"stack.status failed: {exc}", code=1) from exc
    print(json.dumps(rows, indent=2) if json_ else _table(rows))


ns = Collection("stack", up, down, status)
