"""Invoke tasks for disk space, logs, evidence and the database check (registered by `build_namespace`)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from invoke.collection import Collection

from remediations.cli.options import (
    Common,
    fail,
    make_task,
    reporter_for,
    required,
    run_remediation,
    selected_hosts,
    validated,
)
from remediations.cli.values import Range, Text


def _inside_every_hosts_roots(opts: Common, path: str, roots: Callable[[Any], tuple[str, ...]],
                              what: str) -> None:
    """Refuse `path` unless it lies inside the allowed roots of every selected host.

    The run takes a lock on each host before the remediation starts, so this is
    checked here, from the inventory alone, before any host is touched. Inventory
    errors are left to `run_remediation`, which reports them the usual way.
    """
    from remediations.core.errors import InvalidInput, RemediationError
    from remediations.host.disk import path_in_roots
    try:
        hosts = selected_hosts(opts)  # no inventory at all: one error line, and Exit
    except (RemediationError, ValueError, OSError):
        return
    for host in hosts:
        try:
            path_in_roots(path, roots(host), what)
        except InvalidInput as exc:
            raise fail(reporter_for(opts), f"{host.name}: {exc}") from None


def disk_usage(c: Any, opts: Common, path: str = "/", max_percent: float = 0.0) -> None:
    """Show how full the file system holding --path is; fail above --max-percent."""
    from remediations.host import disk

    where = validated(opts, disk.absolute_path, path)
    fn = functools.partial(disk.disk_usage, path=where, max_percent=max_percent or None)
    run_remediation(opts, fn, name="disk_usage", lock=False)


def truncate_log(c: Any, opts: Common, path: str = "", keep_lines: int = 1000,
                 min_size_mb: float = 0.0) -> None:
    """Keep only the last --keep-lines lines of a log, in place (writers keep writing to it)."""
    from remediations.host import disk

    required(opts, path, "--path", "/srv/app/current/storage/logs/laravel.log")
    where = validated(opts, disk.absolute_path, path)
    _inside_every_hosts_roots(opts, where, disk.log_roots, "path")
    from remediations.host.logs import log_truncated

    fn = functools.partial(log_truncated, path=where, keep_lines=keep_lines,
                           min_size=int(min_size_mb * 1024 * 1024) if min_size_mb else None)
    run_remediation(opts, fn, name="log_truncated",
                    confirm=("truncate-log drops all but the last --keep-lines lines of the log",
                             "see what it would run"))


def remove_old_files(c: Any, opts: Common, root: str = "", days: int = -1, pattern: str = "*",
                     keep_last: int = 0) -> None:
    """Remove files under --root older than --days days (find -mtime +DAYS), keeping the newest --keep-last."""
    from remediations.host import disk

    required(opts, root, "--root", "/srv/app/shared/storage/backups")
    if days < 0:
        raise fail(reporter_for(opts), "--days is required, e.g. --days 7")
    where = validated(opts, disk.absolute_path, root, "root")
    validated(opts, disk.glob_pattern, pattern)
    validated(opts, disk.whole_number, keep_last, "--keep-last")
    _inside_every_hosts_roots(opts, where, disk.cleanup_roots, "root")
    fn = functools.partial(disk.old_files_removed, root=where, days=days, pattern=pattern,
                           keep_last=keep_last)
    run_remediation(opts, fn, name="old_files_removed",
                    confirm=("remove-old-files deletes files", "list the files it would remove"))


def large_logs(c: Any, opts: Common, root: str = "/var/log", min_size_mb: float = 100.0) -> None:
    """List the files under --root bigger than --min-size-mb MiB, biggest first."""
    from remediations.host import disk

    where = validated(opts, disk.absolute_path, root, "root")
    fn = functools.partial(disk.large_logs, root=where, min_size_mb=min_size_mb)
    run_remediation(opts, fn, name="large_logs", lock=False)


def preserve_evidence(c: Any, opts: Common, paths: str = "", fetch_to: str = "",
                      archive_dir: str = "") -> None:
    """Archive the logs and the last hour of journal on each host, once per run; --fetch-to copies it here."""
    from remediations.host import disk, evidence

    wanted = [p.strip() for p in paths.split(",") if p.strip()] if paths else None
    for p in wanted or ():
        validated(opts, disk.absolute_path, p)
    directory = archive_dir or evidence.ARCHIVE_DIR
    validated(opts, disk.absolute_path, directory, "archive_dir")
    fn = functools.partial(evidence.evidence_preserved, paths=wanted, archive_dir=directory,
                           fetch_to=fetch_to or None)
    run_remediation(opts, fn, name="evidence_preserved")


def db_check(c: Any, opts: Common, database: str = "") -> None:
    """Check that the Laravel app reaches its database (artisan migrate:status; --database: that connection)."""
    from remediations.host.health import connection_name, database_reachable

    which = validated(opts, connection_name, database) if database else None
    fn = functools.partial(database_reachable, connection=which)
    run_remediation(opts, fn, name="database_reachable", lock=False)


# A size in MiB: up to 2**62 bytes, `remediations.host.disk.MAX_BYTES`.
_MIB = Range(0, 2**42)


def register(ns: Collection) -> None:
    """Add this area's tasks to `ns`."""
    ns.add_task(make_task(disk_usage, name="disk-usage", params=(
        ("path", "/", "a path on the file system to measure"),
        ("max_percent", 0.0, "fail when more than this percentage is used, e.g. 80",
         Range(0, 100, low_open=True, unset=0.0)),
    )))
    ns.add_task(make_task(truncate_log, name="truncate-log", params=(
        ("path", "", "the log, inside the allowed log roots (inventory log_roots)"),
        ("keep_lines", 1000, "lines to keep at the end of the log", Range(1, 10**8)),
        ("min_size_mb", 0.0, "leave the log alone when it is smaller than this (MiB)", _MIB),
    ), yes="confirm dropping the log's older lines (not needed with --check)"))
    ns.add_task(make_task(remove_old_files, name="remove-old-files", params=(
        ("root", "", "folder inside the allowed cleanup roots (inventory cleanup_roots)"),
        ("days", -1, "remove files modified more than this many days ago (find -mtime +DAYS)",
         Range(0, 36_500, unset=-1)),
        ("pattern", "*", "file-name glob, e.g. '*.sql.gz'"),
        ("keep_last", 0, "always keep this many of the newest matching files",
         Range(0, 10**6)),
    ), yes="confirm deleting the files (not needed with --check)"))
    ns.add_task(make_task(large_logs, name="large-logs", params=(
        ("root", "/var/log", "folder to search"),
        ("min_size_mb", 100.0, "list files bigger than this (MiB)", _MIB),
    )))
    ns.add_task(make_task(preserve_evidence, name="preserve-evidence", params=(
        ("paths", "", "comma-separated files (default: laravel.log, nginx and php-fpm logs)"),
        ("fetch_to", "", "also copy the archive to this directory here, checking its sha256",
         Text(path=True)),
        ("archive_dir", "", "where the archive goes on the host (default "
                            "/var/lib/remediations/incidents)"),
    )))
    ns.add_task(make_task(db_check, name="db-check", params=(
        ("database", "", "the Laravel connection to check (artisan --database), e.g. mysql; "
                         "default: the app's default connection"),
    )))
