"""Invoke tasks for systemd services and nginx (registered by `build_namespace`)."""

from __future__ import annotations

import functools
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


def _unit(opts: Common, service: str) -> str:
    from remediations.core import validate

    if not service:
        raise fail(reporter_for(opts), "--service is required, e.g. --service nginx")
    return str(validated(opts, validate.unit_name, service))


def reload(c: Any, opts: Common, service: str = "") -> None:
    """Reload a service once per run (nginx/apache2/php-fpm: config tested first; start if stopped)."""
    from remediations.host.systemd import service_reloaded

    unit = _unit(opts, service)
    run_remediation(opts, functools.partial(service_reloaded, unit=unit), name="service_reloaded")


def start(c: Any, opts: Common, service: str = "") -> None:
    """Start a service if it is not running (never restarts it)."""
    from remediations.host.systemd import service_running

    unit = _unit(opts, service)
    run_remediation(opts, functools.partial(service_running, unit=unit), name="service_running")


def stop(c: Any, opts: Common, service: str = "") -> None:
    """Stop a service; already stopped is ok. A database needs --yes."""
    from remediations.host.systemd import is_database, service_stopped

    unit = _unit(opts, service)
    confirm = ((f"stopping {unit} takes a database down", "see what it would run")
               if is_database(unit) else None)
    run_remediation(opts, functools.partial(service_stopped, unit=unit), name="service_stopped",
                    confirm=confirm)


def status(c: Any, opts: Common, services: str = "") -> None:
    """Show several services at once (default: the discovered web server, php-fpm, redis, supervisor, databases)."""
    from remediations.core import validate
    from remediations.host.systemd import services_status

    units = [u.strip() for u in services.split(",") if u.strip()] if services else None
    if units is not None:
        units = [validated(opts, validate.unit_name, u) for u in units]
    run_remediation(opts, functools.partial(services_status, units=units),
                    name="services_status", lock=False)


def _address(opts: Common, address: str | None) -> str:
    from remediations.core import validate

    if not address:
        raise fail(reporter_for(opts), "an address is required, e.g. block-ip 203.0.113.7")
    return str(validated(opts, validate.ip_or_cidr, address))


def block_ip(c: Any, opts: Common, address: str | None = None) -> None:
    """Deny an IP address or CIDR in the web server (nginx, Apache, or a compose host's proxy: tested, then reloaded)."""
    from remediations.docker.proxy import ip_blocked

    addr = _address(opts, address)
    run_remediation(opts, functools.partial(ip_blocked, address=addr), name="ip_blocked")


def unblock_ip(c: Any, opts: Common, address: str | None = None) -> None:
    """Remove an IP address or CIDR from the web server's deny list (tested, then reloaded)."""
    from remediations.docker.proxy import ip_unblocked

    addr = _address(opts, address)
    run_remediation(opts, functools.partial(ip_unblocked, address=addr), name="ip_unblocked")


_SERVICE = ("service", "", "systemd unit, e.g. nginx or php8.2-fpm")
# None, not "": Invoke fills a positional argument only while its value is None.
_ADDRESS = ("address", None, "IPv4/IPv6 address or CIDR, e.g. 203.0.113.7 or 2001:db8::/32")


def register(ns: Collection) -> None:
    """Add this area's tasks to `ns`."""
    ns.add_task(make_task(reload, name="reload", params=(_SERVICE,)))
    ns.add_task(make_task(start, name="start", params=(_SERVICE,)))
    ns.add_task(make_task(stop, name="stop", params=(_SERVICE,),
                          yes="for a database: confirm taking it down (not needed with --check)"))
    ns.add_task(make_task(status, name="status", params=(
        ("services", "", "comma-separated units, e.g. nginx,php8.2-fpm (default: the stack's)"),
    )))
    for body, name in ((block_ip, "block-ip"), (unblock_ip, "unblock-ip")):
        # `block-ip 203.0.113.7` as well as `--address`
        ns.add_task(make_task(body, name=name, params=(_ADDRESS,), positional=("address",)))
