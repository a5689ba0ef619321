"""`invoke rollback --release v1.2.2`: every kind of target back on one release, verified."""

from __future__ import annotations

from typing import Any

from invoke.collection import Collection

from remediations.cli.options import (
    Common,
    _audit_path,
    _serial,
    _writable,
    fail,
    finish,
    make_task,
    reporter_for,
    required,
    selected_hosts,
)


def rollback(c: Any, opts: Common, release: str = "", maintenance: bool = False,
             auto_revert: bool = True) -> None:
    """Roll the selected targets (symlink or git hosts, compose, Deployments) back to --release.

    Every target is read first: if one lacks the release (or is a git work tree with local
    changes), nothing is touched anywhere.
    Each target is verified by its health check after the switch; with --serial the
    first batch that fails stops the rollback and is put back where it was.
    """
    from remediations.core.errors import RemediationError
    from remediations.core.values import Release
    from remediations.release.rollback import RollbackInterrupted, rollback_hosts
    from remediations.run import state
    from remediations.run.report import EXIT_INTERRUPTED
    from remediations.run.reporters import AuditLog

    reporter = reporter_for(opts)
    required(opts, release, "--release", "v1.2.2")
    try:
        release = Release.parse(release)
        hosts = selected_hosts(opts)
        if opts.max_fail_percentage:
            raise fail(reporter, "rollback stops at the first batch that fails: "
                                 "--max-fail-percentage does not apply")
        # Checked before the run record is written: a run must not act and then fail to audit.
        audit = AuditLog(_writable(_audit_path(opts)))
        ctx = state.start_run(opts.run_id or None, check=opts.check, diff=opts.diff)

        def on_event(event: Any) -> None:
            reporter(event)
            audit(event)

        report = rollback_hosts(hosts, release, run=ctx, serial=_serial(opts.serial),
                                maintenance=maintenance, auto_revert=auto_revert,
                                forks=opts.forks, timeout=opts.timeout, on_event=on_event)
    except RollbackInterrupted as exc:
        raise fail(reporter, str(exc), code=EXIT_INTERRUPTED.get(exc.signal, 130)) from None
    except (RemediationError, ValueError, OSError) as exc:
        raise fail(reporter, str(exc)) from None
    finish(report)


def register(ns: Collection) -> None:
    ns.add_task(make_task(rollback, name="rollback", params=(
        ("release", "", "the release to go back to, e.g. v1.2.2 (a releases/ dir, a git tag "
                        "or commit, an image tag)"),
        ("maintenance", False, "symlink and git hosts: maintenance mode (artisan down/up) "
                               "around the switch"),
        ("auto_revert", True, "put a batch that fails verification back on its release "
                              "(--no-auto-revert leaves it)"),
    )))
