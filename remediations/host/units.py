"""Which units a host runs its stack with, discovered, never assumed.

Debian calls redis `redis-server.service`, RHEL, Alpine and Arch `redis.service`
(Amazon Linux `redis6.service`); php-fpm is `php8.2-fpm.service` on Debian/Ubuntu and
`php-fpm.service` on RHEL; the web server is nginx, Debian's `apache2` or RHEL's
`httpd`. One `systemctl list-unit-files` answers all of it; inventory
`php_fpm_service`, `web_server_service` and `redis_service` override what it says.
"""

from __future__ import annotations

import re
import threading
import weakref
from dataclasses import dataclass
from typing import Any

from remediations.connections.base import Connection, Wrapper
from remediations.core import validate
from remediations.core.databases import is_database_unit
from remediations.core.errors import RemediationError
from remediations.run.target import Target

# What is asked for: only the units this module knows, so the answer stays small.
PATTERNS = ("nginx.service", "apache2.service", "httpd.service", "php*-fpm.service",
            "redis*.service", "supervisor.service", "supervisord.service", "cron.service",
            "crond.service", "cronie.service", "mysql*.service", "mariadb*.service",
            "postgresql*.service", "pgbouncer.service")
WEB_SERVERS = ("nginx.service", "apache2.service", "httpd.service")  # preferred first
APACHE = frozenset({"apache2.service", "httpd.service"})
_FPM = re.compile(r"php(\d+(?:\.\d+)*)-fpm\.service")
_REDIS = re.compile(r"redis(?:-server|(\d+))?\.service")
# Not a unit that runs anything by itself: a template, an alias of another unit, masked.
_UNUSABLE_STATES = frozenset({"alias", "masked", "masked-runtime", "linked", "linked-runtime",
                              "bad", "transient", "generated"})
_ENABLED = frozenset({"enabled", "enabled-runtime", "static", "indirect"})


class ServiceNotInstalled(RemediationError):
    """A remediation needs a service (php-fpm, a web server, redis) the host does not have."""


@dataclass(frozen=True, slots=True)
class HostUnits:
    """The stack's units on one host (`None`: not installed)."""

    web_server: str | None   # "nginx.service", "apache2.service" or "httpd.service"
    php_fpm: str | None      # highest php*-fpm installed ("php8.2-fpm.service"), "php-fpm.service"
    redis: str | None        # "redis-server.service", "redis.service", "redis6.service"
    supervisor: str | None   # "supervisor.service" / "supervisord.service"
    cron: str | None         # "cron.service" / "crond.service" / "cronie.service"
    databases: tuple[str, ...] = ()

    @property
    def apache(self) -> bool:
        """Whether the web server is Apache (Debian's apache2 or RHEL's httpd)."""
        return self.web_server in APACHE

    @property
    def php_runtime(self) -> str | None:
        """The unit whose processes run the app's PHP: php-fpm where it is installed, else
        Apache (mod_php: PHP inside Apache's workers), else None (no PHP runtime unit)."""
        return self.php_fpm or (self.web_server if self.apache else None)

    def stack(self) -> tuple[str, ...]:
        """The units the app needs running, in the order a person checks them."""
        return tuple(u for u in (self.web_server, self.php_fpm, self.redis, self.supervisor)
                     if u)


def list_argv() -> list[str]:
    return ["systemctl", "list-unit-files", "--no-legend", "--no-pager", "--type=service",
            *PATTERNS]


