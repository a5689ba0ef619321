"""Controller-side state: when each run began (so a re-run keeps its start time) and the audit log."""

from __future__ import annotations

import fcntl
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from remediations import validate
from remediations.target import RunContext, new_run_id


def state_dir() -> Path:
    """`$REMEDIATIONS_STATE_DIR`, else `$XDG_STATE_HOME/remediations`, else ~/.local/state/remediations."""
    explicit = os.environ.get("REMEDIATIONS_STATE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "remediations"


def default_audit_log() -> Path:
    return Path(os.environ.get("REMEDIATIONS_AUDIT_LOG") or state_dir() / "audit.jsonl")


def start_run(run_id: str | None = None, *, check: bool = False, diff: bool = False,
              directory: Path | None = None) -> RunContext:
    """A new run, or the run `run_id` again with its original start time.

    Reusing the start time is what makes a re-run with the same id skip restarts
    the first attempt already did.
    """
    now = datetime.now(UTC)
    rid = validate.run_id(run_id) if run_id else new_run_id(now)
    runs = (directory or state_dir()) / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    record = runs / f"{rid}.json"
    started = now
    try:
        fd = os.open(record, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        started = datetime.fromisoformat(json.loads(record.read_text())["started_at"])
    else:
        with os.fdopen(fd, "w") as fh:
            json.dump({"run_id": rid, "started_at": now.isoformat()}, fh)
    return RunContext(rid, started, check=check, diff=diff)


def append_jsonl(path: Path, entry: dict[str, Any]) -> None:
    """Append one JSON line atomically with respect to other writers of the same file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(entry, sort_keys=True, default=str) + "\n"
    with open(path, "a", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            fh.write(line)
            fh.flush()
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
