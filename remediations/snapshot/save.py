"""`--save DIR`: each host's snapshot as incident evidence here, DIR/<run id>/<host>.json + summary.txt."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from remediations.core.errors import InvalidInput
from remediations.run.state import append_locked

# A directory here, typed by a person: plain characters only (no shell or glob syntax,
# no spaces), and no '..' component.
_DIR = re.compile(r"^[A-Za-z0-9._/+@=,:-]{1,1024}$")
_NAME = re.compile(r"[^A-Za-z0-9._-]")


def save_dir(value: object) -> str:
    """A directory to save snapshots in: plain characters, no '..'; `InvalidInput` otherwise."""
    if not isinstance(value, str) or not _DIR.fullmatch(value) or value.startswith("-") \
            or ".." in value.split("/"):
        raise InvalidInput(f"--save must be a directory path of letters, digits and ._/+@=,:- "
                           f"(no '..', spaces or shell characters), got {value!r}")
    return value


def file_name(host: str) -> str:
    """`host` as a file name: anything but letters, digits, '.', '_', '-' becomes '_'."""
    name = _NAME.sub("_", host).lstrip(".")
    return name or "_"


def summary_lines(host: str, status: str, findings: Sequence[Mapping[str, str]]) -> list[str]:
    """A host's block of summary.txt: its status, then one line per finding (worst first)."""
    if not findings:
        return [f"{host}: {status}: all is well"]
    return [f"{host}: {status}: {len(findings)} finding(s)"] + [
        f"  {f['severity']:<8} {f['what']}: {f['detail']}" for f in findings]


def saved(root: str, run_id: str, host: str, document: Mapping[str, Any],
          findings: Sequence[Mapping[str, str]], status: str) -> str:
    """Write `<root>/<run_id>/<host>.json` and append the host's block to summary.txt; the folder.

    The document must already be redacted. Hosts of one run write concurrently: the
    summary is appended under a lock, one block at a time.
    """
    folder = Path(save_dir(root)) / file_name(run_id)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{file_name(host)}.json"
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n",
                   encoding="utf-8")
    os.replace(tmp, target)
    append_locked(folder / "summary.txt", "\n".join(summary_lines(host, status, findings)) + "\n")
    return str(folder)
