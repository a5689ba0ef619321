"""The options every remediation task shares, and the one function that runs a task.

Tasks get a generated signature (their own arguments first, then these), so
Invoke's short flags come out the same everywhere: -i -l -c -d -j -r -f.
Heavy modules are imported inside functions to keep `--list` and `--help` fast.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from invoke.exceptions import Exit
from invoke.tasks import Task

Param = tuple[str, Any, str]  # name, default, help

COMMON: tuple[Param, ...] = (
    ("inventory", "", "inventory file(s), comma-separated (default: $REMEDIATIONS_INVENTORY)"),
    ("limit", "", "Ansible-style host pattern, e.g. 'web:&prod:!web3' (default: all)"),
    ("check", False, "report what would change, with the exact commands; touch nothing"),
    ("diff", False, "show the state before and after"),
    ("json", False, "one JSON object per event on stdout, for machines"),
    ("run_id", "", "run id; re-using one resumes it (restarts done by it are not repeated)"),
    ("forks", 5, "hosts worked on at once"),
    ("serial", "", "batch size: N, N%, or a list '1,50%' (the last size repeats)"),
    ("max_fail_percentage", "", "stop after a batch whose failures exceed this percentage"),
    ("timeout", 300.0, "seconds each host may take, connection and verification included"),
    ("connection", "", "override every host's connection: ssh, docker, local or kubernetes"),
    ("audit_log", "", ("append-only JSON lines audit log (default: $REMEDIATIONS_AUDIT_LOG "
                       "or ~/.local/state/remediations/audit.jsonl)")),
)


# The short flags of the shared options; task options never take these letters.
SHORT = {"inventory": "i", "limit": "l", "check": "c", "diff": "d", "json": "j", "run_id": "r",
         "forks": "f"}


class _Task(Task):  # type: ignore[type-arg]
    """A Task whose shared options keep the same short flags in every task."""

    def arg_opts(self, name: str, default: Any, taken_names: set[str]) -> dict[str, Any]:
        if name in _COMMON_NAMES:
            opts: dict[str, Any] = super().arg_opts(name, default, set(SHORT.values()))
            long = opts["names"][0]
            opts["names"] = [long, SHORT[name]] if name in SHORT else [long]
            return opts
        return super().arg_opts(name, default, taken_names | set(SHORT.values()))


_COMMON_NAMES = frozenset(p[0] for p in COMMON)


@dataclass(frozen=True, slots=True)
class Common:
    inventory: str
    limit: str
    check: bool
    diff: bool
    json: bool
    run_id: str
    forks: int
    serial: str
    max_fail_percentage: str
    timeout: float
    connection: str
    audit_log: str


def make_task(body: Callable[..., None], *, name: str, params: tuple[Param, ...] = (),
              common: bool = True, positional: tuple[str, ...] = ()) -> Task:  # type: ignore[type-arg]
    """An Invoke task calling `body(ctx, common, **own_args)`, with a generated signature."""
    own = [p[0] for p in params]
    every = params + (COMMON if common else ())

    def task_body(ctx: Any, **kwargs: Any) -> None:
        shared = Common(**{p[0]: kwargs.pop(p[0]) for p in COMMON}) if common else None
        body(ctx, shared, **{k: kwargs[k] for k in own})

    sig = [inspect.Parameter("c", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    sig += [inspect.Parameter(p[0], inspect.Parameter.KEYWORD_ONLY, default=p[1]) for p in every]
    task_body.__signature__ = inspect.Signature(sig)  # type: ignore[attr-defined]
    task_body.__doc__ = body.__doc__
    task_body.__name__ = name
    return _Task(task_body, name=name, help={p[0]: p[2] for p in every},
                 positional=list(positional))


def reporter_for(opts: Common) -> Any:
    from remediations.reporters import JsonReporter, RichReporter

    return JsonReporter() if opts.json else RichReporter(show_diff=opts.diff)


def fail(reporter: Any, message: str, code: int = 1) -> Exit:
    reporter.error(message)
    return Exit(code=code)


def validated(opts: Common, check: Callable[..., Any], *values: Any) -> Any:
    """`check(*values)`, or exit 1 with its message: input is checked before any host is touched."""
    from remediations.errors import InvalidInput

    try:
        return check(*values)
    except InvalidInput as exc:
        raise fail(reporter_for(opts), str(exc)) from None


def required(opts: Common, value: Any, flag: str, example: str) -> None:
    """Exit 1 naming `flag` when it was not given."""
    if value in ("", None):
        raise fail(reporter_for(opts), f"{flag} is required, e.g. {flag} {example}")


def run_remediation(opts: Common, remediation: Callable[..., Any], *, name: str,
                    lock: bool = True) -> Any:
    """Load the inventory, select hosts, run, render; exits non-zero as documented."""
    from remediations import state
    from remediations.errors import RemediationError
    from remediations.inventory import load_inventory
    from remediations.reporters import AuditLog
    from remediations.runner import RunOptions, run

    reporter = reporter_for(opts)
    try:
        paths = opts.inventory or os.environ.get("REMEDIATIONS_INVENTORY", "")
        if not paths:
            raise fail(reporter, "no inventory: pass -i FILE or set REMEDIATIONS_INVENTORY")
        inventory = load_inventory([p for p in paths.split(",") if p])
        if opts.connection:
            inventory = inventory.with_connection(opts.connection)
        hosts = inventory.select(opts.limit or None)
        options = RunOptions(
            forks=opts.forks, serial=_serial(opts.serial), timeout=opts.timeout, lock=lock,
            max_fail_percentage=float(opts.max_fail_percentage) if opts.max_fail_percentage else None,
        )
        ctx = state.start_run(opts.run_id or None, check=opts.check, diff=opts.diff)
    except (RemediationError, ValueError, OSError) as exc:
        raise fail(reporter, str(exc)) from None
    audit = AuditLog(_audit_path(opts))

    def on_event(event: Any) -> None:
        reporter(event)
        audit(event)

    report = run(remediation, hosts, run=ctx, options=options, name=name, on_event=on_event)
    if report.exit_code:
        raise Exit(code=report.exit_code)
    return report


def _serial(text: str) -> Any:
    if not text:
        return None
    parts = [p.strip() for p in text.split(",") if p.strip()]
    return parts[0] if len(parts) == 1 else parts


def _audit_path(opts: Common) -> Any:
    from pathlib import Path

    from remediations.state import default_audit_log

    return Path(opts.audit_log) if opts.audit_log else default_audit_log()
