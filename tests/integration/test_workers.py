"""Supervisor queue workers on the lab: restart once per run, start, scale 2 -> 4 -> 2."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import LAB_INVENTORY, wait_for

pytestmark = pytest.mark.lab
INV = str(LAB_INVENTORY)
GROUP = "laravel-worker"
CONF = "/etc/supervisor/conf.d/laravel-worker.conf"


def run_id() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


def workers(host: Any) -> dict[str, tuple[str, int]]:
    """The group's processes, by full name: (state, pid), read on the host with testinfra."""
    out = host.run("supervisorctl status")
    assert out.rc in (0, 3), out.stderr           # 3: some process is not running
    procs: dict[str, tuple[str, int]] = {}
    for line in out.stdout.splitlines():
        name, state, *rest = [*line.split(maxsplit=2), ""]
        if name.startswith(f"{GROUP}:"):
            pid = rest[0].split(",")[0].removeprefix("pid ") if state == "RUNNING" else "0"
            procs[name] = (state, int(pid))
    return procs


def running_pids(host: Any) -> dict[str, int]:
    return {name: pid for name, (state, pid) in workers(host).items() if state == "RUNNING"}


@pytest.fixture
def lab_workers(web_hosts: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The web hosts; afterwards the worker config is restored and every worker RUNNING."""
    saved = {h: host.file(CONF).content_string for h, host in web_hosts.items()}
    for host in web_hosts.values():  # an earlier test may have left them re-spawning
        wait_for("2 RUNNING workers", lambda h=host: len(running_pids(h)) == 2)
    yield web_hosts
    for h, host in web_hosts.items():
        if host.file(CONF).content_string != saved[h]:
            encoded = base64.b64encode(saved[h].encode()).decode()
            host.run_expect([0], "printf %s %s | base64 -d > %s", "%s", encoded, CONF)
            host.run_expect([0], "supervisorctl reread && supervisorctl update %s", GROUP)
        host.run_expect([0], "supervisorctl start %s", f"{GROUP}:*")


@pytest.mark.parametrize("connection", ["ssh", "docker"])
def test_restart_workers_once_per_run(cli: Any, lab_workers: dict[str, Any],
                                      connection: str) -> None:
    before = {h: running_pids(host) for h, host in lab_workers.items()}
    assert all(len(p) == 2 for p in before.values()), before
    args = ["restart-workers", "-i", INV, "-l", "web", "--run-id", run_id(), "--json",
            "--connection", connection]

    first = cli(*args)
    assert first.code == 0, first.stdout + first.stderr
    results = first.by_host()
    for h, host in lab_workers.items():
        r = results[h]
        assert r["status"] == "changed", r
        assert r["commands"] == ["supervisorctl restart 'laravel-worker:*'"]
        after = running_pids(host)
        assert set(after) == set(before[h]) and len(after) == 2
        assert not set(after.values()) & set(before[h].values())   # every pid is new
        assert r["data"]["pids"] == after

    again = cli(*args)
    assert again.code == 0, again.stderr
    for h, r in again.by_host().items():
        assert r["status"] == "ok" and r["commands"] == []
        assert "already restarted by this run" in r["message"]
        assert running_pids(lab_workers[h]) == results[h]["data"]["pids"]


def test_restart_workers_check_mode_touches_nothing(cli: Any, lab_workers: dict[str, Any]) -> None:
    before = {h: running_pids(host) for h, host in lab_workers.items()}
    res = cli("restart-workers", "-i", INV, "-l", "web", "--check", "--json")
    assert res.code == 0, res.stderr
    for r in res.by_host().values():
        assert r["status"] == "changed" and r["check"] is True
        assert r["commands"] == ["supervisorctl restart 'laravel-worker:*'"]
        assert r["message"] == "would restart laravel-worker"
    assert {h: running_pids(host) for h, host in lab_workers.items()} == before


def test_start_workers_starts_only_the_stopped_one(cli: Any, lab_workers: dict[str, Any]) -> None:
    web1 = lab_workers["web1"]
    web1.run_expect([0], "supervisorctl stop %s", f"{GROUP}:laravel-worker_01")
    kept = running_pids(web1)
    assert list(kept) == [f"{GROUP}:laravel-worker_00"]
    args = ["start-workers", "-i", INV, "-l", "web1", "--json"]

    check = cli(*args, "--check")
    assert check.code == 0, check.stderr
    r = check.by_host()["web1"]
    assert r["status"] == "changed" and r["commands"] == [
        "supervisorctl start laravel-worker:laravel-worker_01"]
    assert running_pids(web1) == kept

    first = cli(*args)
    assert first.code == 0, first.stderr
    r = first.by_host()["web1"]
    assert r["status"] == "changed" and r["commands"] == [
        "supervisorctl start laravel-worker:laravel-worker_01"]
    after = running_pids(web1)
    assert len(after) == 2 and after[f"{GROUP}:laravel-worker_00"] == kept[f"{GROUP}:laravel-worker_00"]

    again = cli(*args)
    assert again.by_host()["web1"]["status"] == "ok"
    assert running_pids(web1) == after


def test_scale_workers_2_to_4_and_back(cli: Any, lab_workers: dict[str, Any]) -> None:
    hosts = lab_workers
    assert {h: len(running_pids(host)) for h, host in hosts.items()} == {"web1": 2, "web2": 2}
    conf_before = {h: host.file(CONF).content_string for h, host in hosts.items()}

    def scale(count: int, *extra: str) -> dict[str, dict[str, Any]]:
        res = cli("scale-workers", "--count", str(count), "-i", INV, "-l", "web", "--json", *extra)
        assert res.code == 0, res.stdout + res.stderr
        return res.by_host()

    check = scale(4, "--check")
    for h, r in check.items():
        assert r["status"] == "changed" and r["message"] == (
            "would scale laravel-worker from 2 to 4 process(es)")
        assert r["commands"][0].startswith("sh -c 'printf %s ")
        assert r["commands"][0].endswith(f" && mv -f {CONF}.remediations.tmp {CONF}'")
        assert r["commands"][1:] == ["supervisorctl reread", "supervisorctl update laravel-worker"]
        assert hosts[h].file(CONF).content_string == conf_before[h]
        assert len(running_pids(hosts[h])) == 2

    for count in (4, 2):
        first = scale(count)
        for h, host in hosts.items():
            assert first[h]["status"] == "changed", first[h]
            pids = running_pids(host)
            assert len(pids) == count, pids                 # testinfra counts RUNNING
            assert len(workers(host)) == count              # and nothing else is left
            assert first[h]["data"]["running"] == count
            assert f"numprocs={count}\n" in host.file(CONF).content_string
            assert host.file(CONF).user == "root" and host.file(CONF).mode == 0o644
        again = scale(count)
        for h, host in hosts.items():
            assert again[h]["status"] == "ok" and again[h]["commands"] == []
            assert len(running_pids(host)) == count
    assert {h: host.file(CONF).content_string for h, host in hosts.items()} == conf_before


@pytest.mark.parametrize("args,message", [
    (["scale-workers", "--count", "0"], "--count must be 1-64"),
    (["scale-workers", "--count", "3", "--program", "x;reboot"], "not a valid supervisor"),
    (["restart-workers", "--group", "$(touch /tmp/pwned)"], "not a valid supervisor group"),
])
def test_bad_input_is_refused_before_any_host_is_touched(cli: Any, args: list[str],
                                                         message: str) -> None:
    res = cli(*args, "-i", INV, "-l", "web")
    assert res.code == 1 and message in res.stderr
