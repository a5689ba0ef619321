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

from remediations.core.result import Result, Status
from remediations.core.runs import who
from remediations.run import triage_table
from remediations.run.report import Event, Report
from remediations.run.state import append_jsonl

_STYLE = {Status.OK: "green", Status.CHANGED: "yellow", Status.FAILED: "bold red",
          Status.SKIPPED: "cyan", Status.UNREACHABLE: "bold magenta",
          Status.UNKNOWN: "bold yellow"}
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
        if event.kind == "interrupted":
            append_jsonl(self.path, {
                "time": event.time.isoformat(), "who": self.who, "run_id": event.run_id,
                "event": "interrupted", "remediation": event.remediation,
                "message": event.message, "in_flight": list(event.hosts), "check": event.check,
            })
            return
        if event.kind != "host_finished" or event.result is None:
            return
        r = event.result
        append_jsonl(self.path, {
            "time": event.time.isoformat(), "who": self.who, "run_id": event.run_id,
            "host": r.host, "remediation": r.remediation, "status": r.status.value,
            "message": r.message, "commands": list(r.commands), "check": r.check,
            "duration": round(r.duration, 3),
        })


class TextReporter:
    """Progress while hosts run (stderr), then a summary table and the evidence (stdout).

    Plain text, for logs and pipes: nothing is imported for it. `RichReporter` draws
    the same lines with colour, a progress bar and a boxed table on a terminal.
    """

    def __init__(self, *, show_diff: bool = False, out: IO[str] | None = None,
                 err: IO[str] | None = None) -> None:
        self.show_diff = show_diff
        self._out = out or sys.stdout
        self._err = err or sys.stderr

    def __call__(self, event: Event) -> None:
        handler = getattr(self, f"_on_{event.kind}", None)
        if handler is not None:
            handler(event)

    # How lines reach the streams; RichReporter styles them.
    def say(self, text: str, style: str = "") -> str:
        return text

    def esc(self, text: str) -> str:
        return text

    def out(self, line: str) -> None:
        self._out.write(line + "\n")
        self._out.flush()

    def err(self, line: str) -> None:
        self._err.write(line + "\n")
        self._err.flush()

    def _on_run_started(self, event: Event) -> None:
        mode = self.say(" (check mode: nothing is changed)", "cyan") if event.check else ""
        self.err(f"{self.say(event.remediation, 'bold')} on {len(event.hosts)} host(s), "
                 f"run {event.run_id}{mode}")

    def _on_host_finished(self, event: Event) -> None:
        self.err(self.host_line(event))

    def _on_interrupted(self, event: Event) -> None:
        self.err(self.say(f"interrupted: {event.message}", "bold yellow"))

    def host_line(self, event: Event) -> str:
        r = event.result
        assert r is not None
        return (f"  {self.say(f'{r.status.value:<11}', _STYLE[r.status])} {self.esc(f'{r.host:<20}')} "
                f"{self.esc(r.message)} {self.say(f'({r.duration:.1f}s)', 'dim')}")

    def _on_run_finished(self, event: Event) -> None:
        assert event.report is not None
        self.summary(event.report)

    def summary(self, report: Report) -> None:
        if triage_table.is_triage(report):
            self.triage(report)
        else:
            self.table(report)
            for r in report:
                self._details(r)
        counts = " ".join(f"{k}={v}" for k, v in report.counts().items() if v)
        stopped = f", interrupted by {report.interrupted}" if report.interrupted else ""
        self.out(f"{self.say(counts or 'no hosts', 'bold')} in {report.duration:.1f}s "
                 f"(exit {report.exit_code}{stopped})")
        if report.unknown:
            self.out(self.say(f"state unknown on {', '.join(r.host for r in report.unknown)}: "
                              "the next run there reads back what happened", "bold yellow"))

    def table(self, report: Report) -> None:
        rows = [("host", "remediation", "status", "message", "time")]
        rows += [(r.host, r.remediation, r.status.value, " ".join(r.message.split()),
                  f"{r.duration:.1f}s") for r in report]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        self.out(f"{report.remediation} · run {report.run_id}"
                 + (" · check mode" if report.check else ""))
        for row in rows:
            self.out("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False))
                     + "  " + row[4].rjust(5))

    def triage(self, report: Report) -> None:
        """A triage run: per host what looks wrong (critical, then warning), else all is well."""
        rows = [triage_table.COLUMNS, *triage_table.rows(report)]
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        self.out(f"triage · run {report.run_id}")
        for row in rows:
            self.out("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False))
                     + "  " + row[3])
        self._triage_footer(report)

    def _triage_footer(self, report: Report) -> None:
        self.out(self.say(triage_table.footer(report), "bold"))
        where = triage_table.saved_to(report)
        if where:
            self.out(f"snapshots saved to {self.esc(where)}/ (one JSON per host, summary.txt)")

    def _details(self, r: Result) -> None:
        for step in r.data.get("steps", ()):
            status = Status(step["status"])
            self.out(f"{self.say(r.host, 'bold')} {r.remediation} · {step['remediation']}: "
                     f"{self.say(status.value, _STYLE[status])} {self.esc(step['message'])}")
        if r.check and r.commands and r.changed:
            self.out(f"{self.say(r.host, 'bold')} would run:")
            for c in r.commands:
                self.out(f"    {self.esc(c)}")
        if self.show_diff and r.diff is not None and (r.changed or r.check):
            self.out(f"{self.say(r.host, 'bold')} diff:")
            self.out(self.esc(r.diff.unified(r.data.get("unit", r.remediation))))
        if r.status is Status.UNKNOWN and r.commands:
            self.out(f"{self.say(r.host, 'bold yellow')} sent (it may still be running there):")
            for c in r.commands[-3:]:
                self.out(f"    {self.esc(' '.join(c.split())[:300])}")
        if r.failed and r.evidence:
            tail = "\n".join(r.evidence.rstrip().splitlines()[-_EVIDENCE_LINES:])
            self.out(f"{self.say(r.host, 'bold red')} evidence:\n{self.esc(tail)}")

    def error(self, message: str, *, evidence: str = "", **extra: Any) -> None:
        """`error: <one line>` on stderr, then the evidence indented; extra fields are for machines."""
        line, evidence = _one_line(message, evidence)
        self.err(f"{self.say('error:', 'bold red')} {self.esc(line)}")
        if evidence:
            tail = evidence.rstrip().splitlines()[-_EVIDENCE_LINES:]
            self.err("\n".join(f"  {self.esc(t)}" for t in tail))

    def listing(self, kind: str, items: dict[str, str]) -> None:
        """What a task offers (e.g. the runbooks): one name and description a line."""
        width = max((len(n) for n in items), default=0)
        for name, doc in items.items():
            self.out(f"{name:<{width}}  {self.esc(doc)}")


