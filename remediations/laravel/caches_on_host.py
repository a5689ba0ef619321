"""The app's caches read, cleared and read back on the host, in one PHP process.

`caches_cleared` sends one `sh` script (`scripts/laravel-caches.sh`) running one PHP
process as the app user (`scripts/laravel-caches.php`): it boots the app once, reads
which caches are present, clears the present ones by the framework's own commands run
in-process (`config:clear`, `route:clear`, ... exactly as `artisan optimize:clear` runs
them), and reads again. The `sh` around it keeps the once-per-run markers of the runtime
caches, which the app user cannot write. Run by the runner, the host's lock goes in the
same round trip: lock, inspect, act, verify and unlock cost one.

The decision is `present_caches` on both sides: the PHP clears what it finds present
(less what this run already cleared), Python plans the same kinds from the facts the PHP
printed, and `results` turns what the host did into the results of the planned steps.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from remediations.connections.base import CommandResult
from remediations.core.result import Step
from remediations.core.scripts import script

FILE_KINDS = ("config", "route", "event")
RUNTIME_KINDS = ("cache", "view")  # markers: `caches_cleared.cache`, `caches_cleared.view`
_PHP = script("laravel-caches.php")
_SH = script("laravel-caches.sh")
_MARK_FAILED = "remediations-mark-failed:"


@dataclass(frozen=True, slots=True)
class Trip:
    """What the script printed: the facts before, what it cleared, the facts after."""

    before: Mapping[str, Any]
    cleared: tuple[str, ...]
    failed: Mapping[str, Any] | None  # {"kind", "exit", "output"} of the clear that failed
    after: Mapping[str, Any] | None  # None in read mode
    skipped: tuple[str, ...]  # kinds this run had already cleared (marked): only read
    fresh: bool  # booted with a fresh configuration (config cached and asked for)


def php_argv(app: str, kinds: Sequence[str], *, act: bool) -> list[str]:
    """`php -r` running the PHP part (the `sh` part appends the skipped kinds)."""
    return ["php", "-r", _PHP, "--", app, "clear" if act else "read", ",".join(kinds)]


def script_argv(php: Sequence[str], *, cache_marker: str, view_marker: str) -> list[str]:
    """The `sh -c` argv: test the markers, run `php` (as the app user), write the markers."""
    return ["sh", "-c", _SH, "_", cache_marker, view_marker, *php]


def parse(res: CommandResult) -> Trip | None:
    """The script's JSON (its last line), or None when it printed none (the app did not boot)."""
    lines = res.stdout.strip().splitlines()
    try:
        data = json.loads(lines[-1]) if lines else None
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("before"), dict):
        return None
    failed, after = data.get("failed"), data.get("after")
    return Trip(before=data["before"], cleared=tuple(data.get("cleared") or ()),
                failed=failed if isinstance(failed, dict) else None,
                after=after if isinstance(after, dict) else None,
                skipped=tuple(data.get("skipped") or ()), fresh=bool(data.get("fresh")))


def present_caches(facts: Mapping[str, Any], kinds: Sequence[str]) -> dict[str, str]:
    """Which of `kinds` exist, each with what was found (the PHP's own rule, `$present`)."""
    found: dict[str, str] = {}
    for kind in kinds:
        value = facts.get(kind)
        if kind in FILE_KINDS:
            if value:
                found[kind] = str(value)
        elif kind == "view":
            if value:
                found[kind] = f"{value} compiled view(s)"
        elif kind == "cache" and kind in facts and value != 0:
            found[kind] = ("store contents unknown" if value is None
                           else f"{value} item(s) in the store")
    return found


def results(steps: Sequence[Step], to_clear: Sequence[str], trip: Trip,
            res: CommandResult) -> list[CommandResult]:
    """The planned steps' results as the host ran them, then the read-back; stops at a failure.

    `steps` are the `artisan KIND:clear` of `to_clear`, in order, then the markers' steps.
    A kind the host did not clear though planned is a failure, never a silent success.
    """
    done: list[CommandResult] = []
    for kind, step in zip(to_clear, steps, strict=False):
        if trip.failed is not None and trip.failed.get("kind") == kind:
            return [*done, CommandResult(step.command, int(trip.failed.get("exit") or 1),
                                         str(trip.failed.get("output") or ""), "")]
        if kind not in trip.cleared:
            return [*done, CommandResult(step.command, 1, "", (
                f"not run on the host, which cleared {', '.join(trip.cleared) or 'nothing'}"))]
        done.append(CommandResult(step.command, 0))
    for step in steps[len(to_clear):]:
        kind = step.argv[-1].rsplit(".", 1)[-1]
        if res.failed and f"{_MARK_FAILED}{kind}" in res.stderr:
            return [*done, CommandResult(step.command, res.exit_code, "", res.tail(5))]
        done.append(CommandResult(step.command, 0))
    if res.failed:  # failed after clearing everything, without saying why
        return [*done, CommandResult(res.command, res.exit_code, res.stdout, res.stderr)]
    return [*done, CommandResult(shlex.join(["laravel-caches", "read-back"]), 0,
                                 json.dumps(trip.after))]
