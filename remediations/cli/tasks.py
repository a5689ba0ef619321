"""The remediation tasks: thin wrappers that validate, pick hosts, run and render."""

from __future__ import annotations

import functools
import re
from typing import Any

from invoke.collection import Collection

from remediations.cli.options import (
    Common,
    fail,
    make_task,
    reporter_for,
    run_remediation,
    validated,
)
from remediations.cli.values import Range, Text, shown


def restart(c: Any, opts: Common, service: str = "", start_only: bool = False,
            allow_database_restart: bool = False) -> None:
    """Restart a systemd service once per run, verified active with a new MainPID."""
    from remediations.host.systemd import is_database, restart_allowed, service_running

    if not service:
        raise fail(reporter_for(opts), "--service is required, e.g. --service nginx")
    allowed = allow_database_restart or start_only
    unit = validated(opts, functools.partial(restart_allowed, allow_database_restart=allowed),
                      service)
    fn = functools.partial(service_running, unit=unit, restart=not start_only,
                           allow_database_restart=allow_database_restart)
    confirm = ((f"restarting {unit} drops every database connection", "see what it would run")
               if allow_database_restart and not start_only and is_database(unit) else None)
    run_remediation(opts, fn, name="service_running" if start_only else "service_restarted",
                    confirm=confirm)


def health(c: Any, opts: Common, url: str = "", field: str = "", value: str = "",
           from_host: bool = False, retries: int = 0, paths: str = "") -> None:
    """Check each host's health URL (inventory `health_url`, or --url): 200/204 expected."""
    from remediations.core import validate
    from remediations.host.health import HEALTH_PATHS, health_path, http_ok

    if url:
        validated(opts, validate.http_url, url)
    if field and not _JSON_FIELD.fullmatch(field):
        raise fail(reporter_for(opts), f"--field must be a dotted JSON field such as status or "
                                       f"checks.db.status, got {shown(field)}")
    wanted = None
    if paths:
        given = [p.strip() for p in paths.split(",") if p.strip()]
        wanted = HEALTH_PATHS if given == ["all"] else tuple(validated(opts, health_path, p)
                                                              for p in given)
    fn = functools.partial(http_ok, url=url or None, json_field=field or None,
                           json_value=value or None, from_host=from_host, retries=retries,
                           paths=wanted)
    run_remediation(opts, fn, name="http_ok", lock=False)


# Names of letters, digits, '_' and '-' (any alphabet), joined by dots: no empty one.
_JSON_FIELD = re.compile(r"[\w-]{1,128}(\.[\w-]{1,128}){0,31}")


def runbook(c: Any, opts: Common, name: str | None = None, ip: str = "", keep_lines: int = 1000,
            max_percent: float = 80.0, backup_days: int = -1,
            allow_database_restart: bool = False, stop_queries_older_than: float = 0.0) -> None:
    """Run a seed runbook (app-unresponsive, queue-backlog, disk-full, ...); verifies its end state."""
    from remediations.core import validate
    from remediations.runbooks import catalogue as runbooks

    if name == "--list":
        reporter_for(opts).listing("runbooks", runbooks.describe())
        return
    if not name:
        raise fail(reporter_for(opts), "name a runbook; `runbook --list` lists them")
    fn = validated(opts, runbooks.runbook, name)
    kwargs: dict[str, Any] = {}
    address = validated(opts, validate.ip_or_cidr, ip) if ip else ""  # checked even if unused
    if name in runbooks.NEEDS_IP:
        if not address:
            raise fail(reporter_for(opts), f"runbook {name} needs --ip ADDRESS")
        kwargs["ip"] = address
    if name == "disk-full":
        kwargs.update(keep_lines=keep_lines, max_percent=max_percent)
        if backup_days >= 0:
            kwargs["backup_days"] = backup_days
    if name == "db-connection":
        kwargs["allow_database_restart"] = allow_database_restart
    stops = name in runbooks.STOPS_QUERIES and stop_queries_older_than > 0
    if stops:
        kwargs["stop_queries_older_than"] = stop_queries_older_than
    run_remediation(opts, functools.partial(fn, **kwargs), name=name,
                    confirm=_runbook_confirm(name, allow_database_restart, stops))


