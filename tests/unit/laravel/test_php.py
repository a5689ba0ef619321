"""PHP settings as FPM and the CLI see them, the opcache reset, Octane: parsing and decisions."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import pytest

from remediations.connections.recording import RecordingConnection
from remediations.core.errors import InvalidInput
from remediations.core.result import Status
from remediations.laravel.php import (
    amount,
    fpm_argv,
    octane_reloaded,
    opcache_reset,
    parse_phpinfo,
    parse_pool_overrides,
    php_settings,
)
from remediations.run.target import RunContext, Target
from tests.unit.helpers import host

RUN_START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
EXEC_START = ("ExecStart={ path=/usr/sbin/php-fpm8.2 ; argv[]=/usr/sbin/php-fpm8.2 --nodaemonize "
              "--fpm-config /etc/php/8.2/fpm/php-fpm.conf ; ignore_errors=no ; start_time=[n/a] }\n")
PHPINFO = """Server API => FPM/FastCGI
Loaded Configuration File => /etc/php/8.2/fpm/php.ini
max_execution_time => 30 => 30
memory_limit => 128M => 128M
post_max_size => 8M => 8M
upload_max_filesize => 2M => 2M
"""
TT = """[23-Nov-2026 11:07:59] NOTICE: [global]
[23-Nov-2026 11:07:59] NOTICE: \tpid = /run/php/php8.2-fpm.pid
[23-Nov-2026 11:07:59] NOTICE: [www]
[23-Nov-2026 11:07:59] NOTICE: \tuser = www-data
[23-Nov-2026 11:07:59] NOTICE: \tphp_value[upload_max_filesize] = 20M
[23-Nov-2026 11:07:59] NOTICE: \tphp_admin_value[memory_limit] = 256M
[23-Nov-2026 11:07:59] NOTICE: [api]
[23-Nov-2026 11:07:59] NOTICE: \tphp_admin_flag[log_errors] = on
[23-Nov-2026 11:07:59] NOTICE: configuration file /etc/php/8.2/fpm/php-fpm.conf test is successful
"""
FPM = ["/usr/sbin/php-fpm8.2", "--fpm-config", "/etc/php/8.2/fpm/php-fpm.conf"]


def target(conn: RecordingConnection, *, check: bool = False, run_start: datetime = RUN_START) -> Target:
    h = host("web1", app_path="/srv/app/current", app_user="www-data", ansible_user="root",
             php_fpm_service="php8.2-fpm")
    return Target(h, conn, RunContext("r1", run_start, check=check))


def test_fpm_argv_keeps_the_binary_and_its_config_options() -> None:
    assert fpm_argv(EXEC_START) == FPM
    with pytest.raises(InvalidInput):
        fpm_argv("ExecStart=\n")


def test_parse_phpinfo_and_pool_overrides() -> None:
    assert parse_phpinfo(PHPINFO, ["memory_limit", "nope"]) == {"memory_limit": "128M", "nope": None}
    assert parse_pool_overrides(TT) == {
        "www": {"upload_max_filesize": "20M", "memory_limit": "256M"},
        "api": {"log_errors": "on"}}


@pytest.mark.parametrize("name,value,expected", [
    ("memory_limit", "128M", 128 * 2**20), ("memory_limit", "-1", math.inf),
    ("max_execution_time", "0", math.inf), ("max_execution_time", "30", 30),
    ("upload_max_filesize", "1G", 2**30), ("post_max_size", "512K", 512 * 1024),
])
def test_amount(name: str, value: str, expected: float) -> None:
    assert amount(name, value) == expected


def settings_host() -> RecordingConnection:
    conn = RecordingConnection("web1")
    conn.on(r"^systemctl show -p ExecStart php8.2-fpm.service$", stdout=EXEC_START)
    conn.on(r"php-fpm8.2 .* -i$", stdout=PHPINFO)
    conn.on(r"php-fpm8.2 .* -tt$", stderr=TT)
    conn.on(r"^php -r", stdout=json.dumps({"upload_max_filesize": "2M", "post_max_size": "8M",
                                            "memory_limit": "-1", "max_execution_time": "0"}))
    return conn


def test_php_settings_per_sapi_with_the_pool_on_top_of_fpm_ini() -> None:
    conn = settings_host()
    result = php_settings(target(conn))
    assert result.status is Status.OK and result.commands == ()
    assert result.data["fpm"] == {"upload_max_filesize": "20M", "post_max_size": "8M",
                                  "memory_limit": "256M", "max_execution_time": "30"}
    assert result.data["fpm_ini"]["memory_limit"] == "128M"
    assert result.data["cli"]["memory_limit"] == "-1"
    assert result.data["fpm_pools"]["api"]["memory_limit"] == "128M"
    assert "memory_limit fpm=256M cli=-1" in result.message
    assert conn.ran(*FPM, "-i") and conn.ran(*FPM, "-tt")


def test_php_settings_fails_below_a_floor() -> None:
    result = php_settings(target(settings_host()), at_least={"upload_max_filesize": "64M",
                                                            "memory_limit": "256M"})
    assert result.status is Status.FAILED
    assert result.message == "FPM pool www: upload_max_filesize=20M < 64M"


@pytest.mark.parametrize("names", [["memory_limit; id"], [], ["Memory Limit"]])
def test_setting_names_are_validated(names: list[str]) -> None:
    conn = RecordingConnection()
    with pytest.raises(InvalidInput):
        php_settings(target(conn), names)
    assert conn.commands == []


SHOW = ("Id=php8.2-fpm.service\nLoadState=loaded\nActiveState={active}\nSubState=running\n"
        "MainPID=34\nActiveEnterTimestamp={since}\nUnitFileState=enabled\nResult=success\n")
BEFORE = "Mon 2026-11-23 09:00:00.000000 UTC"


def fpm_host(*, active: str = "active", since: str = BEFORE, marked: bool = False) -> RecordingConnection:
    conn = RecordingConnection("web1")
    conn.on(r"^systemctl show", stdout=SHOW.format(active=active, since=since))
    conn.on(r"^pgrep -P 34$", stdout="40\n41\n", times=1)
    conn.on(r"^pgrep -P 34$", stdout="50\n51\n")
    conn.on(r"^test -e", exit_code=0 if marked else 1)
    return conn


def test_opcache_reset_reloads_once_and_sees_new_workers() -> None:
    conn = fpm_host()
    result = opcache_reset(target(conn))
    assert result.status is Status.CHANGED, result.message
    assert result.commands[0] == "systemctl reload php8.2-fpm.service"
    assert result.commands[1].endswith("/run/lock/remediations.runs/r1/reload-php8.2-fpm.service")
    assert result.data["workers_before"] == [40, 41] and result.data["workers_after"] == [50, 51]


def test_opcache_reset_check_mode_reloads_nothing() -> None:
    conn = fpm_host()
    result = opcache_reset(target(conn, check=True))
    assert result.status is Status.CHANGED and result.message == "would reload php8.2-fpm.service"
    assert not conn.commands_matching(r"^systemctl reload|mkdir")


@pytest.mark.parametrize("conn,run_start,message", [
    (fpm_host(marked=True), RUN_START, "php8.2-fpm.service already reloaded by this run"),
    (fpm_host(since="Mon 2026-11-23 10:00:05.000000 UTC"), RUN_START,
     "php8.2-fpm.service was (re)started by this run at 10:00:05"),
])
def test_opcache_reset_is_done_once_per_run(conn: RecordingConnection, run_start: datetime,
                                            message: str) -> None:
    result = opcache_reset(target(conn, run_start=run_start))
    assert (result.status, result.message, result.commands) == (Status.OK, message, ())


def test_opcache_of_a_stopped_fpm_is_skipped() -> None:
    result = opcache_reset(target(fpm_host(active="inactive"), run_start=RUN_START - timedelta(1)))
    assert result.status is Status.SKIPPED


def test_octane_not_installed_is_skipped() -> None:
    conn = RecordingConnection("web1").on(r"^test -d .*/vendor/laravel/octane$", exit_code=1)
    result = octane_reloaded(target(conn))
    assert result.status is Status.SKIPPED and "not installed" in result.message
    assert conn.command_lines == ["test -d /srv/app/current/vendor/laravel/octane"]


def test_octane_installed_is_reloaded_once_per_run_and_verified() -> None:
    conn = RecordingConnection("web1")
    conn.on(r"^test -d", exit_code=0)
    conn.on(r"^test -e", exit_code=1)
    conn.on(r"octane:status", stdout="Octane server is running.")
    result = octane_reloaded(target(conn))
    assert result.status is Status.CHANGED, result.message
    assert result.commands[0] == "runuser -u www-data -- php /srv/app/current/artisan octane:reload"
    assert "octane_reloaded@_srv_app_current" in result.commands[1]

    again = RecordingConnection("web1").on(r"^test -[de]", exit_code=0)
    second = octane_reloaded(target(again))
    assert second.status is Status.OK and not again.commands_matching("artisan")


def test_octane_reload_that_leaves_no_server_fails() -> None:
    conn = RecordingConnection("web1")
    conn.on(r"^test -d", exit_code=0)
    conn.on(r"^test -e", exit_code=1)
    conn.on(r"octane:status", stdout="Octane server is not running.", exit_code=1)
    assert octane_reloaded(target(conn)).status is Status.FAILED
