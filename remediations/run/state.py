"""Controller-side state: when each run began (so a re-run keeps its start time) and the audit log."""

from __future__ import annotations

import fcntl
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from remediations.core import validate
from remediations.core.runs import RunContext, new_run_id


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
    record = _record(rid, directory)
    started = now
    try:
        fd = os.open(record, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        started = datetime.fromisoformat(json.loads(record.read_text())["started_at"])
    else:
        with os.fdopen(fd, "w") as fh:
            json.dump({"run_id": rid, "started_at": now.isoformat()}, fh)
    return RunContext(rid, started, check=check, diff=diff)


def _record(run_id: str, directory: Path | None = None) -> Path:
    runs = (directory or state_dir()) / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    return runs / f"{validate.run_id(run_id)}.json"


def remember(run_id: str, key: str, value: Any, *, directory: Path | None = None) -> Any:
    """Keep `value` under `key` in the run's record unless the run already holds one; return the kept one.

    The first attempt of a run decides (the release each host was on before a rollback,
    say); a resumed attempt gets that answer back, not what it finds now.
    """
    record = _record(run_id, directory)
    with open(record, "a+", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            fh.seek(0)
            text = fh.read()
            data: dict[str, Any] = json.loads(text) if text.strip() else {"run_id": run_id}
            kept = data.setdefault("memory", {}).setdefault(key, value)
            fh.seek(0)
            fh.truncate()
            json.dump(data, fh, sort_keys=True, default=str)
            fh.flush()
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
    return kept


def append_jsonl(path: Path, entry: dict[str, Any]) -> None:
    """Append one JSON line atomically with respect to other writers of the same file."""
    append_locked(path, json.dumps(entry, sort_keys=True, default=str) + "\n")


def append_locked(path: Path, text: str) -> None:
    """Append `text` whole under an exclusive lock, so concurrent writers never interleave."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            fh.write(text)
            fh.flush()
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
