"""Renderers of runner events: rich for people, JSON lines for machines, and the audit log.

The only module that writes to a terminal.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import IO, Any

from remediations.report import Event, Report
from remediations.result import Result, Status
from remediations.state import append_jsonl
from remediations.target import who

_STYLE = {Status.OK: "green", Status.CHANGED: "yellow", Status.FAILED: "bold red",
          Status.SKIPPED: "cyan", Status.UNREACHABLE: "bold magenta"}
_EVIDENCE_LINES = 15
_PIPE_WIDTH = 160


class JsonReporter:
    """One JSON object per event, one per line; the last carries the whole report."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout

    def __call__(self, event: Event) -> None:
        self._write(json.dumps(event.to_dict(), sort_keys=True, default=str))

    def _write(self, line: str) -> None:
        """One line; a reader that went away (`| head`) stops the output, never the run."""
        try:
            self.stream.write(line + "\n")
            self.stream.flush()
        except BrokenPipeError:
            self.stream = quiet_stdout()

    def error(self, message: str, *, evidence: str = "", **extra: Any) -> None:
        """One `{"event": "error"}` object: the first line of `message`, the rest as evidence."""
        line, evidence = _one_line(message, evidence)
        entry: dict[str, Any] = {"event": "error", "message": line, **extra}
        if evidence:
            entry["evidence"] = evidence
        self._write(json.dumps(entry, sort_keys=True, default=str))

    def listing(self, kind: str, items: dict[str, str]) -> None:
        """What a task offers (e.g. the runbooks), as one `{"event": "list"}` object."""
        self._write(json.dumps({"event": "list", "kind": kind, "items": items}))


def quiet_stdout() -> IO[str]:
    """Point stdout at /dev/null after its reader went away, so nothing else fails on it."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    with contextlib.suppress(OSError, ValueError):
        os.dup2(devnull, sys.stdout.fileno())
    return open(devnull, "w", encoding="utf-8")  # lives as long as the process


class AuditLog:
    """Appends one JSON line per host action: who, when, run id, host, remediation, outcome."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.who = who()

    def __call__(self, event: Event) -> None:
        if event.kind != "host_finished" or event.result is None:
            return
        r = event.result
        append_jsonl(self.path, {
            "time": event.time.isoformat(), "who": self.who, "run_id": event.run_id,
            "host": r.host, "remediation": r.remediation, "status": r.status.value,
            "message": r.message, "commands": list(r.commands), "check": r.check,
            "duration": round(r.duration, 3),
        })


class RichReporter:
    """Progress while hosts run (stderr), then a summary table and the evidence (stdout)."""

    def __init__(self, *, show_diff: bool = False, out: IO[str] | None = None,
                 err: IO[str] | None = None) -> None:
        from rich.console import Console

        self.console = Console(file=out or sys.stdout, highlight=False, soft_wrap=False)
        self.err = Console(file=err or sys.stderr, highlight=False)
        for console in (self.console, self.err):
            if not console.is_terminal:
                console.width = max(console.width, _PIPE_WIDTH)  # logs and CI: do not wrap at 80
        self.show_diff = show_diff
        self._progress: Any = None
        self._task: Any = None

    def __call__(self, event: Event) -> None:
        handler = getattr(self, f"_on_{event.kind}", None)
        if handler is not None:
            handler(event)

    def _on_run_started(self, event: Event) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        mode = " [cyan](check mode: nothing is changed)[/]" if event.check else ""
        self.err.print(f"[bold]{event.remediation}[/] on {len(event.hosts)} host(s), "
                       f"run {event.run_id}{mode}")
        if self.err.is_terminal:
            self._progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                      MofNCompleteColumn(), TimeElapsedColumn(),
                                      console=self.err, transient=True)
            self._task = self._progress.add_task(event.remediation, total=len(event.hosts))
            self._progress.start()

    def _on_host_finished(self, event: Event) -> None:
        r = event.result
        assert r is not None
        line = (f"  [{_STYLE[r.status]}]{r.status.value:<11}[/] {r.host:<20} "
                f"{_escape(r.message)} [dim]({r.duration:.1f}s)[/]")
        if self._progress is not None:
            self._progress.console.print(line)
            self._progress.advance(self._task)
        else:
            self.err.print(line)

    def _on_run_finished(self, event: Event) -> None:
        if self._progress is not None:
            self._progress.stop()
        assert event.report is not None
        self.summary(event.report)

    def summary(self, report: Report) -> None:
        from rich.table import Table

        title = f"{report.remediation} · run {report.run_id}" + (" · check mode" if report.check else "")
        table = Table(title=title, title_justify="left", expand=False)
        for col in ("host", "remediation", "status", "message", "time"):
            table.add_column(col, justify="right" if col == "time" else "left",
                             overflow="fold", no_wrap=col in ("host", "status", "time"))
        for r in report:
            table.add_row(r.host, r.remediation, f"[{_STYLE[r.status]}]{r.status.value}[/]",
                          _escape(r.message), f"{r.duration:.1f}s")
        self.console.print(table)
        for r in report:
            self._details(r)
        counts = " ".join(f"{k}={v}" for k, v in report.counts().items() if v)
        self.console.print(f"[bold]{counts or 'no hosts'}[/] in {report.duration:.1f}s "
                           f"(exit {report.exit_code})")

    def _details(self, r: Result) -> None:
        for step in r.data.get("steps", ()):
            status = Status(step["status"])
            self.console.print(f"[bold]{r.host}[/] {r.remediation} · {step['remediation']}: "
                               f"[{_STYLE[status]}]{status.value}[/] {_escape(step['message'])}")
        if r.check and r.commands and r.changed:
            self.console.print(f"[bold]{r.host}[/] would run:")
            for c in r.commands:
                self.console.print(f"    {_escape(c)}")
        if self.show_diff and r.diff is not None and (r.changed or r.check):
            self.console.print(f"[bold]{r.host}[/] diff:")
            self.console.print(_escape(r.diff.unified(r.data.get("unit", r.remediation))))
        if r.failed and r.evidence:
            tail = "\n".join(r.evidence.rstrip().splitlines()[-_EVIDENCE_LINES:])
            self.console.print(f"[bold red]{r.host}[/] evidence:\n{_escape(tail)}")

    def error(self, message: str, *, evidence: str = "", **extra: Any) -> None:
        """`error: <one line>` on stderr, then the evidence indented; extra fields are for machines."""
        line, evidence = _one_line(message, evidence)
        self.err.print(f"[bold red]error:[/] {_escape(line)}", soft_wrap=True)
        if evidence:
            tail = evidence.rstrip().splitlines()[-_EVIDENCE_LINES:]
            self.err.print("\n".join(f"  {_escape(t)}" for t in tail), soft_wrap=True)

    def listing(self, kind: str, items: dict[str, str]) -> None:
        """What a task offers (e.g. the runbooks): one name and description a line."""
        width = max((len(n) for n in items), default=0)
        for name, doc in items.items():
            self.console.print(f"{name:<{width}}  {_escape(doc)}", soft_wrap=True)


def _one_line(message: str, evidence: str) -> tuple[str, str]:
    """The first line of `message`; its other lines go before `evidence`."""
    line, _, rest = message.strip().partition("\n")
    return line.strip(), "\n".join(part for part in (rest.strip("\n"), evidence) if part)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
