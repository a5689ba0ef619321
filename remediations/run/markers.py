"""Once-per-run markers on the host, for actions with no timestamp of their own (reloads).

Restarts are judged by the service's own start time; a reload leaves none, so the
run records it on the host: `/run/lock/remediations.runs/<run id>/<key>`.
"""

from __future__ import annotations

import re

from remediations.connections.base import Connection
from remediations.core.result import Step
from remediations.run.target import RunContext

ROOT = "/run/lock/remediations.runs"
_SAFE = re.compile(r"[^A-Za-z0-9._@-]")


def _path(run: RunContext, key: str) -> str:
    return f"{ROOT}/{run.run_id}/{_SAFE.sub('_', key)}"


def path(run: RunContext, key: str) -> str:
    """Where `key`'s marker lives, for a step that writes markers itself (with content)."""
    return _path(run, key)


def done(conn: Connection, run: RunContext, key: str) -> bool:
    """Whether this run already did `key` on the host."""
    return conn.run(["test", "-e", _path(run, key)], check=False).succeeded


def reload_key(unit: str) -> str:
    """The one key every remediation uses for "reloaded `unit` in this run"."""
    return f"reload-{unit}"


def mark_step(run: RunContext, key: str) -> Step:
    """A step that records `key` as done by this run."""
    path = _path(run, key)
    return Step(["sh", "-c", 'mkdir -p "${1%/*}" && : > "$1"', "_", path], f"record {key} for this run")
