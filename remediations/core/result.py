"""The one result shape every remediation returns, and the steps it runs."""

from __future__ import annotations

import dataclasses
import difflib
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class Status(StrEnum):
    """What a remediation did on one host."""

    OK = "ok"
    CHANGED = "changed"
    FAILED = "failed"
    SKIPPED = "skipped"
    UNREACHABLE = "unreachable"
    # The controller stopped waiting (timeout, Ctrl-C) after sending a command: it may or
    # may not have run. The next run on the host reads back what happened.
    UNKNOWN = "unknown"

    @property
    def is_failure(self) -> bool:
        return self in (Status.FAILED, Status.UNREACHABLE, Status.UNKNOWN)


@dataclass(frozen=True, slots=True)
class Step:
    """One command a remediation runs (or, in check mode, would run)."""

    argv: tuple[str, ...]
    why: str = ""

    def __init__(self, argv: Sequence[str], why: str = "") -> None:
        object.__setattr__(self, "argv", tuple(argv))
        object.__setattr__(self, "why", why)

    @property
    def command(self) -> str:
        return shlex.join(self.argv)


class Call(Protocol):
    """A step that is a request, not a command (an API call, say); `apply()` sends it.

    In check mode it is sent as a dry run the server validates and does not store.
    `connections.cluster.ApiCall` is the Kubernetes one.
    """

    @property
    def command(self) -> str:
        """How results show the request (`PATCH /apis/... (merge-patch) {...}`)."""
        ...

    def send(self, *, dry_run: bool) -> object:
        """Make the request (a dry run when `dry_run`); raise when it is refused."""
        ...


@dataclass(frozen=True, slots=True)
class Diff:
    """The state before and after, as text a person can read."""

    before: str
    after: str

    def unified(self, name: str = "state") -> str:
        lines = difflib.unified_diff(
            self.before.splitlines(), self.after.splitlines(),
            f"{name} (before)", f"{name} (after)", lineterm="",
        )
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Result:
    """What one remediation did on one host; immutable, JSON-ready via `to_dict`."""

    host: str
    remediation: str
    status: Status
    message: str
    commands: tuple[str, ...] = ()
    diff: Diff | None = None
    evidence: str = ""
    duration: float = 0.0
    check: bool = False
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True unless the host failed or was unreachable."""
        return not self.status.is_failure

    @property
    def changed(self) -> bool:
        return self.status is Status.CHANGED

    @property
    def failed(self) -> bool:
        return self.status.is_failure

    def replace(self, **changes: Any) -> Result:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "remediation": self.remediation,
            "status": self.status.value,
            "message": self.message,
            "commands": list(self.commands),
            "diff": None if self.diff is None else {"before": self.diff.before, "after": self.diff.after},
            "evidence": self.evidence,
            "duration": round(self.duration, 3),
            "check": self.check,
            "data": dict(self.data),
        }
