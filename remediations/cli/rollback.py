"""`invoke rollback --release v1.2.2`: every kind of target back on one release, verified."""

from __future__ import annotations

from typing import Any

from invoke.collection import Collection
from invoke.exceptions import Exit

from remediations.cli.options import (
    Common,
    _audit_path,
    _serial,
    fail,
    make_task,
    reporter_for,
    required,
    selected_hosts,
)


def rollback(c: Any, opts: Common, release: str = "", maintenance: bool = False,
             auto_revert: bool = True) -> None:
    """Roll the selected targets (systemd releases, compose services, Deployments) back to --release.

    Every target is read first: if one lacks the release, nothing is touched anywhere.
    Each target is verified by its health check after the switch; with --serial the
    first batch that fails stops the rollback and is put back where it was.
    """
    from remediations.core.errors import RemediationError
    from remediations.core.values import Release
    from remediations.release.rollback import rollback_hosts
    from remediations.run import state
    from remediations.run.reporters import AuditLog

    reporter = reporter_for(opts)
    required(opts, release, "--release", "v1.2.2")
    try:
        release = Release.parse(release)
        hosts = selected_hosts(opts)
        if opts.max_fail_percentage:
            raise fail(reporter, "rollback stops at the first batch that fails: "
                                 "--max-fail-percentage does not apply")
        ctx = state.start_run(opts.run_id or None, check=opts.check, diff=opts.diff)
        audit = AuditLog(_audit_path(opts))

        def on_event(event: Any) -> None:
            reporter(event)
            audit(event)

        report = rollback_hosts(hosts, release, run=ctx, serial=_serial(opts.serial),
                                maintenance=maintenance, auto_revert=auto_revert,
                                forks=opts.forks, timeout=opts.timeout, on_event=on_event)
    except (RemediationError, ValueError, OSError) as exc:
        raise fail(reporter, str(exc)) from None
    if report.exit_code:
        raise Exit(code=report.exit_code)


def register(ns: Collection) -> None:
    ns.add_task(make_task(rollback, name="rollback", params=(
        ("release", "", "the release to go back to, e.g. v1.2.2 (a releases/ dir, an image tag)"),
        ("maintenance", False, "systemd hosts: maintenance mode (artisan down/up) around the switch"),
        ("auto_revert", True, "put a batch that fails verification back on its release "
                              "(--no-auto-revert leaves it)"),
    )))
