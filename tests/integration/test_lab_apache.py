"""apache1, the Forge-style lab host: Apache + mod_php (no php-fpm), cron, Horizon, git deploys.

What other tests build on, proven once: its units, the vhost, the app as a clean git work
tree at v1.2.3 with a lock that changes between v1.2.2 and v1.2.3, Forge's crontab line, and
the Horizon stand-in (registered in redis, run by supervisor, paused and continued, restarted
after horizon:terminate, working the default queue).
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from tests.integration.conftest import ALL_LAB_HOSTS, wait_for

pytestmark = pytest.mark.lab

APP = "/var/www/app"
REDIS = "redis-cli -a lab-redis-s3cret --no-auth-warning"
CRON_LINE = "* * * * * cd /var/www/app && php artisan schedule:run >> /dev/null 2>&1"


def artisan(host: Any, command: str) -> Any:
    return host.run(f"cd {APP} && runuser -u www-data -- php artisan {command}")


def git(host: Any, args: str) -> str:
    return str(host.check_output(f"runuser -u www-data -- git -C {APP} {args}"))


def master_pid(host: Any) -> int:
    return int(host.check_output("supervisorctl pid horizon"))


def registered_masters(host: Any) -> dict[str, dict[str, str]]:
    names = host.check_output(f"{REDIS} zrange horizon:masters 0 -1").split()
    masters = {}
    for name in names:
        flat = host.check_output(f"{REDIS} hgetall horizon:master:{name}").splitlines()
        if flat:
            masters[name] = dict(zip(flat[::2], flat[1::2], strict=True))
    return masters


def test_units_active_and_no_php_fpm(apache: Any) -> None:
    for unit in ("apache2", "redis-server", "supervisor", "cron", "ssh"):
        assert apache.service(unit).is_enabled, unit
        assert apache.run(f"systemctl is-active {unit}").stdout.strip() == "active", unit
    assert apache.run("systemctl is-system-running").stdout.strip() == "running"
    # list-unit-files exits 1 when nothing matches.
    assert apache.run("systemctl list-unit-files --no-legend 'php*fpm*'").stdout.strip() == ""
    assert not apache.package("php8.2-fpm").is_installed
    assert apache.package("libapache2-mod-php8.2").is_installed
    # No scheduler timer and no laravel-worker program: cron and Horizon do those jobs here.
    assert not apache.file("/etc/systemd/system/laravel-scheduler.timer").exists
    assert not apache.file("/etc/supervisor/conf.d/laravel-worker.conf").exists


def test_apache_serves_the_app_at_v1_2_3(apache: Any) -> None:
    check = apache.run("apachectl configtest")
    assert check.rc == 0 and "Syntax OK" in check.stderr
    assert apache.file("/etc/apache2/sites-enabled/laravel.conf").exists
    assert not apache.file("/etc/apache2/sites-enabled/000-default.conf").exists
    assert "rewrite_module" in apache.check_output("apachectl -M")
    with urllib.request.urlopen(ALL_LAB_HOSTS["apache1"].health_url, timeout=10) as resp:
        assert resp.status == 200
        assert json.loads(resp.read()) == {"status": "ok", "version": "1.2.3"}


def test_the_app_is_a_clean_git_work_tree_at_v1_2_3(apache: Any) -> None:
    assert git(apache, "describe --tags --exact-match HEAD") == "v1.2.3"
    assert git(apache, "status --porcelain") == ""
    assert git(apache, "tag --list").split() == ["v1.2.2", "v1.2.3", "v1.2.4"]
    ignored = git(apache, "check-ignore .env vendor storage bootstrap/cache/packages.php").split()
    assert ignored == [".env", "vendor", "storage", "bootstrap/cache/packages.php"]
    # root may run git there too (safe.directory), as remediations over ssh do.
    assert apache.check_output(f"git -C {APP} rev-parse --abbrev-ref HEAD") == "HEAD"
    # Only v1.2.2 -> v1.2.3 changes the lock, so only that switch needs `composer install`.
    assert apache.run(f"git -C {APP} diff --quiet v1.2.2 v1.2.3 -- composer.lock").rc == 1
    assert apache.run(f"git -C {APP} diff --quiet v1.2.3 v1.2.4 -- composer.lock").rc == 0
    assert artisan(apache, "lab:extras").stdout.strip() == "1.1.0"


def test_cron_runs_the_scheduler_the_forge_way(apache: Any) -> None:
    assert apache.check_output("crontab -u www-data -l") == CRON_LINE
    assert artisan(apache, "schedule:list").rc == 0


def test_horizon_runs_under_supervisor_and_registers_in_redis(apache: Any) -> None:
    assert "RUNNING" in apache.check_output("supervisorctl status horizon")
    status = artisan(apache, "horizon:status")
    assert (status.rc, status.stdout.strip()) == (0, "Horizon is running.")
    pid = master_pid(apache)
    (master,) = [m for m in registered_masters(apache).values() if m["pid"] == str(pid)]
    assert master["status"] == "running"
    assert master["name"].startswith("apache1-") and len(master["name"]) == len("apache1-") + 4
    assert json.loads(master["supervisors"]) == [f"{master['name']}:supervisor-1"]
    workers = apache.check_output(f"pgrep -P {pid} -f 'artisan horizon:work'").split()
    assert len(workers) == 2


def test_horizon_works_the_default_queue(apache: Any) -> None:
    assert artisan(apache, "lab:enqueue 3").rc == 0
    wait_for("the pings processed",
             lambda: apache.check_output(f"{REDIS} llen queues:default") == "0", timeout=20)


def test_horizon_pauses_continues_and_restarts_after_terminate(apache: Any) -> None:
    pid = master_pid(apache)
    pause = artisan(apache, "horizon:pause")
    assert pause.rc == 0 and f"Process: {pid} DONE" in pause.stdout
    try:
        wait_for("paused", lambda: artisan(apache, "horizon:status").rc == 1, timeout=10)
        assert artisan(apache, "horizon:status").stdout.strip() == "Horizon is paused."
    finally:
        assert artisan(apache, "horizon:continue").rc == 0
    wait_for("running again", lambda: artisan(apache, "horizon:status").rc == 0, timeout=10)

    assert artisan(apache, "horizon:terminate --wait").rc == 0
    assert not apache.run(f"kill -0 {pid}").rc == 0

    def restarted() -> bool:
        new = apache.run("supervisorctl pid horizon").stdout.strip()
        return new.isdigit() and int(new) not in (0, pid) and artisan(
            apache, "horizon:status").rc == 0

    wait_for("supervisor's new master", restarted, timeout=20)
    assert pid not in {int(m["pid"]) for m in registered_masters(apache).values()}


def test_a_checkout_and_offline_composer_install_switch_the_release(apache: Any) -> None:
    """v1.2.2 and back, as a Forge deploy does it: checkout, composer install, reload Apache."""
    url = ALL_LAB_HOSTS["apache1"].health_url
    composer = ("runuser -u www-data -- env HOME=/var/www COMPOSER_DISABLE_NETWORK=1 "
                f"composer --working-dir={APP} install --no-dev --no-interaction -q")

    def release(tag: str) -> None:
        git(apache, f"checkout -q {tag}")
        assert apache.run(composer).rc == 0
        apache.check_output("systemctl reload apache2")

    try:
        release("v1.2.2")
        assert artisan(apache, "lab:extras").stdout.strip() == "1.0.0"
        with urllib.request.urlopen(url, timeout=10) as resp:
            assert json.loads(resp.read())["version"] == "1.2.2"
    finally:
        release("v1.2.3")
    assert artisan(apache, "lab:extras").stdout.strip() == "1.1.0"
    assert git(apache, "status --porcelain") == ""
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert json.loads(resp.read())["version"] == "1.2.3"
