"""The smoke results file: written by the pytest plugin, summed up per host by `invoke smoke`.

    python -m pytest tests/smoke --remediations-inventory inv.yml --remediations-results out.json
    rows = host_rows(read_results("out.json"), hosts=["web1", "web2"])

The file is one JSON object: `{"exit_status": N, "tests": [...], "collection_errors": [...]}`,
each test `{"nodeid", "host", "test", "outcome", "reason", "duration"}` with outcome
`passed | failed | error | skipped`.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

_REASON_LIMIT = 300
_SPACE = re.compile(r"\s+")
_RANK = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}


def one_line(text: str, limit: int = _REASON_LIMIT) -> str:
    """`text` on one line, whitespace collapsed, cut at `limit` characters."""
    flat = _SPACE.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[:limit - 3] + "..."


def crash_reason(longrepr: Any) -> str:
    """The one-line reason of a pytest report's `longrepr` (a failure, error or skip)."""
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # a skip: (path, line, reason)
        return one_line(str(longrepr[2]).removeprefix("Skipped: "))
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None:
        return _crash_line(str(crash.message))
    return one_line(str(longrepr).strip().splitlines()[-1] if str(longrepr).strip() else "")


def _crash_line(message: str) -> str:
    """`message` failed; an assert's own message, or the assertion and its first `where`."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if not lines:
        return ""
    first = lines[0].removeprefix("AssertionError: ")
    if first.startswith("assert ") and len(lines) > 1 and lines[1].startswith("+"):
        first = f"{first} {lines[1]}"  # `assert False` says little; its first `where` says what
    return one_line(first)


@dataclass
class SmokeOutcome:
    """How one test (on one host) ended."""

    nodeid: str
    host: str | None
    test: str
    outcome: str = "passed"
    reason: str = ""
    duration: float = 0.0

    def record(self, when: str, outcome: str, reason: str, duration: float) -> None:
        self.duration += duration
        if outcome == "passed":
            return
        if outcome == "failed" and when != "call":
            outcome = "error"  # a fixture failed: setup or teardown
        if _RANK[outcome] > _RANK[self.outcome]:
            self.outcome, self.reason = outcome, reason

    def to_dict(self) -> dict[str, Any]:
        return {"nodeid": self.nodeid, "host": self.host, "test": self.test,
                "outcome": self.outcome, "reason": self.reason,
                "duration": round(self.duration, 3)}


class ResultsRecorder:
    """A pytest plugin object: collects each test's outcome and writes the results file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tests: dict[str, SmokeOutcome] = {}
        self.collection_errors: list[dict[str, str]] = []

    def pytest_itemcollected(self, item: Any) -> None:
        callspec = getattr(item, "callspec", None)
        host = callspec.params.get("inventory_host") if callspec is not None else None
        name = getattr(item, "originalname", None) or item.name
        self.tests[item.nodeid] = SmokeOutcome(item.nodeid, host, name)

    def pytest_collectreport(self, report: Any) -> None:
        if report.failed:
            self.collection_errors.append({"nodeid": report.nodeid or ".",
                                           "reason": crash_reason(report.longrepr)})

    def pytest_runtest_logreport(self, report: Any) -> None:
        test = self.tests.get(report.nodeid)
        if test is None:
            return
        outcome = report.outcome
        reason = crash_reason(report.longrepr) if outcome != "passed" else ""
        if getattr(report, "wasxfail", None) is not None:
            outcome, reason = "skipped", f"xfail: {one_line(report.wasxfail)}"
        test.record(report.when, outcome, reason, report.duration)

    def pytest_sessionfinish(self, session: Any, exitstatus: int) -> None:
        data = {"exit_status": int(exitstatus),
                "tests": [t.to_dict() for t in self.tests.values()],
                "collection_errors": self.collection_errors}
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, self.path)


def read_results(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The results file as written by `ResultsRecorder`."""
    data: dict[str, Any] = json.loads(Path(path).read_text())
    return data


@dataclass
class HostRow:
    """One host's smoke tests: counts, and the first failure's reason."""

    host: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    duration: float = 0.0
    tests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def reason(self) -> str:
        for t in self.tests:
            if t["outcome"] in ("failed", "error"):
                return f"{t['test']}: {t['reason']}"
        if not self.tests:
            return "no smoke test selects this host"
        if not self.passed:
            return next((f"skipped: {t['reason']}" for t in self.tests if t["reason"]), "skipped")
        return ""

    def add(self, test: dict[str, Any]) -> None:
        self.tests.append(test)
        self.duration += float(test.get("duration", 0.0))
        if test["outcome"] == "passed":
            self.passed += 1
        elif test["outcome"] == "skipped":
            self.skipped += 1
        else:
            self.failed += 1

    def to_dict(self) -> dict[str, Any]:
        return {"host": self.host, "ok": self.ok, "passed": self.passed, "failed": self.failed,
                "skipped": self.skipped, "reason": self.reason,
                "duration": round(self.duration, 3), "tests": self.tests}


NO_HOST = "(no host)"


def host_rows(results: dict[str, Any], hosts: Iterable[str] = ()) -> list[HostRow]:
    """One row per host: every host in `hosts` (in that order), then any other the tests named.

    Tests not parametrized by host (no `smoke` marker) share the row `(no host)`.
    """
    rows = {name: HostRow(name) for name in hosts}
    for test in results.get("tests", ()):
        name = test.get("host") or NO_HOST
        rows.setdefault(name, HostRow(name)).add(test)
    return list(rows.values())


def render_table(rows: Sequence[HostRow], *, title: str, out: IO[str] | None = None) -> None:
    """The people's report: one row per host, then the counts."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(file=out or sys.stdout, highlight=False, soft_wrap=False)
    if not console.is_terminal:
        console.width = max(console.width, 160)  # logs and CI: do not wrap at 80
    table = Table(title=title, title_justify="left", expand=False)
    for col in ("host", "status", "passed", "failed", "skipped", "reason", "time"):
        table.add_column(col, justify="right" if col in ("passed", "failed", "skipped", "time")
                         else "left", overflow="fold", no_wrap=col != "reason")
    for row in rows:
        status = "[green]passed[/]" if row.ok and row.passed else (
            "[bold red]failed[/]" if not row.ok else "[cyan]no tests run[/]")
        table.add_row(row.host, status, str(row.passed), str(row.failed), str(row.skipped),
                      escape(row.reason), f"{row.duration:.1f}s")
    console.print(table)
    failed = [r.host for r in rows if not r.ok]
    verdict = f"[bold red]failed on {', '.join(failed)}[/]" if failed else "[green]all passed[/]"
    console.print(f"[bold]{len(rows)} host(s)[/]: {verdict}")


def summary(rows: Sequence[HostRow], **about: Any) -> dict[str, Any]:
    """The machines' report: what ran (`about`), the exit code, counts, and one entry per host."""
    failed = [r.host for r in rows if not r.ok]
    return {"event": "smoke_finished", **about, "ok": not failed, "exit_code": 2 if failed else 0,
            "failed_hosts": failed,
            "counts": {"hosts": len(rows), "passed": sum(r.passed for r in rows),
                       "failed": sum(r.failed for r in rows),
                       "skipped": sum(r.skipped for r in rows)},
            "hosts": [r.to_dict() for r in rows]}


def render_json(rows: Sequence[HostRow], *, out: IO[str] | None = None, **about: Any) -> None:
    """`summary(...)` as one JSON object on one line."""
    stream = out or sys.stdout
    stream.write(json.dumps(summary(rows, **about), sort_keys=True) + "\n")
    stream.flush()
