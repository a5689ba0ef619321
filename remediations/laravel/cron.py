"""Cron lines that trigger `artisan schedule:run`: found, paused (commented out) and restored.

Forge's way: `* * * * * cd /var/www/app && php artisan schedule:run >> /dev/null 2>&1` in
the app user's crontab. Pausing comments the line out with a marker naming the run,
`#remediations-paused:<run id>: <the line as it was>`, so resuming restores exactly the
line, and a run can resume only what it paused. User crontabs are replaced through
`crontab -u <user> -` (cron reloads them); files of /etc/cron.d and /etc/crontab are
replaced atomically (a temporary file renamed over them).
"""

from __future__ import annotations

import base64
import posixpath
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from remediations.connections.base import sh
from remediations.core.result import Diff, Step
from remediations.host.files import write_step

PAUSED = "#remediations-paused:"
_PAUSED = re.compile(r"^#remediations-paused:(?P<run>[^:\s]+): (?P<line>.*)$")
_RUNS = re.compile(r"\bartisan['\"]?\s+(['\"]?)schedule:run\1(\s|$|;|&|\|)")
_CD = re.compile(r"\bcd\s+(?P<dir>\S+)\s*(&&|;)")
_ARTISAN = re.compile(r"(?P<path>/\S*)/artisan\b")


@dataclass(frozen=True, slots=True)
class CronLine:
    """A line of a crontab that runs schedule:run, active or paused by remediations."""

    source: str          # "crontab:<user>" or the file's path
    number: int          # 1-based line number
    line: str            # the line as cron runs it (unmarked)
    paused_by: str = ""  # the run id that paused it, "" when active

    @property
    def paused(self) -> bool:
        return bool(self.paused_by)

    @property
    def app_dir(self) -> str:
        """The app the line runs schedule:run for (`cd DIR &&`, or `DIR/artisan`), or ""."""
        return app_dir_of(self.line)


@dataclass(frozen=True, slots=True)
class Crontab:
    """One crontab that holds a schedule:run line: a user's, or a file under /etc."""

    source: str   # "crontab:<user>" or a path
    text: str

    @property
    def user(self) -> str:
        return self.source.removeprefix("crontab:") if self.is_user else ""

    @property
    def is_user(self) -> bool:
        return self.source.startswith("crontab:")

    def lines(self) -> list[CronLine]:
        return list(schedule_lines(self.source, self.text))


def app_dir_of(command: str) -> str:
    """The app directory a schedule:run command line names, normalised; "" when it names none."""
    cd = _CD.search(command)
    if cd:
        return posixpath.normpath(cd.group("dir").strip("'\""))
    artisan = _ARTISAN.search(command)
    return posixpath.normpath(artisan.group("path")) if artisan else ""


def runs_schedule(line: str) -> bool:
    """Whether an uncommented crontab line runs `artisan schedule:run`."""
    text = line.strip()
    return bool(text) and not text.startswith("#") and bool(_RUNS.search(text))


def schedule_lines(source: str, text: str) -> Iterable[CronLine]:
    """The schedule:run lines of a crontab, active and paused ones."""
    for number, raw in enumerate(text.splitlines(), 1):
        marked = _PAUSED.match(raw)
        if marked and runs_schedule(marked.group("line")):
            yield CronLine(source, number, marked.group("line"), marked.group("run"))
        elif runs_schedule(raw):
            yield CronLine(source, number, raw)


def same_app(found: str, app: str) -> bool:
    """Whether a trigger naming `found` runs the app at `app` (one naming none counts as it)."""
    return not found or not app or found.rstrip("/") == app.rstrip("/")


def plan_cron_paused(tabs: Sequence[Crontab], run_id: str,
                     app: str) -> tuple[list[Step], list[tuple[Crontab, str]]]:
    """Steps commenting out the app's active schedule:run lines, and each crontab's new text."""
    steps: list[Step] = []
    changes: list[tuple[Crontab, str]] = []
    for tab in tabs:
        pick = [line.number for line in tab.lines() if not line.paused and same_app(line.app_dir, app)]
        if pick:
            new = paused_text(tab.text, run_id, pick)
            steps.append(replace_step(tab, new, f"comment out {len(pick)} schedule:run line(s)"))
            changes.append((tab, new))
    return steps, changes


def plan_cron_resumed(tabs: Sequence[Crontab], app: str, *,
                      only_run: str = "") -> tuple[list[Step], list[tuple[Crontab, str]]]:
    """Steps restoring the app's paused schedule:run lines (only `only_run`'s, when given)."""
    steps: list[Step] = []
    changes: list[tuple[Crontab, str]] = []
    for tab in tabs:
        pick = [line.number for line in tab.lines() if line.paused and same_app(line.app_dir, app)
                and (not only_run or line.paused_by == only_run)]
        if pick:
            new = restored_text(tab.text, pick)
            steps.append(replace_step(tab, new, f"restore {len(pick)} schedule:run line(s)"))
            changes.append((tab, new))
    return steps, changes


def decode(b64: str) -> str:
    return base64.b64decode(b64.encode()).decode("utf-8", "replace") if b64 else ""


def paused_text(text: str, run_id: str, pick: Iterable[int]) -> str:
    """`text` with the lines numbered in `pick` commented out, marked with `run_id`."""
    chosen = set(pick)
    out = [f"{PAUSED}{run_id}: {raw}" if n in chosen else raw
           for n, raw in enumerate(text.splitlines(), 1)]
    return _joined(out, text)


def restored_text(text: str, pick: Iterable[int]) -> str:
    """`text` with the paused lines numbered in `pick` restored exactly."""
    chosen = set(pick)
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        marked = _PAUSED.match(raw)
        out.append(marked.group("line") if marked and n in chosen else raw)
    return _joined(out, text)


def _joined(lines: list[str], like: str) -> str:
    return "\n".join(lines) + ("\n" if like.endswith("\n") or not like else "")


def replace_step(tab: Crontab, text: str, why: str) -> Step:
    """The step that installs `text` as `tab`: `crontab -u U -` or an atomic file write."""
    if tab.is_user:
        encoded = base64.b64encode(text.encode()).decode()
        return Step(sh("printf %%s %s | base64 -d | crontab -u %s -", encoded, tab.user),
                    f"{why} (crontab -u {tab.user})")
    return Step(write_step(tab.source, text, mode="0644", owner="root:root").argv,
                f"{why} ({tab.source})")


def diff_of(changes: list[tuple[Crontab, str]]) -> Diff | None:
    """Each changed crontab's text before and after, headed by its source."""
    if not changes:
        return None
    before = "\n".join(f"# {tab.source}\n{tab.text.rstrip()}" for tab, _ in changes)
    after = "\n".join(f"# {tab.source}\n{new.rstrip()}" for tab, new in changes)
    return Diff(before, after)


def describe(line: CronLine) -> str:
    where = f"crontab of {line.source.removeprefix('crontab:')}" if line.source.startswith(
        "crontab:") else line.source
    return f"cron line {line.number} of {where}: {shlex.quote(line.line)[:120]}"
