"""Invoke tasks for the Laravel application (registered by `build_namespace`).

Each validates its own input before `run_remediation` reads the inventory, so bad
input exits 1 with nothing touched.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any

from invoke.collection import Collection

from remediations.cli.options import (
    Common,
    fail,
    make_task,
    reporter_for,
    required,
    run_remediation,
    validated,
)
from remediations.cli.values import Range, Text, shown


def _csv(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def clear_caches(c: Any, opts: Common, kinds: str = "") -> None:
    """Clear the app's caches that exist (cache, config, route, view, event) and say which."""
    from remediations.laravel.app import CACHE_KINDS, caches_cleared, validate_kinds

    chosen = validated(opts, validate_kinds, _csv(kinds) or CACHE_KINDS, CACHE_KINDS)
    run_remediation(opts, functools.partial(caches_cleared, kinds=chosen), name="caches_cleared")


def rebuild_caches(c: Any, opts: Common, kinds: str = "") -> None:
    """Rebuild config, route, event and view caches that are missing or stale."""
    from remediations.laravel.app import REBUILD_KINDS, caches_rebuilt, validate_kinds

    chosen = validated(opts, validate_kinds, _csv(kinds) or REBUILD_KINDS, REBUILD_KINDS)
    run_remediation(opts, functools.partial(caches_rebuilt, kinds=chosen), name="caches_rebuilt")


def reset_opcache(c: Any, opts: Common, service: str = "") -> None:
    """Reset php-fpm's opcache (reload the unit) once per run."""
    from remediations.core import validate
    from remediations.laravel.php import opcache_reset

    if service:
        validated(opts, validate.unit_name, service)
    run_remediation(opts, functools.partial(opcache_reset, service=service or None),
                    name="opcache_reset")


def maintenance_on_task(c: Any, opts: Common, message: str = "", secret: str = "",
                        retry: int = 60, url: str = "") -> None:
    """Put the app in maintenance mode (503), with an optional message and bypass secret."""
    from remediations.core import validate
    from remediations.laravel.maintenance import maintenance_on, validate_message, validate_secret

    if message:
        validated(opts, validate_message, message)
    if secret:
        validated(opts, validate_secret, secret)
    if url:
        validated(opts, validate.http_url, url)
    fn = functools.partial(maintenance_on, message=message or None, secret=secret or None,
                           retry=retry, url=url or None)
    run_remediation(opts, fn, name="maintenance_on")


def maintenance_off_task(c: Any, opts: Common, url: str = "") -> None:
    """Bring the app out of maintenance mode, verified by its health URL answering 200."""
    from remediations.core import validate
    from remediations.laravel.maintenance import maintenance_off

    if url:
        validated(opts, validate.http_url, url)
    run_remediation(opts, functools.partial(maintenance_off, url=url or None),
                    name="maintenance_off")


def storage_link(c: Any, opts: Common) -> None:
    """Link public/storage to storage/app/public (artisan storage:link)."""
    from remediations.laravel.app import storage_link_present

    run_remediation(opts, storage_link_present, name="storage_link_present")


def fix_storage_permissions(c: Any, opts: Common, group: str = "") -> None:
    """Give storage/ and bootstrap/cache to the app user with the modes the app needs."""
    from remediations.laravel.app import storage_permissions, user_name

    if group:
        validated(opts, user_name, group, "group")
    run_remediation(opts, functools.partial(storage_permissions, group=group or None),
                    name="storage_permissions")


def _scheduler(opts: Common, fn: Any, unit: str, name: str) -> None:
    from remediations.core import validate

    if unit:
        validated(opts, validate.unit_name, unit)
    run_remediation(opts, functools.partial(fn, unit=unit or None), name=name)


def pause_scheduler(c: Any, opts: Common, unit: str = "") -> None:
    """Pause the Laravel scheduler: stop its systemd timer (a running tick finishes)."""
    from remediations.laravel.scheduler import scheduler_paused

    _scheduler(opts, scheduler_paused, unit, "scheduler_paused")


def resume_scheduler(c: Any, opts: Common, unit: str = "") -> None:
    """Resume the Laravel scheduler paused by pause-scheduler (or enabled but stopped)."""
    from remediations.laravel.scheduler import scheduler_resumed

    _scheduler(opts, scheduler_resumed, unit, "scheduler_resumed")


def scheduler_status_task(c: Any, opts: Common) -> None:
    """Show what triggers the scheduler (timers, cron lines) and its tasks; say when doubled."""
    from invoke.exceptions import Exit

    from remediations.laravel.scheduler_status import hosts_triggering_same_app, scheduler_status

    seen: dict[str, Any] = {}

    @functools.wraps(scheduler_status)
    def status(t: Any) -> Any:
        seen[t.name] = result = scheduler_status(t)
        return result

    try:
        run_remediation(opts, status, name="scheduler_status", lock=False)
    except Exit:
        _across_hosts(opts, hosts_triggering_same_app(seen))
        raise
    _across_hosts(opts, hosts_triggering_same_app(seen))


def _across_hosts(opts: Common, shared: dict[str, list[str]]) -> None:
    """Say which app's scheduler more than one of the selected hosts triggers."""
    if shared:
        reporter_for(opts).listing("scheduler triggered on more than one host", {
            app: f"scheduler triggered on {len(hosts)} hosts ({', '.join(hosts)}): each task "
                 "runs once per host unless it is onOneServer() on a shared cache store"
            for app, hosts in shared.items()})


