"""What every kind of release switch on a host shares: named actions, markers, the failure file.

A switch is a list of named actions (`down`, `switch`, `config:cache`, `queue:restart`,
`up`, `record` ...). They run in `sh -c` scripts built here, each action through
`h NAME ARGV...` (the script `release-hook.sh`), its once-per-run marker written right
after it succeeded, keyed by release and action (`release-<release>-<action>` in the run's
marker folder). A run cut off halfway and run again with the same run id reads the markers
and finishes what is left. When an action fails, its name and output are in the run's
failure file, which `failure_report` reads back.

Kind-neutral on purpose: the symlink kind (`remediations.release.symlink`) and the git
kind (`remediations.release.git`) build their switches from these pieces.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Mapping, Sequence

from remediations.core.errors import InvalidInput
from remediations.core.scripts import script
from remediations.host.files import read_text
from remediations.run import markers
from remediations.run.target import RunContext, Target

__all__ = [
    "FAILED_KEY",
    "action_line",
    "action_script",
    "checked_reason",
    "done_actions",
    "failure_report",
    "hooks_table",
    "marker_key",
    "marker_name",
    "readable",
]

FAILED_KEY = "release-failed"
REASON_MAX = 500
CACHE_HOOKS = ("config:cache", "route:cache", "view:cache")  # in the release, as the app user
# Runs one named action of a script: its output on stdout; when it fails, its output on
# stderr and in the run's failure file ($F, first line the action), then the script stops.
_HOOK = script("release-hook.sh")


def marker_key(release: str, action: str) -> str:
    """The marker key of `action` in a switch to `release` (`release-v1.2.2-config-cache`)."""
    return f"release-{release}-{action.replace(':', '-')}"


def marker_name(run: RunContext, release: str, action: str) -> str:
    """The file name of `action`'s marker for `release` in this run."""
    return posixpath.basename(markers.path(run, marker_key(release, action)))


def done_actions(found: Mapping[str, str], run: RunContext, release: str,
                 names: Sequence[str]) -> dict[str, str]:
    """The actions of `names` this run did for `release` (marker found), with its content."""
    seen = {a: found.get(marker_name(run, release, a)) for a in names}
    return {a: v for a, v in seen.items() if v is not None}


def action_script(t: Target, lines: Sequence[str], *, clear: str = "") -> list[str]:
    """`sh -c` running `lines` once `h` is defined; `clear`: a marker prefix to remove first.

    The failure file of an earlier attempt is removed, so what it holds is this script's.
    """
    fail = markers.path(t.run, FAILED_KEY)
    run_dir = posixpath.dirname(fail)
    rm = f"rm -f -- {shlex.quote(fail)}"
    if clear:  # the markers of an earlier switch to this release in this run, undone since
        rm += f" {shlex.quote(markers.path(t.run, clear + '_')[:-1])}*"
    head = [f"set -e; F={shlex.quote(fail)}", _HOOK, f"mkdir -p {shlex.quote(run_dir)}", rm]
    return ["sh", "-c", "; ".join([*head, *lines])]


def action_line(t: Target, release: str, action: str, argv: Sequence[str],
                content: str = "") -> str:
    """One line of an action script: `h ACTION ARGV...`, then its marker (holding `content`)."""
    mark = shlex.quote(markers.path(t.run, marker_key(release, action)))
    record = f'printf "%s\\n" {shlex.quote(content)} > {mark}' if content else f": > {mark}"
    return f"{shlex.join(['h', action, *argv])}; {record}"


def failure_report(t: Target) -> tuple[str, str]:
    """The action named in this run's failure file, and what it printed ("" when none)."""
    report = read_text(t.conn, markers.path(t.run, FAILED_KEY)) or ""
    first, _, output = report.partition("\n")
    return first.strip(), output.strip()


def hooks_table(names: Sequence[str], done: Sequence[str], failed: str | None = None,
                fresh: Sequence[str] = ()) -> dict[str, str]:
    """Each action of a switch: `done`, `fresh` (a cache with nothing to rebuild, not run),
    `failed` or `not run`."""
    return {a: "fresh" if a in fresh and a in done else "done" if a in done
            else "failed" if a == failed else "not run" for a in names}


def readable(body: str, limit: int = 600) -> str:
    """An HTTP body as short text: an HTML error page becomes its words ("500 Server Error")."""
    if "<" in body and ">" in body:
        body = re.sub(r"(?is)<(style|script)\b.*?</\1>|<[^>]+>", " ", body)
    return " ".join(body.split())[:limit]


def checked_reason(value: object) -> str:
    """A switch's reason, recorded in the history: one line of 1-500 characters."""
    if not isinstance(value, str) or not value.strip() or len(value) > REASON_MAX \
            or any(ord(c) < 32 for c in value):
        raise InvalidInput(f"reason must be one line of 1-{REASON_MAX} characters: {value!r}")
    return value.strip()


def switch_words(t: Target, release: str, *, fresh: bool, todo: Sequence[str],
                 done: Sequence[str], verb: tuple[str, str], moved: str) -> tuple[str, str]:
    """What a switch will do and did, for its result: `verb` ("switch", "switched") of
    `moved`, or the resumption of this run's switch to `release` (what is left, what was done)."""
    if fresh:
        return f"{verb[0]} {moved}", f"{verb[1]} {moved}"
    rest = (f"the switch to {release} of run {t.run.run_id}: {', '.join(todo)} "
            f"(done before: {', '.join(done)})")
    return f"resume {rest}", f"resumed {rest}"

