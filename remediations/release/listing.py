"""What a host's releases look like to a reader, whatever their kind: `ReleaseFacts`, the
version order of tags, a bad mark as a sentence.

Kept apart from `facts` (the symlink layout's reader) so the git kind's reader
(`git_facts`) shares them without the two readers importing each other.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ReleaseFacts", "describe_bad", "version_key"]


@dataclass(frozen=True, slots=True)
class ReleaseFacts:
    """The releases of one host: where they live, which is current, which are marked bad."""

    root: str                      # "/srv/app"
    current: str | None            # "v1.2.3" (None when `current` is missing or not a release)
    available: tuple[str, ...]     # releases present, version-sorted
    bad: Mapping[str, str] = field(default_factory=dict)  # release -> "marked bad by ..."

    def to_dict(self) -> dict[str, Any]:
        return {"root": self.root, "current": self.current, "available": list(self.available),
                "bad": dict(self.bad)}



def version_key(tag: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key: numbers compare as numbers (`v1.2.10` after `v1.2.9`)."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", tag) if p)


def describe_bad(text: str) -> str:
    """A bad mark (one JSON object) as a sentence."""
    try:
        mark = json.loads(text)
    except ValueError:
        return f"marked bad: {text.strip()}"
    if not isinstance(mark, dict):
        return f"marked bad: {text.strip()}"
    return (f"marked bad by {mark.get('by', '?')} at {mark.get('at', '?')} "
            f"(run {mark.get('run_id', '?')}): {mark.get('reason', '')}")