class RichReporter(TextReporter):
    """The same report on a terminal: colour, a progress bar while hosts run, a boxed table."""

    def __init__(self, *, show_diff: bool = False, out: IO[str] | None = None,
                 err: IO[str] | None = None) -> None:
        from rich.console import Console

        super().__init__(show_diff=show_diff, out=out, err=err)
        self.console = Console(file=out or sys.stdout, highlight=False, soft_wrap=False)
        self.err_console = Console(file=err or sys.stderr, highlight=False)
        for console in (self.console, self.err_console):
            if not console.is_terminal:
                console.width = max(console.width, _PIPE_WIDTH)  # logs and CI: do not wrap at 80
        self._progress: Any = None
        self._task: Any = None

    def say(self, text: str, style: str = "") -> str:
        return f"[{style}]{self.esc(text)}[/]" if style else self.esc(text)

    def esc(self, text: str) -> str:
        from rich.markup import escape

        return escape(text)

    def out(self, line: str) -> None:
        self.console.print(line, soft_wrap=True)

    def err(self, line: str) -> None:
        if self._progress is not None:
            self._progress.console.print(line)
        else:
            self.err_console.print(line, soft_wrap=True)

    def _on_run_started(self, event: Event) -> None:
        super()._on_run_started(event)
        if self.err_console.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                      MofNCompleteColumn(), TimeElapsedColumn(),
                                      console=self.err_console, transient=True)
            self._task = self._progress.add_task(event.remediation, total=len(event.hosts))
            self._progress.start()

    def _on_host_finished(self, event: Event) -> None:
        super()._on_host_finished(event)
        if self._progress is not None:
            self._progress.advance(self._task)

    def _on_run_finished(self, event: Event) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        super()._on_run_finished(event)

    def table(self, report: Report) -> None:
        from rich.table import Table

        title = f"{report.remediation} · run {report.run_id}" + (" · check mode" if report.check else "")
        table = Table(title=title, title_justify="left", expand=False)
        for col in ("host", "remediation", "status", "message", "time"):
            table.add_column(col, justify="right" if col == "time" else "left",
                             overflow="fold", no_wrap=col in ("host", "status", "time"))
        for r in report:
            table.add_row(self.esc(r.host), r.remediation, self.say(r.status.value, _STYLE[r.status]),
                          self.esc(r.message), f"{r.duration:.1f}s")
        self.console.print(table)


    def triage(self, report: Report) -> None:
        from rich.table import Table

        table = Table(title=f"triage · run {report.run_id}", title_justify="left", expand=False)
        for col in triage_table.COLUMNS:
            table.add_column(col, overflow="fold", no_wrap=col in ("host", "severity"))
        for host, severity, what, detail in triage_table.rows(report):
            style = triage_table.STYLE.get(severity, "")
            table.add_row(self.esc(host), self.say(severity, style), self.esc(what),
                          self.esc(detail))
        self.console.print(table)
        self._triage_footer(report)


def _one_line(message: str, evidence: str) -> tuple[str, str]:
    """The first line of `message`; its other lines go before `evidence`."""
    line, _, rest = message.strip().partition("\n")
    return line.strip(), "\n".join(part for part in (rest.strip("\n"), evidence) if part)
