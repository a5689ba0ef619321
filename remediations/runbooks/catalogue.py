"""The seed runbooks: each an ordered composition of remediations that verifies its end state.

Every runbook is a remediation itself, `(target, **options) -> Result`, whose result
carries each step's result in `data["steps"]`; `RUNBOOKS` maps the names users type
(`invoke runbook queue-backlog`) to them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from remediations.core import validate
from remediations.core.result import Result
from remediations.run.target import Target
from remediations.runbooks.steps import RunbookStep, StepFn, run_steps

if TYPE_CHECKING:
    from remediations.host.units import HostUnits

Runbook = Callable[..., Result]
RETRIES = 10  # health retries, one second apart, after a repair


def _health(t: Target) -> Result:
    from remediations.host.health import http_ok

    return http_ok(t, retries=RETRIES)


def _label(unit: str) -> str:
    """A unit as step labels show it: without `.service`."""
    return unit.removesuffix(".service")


def _php_runtime(t: Target) -> str:
    """The unit running the web's PHP: php-fpm, else Apache (mod_php); discovered."""
    from remediations.host.units import ServiceNotInstalled, host_units

    unit = host_units(t).php_runtime
    if unit is None:
        raise ServiceNotInstalled(f"{t.name}: no php-fpm unit is installed and the web server "
                                  "is not Apache (mod_php): set php_fpm_service in the inventory "
                                  "if php-fpm runs under another name")
    return unit


def _octane_steps(t: Target) -> list[RunbookStep]:
    """`octane reloaded`, where an Octane server runs for the app (asked once, up front,
    so a host without Octane shows no step rather than a skipped one)."""
    from remediations.laravel.php import octane_reloaded
    from remediations.laravel.runtime import octane_runs

    return [RunbookStep("octane reloaded", octane_reloaded)] if octane_runs(t) else []


def app_unresponsive(t: Target) -> Result:
    """The app answers again: web server, php-fpm, redis, workers running (Octane reloaded); /up healthy.

    The units are discovered (`host_units`): nginx or Apache, php-fpm where installed (a
    mod_php host has none, and that is no failure), redis-server or redis, supervisor's
    workers where supervisor is installed; Octane reloaded where it runs.
    """
    from remediations.host.supervisor import programs_running
    from remediations.host.systemd import service_running, services_status
    from remediations.host.units import required

    web = required(t, "web_server")
    found = _host_units(t)
    units = [u for u in (found.php_fpm, web, found.redis) if u]
    return run_steps(t, "app-unresponsive", [
        RunbookStep("services status", services_status, fact=True),
        *(RunbookStep(f"{_label(u)} running", partial(service_running, unit=u)) for u in units),
        *([RunbookStep("workers running", programs_running, stop_on_failure=False)]
          if found.supervisor else []),
        *_octane_steps(t),
    ], verify=_health)


def _host_units(t: Target) -> HostUnits:
    from remediations.host.units import host_units

    return host_units(t)


def slow_response(t: Target, *, stop_queries_older_than: float | None = None) -> Result:
    """Fresh PHP workers (php-fpm, or Apache with mod_php) and rebuilt caches, long queries seen (and stopped if asked); /up healthy."""
    from remediations.host.systemd import service_running, services_status
    from remediations.laravel.app import caches_rebuilt

    database = _database_steps(stop_queries_older_than)  # checks its input before any contact
    fpm = _label(_php_runtime(t))
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
    """Redis running and answering PONG; workers restarted so they reconnect.

    While redis is down the scheduler is paused (its ticks would fail, or start redis
    half-way through the repair); once redis answers PONG, the scheduler this run paused
    is resumed, and no pause of someone else's.
    """
    from remediations.host.redis import redis_pong
    from remediations.host.supervisor import workers_restarted
    from remediations.host.systemd import service_running
    from remediations.host.units import required
    from remediations.laravel.scheduler import scheduler_paused, scheduler_resumed

    return run_steps(t, "redis-down", [
        RunbookStep("redis ping", redis_pong, fact=True),
        RunbookStep("scheduler paused", scheduler_paused, when=lambda t, done: done[0].failed),
        RunbookStep("redis running", lambda t: service_running(t, unit=required(t, "redis"))),
        RunbookStep("workers restarted", workers_restarted, when=lambda t, done: done[0].failed),
        RunbookStep("redis answers", redis_pong, when=lambda t, done: done[0].failed),
        # Every run, once redis answers: a run resumed after a crash puts back what it paused.
        RunbookStep("scheduler resumed", partial(scheduler_resumed, this_run=True)),
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
    """The PHP runtime restarted (php-fpm, or Apache with mod_php: its workers' memory
    returned), Octane reloaded where it runs; /up healthy."""
    from remediations.host.systemd import service_running

    php = _php_runtime(t)
    return run_steps(t, "memory-exhaustion", [
        RunbookStep(f"{_label(php)} restarted", partial(service_running, unit=php, restart=True)),
        *_octane_steps(t),
    ], verify=_health)


def rate_limit_breach(t: Target, *, ip: str, key_pattern: str | None = None) -> Result:
    """`ip` denied by the web server and the rate limits it holds cleared; /up healthy.

    By default the app itself finds the address's entries (`rate_limits_cleared`: the
    throttle keys Laravel writes in its cache store, hashed, and their `:timer`). An app
    with its own convention names it instead: `key_pattern` or inventory
    `rate_limit_key_pattern`, a redis glob in `rate_limit_redis_db` (default 0).
    """
    from remediations.host.blocklist import ip_blocked

    pattern = key_pattern or t.var("rate_limit_key_pattern")
    return run_steps(t, "rate-limit-breach", [
        RunbookStep(f"{ip} blocked", partial(ip_blocked, address=ip)),
        RunbookStep("rate-limit keys deleted", _limits_cleared(t, ip, pattern)),
    ], verify=_health)


def _limits_cleared(t: Target, ip: str, pattern: str | None) -> StepFn:
    """The address's rate limits found by the app, or the keys matching the user's pattern."""
    if not pattern:
        from remediations.laravel.throttle import rate_limits_cleared

        return partial(rate_limits_cleared, ip=ip)
    from remediations.host.redis import redis_keys_deleted

    db = t.var("rate_limit_redis_db")
    return partial(redis_keys_deleted, pattern=pattern, db=None if db is None else int(db))


def security_contain(t: Target, *, ip: str) -> Result:
    """`ip` denied by the web server (nginx or Apache) and the logs preserved in an incident archive; /up healthy."""
    from remediations.host.blocklist import ip_blocked
    from remediations.host.evidence import evidence_preserved

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