def env_set(c: Any, opts: Common, name: str = "", value: str = "", minutes: float = 15.0) -> None:
    """Set a .env value for a bounded time (config cache rebuilt); the host puts it back at expiry."""
    from remediations.laravel.temporary_settings import (
        env_setting_temporary,
        setting_name,
        setting_seconds,
        setting_value,
    )

    required(opts, name, "--name", "APP_DEBUG --value true --minutes 15")
    validated(opts, setting_name, name)
    validated(opts, setting_value, value)
    validated(opts, setting_seconds, minutes)
    run_remediation(opts, functools.partial(env_setting_temporary, name=name, value=value,
                                            minutes=minutes), name="env_setting_temporary")


def env_revert(c: Any, opts: Common, all: bool = False) -> None:
    """Put back every expired temporary .env setting (all of them with --all); record the revert."""
    from remediations.laravel.temporary_settings import env_settings_reverted

    run_remediation(opts, functools.partial(env_settings_reverted, all=all),
                    name="env_settings_reverted")


def clear_schedule_cache(c: Any, opts: Common) -> None:
    """Release stuck overlap locks of scheduled tasks (artisan schedule:clear-cache)."""
    from remediations.laravel.scheduler import schedule_cache_cleared

    run_remediation(opts, schedule_cache_cleared, name="schedule_cache_cleared")


def php_settings_task(c: Any, opts: Common, names: str = "", pool: str = "",
                      at_least: str = "") -> None:
    """Show PHP settings as the web's PHP (php-fpm or Apache's mod_php) and the CLI see them."""
    from remediations.laravel.php import SETTINGS, amount, ini_names, php_settings

    chosen = validated(opts, ini_names, _csv(names) or SETTINGS)
    if pool and not _POOL.fullmatch(pool):
        raise fail(reporter_for(opts), f"--pool must be a php-fpm pool name such as www, "
                                       f"got {shown(pool)}")
    floors: dict[str, str] = {}
    for item in _csv(at_least):
        key, sep, value = item.partition("=")
        if not sep or not value.strip():
            raise fail(reporter_for(opts), f"--at-least takes name=value pairs, got {shown(item)}")
        name = validated(opts, ini_names, [key.strip()])[0]
        if math.isnan(amount(name, value)):
            raise fail(reporter_for(opts), f"--at-least {name}: not a size or number such as 64M "
                                           f"or 30, got {shown(value.strip())}")
        floors[name] = value.strip()
    fn = functools.partial(php_settings, names=chosen, pool=pool or None, at_least=floors or None)
    run_remediation(opts, fn, name="php_settings", lock=False)


# A php-fpm pool: the [name] of a pool section, as pools are named in practice.
_POOL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")


def reload_octane(c: Any, opts: Common) -> None:
    """Reload the Octane workers once per run (skipped where Octane is not installed)."""
    from remediations.laravel.php import octane_reloaded

    run_remediation(opts, octane_reloaded, name="octane_reloaded")


def register(ns: Collection) -> None:
    """Add this area's tasks to `ns`."""
    kinds_help = "comma-separated subset of the kinds (default: all)"
    unit_help = "the scheduler's systemd timer (default: inventory scheduler_unit)"
    url_help = "URL to verify with (default: the host's health_url)"
    for body, name, params in (
        (clear_caches, "clear-caches", (("kinds", "", f"cache,config,route,view,event: {kinds_help}"),)),
        (rebuild_caches, "rebuild-caches", (("kinds", "", f"config,route,view,event: {kinds_help}"),)),
        (reset_opcache, "reset-opcache", (("service", "", "php-fpm unit, or apache2 where PHP runs in Apache (default: discovered)"),)),
        (maintenance_on_task, "maintenance-on", (
            ("message", "", "message for the 503 page", Text(dash=True)),
            ("secret", "", "bypass secret: /<secret> lets a browser in (masked in reports)"),
            ("retry", 60, "Retry-After seconds (1-86400)", Range(1, 86_400)),
            ("url", "", url_help))),
        (maintenance_off_task, "maintenance-off", (("url", "", url_help),)),
        (storage_link, "storage-link", ()),
        (fix_storage_permissions, "fix-storage-permissions", (
            ("group", "", "group owning storage (default: inventory app_group, else app_user)"),)),
        (pause_scheduler, "pause-scheduler", (("unit", "", unit_help),)),
        (resume_scheduler, "resume-scheduler", (("unit", "", unit_help),)),
        (clear_schedule_cache, "clear-schedule-cache", ()),
        (scheduler_status_task, "scheduler-status", ()),
        (env_set, "env-set", (
            ("name", "", "the .env name, e.g. APP_DEBUG (APP_KEY is refused)"),
            ("value", "", "its value for the time being (one line; secrets are masked)",
             Text(dash=True)),
            ("minutes", 15.0, "how long, in minutes (0.25 to 10080); then the host puts it back",
             Range(0.25, 10_080)))),
        (env_revert, "env-revert", (
            ("all", False, "put back every temporary setting, not only the expired ones"),)),
        (php_settings_task, "php-settings", (
            ("names", "", "comma-separated php.ini settings (default: upload_max_filesize, "
                          "post_max_size, memory_limit, max_execution_time)"),
            ("pool", "", "php-fpm pool (default: inventory php_fpm_pool, www, or the first)"),
            ("at_least", "", "fail when FPM is lower, e.g. upload_max_filesize=64M,memory_limit=256M"))),
        (reload_octane, "reload-octane", ()),
    ):
        ns.add_task(make_task(body, name=name, params=params))
