"""`invoke reload/stop/start/status` on the lab's systemd web hosts, verified with testinfra."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import LAB_HOSTS, LAB_INVENTORY, WEB_HOSTS, infra_host, main_pid

pytestmark = pytest.mark.lab
INV = str(LAB_INVENTORY)
BROKEN = "/etc/nginx/conf.d/zz-remediations-test-broken.conf"
MARKERS = "/run/lock/remediations.runs"


def run_id() -> str:
    return f"test-svc-{uuid.uuid4().hex[:10]}"


def workers(name: str) -> set[int]:
    """nginx worker PIDs: a reload replaces them, the master (MainPID) stays."""
    out = infra_host(name).check_output(f"pgrep -P {main_pid(name, 'nginx')} || true")
    return {int(p) for p in out.split()}


def wait_for(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return bool(predicate())


def http_status(name: str, path: str = "/up") -> int:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{LAB_HOSTS[name].http_port}{path}",
                                    timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture
def clean_markers(lab: Any) -> Iterator[list[str]]:
    """Run ids used by a test; their once-per-run markers are removed afterwards."""
    ids: list[str] = []
    yield ids
    for name in WEB_HOSTS:
        for rid in ids:
            infra_host(name).run(f"rm -rf {MARKERS}/{rid}")


@pytest.fixture
def broken_nginx_config(lab: Any) -> Iterator[None]:
    """A config file nginx -t refuses, on every web host; removed (and nginx healthy) after."""
    for name in WEB_HOSTS:
        infra_host(name).run(f"printf 'bogus_directive on;\\n' > {BROKEN}")
    yield
    for name in WEB_HOSTS:
        host = infra_host(name)
        host.run(f"rm -f {BROKEN}")
        assert host.run("nginx -t").rc == 0
        host.run("systemctl is-active -q nginx || systemctl start nginx")


@pytest.fixture
def php_fpm_restored(lab: Any) -> Iterator[None]:
    yield
    for name in WEB_HOSTS:
        infra_host(name).run("systemctl is-active -q php8.2-fpm || systemctl start php8.2-fpm")
        assert infra_host(name).service("php8.2-fpm").is_running


@pytest.mark.parametrize("connection", ["ssh", "docker"])
def test_broken_config_is_not_reloaded_and_nginx_keeps_serving_the_old_one(
        cli: Any, broken_nginx_config: None, clean_markers: list[str], connection: str) -> None:
    before = {h: (main_pid(h, "nginx"), workers(h)) for h in WEB_HOSTS}
    rid = run_id()
    clean_markers.append(rid)
    res = cli("reload", "--service", "nginx", "-i", INV, "-l", "web", "--json",
              "--run-id", rid, "--connection", connection)
    assert res.code == 2, res.stdout + res.stderr
    for h, r in res.by_host().items():
        assert r["status"] == "failed"
        assert r["message"].startswith("config test `nginx -t` failed: nginx.service not reloaded")
        assert 'unknown directive "bogus_directive"' in r["evidence"]
        assert "test failed" in r["evidence"]
        assert r["commands"] == ["nginx -t"]
        # the running server was not touched: same master, same workers, still serving
        assert (main_pid(h, "nginx"), workers(h)) == before[h]
        assert infra_host(h).service("nginx").is_running
        assert http_status(h) == 200
        assert not infra_host(h).file(f"{MARKERS}/{rid}/reload-nginx.service").exists


@pytest.mark.parametrize("connection", ["ssh", "docker"])
def test_reload_once_per_run(cli: Any, clean_markers: list[str], connection: str) -> None:
    before = {h: (main_pid(h, "nginx"), workers(h)) for h in WEB_HOSTS}
    rid = run_id()
    clean_markers.append(rid)
    args = ["reload", "--service", "nginx", "-i", INV, "-l", "web", "--json", "--run-id", rid,
            "--connection", connection]
    first = cli(*args)
    assert first.code == 0, first.stdout + first.stderr
    marker = f"{MARKERS}/{rid}/reload-nginx.service"
    for h, r in first.by_host().items():
        assert r["status"] == "changed", r
        assert r["commands"] == [
            "nginx -t", "systemctl reload nginx.service",
            f"sh -c 'mkdir -p \"${{1%/*}}\" && : > \"$1\"' _ {marker}"]
        assert "config test `nginx -t` passed" in r["message"]
        # a reload: same master process, new workers
        assert main_pid(h, "nginx") == before[h][0]
        assert wait_for(lambda h=h: workers(h) and not workers(h) & before[h][1])
        assert infra_host(h).file(marker).exists
    after = {h: workers(h) for h in WEB_HOSTS}

    again = cli(*args)
    assert again.code == 0, again.stdout + again.stderr
    for r in again.by_host().values():
        assert r["status"] == "ok" and "already reloaded by this run" in r["message"]
        assert r["commands"] == []
    time.sleep(1)
    assert {h: workers(h) for h in WEB_HOSTS} == after


def test_reload_check_mode_lists_commands_and_changes_nothing(cli: Any) -> None:
    before = {h: workers(h) for h in WEB_HOSTS}
    rid = run_id()
    res = cli("reload", "--service", "nginx", "-i", INV, "-l", "web", "--json", "--check",
              "--run-id", rid)
    assert res.code == 0, res.stdout + res.stderr
    for r in res.by_host().values():
        assert r["status"] == "changed" and r["check"] is True
        assert r["message"] == "would reload nginx.service (config test `nginx -t` passed)"
        assert r["commands"][:2] == ["nginx -t", "systemctl reload nginx.service"]
        assert r["commands"][2].endswith(f"{MARKERS}/{rid}/reload-nginx.service")
    time.sleep(1)
    assert {h: workers(h) for h in WEB_HOSTS} == before
    assert not infra_host("web1").file(f"{MARKERS}/{rid}").exists


def test_reload_php_fpm_tests_its_config_first(cli: Any, clean_markers: list[str]) -> None:
    rid = run_id()
    clean_markers.append(rid)
    pid = main_pid("web1", "php8.2-fpm")
    res = cli("reload", "--service", "php8.2-fpm", "-i", INV, "-l", "web1", "--json",
              "--run-id", rid)
    assert res.code == 0, res.stdout + res.stderr
    r = res.by_host()["web1"]
    assert r["status"] == "changed" and r["commands"][:2] == [
        "php-fpm8.2 -t", "systemctl reload php8.2-fpm.service"]
    assert infra_host("web1").service("php8.2-fpm").is_running
    assert main_pid("web1", "php8.2-fpm") == pid  # php-fpm reloads in place (SIGUSR2)
    assert http_status("web1") == 200


@pytest.mark.parametrize("connection", ["ssh", "docker"])
def test_stop_and_start_php_fpm_and_status_sees_it(cli: Any, php_fpm_restored: None,
                                                   tmp_path: Path, connection: str) -> None:
    common = ["-i", INV, "-l", "web1", "--json", "--connection", connection]
    stop = cli("stop", "--service", "php8.2-fpm", *common)
    assert stop.code == 0, stop.stdout + stop.stderr
    r = stop.by_host()["web1"]
    assert r["status"] == "changed" and r["commands"] == ["systemctl stop php8.2-fpm.service"]
    host = infra_host("web1")
    assert not host.service("php8.2-fpm").is_running
    assert http_status("web1") == 502  # nginx is up, its FastCGI backend is not

    again = cli("stop", "--service", "php8.2-fpm", *common)
    assert again.code == 0 and again.by_host()["web1"]["status"] == "ok"
    assert again.by_host()["web1"]["commands"] == []

    status = cli("status", "-i", INV, "-l", "web", "--json", "--connection", connection)
    assert status.code == 2, status.stdout + status.stderr
    by_host = status.by_host()
    assert by_host["web1"]["status"] == "failed"
    assert by_host["web1"]["message"] == "1 of 4 not active: php8.2-fpm.service (inactive)"
    assert by_host["web1"]["data"]["units"]["php8.2-fpm.service"]["active"] == "inactive"
    assert by_host["web2"]["status"] == "ok"

    start = cli("start", "--service", "php8.2-fpm", *common)
    assert start.code == 0, start.stdout + start.stderr
    r = start.by_host()["web1"]
    assert r["status"] == "changed" and r["commands"] == ["systemctl start php8.2-fpm.service"]
    assert host.service("php8.2-fpm").is_running
    assert r["data"]["main_pid"] == main_pid("web1", "php8.2-fpm")
    assert wait_for(lambda: http_status("web1") == 200)
    assert cli("start", "--service", "php8.2-fpm", *common).by_host()["web1"]["status"] == "ok"


def test_stop_check_mode_changes_nothing(cli: Any) -> None:
    pid = main_pid("web1", "php8.2-fpm")
    res = cli("stop", "--service", "php8.2-fpm", "-i", INV, "-l", "web1", "--json", "--check")
    assert res.code == 0
    r = res.by_host()["web1"]
    assert (r["status"], r["check"], r["commands"]) == (
        "changed", True, ["systemctl stop php8.2-fpm.service"])
    assert main_pid("web1", "php8.2-fpm") == pid


def test_status_of_the_whole_stack_in_one_call(cli: Any) -> None:
    res = cli("status", "-i", INV, "-l", "web", "--json")
    assert res.code == 0, res.stdout + res.stderr
    for h, r in res.by_host().items():
        assert r["status"] == "ok"
        units = r["data"]["units"]
        assert set(units) == {"nginx.service", "php8.2-fpm.service", "redis-server.service",
                              "supervisor.service", "mysql.service", "mariadb.service",
                              "postgresql.service"}
        assert r["message"].startswith("all active: nginx.service active, php8.2-fpm.service")
        assert units["nginx.service"]["main_pid"] == main_pid(h, "nginx")
        assert units["nginx.service"]["since"]
        assert {units[u]["active"] for u in ("mysql.service", "postgresql.service")} == {
            "not-found"}
    chosen = cli("status", "--services", "nginx,php8.2-fpm", "-i", INV, "-l", "web1", "--json")
    assert set(chosen.by_host()["web1"]["data"]["units"]) == {"nginx.service",
                                                              "php8.2-fpm.service"}


@pytest.mark.parametrize("task,args", [
    ("reload", ["--service", "nginx; reboot"]), ("stop", ["--service", "$(touch /tmp/pwned)"]),
    ("start", ["--service", "../x"]), ("status", ["--services", "nginx,php && reboot"]),
])
def test_bad_unit_names_are_rejected_before_any_host_is_touched(cli: Any, tmp_path: Path,
                                                                task: str, args: list[str]) -> None:
    audit = tmp_path / "audit.jsonl"
    res = cli(task, *args, "-i", INV, "-l", "web", "--audit-log", str(audit))
    assert res.code == 1
    assert "not a valid systemd unit name" in res.stderr
    assert not audit.exists()
    assert not infra_host("web1").file("/tmp/pwned").exists


@pytest.mark.parametrize("connection", ["ssh", "docker"])
def test_php_fpm_unit_is_discovered_when_the_inventory_does_not_name_it(
        lab: Any, connection: str) -> None:
    from remediations import load_inventory, run
    from remediations.core.result import Result, Status
    from remediations.host.systemd import php_fpm_unit, services_status
    from remediations.run.target import Target

    hosts = [h.with_vars(php_fpm_service="", ansible_connection=connection)
             for h in load_inventory(INV).select("web1")]
    seen: list[str] = []

    def probe(t: Target) -> Result:
        seen.append(php_fpm_unit(t))
        return services_status(t)

    (result,) = run(probe, hosts)
    assert seen == ["php8.2-fpm.service"]
    assert result.status is Status.OK, result.message
    assert result.data["units"]["php8.2-fpm.service"]["active"] == "active"


def test_reload_of_a_unit_without_reload_support_fails_without_acting(cli: Any) -> None:
    pid = main_pid("web1", "redis-server")
    res = cli("reload", "--service", "redis-server", "-i", INV, "-l", "web1", "--json")
    assert res.code == 2
    r = res.by_host()["web1"]
    assert r["status"] == "failed" and r["commands"] == []
    assert r["message"] == "redis-server.service cannot reload its configuration; restart it instead"
    assert main_pid("web1", "redis-server") == pid
