"""Events the runner emits, and the report a run ends with."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from remediations.core.result import Result, Status

EventKind = Literal["run_started", "batch_started", "host_started", "host_finished",
                    "interrupted", "run_finished"]

# Exit codes, as Ansible's where they overlap: 2 failed, 4 unreachable.
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_FAILED = 2
EXIT_LOCKED = 3
EXIT_UNREACHABLE = 4
EXIT_UNKNOWN = 5  # a host's state is unknown: the run stopped waiting for a command it sent
# A run stopped by a signal exits as a shell reports a process killed by it: 128 + signum.
EXIT_INTERRUPTED = {"SIGINT": 130, "SIGTERM": 143}


@dataclass(frozen=True, slots=True)
class Report:
    """All results of a run: iterable, with the subsets a caller usually wants."""

    run_id: str
    remediation: str
    started_at: datetime
    results: tuple[Result, ...]
    check: bool = False
    duration: float = 0.0
    interrupted: str = ""  # the signal that stopped the run ("SIGINT"), if one did

    def __iter__(self) -> Iterator[Result]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def _with(self, *statuses: Status) -> list[Result]:
        return [r for r in self.results if r.status in statuses]

    @property
    def failed(self) -> list[Result]:
        """Results that failed, whose host was unreachable, or whose host's state is unknown."""
        return self._with(Status.FAILED, Status.UNREACHABLE, Status.UNKNOWN)

    @property
    def unknown(self) -> list[Result]:
        """Hosts the run stopped waiting for after sending a command: it may have run."""
        return self._with(Status.UNKNOWN)

    @property
    def changed(self) -> list[Result]:
        return self._with(Status.CHANGED)

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def locked(self) -> list[Result]:
        return [r for r in self.results if r.data.get("locked_by")]

    def counts(self) -> dict[str, int]:
        return {s.value: len(self._with(s)) for s in Status}

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED.get(self.interrupted, 130)
        if self._with(Status.UNKNOWN):
            return EXIT_UNKNOWN
        if self._with(Status.FAILED):
            return EXIT_FAILED
        if self._with(Status.UNREACHABLE):
            return EXIT_UNREACHABLE
        if self.locked:
            return EXIT_LOCKED
        return EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "remediation": self.remediation,
            "started_at": self.started_at.isoformat(),
            "check": self.check,
            "duration": round(self.duration, 3),
            "interrupted": self.interrupted or None,
            "counts": self.counts(),
            "exit_code": self.exit_code,
            "results": [r.to_dict() for r in self.results],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened during a run; reporters render these."""

    kind: EventKind
    run_id: str
    remediation: str
    host: str | None = None
    result: Result | None = None
    report: Report | None = None
    hosts: tuple[str, ...] = ()
    check: bool = False
    message: str = ""
    time: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"event": self.kind, "run_id": self.run_id,
                                "remediation": self.remediation,
                                "time": self.time.isoformat(), "check": self.check}
        if self.host is not None:
            data["host"] = self.host
        if self.hosts:
            data["hosts"] = list(self.hosts)
        if self.message:
            data["message"] = self.message
        if self.result is not None:
            data["result"] = self.result.to_dict()
        if self.report is not None:
            data["report"] = self.report.to_dict()
        return data