def _listed(text: str) -> dict[str, str]:
    """`unit -> state` of the usable units in `systemctl list-unit-files` output."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        words = line.split()
        if not words or not words[0].endswith(".service") or "@" in words[0]:
            continue
        state = words[1] if len(words) > 1 else ""
        if state not in _UNUSABLE_STATES:
            found[words[0]] = state
    return found


def _first(candidates: list[tuple[tuple[Any, ...], str]]) -> str | None:
    return max(candidates)[1] if candidates else None


def parse_units(text: str) -> HostUnits:
    """Choose the stack's units from `systemctl list-unit-files` output.

    The web server: an enabled one over a disabled one, then in WEB_SERVERS order. php-fpm:
    the highest version installed (a Debian `phpX.Y-fpm`, else RHEL's `php-fpm`). redis:
    an enabled one first, then redis-server, redis, the highest redisN. Templates
    (`redis-server@.service`), aliases (Debian's `redis.service`) and masked units never.
    """
    units = _listed(text)

    def on(unit: str) -> int:
        return 1 if units[unit] in _ENABLED else 0

    web = _first([((on(u), -WEB_SERVERS.index(u)), u) for u in WEB_SERVERS if u in units])
    fpm: list[tuple[tuple[Any, ...], str]] = []
    redis: list[tuple[tuple[Any, ...], str]] = []
    for unit in units:
        if m := _FPM.fullmatch(unit):
            fpm.append(((1, tuple(int(n) for n in m.group(1).split("."))), unit))
        elif unit == "php-fpm.service":
            fpm.append(((0, ()), unit))
        elif m := _REDIS.fullmatch(unit):
            rank = (2, 0) if unit == "redis-server.service" else (
                (1, 0) if m.group(1) is None else (0, int(m.group(1))))
            redis.append(((on(unit), *rank), unit))
    return HostUnits(
        web_server=web, php_fpm=_first(fpm), redis=_first(redis),
        supervisor=next((u for u in ("supervisor.service", "supervisord.service") if u in units),
                        None),
        cron=next((u for u in ("cron.service", "crond.service", "cronie.service") if u in units),
                  None),
        databases=tuple(u for u in units if is_database_unit(u)),
    )


# Discovered once per host and run: a runbook asks several times. Kept beside the
# connection the run opened to the host (weakly: gone with it), keyed by run and host.
_SEEN: weakref.WeakKeyDictionary[object, dict[tuple[str, str], HostUnits]] = \
    weakref.WeakKeyDictionary()
_GUARD = threading.Lock()


def _innermost(conn: Connection) -> object:
    seen: object = conn
    while isinstance(seen, Wrapper):
        seen = seen.inner
    return seen


def discovered(t: Target) -> HostUnits:
    """What `systemctl list-unit-files` says (one round trip, then cached for the run)."""
    holder = _innermost(t.conn)
    key = (t.run.run_id, t.name)
    with _GUARD:
        try:
            cached = _SEEN.get(holder, {}).get(key)
        except TypeError:  # not weak-referenceable: ask every time
            cached = None
    if cached is not None:
        return cached
    res = t.conn.run(list_argv(), check=False)
    found = parse_units(res.stdout if res.succeeded else "")
    with _GUARD:
        try:
            _SEEN.setdefault(holder, {})[key] = found
        except TypeError:
            pass
    return found


def _configured(t: Target, key: str) -> str | None:
    value = t.var(key)
    return validate.unit_name(str(value)) if value else None


def host_units(t: Target) -> HostUnits:
    """The host's stack units: inventory `php_fpm_service`, `web_server_service` and
    `redis_service` where set, else discovered (one `systemctl list-unit-files`, once
    per run and host).

    Example: `host_units(t).web_server` -> `"apache2.service"` on a Debian Apache host.
    """
    fpm, web, redis = (_configured(t, k) for k in
                       ("php_fpm_service", "web_server_service", "redis_service"))
    found = discovered(t)
    if fpm or web or redis:
        return HostUnits(web_server=web or found.web_server, php_fpm=fpm or found.php_fpm,
                         redis=redis or found.redis, supervisor=found.supervisor,
                         cron=found.cron, databases=found.databases)
    return found


def required(t: Target, what: str) -> str:
    """The unit for `what` (`php_fpm`, `web_server`, `redis`); `ServiceNotInstalled` if none.

    Example: `required(t, "php_fpm")` -> `"php8.2-fpm.service"`.
    """
    setting = {"php_fpm": "php_fpm_service", "web_server": "web_server_service",
               "redis": "redis_service"}[what]
    unit = getattr(host_units(t), what)
    if unit is None:
        kind = what.replace("_", "-")
        raise ServiceNotInstalled(
            f"{t.name}: no {kind} unit is installed (systemctl list-unit-files lists none); "
            f"set {setting} in the inventory if it runs under another name")
    return str(unit)
