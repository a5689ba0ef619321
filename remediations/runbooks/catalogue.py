"""The seed runbooks: each an ordered composition of remediations that verifies its end state.

Every runbook is a remediation itself, `(target, **options) -> Result`, whose result
carries each step's result in `data["steps"]`; `RUNBOOKS` maps the names users type
(`invoke runbook queue-backlog`) to them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from remediations.core import validate
from remediations.core.result import Result
from remediations.run.target import Target
from remediations.runbooks.steps import RunbookStep, run_steps

Runbook = Callable[..., Result]
RETRIES = 10  # health retries, one second apart, after a repair


def _health(t: Target) -> Result:
    from remediations.host.health import http_ok

    return http_ok(t, retries=RETRIES)


def _fpm(t: Target) -> str:
    """The php-fpm unit without `.service`, as step labels show it."""
    from remediations.host.systemd import php_fpm_unit

    return php_fpm_unit(t).removesuffix(".service")


def app_unresponsive(t: Target) -> Result:
    """The app answers again: php-fpm, nginx, redis and the workers running; /up healthy."""
    from remediations.host.supervisor import programs_running
    from remediations.host.systemd import service_running, services_status

    fpm = _fpm(t)
    return run_steps(t, "app-unresponsive", [
        RunbookStep("services status", services_status, fact=True),
        RunbookStep(f"{fpm} running", partial(service_running, unit=fpm)),
        RunbookStep("nginx running", partial(service_running, unit="nginx")),
        RunbookStep("redis running", partial(service_running, unit="redis-server")),
        RunbookStep("workers running", programs_running, stop_on_failure=False),
    ], verify=_health)


def slow_response(t: Target, *, stop_queries_older_than: float | None = None) -> Result:
    """Fresh php-fpm workers and rebuilt caches, long queries seen (and stopped if asked); /up healthy."""
    from remediations.host.systemd import service_running, services_status
    from remediations.laravel.app import caches_rebuilt

    database = _database_steps(stop_queries_older_than)  # checks its input before any contact
    fpm = _fpm(t)
    return run_steps(t, "slow-response", [
        RunbookStep("services status", services_status, fact=True),
        *database,
        RunbookStep("caches rebuilt", caches_rebuilt),
        RunbookStep(f"{fpm} restarted", partial(service_running, unit=fpm, restart=True)),
    ], verify=_health)


def has_database(t: Target, done: object = None) -> bool:
    """Whether the inventory names a database this host reaches (db_engine, db_host,
    database_service): where the runbooks read it and may stop its long queries."""
    return any(t.var(key) for key in ("db_engine", "db_host", "database_service"))


def _database_steps(older_than: float | None) -> list[RunbookStep]:
    """The database's connections and long queries (a fact); with `older_than`, those
    queries cancelled. Both only where the host has a database (`has_database`)."""
    from remediations.database.queries import long_queries_stopped
    from remediations.database.status import database_status

    if older_than is None:
        return [RunbookStep("database status", database_status, fact=True, when=has_database)]
    older_than = validate.seconds(older_than, "stop_queries_older_than")
    # The status lists the queries over the same age as those the next step stops.
    steps = [RunbookStep("database status", partial(database_status, older_than=older_than),
                         fact=True, when=has_database)]
    steps.append(RunbookStep(f"queries over {older_than:g}s stopped",
                             partial(long_queries_stopped, older_than=older_than),
                             when=has_database))
    return steps


def queue_backlog(t: Target, *, queue: str = "default", drain_timeout: float = 180) -> Result:
    """Workers running and freshly restarted, and the queue drained to zero."""
    from remediations.host.supervisor import programs_running
    from remediations.laravel.queue import queue_drained, queue_length, queue_restarted

    drain_timeout = validate.seconds(drain_timeout, "drain_timeout")
    return run_steps(t, "queue-backlog", [
        RunbookStep("queue length", partial(queue_length, queue=queue), fact=True),
        RunbookStep("workers running", programs_running),
        RunbookStep("queue restarted", queue_restarted),
    ], verify=partial(queue_drained, queue=queue, timeout=drain_timeout))


def redis_down(t: Target) -> Result:
    """Redis running and answering PONG; workers restarted so they reconnect."""
    from remediations.host.redis import redis_pong
    from remediations.host.supervisor import workers_restarted
    from remediations.host.systemd import service_running

    return run_steps(t, "redis-down", [
        RunbookStep("redis ping", redis_pong, fact=True),
        RunbookStep("redis running", partial(service_running, unit="redis-server")),
        RunbookStep("workers restarted", workers_restarted,
                    when=lambda t, done: done[0].failed),
    ], verify=redis_pong)


def cache_issues(t: Target) -> Result:
    """Stale caches cleared and rebuilt, opcache reset; /up healthy."""
    from remediations.laravel.app import caches_cleared, caches_rebuilt, opcache_reset

    return run_steps(t, "cache-issues", [
        # Rebuilding re-creates what clearing removed: clear once per run, not every run.
        RunbookStep("caches cleared", caches_cleared, once_per_run=True),
        RunbookStep("caches rebuilt", caches_rebuilt),
        RunbookStep("opcache reset", opcache_reset),
    ], verify=_health)


def file_upload(t: Target) -> Result:
    """Uploads can land: PHP limits reported, storage owned and linked; /up healthy."""
    from remediations.laravel.app import php_settings, storage_link_present, storage_permissions

    return run_steps(t, "file-upload", [
        RunbookStep("php settings", php_settings, fact=True),
        RunbookStep("storage permissions", storage_permissions),
        RunbookStep("storage link", storage_link_present),
    ], verify=_health)


def disk_full(t: Target, *, max_percent: float = 80, keep_lines: int = 1000,
              backup_days: int | None = None) -> Result:
    """Disk below `max_percent`: laravel.log truncated to its tail, old backups removed."""
    from remediations.host.disk import MAX_DAYS, disk_usage, old_files_removed
    from remediations.host.logs import MAX_KEEP_LINES, log_truncated

    max_percent = validate.number(max_percent, "max_percent", low=0, high=100, low_open=True)
    keep_lines = validate.count(keep_lines, "keep_lines", low=1, high=MAX_KEEP_LINES)
    if backup_days is not None:
        backup_days = validate.count(backup_days, "backup_days", high=MAX_DAYS)
    app = t.var("app_path", "/srv/app/current")
    steps = [
        RunbookStep("disk usage", partial(disk_usage, path=app), fact=True),
        # Only a log above log_truncate_min_size (default 50 MB) is cut, so a re-run is `ok`.
        RunbookStep("laravel.log truncated",
                    partial(log_truncated, path=f"{app}/storage/logs/laravel.log",
                            keep_lines=keep_lines,
                            min_size=int(t.var("log_truncate_min_size", 50 * 1024 * 1024)))),
    ]
    backups = t.var("backup_root")
    days = backup_days if backup_days is not None else t.var("backup_days")
    if backups and days is not None:
        steps.append(RunbookStep("old backups removed",
                                 partial(old_files_removed, root=backups, days=int(days))))
    return run_steps(t, "disk-full", steps,
                     verify=partial(disk_usage, path=app, max_percent=max_percent))


def memory_exhaustion(t: Target) -> Result:
    """php-fpm restarted (its workers' memory returned); /up healthy."""
    from remediations.host.systemd import service_running

    fpm = _fpm(t)
    return run_steps(t, "memory-exhaustion", [
        RunbookStep(f"{fpm} restarted", partial(service_running, unit=fpm, restart=True)),
    ], verify=_health)


def rate_limit_breach(t: Target, *, ip: str, key_pattern: str | None = None) -> Result:
    """`ip` denied by nginx and the rate-limit keys it left in Redis deleted; /up healthy.

    Which keys are rate-limit keys is the application's convention: inventory
    `rate_limit_key_pattern` (default `*throttle*`) in `rate_limit_redis_db` (default 0).
    """
    from remediations.host.nginx import ip_blocked
    from remediations.host.redis import redis_keys_deleted

    pattern = key_pattern or t.var("rate_limit_key_pattern", "*throttle*")
    db = t.var("rate_limit_redis_db")
    return run_steps(t, "rate-limit-breach", [
        RunbookStep(f"{ip} blocked", partial(ip_blocked, address=ip)),
        RunbookStep("rate-limit keys deleted",
                    partial(redis_keys_deleted, pattern=pattern,
                            db=None if db is None else int(db))),
    ], verify=_health)


def security_contain(t: Target, *, ip: str) -> Result:
    """`ip` denied by nginx and the logs preserved in an incident archive; /up healthy."""
    from remediations.host.evidence import evidence_preserved
    from remediations.host.nginx import ip_blocked

    return run_steps(t, "security-contain", [
        RunbookStep("evidence preserved", evidence_preserved),
        RunbookStep(f"{ip} blocked", partial(ip_blocked, address=ip)),
    ], verify=_health)


def db_connection(t: Target, *, allow_database_restart: bool = False,
                  stop_queries_older_than: float | None = None) -> Result:
    """The database reachable from the app, its connections and long queries read; queries
    over N s stopped if asked; restarts it only with `allow_database_restart`."""
    from remediations.host.health import database_reachable
    from remediations.host.systemd import service_running

    unit = t.var("database_service")
    steps = [RunbookStep("database reachable", database_reachable, fact=True),
             *_database_steps(stop_queries_older_than)]
    if unit:
        steps.append(RunbookStep(
            f"{unit} restarted",
            partial(service_running, unit=unit, restart=True, allow_database_restart=True),
            when=lambda t, done: allow_database_restart and done[0].failed))
    result = run_steps(t, "db-connection", steps, verify=database_reachable)
    if result.failed and not allow_database_restart:
        hint = ("; not restarted: pass --allow-database-restart to restart "
                f"{unit or 'the database (set database_service in the inventory)'}")
        return result.replace(message=result.message + hint)
    return result


RUNBOOKS: dict[str, Runbook] = {
    "app-unresponsive": app_unresponsive,
    "slow-response": slow_response,
    "queue-backlog": queue_backlog,
    "redis-down": redis_down,
    "cache-issues": cache_issues,
    "file-upload": file_upload,
    "disk-full": disk_full,
    "memory-exhaustion": memory_exhaustion,
    "rate-limit-breach": rate_limit_breach,
    "security-contain": security_contain,
    "db-connection": db_connection,
}
NEEDS_IP = frozenset({"rate-limit-breach", "security-contain"})
# The runbooks that take `stop_queries_older_than` (their database steps).
STOPS_QUERIES = frozenset({"db-connection", "slow-response"})


def runbook(name: str) -> Runbook:
    """The runbook called `name`; `InvalidInput` listing the known ones otherwise."""
    from remediations.core.errors import InvalidInput

    try:
        return RUNBOOKS[name]
    except KeyError:
        raise InvalidInput(f"no runbook {name!r}; known: {', '.join(RUNBOOKS)}") from None


def describe() -> dict[str, str]:
    return {name: (fn.__doc__ or "").strip().splitlines()[0] for name, fn in RUNBOOKS.items()}
