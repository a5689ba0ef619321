"""Horizon on the lab's Forge-style host (apache1: supervisor runs `php artisan horizon`, the
lab's Horizon stand-in), and what runs the app on each lab host (no Octane anywhere)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import LAB_INVENTORY, infra_host

pytestmark = pytest.mark.lab
INV = str(LAB_INVENTORY)
ARTISAN = "runuser -u www-data -- php /var/www/app/artisan"


def task(cli: Any, *args: str, limit: str = "apache1") -> dict[str, Any]:
    res = cli(*args, "-i", INV, "-l", limit, "--json")
    assert res.code in (0, 2), res.stdout + res.stderr
    return res.by_host()[limit]  # type: ignore[no-any-return]


def master_pid(host: Any, timeout: float = 15.0) -> int:
    """The master's pid once supervisor says RUNNING (STARTING for its first second)."""
    deadline = time.monotonic() + timeout
    while True:
        out = host.check_output("supervisorctl status horizon")
        m = re.search(r"RUNNING\s+pid (\d+)", out)
        if m or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert m, out
    return int(m.group(1))


def status(host: Any) -> str:
    return str(host.run("runuser -u www-data -- php /var/www/app/artisan horizon:status").stdout)


@pytest.fixture
def horizon(apache_hosts: dict[str, Any]) -> Iterator[Any]:
    host = apache_hosts["apache1"]
    host.run("supervisorctl start horizon")
    yield host
    host.run(f"{ARTISAN} horizon:continue")  # never leave the lab paused


def test_what_runs_the_app_on_each_lab_host(lab: Any, apache_hosts: dict[str, Any]) -> None:
    """web1: php-fpm + nginx, no Horizon; apache1: mod_php, Horizon; Octane on none."""
    from remediations.core.result import Status
    from remediations.inventory import load_inventory
    from remediations.laravel.runtime import app_runtime, switch_hooks
    from remediations.run.runner import run
    from remediations.run.state import start_run

    def fact(t: Any) -> Any:
        rt = app_runtime(t)
        hooks = [name for name, _ in switch_hooks(t, rt, "/app")]
        return t.result("app_runtime", Status.OK, rt.describe(),
                        data={**rt.data(), "hooks": hooks})

    report = run(fact, load_inventory(INV).select("lab"), run=start_run(None, check=True))
    got = {r.host: r.data for r in report}
    assert set(got) == {"web1", "web2", "db1", "apache1"}, report
    web1, apache1 = got["web1"], got["apache1"]
    assert (web1["php_fpm"], web1["web_server"], web1["mod_php"], web1["horizon"]) == (
        "php8.2-fpm.service", "nginx.service", False, False)
    assert web1["hooks"] == ["php-fpm:reload", "queue:restart"]
    assert (apache1["php_fpm"], apache1["web_server"], apache1["mod_php"]) == (
        None, "apache2.service", True)
    assert apache1["horizon"] and apache1["horizon_masters"] == [master_pid(apache_hosts["apache1"])]
    assert apache1["hooks"] == ["apache2:reload", "horizon:terminate"]
    # No Octane server can be installed offline: the detection says so on every lab host.
    assert {h: d["octane"] for h, d in got.items()} == dict.fromkeys(got, False)


def test_octane_reload_refused_where_octane_does_not_run(cli: Any, lab: Any) -> None:
    res = cli("reload-octane", "-i", INV, "-l", "web1,apache1", "--json")
    got = res.by_host()
    for host, r in got.items():
        assert r["status"] == "skipped" and "Octane is not installed" in r["message"], host
        assert r["commands"] == []


def test_pause_then_continue(cli: Any, horizon: Any) -> None:
    """horizon_paused / horizon_continued (and the horizon_status fact) through their tasks."""
    assert "Horizon is running." in status(horizon)
    check = task(cli, "horizon-pause", "--check")
    assert (check["status"], check["commands"]) == ("changed", [f"{ARTISAN} horizon:pause"])
    assert "Horizon is running." in status(horizon)            # check mode touched nothing

    first = task(cli, "horizon-pause")
    assert first["status"] == "changed", first
    assert first["commands"] == [f"{ARTISAN} horizon:pause"]
    assert "Horizon is paused." in status(horizon)
    again = task(cli, "horizon-pause")
    assert (again["status"], again["commands"]) == ("ok", [])
    paused = task(cli, "horizon-status")
    assert paused["status"] == "failed" and "horizon-continue" in paused["message"]

    check = task(cli, "horizon-continue", "--check")
    assert (check["status"], check["commands"]) == ("changed", [f"{ARTISAN} horizon:continue"])
    assert "Horizon is paused." in status(horizon)
    first = task(cli, "horizon-continue")
    assert first["status"] == "changed" and "says running" in first["message"], first
    assert "Horizon is running." in status(horizon)
    again = task(cli, "horizon-continue")
    assert (again["status"], again["commands"]) == ("ok", [])


def test_terminate_once_per_run_new_master(cli: Any, horizon: Any) -> None:
    """horizon_terminated: a new master pid, once per run."""
    before = master_pid(horizon)
    check = task(cli, "horizon-terminate", "--check")
    assert check["status"] == "changed"
    assert check["commands"][0] == f"{ARTISAN} horizon:terminate"
    assert master_pid(horizon) == before

    rid = ["--run-id", f"test-{uuid.uuid4().hex[:8]}"]
    first = task(cli, "horizon-terminate", *rid)
    assert first["status"] == "changed", first
    after = master_pid(horizon)
    assert after != before and first["data"]["masters"] == [after]
    assert f"pid {before} -> {after}" in first["message"]
    assert "Horizon is running." in status(horizon)

    again = task(cli, "horizon-terminate", *rid)
    assert (again["status"], again["commands"]) == ("ok", [])
    assert master_pid(horizon) == after


def test_queue_restart_is_horizon_terminate_where_horizon_runs(cli: Any, horizon: Any,
                                                                web_hosts: dict[str, Any]) -> None:
    """apache1 (Horizon): horizon:terminate; web1 (supervisor workers): queue:restart."""
    before = master_pid(horizon)
    rid = ["--run-id", f"test-{uuid.uuid4().hex[:8]}"]
    res = cli("restart-queue", "-i", INV, "-l", "apache1,web1", "--json", *rid)
    assert res.code == 0, res.stdout + res.stderr
    got = res.by_host()
    assert got["apache1"]["data"]["via"] == "horizon:terminate"
    assert got["apache1"]["commands"][0] == f"{ARTISAN} horizon:terminate"
    assert master_pid(horizon) != before
    assert got["web1"]["data"]["via"] == "queue:restart"
    assert got["web1"]["commands"][0] == \
        "runuser -u www-data -- php /srv/app/current/artisan queue:restart"
    assert "re-spawned" in got["web1"]["message"]
    assert "supervisorctl" not in " ".join(got["apache1"]["commands"])
    assert infra_host("web1").run("supervisorctl status horizon").rc != 0  # no Horizon on web1
