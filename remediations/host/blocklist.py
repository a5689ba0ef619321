"""Block and unblock addresses in the web server the host runs: nginx or Apache.

The server is discovered (`host_units`; inventory `web_server_service` overrides): an
Apache host (`apache2` or `httpd`) gets `host.apache`'s `<If "-R ...">` sections, any
other host nginx's `deny` lines (`host.nginx`), as before discovery existed.
"""

from __future__ import annotations

from remediations.core import validate
from remediations.core.result import Result
from remediations.host import apache, nginx
from remediations.host.units import APACHE, host_units
from remediations.run.target import Target


def apache_unit(t: Target) -> str | None:
    """The Apache unit when the host's web server is Apache, else None (nginx)."""
    web = host_units(t).web_server
    return web if web in APACHE else None


def ip_blocked(t: Target, address: str) -> Result:
    """Leave `address` (IPv4/IPv6 address or CIDR) denied by the host's web server, reloaded.

    nginx: a `deny` line in conf.d/blocked.conf, `nginx -t`, reload. Apache: a
    `<If "-R 'address'"> Require all denied </If>` section, `apachectl configtest`,
    graceful reload. Example: `ip_blocked(target, "203.0.113.7")`.
    """
    address = validate.ip_or_cidr(address)
    unit = apache_unit(t)
    if unit is not None:
        return apache.ip_blocked(t, address, unit=unit)
    return nginx.ip_blocked(t, address)


def ip_unblocked(t: Target, address: str) -> Result:
    """Leave `address` not denied by the host's web server; reloaded if that changed anything.

    Example: `ip_unblocked(target, "203.0.113.7")`.
    """
    address = validate.ip_or_cidr(address)
    unit = apache_unit(t)
    if unit is not None:
        return apache.ip_unblocked(t, address, unit=unit)
    return nginx.ip_unblocked(t, address)