def _runbook_confirm(name: str, allow_database_restart: bool,
                     stops_queries: bool = False) -> tuple[str, str] | None:
    if stops_queries:
        return (f"runbook {name} --stop-queries-older-than cancels the database's long queries",
                "see which queries it would cancel")
    if name == "disk-full":
        return ("runbook disk-full truncates laravel.log and can remove old backups",
                "see what it would remove")
    if name == "db-connection" and allow_database_restart:
        return ("runbook db-connection --allow-database-restart can restart the database",
                "see what it would run")
    return None


def build_namespace() -> Collection:
    from remediations.cli import (
        disk,
        docker,
        kubernetes,
        laravel,
        locks,
        rollback,
        services,
        triage,
        workers,
    )
    from remediations.cli.database import register as register_database
    from remediations.cli.horizon import register as register_horizon
    from remediations.cli.ratelimits import register as register_ratelimits
    from remediations.cli.smoke import register as register_smoke

    ns = Collection()
    ns.add_task(make_task(restart, name="restart", params=(
        ("service", "", "systemd unit to restart, e.g. nginx or php8.2-fpm"),
        ("start_only", False, "only start it if it is not running; never restart"),
        ("allow_database_restart", False,
         "allow restarting a database (mysql, mariadb, postgresql, pgbouncer): a last resort"),
    ), yes="with --allow-database-restart: confirm restarting the database "
           "(not needed with --check)"))
    ns.add_task(make_task(health, name="health", params=(
        ("url", "", "URL to check instead of the host's health_url"),
        ("field", "", "dotted JSON field that must be present, e.g. status"),
        ("value", "", "value the JSON field must have", Text(dash=True)),  # -1 is a value
        ("from_host", False, "run the check on the host (curl) instead of from here"),
        ("retries", 0, "retries, one second apart, before declaring it unhealthy (0-10000)",
         Range(0, 10_000)),
        ("paths", "", "comma-separated paths tried on the URL's host (404: not exposed), or "
                      "`all`: /up, /health, /api/health/live, /api/health/ready"),
    )))
    ns.add_task(make_task(runbook, name="runbook", positional=("name",), params=(
        ("name", None, "the runbook: app-unresponsive, slow-response, queue-backlog, redis-down, "
                     "cache-issues, file-upload, disk-full, memory-exhaustion, "
                     "rate-limit-breach, security-contain, db-connection; "
                     "`runbook --list` describes them", Text(dash=True)),  # --list
        ("ip", "", "address or CIDR to block (rate-limit-breach, security-contain)"),
        ("keep_lines", 1000, "disk-full: lines of laravel.log to keep", Range(1, 10**8)),
        ("max_percent", 80.0, "disk-full: usage the disk must fall below",
         Range(0, 100, low_open=True)),
        ("backup_days", -1, "disk-full: remove backups older than this many days (backup_root)",
         Range(0, 36_500, unset=-1)),
        ("allow_database_restart", False, "db-connection: restart the database as a last resort"),
        ("stop_queries_older_than", 0.0, "db-connection, slow-response: cancel the database's "
         "queries running longer than this many seconds (stop-long-queries)",
         Range(0, 86_400, low_open=True, unset=0.0)),
    ), yes="disk-full, db-connection with --allow-database-restart, and "
           "--stop-queries-older-than: confirm (not needed with --check)"))
    for area in (services, laravel, workers, disk, docker, kubernetes, rollback, locks, triage):
        area.register(ns)
    register_database(ns)
    register_smoke(ns)
    register_ratelimits(ns)
    register_horizon(ns)
    return ns
