"""What runs the app, from the probe's lines; the hooks a switch runs because of it."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from typing import Any

import pytest

from remediations.connections.recording import RecordingConnection
from remediations.core.errors import InvalidInput, RemediationError
from remediations.core.scripts import script
from remediations.laravel.runtime import (
    Runtime,
    app_runtime,
    horizon_runs,
    horizon_state,
    is_horizon_master,
    octane_runs,
    parse_runtime,
    release_hooks,
    switch_hooks,
)
from remediations.run.target import RunContext, Target
from tests.unit.helpers import host

APP = "/srv/app/current"
ART = ["runuser", "-u", "www-data", "--", "php"]
WEB1 = ("systemd\tyes\nunit\tphp8.2-fpm.service\tenabled\nunit\tnginx.service\tenabled\n"
        "unit\tphp8.1-fpm.service\tdisabled\n")
APACHE1 = ("systemd\tyes\nunit\tapache2.service\tenabled\n"
           "mod_php\t/etc/apache2/mods-enabled/php8.2.load\n"
           "proc\t412\twww-data\t/var/www/app\tphp artisan horizon\n"
           "proc\t530\twww-data\t/var/www/app\tphp /var/www/app/artisan horizon:work redis\n"
           "horizon_rc\t0\nhorizon\t   INFO  Horizon is running.\n")


def target(conn: RecordingConnection, **hostvars: Any) -> Target:
    hv = {"app_path": APP, "app_user": "www-data", "ansible_user": "root", **hostvars}
    return Target(host("web1", **hv), conn, RunContext("r1", datetime(2026, 12, 6, tzinfo=UTC)))


@pytest.mark.parametrize("text,app,expected", [
    (WEB1, APP, Runtime("php8.2-fpm.service", "nginx.service", False, False, False)),
    (APACHE1, "/var/www/app", Runtime(None, "apache2.service", True, False, True,
                                      horizon_status="running", horizon_masters=(412,))),
    # a container: no systemd, no units; a worker image with a paused Horizon master
    ("systemd\tno\nproc\t7\twww-data\t/srv/app\tphp artisan horizon\nhorizon_rc\t1\n"
     "horizon\tHorizon is paused.\n", "/srv/app",
     Runtime(None, None, False, False, True, systemd=False, horizon_status="paused",
             horizon_masters=(7,))),
    # Horizon installed, its master gone: not running (queue:restart, not horizon:terminate)
    ("systemd\tyes\nunit\tnginx.service\tenabled\nhorizon_rc\t2\n"
     "horizon\t   ERROR  Horizon is inactive.\n", APP,
     Runtime(None, "nginx.service", False, False, False, horizon_status="inactive")),
    # Octane: the status command, or a server process of the app
    ("systemd\tyes\noctane_rc\t0\noctane\t   INFO  Octane server is running.\n", APP,
     Runtime(None, None, False, True, False, octane_status="INFO  Octane server is running.")),
    ("systemd\tyes\nproc\t90\twww-data\t/srv/app/releases/v1\t"
     "php artisan octane:start --server=swoole\noctane_rc\t1\noctane\tOctane server is not "
     "running.\n", APP, Runtime(None, None, False, True, False,
                                octane_status="Octane server is not running.")),
])
def test_parse_runtime(text: str, app: str, expected: Runtime) -> None:
    got = parse_runtime(text, app=app, user="www-data")
    fields = ("php_fpm", "web_server", "mod_php", "octane", "horizon", "systemd",
              "horizon_status", "horizon_masters", "octane_status")
    assert {f: getattr(got, f) for f in fields} == {f: getattr(expected, f) for f in fields}


def test_another_apps_horizon_is_not_this_apps() -> None:
    text = ("systemd\tyes\nproc\t412\tforge\t/home/forge/shop\tphp artisan horizon\n"
            "proc\t413\twww-data\t/home/forge/blog\tphp artisan horizon\n")
    assert not parse_runtime(text, app="/srv/app/current", user="www-data").horizon
    # its working directory unreadable (probed without root): the app user's master counts
    text = "systemd\tyes\nproc\t414\twww-data\t\tphp artisan horizon\n"
    assert parse_runtime(text, app=APP, user="www-data").horizon_masters == (414,)


def test_inventory_php_fpm_service_wins_when_installed() -> None:
    assert parse_runtime(WEB1, app=APP, user="www-data",
                         fpm_wanted="php8.1-fpm").php_fpm == "php8.1-fpm.service"
    assert parse_runtime(WEB1, app=APP, user="www-data",
                         fpm_wanted="php7.4-fpm").php_fpm == "php8.2-fpm.service"


@pytest.mark.parametrize("text,state", [
    ("   INFO  Horizon is running.", "running"), ("Horizon is paused.", "paused"),
    ("  ERROR  Horizon is inactive.", "inactive"),
    ('Command "horizon:status" is not defined.', ""),
])
def test_horizon_state(text: str, state: str) -> None:
    assert horizon_state(text) == state


@pytest.mark.parametrize("args,master", [
    ("php artisan horizon", True), ("/usr/bin/php8.2 /var/www/app/artisan horizon", True),
    ("php artisan horizon:supervisor x", False), ("php artisan horizon:work redis", False),
    ("php artisan queue:work", False), ("horizon", False),
])
def test_is_horizon_master(args: str, master: bool) -> None:
    assert is_horizon_master(args) is master


def test_app_runtime_is_one_read_only_round_trip_as_the_app_user() -> None:
    conn = RecordingConnection().on(r"list-unit-files", stdout=WEB1)
    rt = app_runtime(target(conn))
    assert rt.php_fpm == "php8.2-fpm.service" and not rt.horizon and not rt.octane
    assert conn.round_trips == 1
    (argv,) = conn.commands
    assert argv[:2] == ("sh", "-c") and argv[3:] == ("_", APP, "runuser", "-u", "www-data", "--")


def test_app_runtime_unreadable_raises() -> None:
    conn = RecordingConnection().on(r"list-unit-files", exit_code=1, stderr="sh: not found")
    with pytest.raises(RemediationError, match="could not read the app's runtime"):
        app_runtime(target(conn))


def test_predicates_for_runbook_steps() -> None:
    conn = RecordingConnection().on(r"list-unit-files", stdout=APACHE1)
    t = target(conn, app_path="/var/www/app")
    assert horizon_runs(t, None) and not octane_runs(t, None)


REL = "/srv/app/releases/v1.2.2"


@pytest.mark.parametrize("rt,names", [
    (Runtime("php8.2-fpm.service", "nginx.service", False, False, False),
     ["php-fpm:reload", "queue:restart"]),
    (Runtime(None, "apache2.service", True, False, True), ["apache2:reload", "horizon:terminate"]),
    (Runtime("php8.2-fpm.service", "nginx.service", False, True, True),
     ["php-fpm:reload", "octane:reload", "horizon:terminate"]),
    (Runtime(None, "httpd.service", True, False, False), ["httpd:reload", "queue:restart"]),
    # Apache in front of php-fpm (proxy_fcgi): php-fpm holds the opcache, Apache is left alone
    (Runtime("php8.2-fpm.service", "apache2.service", False, False, False),
     ["php-fpm:reload", "queue:restart"]),
    (Runtime(None, None, False, False, False, systemd=False), ["queue:restart"]),
])
def test_switch_hooks_follow_the_runtime(rt: Runtime, names: list[str]) -> None:
    hooks = switch_hooks(target(RecordingConnection()), rt, REL)
    assert [n for n, _ in hooks] == names


def test_switch_hook_commands() -> None:
    t = target(RecordingConnection(), release_hooks=["cache:prune-stale-tags",
                                                     "php artisan horizon:snapshot"])
    hooks = dict(switch_hooks(t, Runtime("php8.2-fpm.service", "nginx.service", False, True,
                                         True), REL))
    assert hooks["php-fpm:reload"] == ["systemctl", "reload", "php8.2-fpm.service"]
    assert hooks["octane:reload"] == [*ART, f"{REL}/artisan", "octane:reload"]
    assert hooks["horizon:terminate"] == [*ART, f"{REL}/artisan", "horizon:terminate"]
    assert hooks["artisan:cache:prune-stale-tags"] == [*ART, f"{REL}/artisan",
                                                        "cache:prune-stale-tags"]
    assert list(hooks)[-2:] == ["artisan:cache:prune-stale-tags", "artisan:horizon:snapshot"]
    apache = dict(switch_hooks(t, Runtime(None, "apache2.service", True, False, False), REL))
    assert apache["apache2:reload"] == ["sh", "-c", "apachectl configtest && systemctl reload "
                                                    "apache2.service"]


@pytest.mark.parametrize("value", [
    "cache:clear", ["cache:clear; reboot"], ["migrate --force"], ["db:wipe"], ["down"],
    ["queue:flush"], [""], [3], ["cache:clear $(id)"], ["cache:clear 'unterminated"],
])
def test_bad_release_hooks_are_refused(value: object) -> None:
    with pytest.raises(InvalidInput):
        release_hooks(value)


def test_release_hooks_with_plain_options() -> None:
    assert release_hooks(["cache:clear --tags=a,b", "artisan horizon:snapshot"]) == [
        ("artisan:cache:clear", ["cache:clear", "--tags=a,b"]),
        ("artisan:horizon:snapshot", ["horizon:snapshot"])]
    assert release_hooks(None) == []


def test_probe_script_is_valid_posix_sh() -> None:
    res = subprocess.run(["sh", "-n", "-c", script("runtime-probe.sh")], capture_output=True,
                         text=True, check=False)
    assert res.returncode == 0, res.stderr
