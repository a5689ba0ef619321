"""Unit discovery: `systemctl list-unit-files` in, the stack's units out, across distributions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from remediations.connections.recording import RecordingConnection
from remediations.core.errors import InvalidInput
from remediations.host.systemd import php_fpm_unit, services_status
from remediations.host.units import (
    HostUnits,
    ServiceNotInstalled,
    host_units,
    parse_units,
    required,
)
from remediations.run.target import RunContext, Target

START = datetime(2026, 11, 23, 10, tzinfo=UTC)

DEBIAN_NGINX = """nginx.service         enabled  enabled
php8.2-fpm.service    enabled  enabled
redis-server.service  enabled  enabled
redis-server@.service disabled enabled
redis.service         alias    -
supervisor.service    enabled  enabled
cron.service          enabled  enabled
"""
DEBIAN_APACHE = """apache2.service       enabled  enabled
apache2@.service      disabled enabled
redis-server.service  enabled  enabled
redis.service         alias    -
supervisor.service    enabled  enabled
cron.service          enabled  enabled
mariadb.service       enabled  enabled
mysql.service         alias    -
mysqld.service        alias    -
"""
RHEL = """httpd.service     disabled disabled
php-fpm.service   enabled  disabled
redis.service     enabled  disabled
supervisord.service enabled disabled
crond.service     enabled  enabled
postgresql.service disabled disabled
"""


@pytest.mark.parametrize("listing,expected", [
    (DEBIAN_NGINX, HostUnits("nginx.service", "php8.2-fpm.service", "redis-server.service",
                             "supervisor.service", "cron.service", ())),
    # mod_php: no php-fpm at all; mysql.service is an alias of mariadb, not a second database
    (DEBIAN_APACHE, HostUnits("apache2.service", None, "redis-server.service",
                              "supervisor.service", "cron.service", ("mariadb.service",))),
    (RHEL, HostUnits("httpd.service", "php-fpm.service", "redis.service", "supervisord.service",
                     "crond.service", ("postgresql.service",))),
    # Amazon Linux's redis6, Arch's/Alpine's redis: the server, not the sentinel
    ("redis6.service enabled disabled\nredis-sentinel.service disabled disabled\n",
     HostUnits(None, None, "redis6.service", None, None, ())),
    # the highest PHP version installed, enabled or not; php8.10 is newer than php8.9
    ("php7.4-fpm.service enabled enabled\nphp8.10-fpm.service disabled enabled\n"
     "php8.9-fpm.service enabled enabled\n",
     HostUnits(None, "php8.10-fpm.service", None, None, None, ())),
    # a masked web server is not the one in use; an enabled one beats a disabled one
    ("nginx.service masked enabled\napache2.service enabled enabled\n",
     HostUnits("apache2.service", None, None, None, None, ())),
    ("nginx.service disabled enabled\napache2.service enabled enabled\n",
     HostUnits("apache2.service", None, None, None, None, ())),
    ("nginx.service enabled enabled\napache2.service enabled enabled\n",
     HostUnits("nginx.service", None, None, None, None, ())),  # nginx in front of Apache
    ("", HostUnits(None, None, None, None, None, ())),
    ("0 unit files listed.\n", HostUnits(None, None, None, None, None, ())),
])
def test_parse_units(listing: str, expected: HostUnits) -> None:
    assert parse_units(listing) == expected


def test_php_runtime_is_fpm_else_apache_with_mod_php() -> None:
    assert parse_units(DEBIAN_NGINX).php_runtime == "php8.2-fpm.service"
    assert parse_units(DEBIAN_APACHE).php_runtime == "apache2.service"
    assert parse_units(DEBIAN_APACHE).apache and not parse_units(DEBIAN_NGINX).apache
    assert parse_units("nginx.service enabled enabled\n").php_runtime is None
    assert parse_units(DEBIAN_APACHE).stack() == ("apache2.service", "redis-server.service",
                                                  "supervisor.service")


def target(conn: RecordingConnection, run_id: str = "r1", **hostvars: object) -> Target:
    from tests.unit.helpers import host

    return Target(host("web1", **hostvars), conn, RunContext(run_id, START))


def listing(text: str) -> RecordingConnection:
    return RecordingConnection("web1").on(r"^systemctl list-unit-files", stdout=text)


def test_one_round_trip_per_host_and_run() -> None:
    conn = listing(DEBIAN_APACHE)
    for _ in range(3):
        assert host_units(target(conn)).web_server == "apache2.service"
    assert len(conn.commands) == 1
    argv = conn.commands[0]
    assert argv[:5] == ("systemctl", "list-unit-files", "--no-legend", "--no-pager",
                        "--type=service")
    assert "php*-fpm.service" in argv and "redis*.service" in argv
    host_units(target(conn, run_id="r2"))  # another run asks again
    assert len(conn.commands) == 2


def test_inventory_names_win_over_discovery() -> None:
    conn = listing(DEBIAN_NGINX)
    found = host_units(target(conn, php_fpm_service="php8.1-fpm", redis_service="valkey",
                              web_server_service="apache2"))
    assert (found.php_fpm, found.redis, found.web_server) == (
        "php8.1-fpm.service", "valkey.service", "apache2.service")
    assert found.supervisor == "supervisor.service"  # the rest still discovered
    with pytest.raises(InvalidInput):
        host_units(target(conn, run_id="r3", php_fpm_service="php; reboot"))


def test_a_service_not_installed_is_a_typed_error_naming_the_setting() -> None:
    t = target(listing(DEBIAN_APACHE))
    with pytest.raises(ServiceNotInstalled, match=r"no php-fpm unit is installed.*php_fpm_service"):
        required(t, "php_fpm")
    with pytest.raises(ServiceNotInstalled, match="php_fpm_service"):
        php_fpm_unit(t)  # never a made-up php-fpm.service
    assert required(t, "redis") == "redis-server.service"


def test_status_without_units_shows_the_discovered_stack() -> None:
    show = "".join(
        f"Id={u}\nLoadState=loaded\nActiveState=active\nSubState=running\nMainPID=7\n\n"
        for u in ("apache2.service", "redis-server.service", "supervisor.service",
                  "mariadb.service"))
    show += "Id=mysql.service\nLoadState=loaded\nActiveState=active\nSubState=running\n\n"
    show += "Id=postgresql.service\nLoadState=not-found\nActiveState=inactive\n"
    conn = listing(DEBIAN_APACHE).on(r"^systemctl show", stdout=show)
    res = services_status(target(conn))
    assert res.ok, res.message
    assert list(res.data["units"]) == ["apache2.service", "redis-server.service",
                                       "supervisor.service", "mariadb.service", "mysql.service",
                                       "postgresql.service"]
    assert "php" not in res.message  # no php-fpm on a mod_php host: nothing to fail
    assert res.message.endswith("not installed: postgresql.service")


def test_status_of_a_host_with_no_known_unit_fails_saying_what_to_pass() -> None:
    res = services_status(target(RecordingConnection("web1")))
    assert res.failed and "--services" in res.message
