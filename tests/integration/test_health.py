"""Health checks on the lab: the database through artisan, and several health paths."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from remediations import load_inventory, run
from remediations.core.result import Status
from remediations.host.health import HEALTH_PATHS, http_ok
from tests.integration.conftest import LAB_INVENTORY, infra_host

pytestmark = pytest.mark.lab
INV = str(LAB_INVENTORY)
DB = "/srv/app/shared/database/database.sqlite"


@pytest.mark.parametrize("connection", ["ssh", "docker"])
def test_db_check_reaches_the_apps_database(cli: Any, lab: Any, connection: str) -> None:
    res = cli("db-check", "-i", INV, "-l", "web", "--json", "--connection", connection)
    assert res.code == 0, res.stdout + res.stderr
    for r in res.by_host().values():
        assert r["status"] == "ok", r
        assert r["message"].startswith("database reachable: ") and r["data"]["ran"] >= 1
        assert r["commands"] == []


@pytest.fixture
def unreadable_db(lab: Any) -> Iterator[Any]:
    host = infra_host("web1")
    mode = host.check_output(f"stat -c %a {DB}")
    host.check_output(f"chmod 000 {DB}")
    yield host
    host.check_output(f"chmod {mode} {DB}")


def test_db_check_fails_when_the_app_cannot_open_its_database(cli: Any, unreadable_db: Any) -> None:
    res = cli("db-check", "-i", INV, "-l", "web", "--json")
    assert res.code == 2
    results = res.by_host()
    assert results["web2"]["status"] == "ok"
    r = results["web1"]
    assert r["status"] == "failed" and "artisan migrate:status exited 1" in r["message"]
    assert "unable to open database file" in r["evidence"]


@pytest.mark.parametrize("from_host", [False, True])
def test_health_paths_on_the_lab_app(lab: Any, from_host: bool) -> None:
    hosts = load_inventory(INV).select("web")
    url = "http://127.0.0.1/" if from_host else None      # nginx as the host itself sees it
    report = run(lambda t: http_ok(t, url, paths=HEALTH_PATHS, json_field="status",
                                   json_value="ok", from_host=from_host), hosts, name="http_ok")
    for r in report:
        assert r.status is Status.OK, r.message
        assert {p: v["healthy"] for p, v in r.data["paths"].items()} == {
            "/up": True, "/health": True, "/api/health/live": False, "/api/health/ready": False}
        assert "/api/health/live: not exposed (404)" in r.message
        assert r.data["version"] == "1.2.3"


def test_health_paths_fail_when_php_fpm_is_down(lab: Any) -> None:
    host = infra_host("web1")
    host.check_output("systemctl stop php8.2-fpm")
    try:
        hosts = load_inventory(INV).select("web1")
        (r,) = run(lambda t: http_ok(t, paths=["/up", "/health"]), hosts, name="http_ok")
        assert r.status is Status.FAILED
        assert r.data["paths"]["/up"]["http_status"] == 502 and "/up: HTTP 502" in r.message
    finally:
        host.check_output("systemctl start php8.2-fpm")
    assert host.service("php8.2-fpm").is_running
