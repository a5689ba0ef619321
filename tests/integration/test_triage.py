"""`invoke triage` on the lab: healthy web hosts, then one fault at a time (each undone in
`finally`), the compose host and a Kubernetes Deployment. One triage run per case."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.conftest import (
    DB_HOSTS,
    LAB_INVENTORY,
    ROOT,
    WEB_HOSTS,
    inventory_text,
    wait_for,
)

pytestmark = pytest.mark.lab

WEB1 = WEB_HOSTS["web1"]
DB1 = DB_HOSTS["db1"]
REDIS_AUTH = ["env", "REDISCLI_AUTH=lab-redis-s3cret"]


def sh(container: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", "exec", container, *argv], capture_output=True, text=True,
                          timeout=120, check=check)


def findings(run: Any, host: str) -> list[tuple[str, str]]:
    data = run.by_host()[host]["data"]
    return [(f["severity"], f["what"]) for f in data["findings"]]


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The lab inventory with a queue key no worker reads and a 1 s long-query threshold."""
    data = yaml.safe_load(inventory_text())
    data["all"]["vars"]["redis_prefix"] = "triagetest_"
    data["all"]["vars"]["triage_thresholds"] = {"db_query_seconds": 1}
    path = tmp_path_factory.mktemp("triage") / "lab.yml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def calm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The lab inventory with thresholds for a test machine: the load of the tests running
    beside it and the ERROR lines earlier tests wrote on purpose are not findings."""
    data = yaml.safe_load(inventory_text())
    data["all"]["vars"]["triage_thresholds"] = {"load_per_core": 1000, "log_errors": 10**8}
    path = tmp_path_factory.mktemp("triage-calm") / "lab.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_healthy_web_hosts_table_and_json(cli: Any, calm: Path, tmp_path: Path) -> None:
    started = time.monotonic()
    people = cli("triage", "-i", str(calm), "-l", "web", "--save", str(tmp_path))
    took = time.monotonic() - started
    assert people.code == 0, people.stdout + people.stderr
    lines = people.stdout.splitlines()
    assert lines[0].startswith("triage · run ")
    machine = cli("triage", "-i", str(LAB_INVENTORY), "-l", "web", "--json")
    assert machine.code == 0, machine.stderr
    results = machine.by_host()
    assert set(results) == {"web1", "web2"}
    for host, r in results.items():
        assert r["status"] == "ok"
        data = r["data"]
        assert data["complete"] and data["kind"] == "systemd"
        assert {u["name"] for u in data["units"]} >= {"nginx.service", "php8.2-fpm.service",
                                                       "redis-server.service", "supervisor.service"}
        assert "/mnt/scratch" in {d["mount"] for d in data["disk"]}
        assert data["redis"]["answering"] and data["health"]["status"] == 200
        assert data["app"]["release"] and data["failed_jobs"]["count"] is not None
        assert len(r["commands"]) == 1            # one round trip to the host
        assert not [f for f in data["findings"] if f["severity"] == "critical"]
        assert any(line.startswith(f"{host} ") and "all is well" in line for line in lines), \
            people.stdout
    assert "lab-redis-s3cret" not in machine.stdout + people.stdout
    saved = list(tmp_path.glob("*/web1.json"))
    assert saved and (saved[0].parent / "summary.txt").exists()
    assert "lab-redis-s3cret" not in saved[0].read_text()
    print(f"triage of web1+web2 took {took:.2f}s (CLI start included)")


def test_nginx_stopped_is_critical(cli: Any) -> None:
    try:
        sh(WEB1, "systemctl", "stop", "nginx")
        run = cli("triage", "-i", str(LAB_INVENTORY), "-l", "web1", "--json")
        assert run.code == 2
        assert ("critical", "unit nginx.service") in findings(run, "web1")
        people = cli("triage", "-i", str(LAB_INVENTORY), "-l", "web1")
        assert people.code == 2 and "unit nginx.service" in people.stdout
        assert people.stdout.index("critical") < people.stdout.index("unit nginx.service")
    finally:
        sh(WEB1, "systemctl", "start", "nginx")


def test_redis_down_is_flagged(cli: Any) -> None:
    try:
        sh(WEB1, "systemctl", "stop", "redis-server")
        run = cli("triage", "-i", str(LAB_INVENTORY), "-l", "web1", "--json")
        assert run.code == 2
        got = findings(run, "web1")
        assert ("critical", "redis") in got and ("critical", "unit redis-server.service") in got
    finally:
        sh(WEB1, "systemctl", "start", "redis-server")
        wait_for("redis answering", lambda: "PONG" in sh(
            WEB1, *REDIS_AUTH, "redis-cli", "PING", check=False).stdout)


def test_full_disk_is_critical(cli: Any) -> None:
    try:
        sh(WEB1, "sh", "-c", "dd if=/dev/zero of=/mnt/scratch/triage-fill bs=1M count=64 "
                             "2>/dev/null; true")
        run = cli("triage", "-i", str(LAB_INVENTORY), "-l", "web1", "--json")
        assert run.code == 2
        assert ("critical", "disk /mnt/scratch") in findings(run, "web1")
    finally:
        sh(WEB1, "rm", "-f", "/mnt/scratch/triage-fill")


def test_backlog_is_a_warning(cli: Any, tuned: Path) -> None:
    key = "triagetest_queues:default"  # the tuned inventory's prefix: no worker pops it
    try:
        sh(WEB1, *REDIS_AUTH, "sh", "-c",
           f"for i in $(seq 1 15); do redis-cli LPUSH {key} $(seq 1 100) >/dev/null; done")
        run = cli("triage", "-i", str(tuned), "-l", "web1", "--json")
        assert run.code == 0, run.stdout[-2000:]
        assert ("warning", "queue") in findings(run, "web1")
        assert run.by_host()["web1"]["data"]["redis"]["queue_length"] == 1500
    finally:
        sh(WEB1, *REDIS_AUTH, "redis-cli", "DEL", key)


@pytest.fixture
def long_query(lab: Any) -> Iterator[None]:
    cancel = ("select pg_cancel_backend(pid) from pg_stat_activity "
              "where query = 'select pg_sleep(600)'")
    subprocess.run(["docker", "exec", "-d", DB1, "runuser", "-u", "postgres", "--", "psql",
                    "-c", "select pg_sleep(600)"], check=True, timeout=60)
    try:
        yield
    finally:
        sh(DB1, "runuser", "-u", "postgres", "--", "psql", "-Atc", cancel, check=False)


def test_long_query_on_db1_is_flagged(cli: Any, tuned: Path, long_query: None) -> None:
    time.sleep(2.5)  # older than the tuned 1 s threshold
    run = cli("triage", "-i", str(tuned), "-l", "db1", "--json")
    data = run.by_host()["db1"]["data"]
    assert data["database"].get("connections"), data["database"]
    found = [f for f in data["findings"] if f["what"] == "long query"]
    assert found and "pg_sleep(600)" in found[0]["detail"], data["findings"]
    assert found[0]["detail"].startswith("pid ") and " user postgres " in found[0]["detail"]


@pytest.fixture(scope="module")
def stack_up() -> None:
    """The compose stack in its declared state, every service healthy (lab/stack.py)."""
    from lab import stack

    stack.reset(lambda line: print(line, file=sys.stderr))


def test_compose_host(cli: Any, stack_up: None) -> None:
    inv = str(ROOT / "inventories" / "lab-docker.yml")
    run = cli("triage", "-i", inv, "-l", "dockerhost-local", "--json")
    r = run.by_host()["dockerhost-local"]
    assert r["status"] in ("ok", "failed"), r["message"]
    data = r["data"]
    assert data["kind"] == "compose" and set(data["services"]) >= {"backend", "worker", "redis", "db"}
    assert data["services"]["backend"]["state"] == "running"
    assert {log["kind"] for log in data["logs"]} >= {"backend", "worker"}
    assert "lab-redis-s3cret" not in run.stdout
    people = cli("triage", "-i", inv, "-l", "dockerhost-local")
    assert people.stdout.startswith("triage · run ") and "dockerhost-local" in people.stdout


@pytest.mark.kube
def test_kubernetes_deployment(cli: Any, kube_api: Any, tmp_path: Path) -> None:
    from tests.integration.test_kubernetes import manifest, write_inventory

    kube_api.reset()
    kube_api.apply(manifest("web", "v1.2.3", replicas=2))
    inv = write_inventory(kube_api, tmp_path, ["web"])
    wait_for("2 ready replicas", lambda: (kube_api.kubectl(
        "get", "deployment/web", "-o", "jsonpath={.status.readyReplicas}").stdout == "2"))
    run = cli("triage", "-i", str(inv), "--json")
    r = run.by_host()["web"]
    data = r["data"]
    assert data["kind"] == "kubernetes" and data["release"] == "v1.2.3"
    assert data["replicas"]["desired"] == 2 and data["replicas"]["ready"] == 2
    assert len(data["pods"]) == 2 and all(p["ready"] for p in data["pods"])
    assert all(log.get("note", "").startswith("logs not available") or "tail" in log
               for log in data["logs"])
    assert r["status"] == "ok" and run.code == 0, json.dumps(data["findings"])
    people = cli("triage", "-i", str(inv))
    assert people.code == 0 and "all is well" in people.stdout
