"""Units discovered, never named: the lab inventory has no `php_fpm_service`, and status,
php-settings, reset-opcache and the cache-issues / file-upload runbooks find php-fpm on the
nginx host (web1) and PHP inside Apache on the mod_php host (apache1) by themselves.

Each remediation: `--check` first (the exact commands, nothing changed), then for real,
then again with the same run id (`ok`).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.integration import conftest
from tests.integration.conftest import LAB_INVENTORY, infra_host

pytestmark = pytest.mark.lab
INV = str(LAB_INVENTORY)
APACHE = sorted(getattr(conftest, "APACHE_HOSTS", {}))
HOSTS = ["web1", *APACHE]
EXPECTED = {
    "web1": ("nginx.service", "php8.2-fpm.service", "redis-server.service", "supervisor.service"),
    "apache1": ("apache2.service", None, "redis-server.service", "supervisor.service"),
}


def test_the_lab_inventory_names_no_php_fpm_unit() -> None:
    assert "php_fpm_service" not in LAB_INVENTORY.read_text()


@pytest.mark.parametrize("connection", ["ssh", "docker"])
def test_units_are_discovered_in_one_round_trip(lab: Any, connection: str) -> None:
    from remediations import load_inventory, run
    from remediations.core.result import Result, Status
    from remediations.host.units import host_units
    from remediations.run.target import Target

    def probe(t: Target) -> Result:
        found = host_units(t)
        assert host_units(t) is found  # cached for the run
        return t.result("units", Status.OK, "", data={
            "units": [found.web_server, found.php_fpm, found.redis, found.supervisor]})

    hosts = [h.with_vars(ansible_connection=connection)
             for h in load_inventory(INV).select(",".join(HOSTS))]
    results = {r.host: r for r in run(probe, hosts)}
    for name in HOSTS:
        assert tuple(results[name].data["units"]) == EXPECTED[name], results[name].message


@pytest.mark.parametrize("name", HOSTS)
def test_status_shows_the_discovered_stack(cli: Any, name: str) -> None:
    res = cli("status", "-i", INV, "-l", name, "--json")
    assert res.code == 0, res.stdout + res.stderr
    r = res.by_host()[name]
    stack = [u for u in EXPECTED[name] if u]
    assert r["status"] == "ok" and r["commands"] == []
    assert set(stack) <= set(r["data"]["units"])
    assert r["message"].startswith("all active: " + ", ".join(f"{u} active" for u in stack))
    if name in APACHE:
        assert not any("fpm" in u for u in r["data"]["units"])  # none, and no failure for it


def runbook(cli: Any, name: str, host: str, *extra: str, run_id: str) -> dict[str, Any]:
    res = cli("runbook", name, "-i", INV, "-l", host, "--json", "--run-id", run_id, *extra,
              timeout=400)
    assert res.code in (0, 2), res.stdout + res.stderr
    return res.by_host()[host]  # type: ignore[no-any-return]


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("name", ["cache-issues", "file-upload"])
def test_runbooks_without_php_fpm_service(cli: Any, host: str, name: str) -> None:
    rid = f"units-{uuid.uuid4().hex[:8]}"
    # Caches present, so "caches cleared" has something to clear (a runbook step done once
    # per run is only recorded when it changed something).
    assert cli("rebuild-caches", "-i", INV, "-l", host, "--json").code == 0
    checked = runbook(cli, name, host, "--check", run_id=rid)
    assert checked["status"] in ("changed", "ok") and checked["check"], checked["message"]
    first = runbook(cli, name, host, run_id=rid)
    assert first["status"] in ("changed", "ok"), (first["message"], first.get("evidence"))
    steps = {s["remediation"]: s for s in first["data"]["steps"]}
    planned = {s["remediation"]: s for s in checked["data"]["steps"]}
    # check mode planned exactly these (caches rebuilt excepted: what it rebuilds is what
    # the clearing before it removes, which check mode leaves in place)
    for label in set(steps) - {"caches rebuilt", "verify"}:
        assert steps[label]["commands"] == planned[label]["commands"], label
    assert steps["verify"]["status"] == "ok"
    if name == "cache-issues":
        unit = EXPECTED[host][1] or EXPECTED[host][0]
        assert first["status"] == "changed"
        assert steps["opcache reset"]["data"]["unit"] == unit
        assert f"systemctl reload {unit}" in first["commands"]
    else:
        settings = steps["php settings"]
        assert settings["status"] == "ok"
        assert settings["data"]["sapi"] == ("apache2handler" if host in APACHE else "fpm")
    again = runbook(cli, name, host, run_id=rid)
    assert again["status"] == "ok", again["message"]
    assert again["commands"] == []


@pytest.mark.parametrize("host", HOSTS)
def test_php_settings_find_the_web_sapi(cli: Any, host: str) -> None:
    res = cli("php-settings", "-i", INV, "-l", host, "--json")
    assert res.code == 0, res.stdout + res.stderr
    r = res.by_host()[host]
    assert r["status"] == "ok" and r["commands"] == []
    web = r["data"]["web"]
    assert set(web) == {"upload_max_filesize", "post_max_size", "memory_limit",
                        "max_execution_time"}
    assert web["max_execution_time"] == "30"  # the web's, not the CLI's 0
    assert r["data"]["cli"]["max_execution_time"] == "0"
    if host not in APACHE:
        assert r["data"]["unit"] == "php8.2-fpm.service" and web == r["data"]["fpm"]
    assert infra_host(host).service(r["data"]["unit"].removesuffix(".service")).is_running
