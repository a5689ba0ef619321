"""Invoke tasks for the container lab; the repo's tasks.py mounts them as `lab.*`.

invoke lab.up        # build what changed, start what is missing, wait until serving
invoke lab.status    # table (or --json)
invoke lab.down      # remove containers and network, keep images
"""

from __future__ import annotations

import json
import sys
from typing import Any

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task


def _progress(line: str) -> None:
    # Progress goes to stderr so `invoke lab.status --json` stays machine-readable.
    print(f"lab: {line}", file=sys.stderr, flush=True)


def _table(rows: list[dict[str, Any]]) -> str:
    columns = ("host", "container", "state", "ssh_port", "http_port", "up", "version", "image")
    cells = [[str(col) for col in columns]]
    for row in rows:
        cells.append(["-" if row.get(col) is None else str(row[col]) for col in columns])
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip() for r in cells)


@task(help={"fresh": "recreate the hosts from the image, dropping state left by earlier runs"})
def up(c: Context, fresh: bool = False) -> None:
    """Start the lab (installs and starts Docker, builds images, boots web1, web2, db1, apache1)."""
    from . import manage  # imported by the task, not by `invoke --list`

    try:
        info = manage.up(_progress, fresh=fresh)
    except manage.LabError as exc:
        raise Exit(f"lab.up failed: {exc}", code=1) from exc
    for host in info.hosts:
        _progress(f"{host.name}: ssh -p {host.ssh_port} root@127.0.0.1, {host.health_url}")
    _progress(f"inventory: {info.inventory}")


@task
def down(c: Context) -> None:
    """Remove the lab containers and network (images are kept for a fast next up)."""
    from . import manage

    try:
        manage.down(_progress)
    except manage.LabError as exc:
        raise Exit(f"lab.down failed: {exc}", code=1) from exc


@task(help={"json": "print JSON instead of a table"})
def status(c: Context, json_: bool = False) -> None:
    """Show each lab host: container state, ports, image and what /up answers."""
    from . import manage

    try:
        rows = manage.status()
    except manage.LabError as exc:
        raise Exit(f"lab.status failed: {exc}", code=1) from exc
    print(json.dumps(rows, indent=2) if json_ else _table(rows))


ns = Collection("lab", up, down, status)
