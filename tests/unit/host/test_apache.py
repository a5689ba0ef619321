"""Apache hosts: the blocklist, dispatch on the discovered web server, mod_php's opcache and
settings, and the runbooks' steps where PHP runs inside Apache."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from remediations.connections.base import CommandResult
from remediations.connections.recording import RecordingConnection
from remediations.core.errors import InvalidInput
from remediations.core.result import Status
from remediations.host import blocklist
from remediations.host.apache import (
    DEBIAN,
    HEADER,
    RHEL,
    denied,
    ip_blocked,
    ip_unblocked,
    layout,
    parse_mod_php,
    parse_overrides,
    render_blocked,
    render_unblocked,
    section,
)
from remediations.host.units import ServiceNotInstalled
from remediations.laravel.php import opcache_reset, php_settings, web_php
from remediations.run.target import RunContext, Target

PATH = DEBIAN.blocklist
LINK = "/etc/apache2/conf-enabled/remediations-blocklist.conf"
START = datetime(2026, 11, 23, 10, tzinfo=UTC)
LISTING = ("apache2.service enabled enabled\nredis-server.service enabled enabled\n"
           "supervisor.service enabled enabled\ncron.service enabled enabled\n")
LOAD = "LoadModule php_module /usr/lib/apache2/modules/libphp8.2.so\n"


def show(unit: str = "apache2.service", active: str = "active", pid: int = 10,
         since: str = "Mon 2026-11-23 09:00:00.000000 UTC") -> str:
    return (f"Id={unit}\nLoadState=loaded\nActiveState={active}\nSubState=running\n"
            f"MainPID={pid}\nActiveEnterTimestamp={since}\nUnitFileState=enabled\n")


def block(address: str) -> str:
    return "\n".join(section(address)) + "\n"


def target(conn: RecordingConnection, *, check: bool = False, **hostvars: object) -> Target:
    from tests.unit.helpers import host

    return Target(host("apache1", app_path="/var/www/app", **hostvars), conn,
                  RunContext("r1", START, check=check))


# --- the blocklist as text ---------------------------------------------------------------

@pytest.mark.parametrize("before,address,after", [
    (None, "203.0.113.7", HEADER + block("203.0.113.7")),
    (HEADER + block("203.0.113.7"), "203.0.113.7", HEADER + block("203.0.113.7")),
    (HEADER + block("198.51.100.1"), "2001:db8::/32",
     HEADER + block("198.51.100.1") + block("2001:db8::/32")),
    # duplicates collapse to exactly one section; the same network written differently too
    (HEADER + block("203.0.113.7") + block("10.0.0.1") + block("203.0.113.7"), "203.0.113.7",
     HEADER + block("203.0.113.7") + block("10.0.0.1")),
    (HEADER + block("2001:0db8::/32"), "2001:db8::/32", HEADER + block("2001:0db8::/32")),
])
def test_render_blocked(before: str | None, address: str, after: str) -> None:
    assert render_blocked(before, address) == after


@pytest.mark.parametrize("before,address,after", [
    (None, "203.0.113.7", None),
    (HEADER + block("203.0.113.7"), "203.0.113.7", HEADER),
    (HEADER + block("198.51.100.1"), "203.0.113.7", HEADER + block("198.51.100.1")),
    (HEADER + block("203.0.113.7") + block("10.0.0.1") + block("203.0.113.7"), "203.0.113.7",
     HEADER + block("10.0.0.1")),
])
def test_render_unblocked(before: str | None, address: str, after: str | None) -> None:
    assert render_unblocked(before, address) == after


def test_a_section_denies_with_apache_24_syntax() -> None:
    assert section("10.0.0.0/8") == ["<If \"-R '10.0.0.0/8'\">", "    Require all denied", "</If>"]
    assert denied(HEADER + block("1.2.3.4") + "<If \"-R '5.6.7.8'\">\n") == ["1.2.3.4"]


def test_layouts_and_the_inventory_path() -> None:
    t = target(RecordingConnection())
    assert layout(t, "apache2") == DEBIAN
    assert layout(t, "httpd").blocklist == RHEL.blocklist and layout(t, "httpd").enable == ()
    own = layout(target(RecordingConnection(), apache_blocklist_path=
                        "/etc/apache2/conf-available/deny.conf"), "apache2")
    assert own.enable == ("a2enconf", "-q", "deny")
    assert own.enabled == "/etc/apache2/conf-enabled/deny.conf"
    for bad in ("/etc/apache2/../x.conf", "relative.conf", "/etc/apache2/x; reboot.conf",
                "/etc/apache2/x.txt"):
        with pytest.raises(InvalidInput):
            layout(target(RecordingConnection(), apache_blocklist_path=bad), "apache2")
    with pytest.raises(InvalidInput):
        layout(t, "nginx")


# --- block and unblock on a host -----------------------------------------------------------

class FakeApache:
    """apache2 with one managed file: `cat` reads it, the write step replaces it, `rm` removes
    it; `a2enconf` makes the link `test -e` then sees."""

    def __init__(self, content: str | None, *, enabled: bool | None = None, test_ok: bool = True,
                 active: str = "active") -> None:
        self.content = content
        self.enabled = content is not None if enabled is None else enabled
        self.conn = RecordingConnection("apache1")
        self.conn.on(r"^systemctl list-unit-files", stdout=LISTING)
        self.conn.on(r"^cat -- ", reply=self._cat)
        self.conn.on(r"^sh -c 'printf %s ", reply=self._write)
        self.conn.on(r"^rm -f -- /etc/apache2/conf-enabled/", reply=self._unlink)
        self.conn.on(r"^rm -f -- ", reply=self._rm)
        self.conn.on(r"^test -e /etc/apache2/conf-enabled/", reply=self._test)
        self.conn.on(r"^a2enconf ", reply=self._enable)
        self.conn.on(r"^systemctl show", stdout=show(active=active))
        self.conn.on(r"^apache2ctl configtest", exit_code=0 if test_ok else 1,
                     stderr="Syntax OK" if test_ok else
                     "AH00526: Syntax error on line 3 of /etc/apache2/conf-enabled/x.conf:\n"
                     "Invalid command 'Bogus'")
        self.conn.on(r"^curl ", stdout="hello\n403")

    def _cat(self, argv: tuple[str, ...]) -> CommandResult:
        if argv[-1] != PATH or self.content is None:
            return CommandResult("cat", 1, "", "No such file or directory")
        return CommandResult("cat", 0, self.content)

    def _write(self, argv: tuple[str, ...]) -> CommandResult:
        self.content = base64.b64decode(argv[2].split()[2].strip("'")).decode()
        return CommandResult("sh", 0)

    def _rm(self, argv: tuple[str, ...]) -> CommandResult:
        self.content = None
        return CommandResult("rm", 0)

    def _unlink(self, argv: tuple[str, ...]) -> CommandResult:
        self.enabled = False
        return CommandResult("rm", 0)

    def _test(self, argv: tuple[str, ...]) -> CommandResult:
        return CommandResult("test", 0 if self.enabled else 1)

    def _enable(self, argv: tuple[str, ...]) -> CommandResult:
        self.enabled = True
        return CommandResult("a2enconf", 0)


def test_first_block_writes_enables_tests_then_reloads_gracefully() -> None:
    fake = FakeApache(None)
    res = blocklist.ip_blocked(target(fake.conn), "203.0.113.7")
    assert res.status is Status.CHANGED, (res.message, res.evidence)
    assert res.commands[1:] == ("a2enconf -q remediations-blocklist", "apache2ctl configtest",
                                "systemctl reload apache2.service")
    assert res.commands[0].startswith("sh -c 'printf %s ") and PATH in res.commands[0]
    assert fake.content == HEADER + block("203.0.113.7") and fake.enabled
    assert res.data["http_status"] == 403 and res.data["unit"] == "apache2.service"
    again = blocklist.ip_blocked(target(fake.conn), "203.0.113.7")
    assert again.status is Status.OK and again.commands == ()
    assert "already blocked" in again.message


def test_a_failing_configtest_restores_the_file_and_the_link_and_reloads_nothing() -> None:
    fake = FakeApache(None, test_ok=False)
    res = ip_blocked(target(fake.conn), "203.0.113.7")
    assert res.status is Status.FAILED and res.message == "`apache2ctl configtest` failed"
    assert "Invalid command 'Bogus'" in res.evidence and "removed " + PATH in res.evidence
    assert fake.content is None and not fake.enabled
    assert not fake.conn.commands_matching(r"^systemctl reload")
    old = HEADER + block("198.51.100.1")
    fake = FakeApache(old, test_ok=False)
    res = ip_blocked(target(fake.conn), "203.0.113.7")
    assert res.failed and fake.content == old and fake.enabled
    assert "restored the previous" in res.evidence


def test_check_mode_plans_the_exact_commands_and_writes_nothing() -> None:
    fake = FakeApache(HEADER + block("198.51.100.1"))
    res = ip_blocked(target(fake.conn, check=True), "203.0.113.7")
    assert res.status is Status.CHANGED and res.check
    assert res.message == (f"would block 203.0.113.7 in {PATH}, test, reload apache2.service")
    assert res.commands[1:] == ("apache2ctl configtest", "systemctl reload apache2.service")
    assert fake.content == HEADER + block("198.51.100.1")
    assert {a[0] for a in fake.conn.commands} <= {"systemctl", "cat", "test"}


def test_unblock_removes_the_section_and_a_second_run_is_ok() -> None:
    fake = FakeApache(HEADER + block("203.0.113.7") + block("10.0.0.0/8"))
    res = blocklist.ip_unblocked(target(fake.conn), "203.0.113.7")
    assert res.status is Status.CHANGED and fake.content == HEADER + block("10.0.0.0/8")
    assert res.commands[1:] == ("apache2ctl configtest", "systemctl reload apache2.service")
    assert ip_unblocked(target(fake.conn), "203.0.113.7").status is Status.OK


def test_a_stopped_apache_gets_the_file_tested_without_a_reload() -> None:
    fake = FakeApache(None, active="inactive")
    res = ip_blocked(target(fake.conn), "203.0.113.7")
    assert res.status is Status.CHANGED and "not running" in res.message
    assert res.commands[-1] == "apache2ctl configtest"


def test_dispatch_follows_the_discovered_or_named_web_server() -> None:
    nginx = RecordingConnection("web1").on(r"^systemctl list-unit-files",
                                           stdout="nginx.service enabled enabled\n")
    res = blocklist.ip_blocked(target(nginx, check=True), "203.0.113.7")
    assert "nginx -t" in res.commands
    fake = FakeApache(None)
    named = blocklist.ip_blocked(target(fake.conn, check=True, web_server_service="nginx"),
                                 "203.0.113.7")
    assert "nginx -t" in named.commands
    with pytest.raises(InvalidInput):
        blocklist.ip_blocked(target(fake.conn), "203.0.113.7; reboot")


# --- mod_php -------------------------------------------------------------------------------

def test_mod_php_from_the_enabled_load_lines() -> None:
    debian = parse_mod_php(LOAD, DEBIAN)
    assert debian is not None and debian.version == "8.2" and debian.cli == "php8.2"
    assert (debian.ini, debian.scan_dir) == ("/etc/php/8.2/apache2/php.ini",
                                             "/etc/php/8.2/apache2/conf.d")
    rhel = parse_mod_php("LoadModule php_module modules/libphp.so\n", RHEL)
    assert rhel is not None and (rhel.ini, rhel.cli) == ("/etc/php.ini", "php")
    assert parse_mod_php("LoadModule rewrite_module x.so\n", DEBIAN) is None


def test_apache_php_values_are_read_last_one_winning() -> None:
    text = ('    php_value upload_max_filesize 64M\n\tphp_admin_value memory_limit "512M"\n'
            "# php_value post_max_size 1G\nphp_value upload_max_filesize 96M\n")
    assert parse_overrides(text) == {"upload_max_filesize": "96M", "memory_limit": "512M"}


def mod_php_host(*, test_ok: bool = True, since: str = "Mon 2026-11-23 09:00:00.000000 UTC",
                 marker: bool = False) -> RecordingConnection:
    conn = RecordingConnection("apache1").on(r"^systemctl list-unit-files", stdout=LISTING)
    conn.on(r"^grep -RhsE .*LoadModule", stdout=LOAD)
    conn.on(r"^systemctl show", stdout=show(pid=10, since=since))
    conn.on(r"^test -e /run/lock/remediations.runs/", exit_code=0 if marker else 1)
    conn.on(r"^apache2ctl configtest", exit_code=0 if test_ok else 1,
            stderr="Syntax OK" if test_ok else "AH00526: Syntax error on line 1")
    conn.on(r"^pgrep -P 10", stdout="11\n12\n", times=1)
    conn.on(r"^pgrep -P 10", stdout="21\n22\n")
    return conn


def test_web_php_is_apache_where_no_php_fpm_is_installed() -> None:
    found = web_php(target(mod_php_host()))
    assert found.unit == "apache2.service" and found.apache
    assert found.mod_php is not None and found.mod_php.version == "8.2"
    nothing = RecordingConnection().on(r"^systemctl list-unit-files",
                                       stdout="nginx.service enabled enabled\n")
    with pytest.raises(ServiceNotInstalled, match="php_fpm_service"):
        web_php(target(nothing))


def test_opcache_reset_on_mod_php_tests_then_reloads_apache_once() -> None:
    conn = mod_php_host()
    res = opcache_reset(target(conn))
    assert res.status is Status.CHANGED, (res.message, res.evidence)
    assert res.commands[:2] == ("apache2ctl configtest", "systemctl reload apache2.service")
    assert res.commands[2].endswith("/r1/reload-apache2.service'") or \
        res.commands[2].endswith("/r1/reload-apache2.service")
    assert res.data["sapi"] == "apache2handler" and res.data["workers_before"] == [11, 12]
    assert "children replaced (2 -> 2)" in res.message
    assert "config test `apache2ctl configtest` passed" in res.message
    done = opcache_reset(target(mod_php_host(marker=True)))
    assert done.status is Status.OK and "already reloaded by this run" in done.message


def test_opcache_reset_on_mod_php_refuses_a_broken_configuration() -> None:
    conn = mod_php_host(test_ok=False)
    res = opcache_reset(target(conn))
    assert res.status is Status.FAILED and "not reloaded" in res.message
    assert res.commands == ("apache2ctl configtest",)
    assert not conn.commands_matching(r"^systemctl reload")


def test_opcache_reset_check_mode_on_mod_php_changes_nothing() -> None:
    conn = mod_php_host()
    res = opcache_reset(target(conn, check=True))
    assert res.status is Status.CHANGED and res.check
    assert res.commands[:2] == ("apache2ctl configtest", "systemctl reload apache2.service")
    assert not conn.commands_matching(r"^(systemctl reload|sh -c)")


def test_php_settings_of_mod_php_read_its_ini_files_and_apache_values() -> None:
    conn = mod_php_host()
    conn.on(r"^env PHP_INI_SCAN_DIR=/etc/php/8.2/apache2/conf.d php8.2 -c "
            r"/etc/php/8.2/apache2/php.ini -r ", stdout=json.dumps(
                {"upload_max_filesize": "2M", "post_max_size": "8M", "memory_limit": "128M",
                 "max_execution_time": "30"}))
    conn.on(r"^grep -RhsE", stdout="php_value upload_max_filesize 64M\n")
    conn.on(r"^php -r ", stdout=json.dumps({"upload_max_filesize": "2M", "post_max_size": "8M",
                                             "memory_limit": "-1", "max_execution_time": "0"}))
    res = php_settings(target(conn))
    assert res.status is Status.OK, res.message
    assert res.data["apache"] == {"upload_max_filesize": "64M", "post_max_size": "8M",
                                  "memory_limit": "128M", "max_execution_time": "30"}
    assert res.data["web"] == res.data["apache"] and res.data["sapi"] == "apache2handler"
    assert res.data["apache_ini"]["upload_max_filesize"] == "2M"
    assert res.data["php_ini"] == "/etc/php/8.2/apache2/php.ini"
    low = php_settings(target(conn), at_least={"memory_limit": "256M"})
    assert low.failed and "memory_limit=128M < 256M" in low.message


# --- the runbooks on a mod_php host --------------------------------------------------------

def test_runbooks_use_the_discovered_units(monkeypatch: pytest.MonkeyPatch) -> None:
    from remediations.laravel import runtime
    from remediations.runbooks.catalogue import _php_runtime, app_unresponsive

    monkeypatch.setattr(runtime, "octane_runs", lambda t, done=None: False)
    conn = mod_php_host()
    assert _php_runtime(target(conn)) == "apache2.service"
    res = app_unresponsive(target(conn, check=True))
    labels = [s["remediation"] for s in res.data["steps"]]
    assert labels == ["services status", "apache2 running", "redis-server running",
                      "workers running", "verify"]
