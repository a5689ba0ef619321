"""db-status and stop-long-queries on a Kubernetes host whose Deployment runs MariaDB.

A REAL MariaDB server answers behind the local API server: a throwaway container of the lab
image (`remediations-lab/mariadb`, no published port, removed afterwards) stands in for the
pod, and the `kube_api` fixture's exec handler runs each command the library execs in
the pod (`pods/exec` over the websocket, as with a real cluster) as `docker exec -i` in
that container. The tasks run as a user types them (`python -m invoke ... --json`) and the
server is asked directly (docker exec, as root over its socket) what is still running.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from remediations.connections.cluster import cluster_for
from remediations.inventory import load_inventory
from remediations.kubernetes.rollout import wait_for_rollout
from tests.integration.test_kubernetes import EXAMPLE, ROOT, manifest, namespace_of

pytestmark = [pytest.mark.kube, pytest.mark.lab]

CONTAINER = "rem-k8s-db-test"            # ours alone: never a shared lab container
IMAGE = "remediations-lab/mariadb"
APP_PASSWORD = "lab-k8s-s3cret"          # lab only
ACTIVE = ("SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND = 'Query' "
          "AND INFO LIKE '%{tag}%' AND ID <> CONNECTION_ID()")


def docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout,
                          check=check, stdin=subprocess.DEVNULL)


def sql(statement: str) -> list[str]:
    """Ask the server directly, as root over its socket (one value a line)."""
    res = docker("exec", CONTAINER, "mariadb", "--batch", "--skip-column-names", "-e", statement)
    return [line for line in res.stdout.splitlines() if line.strip()]


def wait_for(what: str, check: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def mariadb() -> Iterator[str]:
    """Our own MariaDB server (the lab image), up and answering; removed at the end."""
    if docker("image", "inspect", IMAGE, check=False).returncode != 0:
        pytest.fail(f"the lab image {IMAGE} is not built (python -m lab.manage up builds it)")
    docker("rm", "-f", CONTAINER, check=False)
    docker("run", "-d", "--name", CONTAINER, "-e", "DB_DATABASE=app", "-e", "DB_USERNAME=app",
           "-e", f"DB_PASSWORD={APP_PASSWORD}", IMAGE)
    try:
        wait_for("mariadb to answer", lambda: docker(
            "exec", CONTAINER, "mariadb-admin", "--protocol=socket", "ping", "--silent",
            check=False).returncode == 0, timeout=90)
        wait_for("user app", lambda: docker(
            "exec", "-e", f"MYSQL_PWD={APP_PASSWORD}", CONTAINER, "mariadb", "-u", "app", "app",
            "-e", "SELECT 1", check=False).returncode == 0, timeout=30)
        yield CONTAINER
    finally:
        docker("rm", "-f", CONTAINER, check=False)


def exec_in_container(pod: dict[str, Any], container: str, argv: list[str]) -> tuple[int, str, str]:
    """The pod's exec answered by the real server's container: `docker exec -i NAME ARGV`."""
    assert container == "db" and pod["metadata"]["name"].startswith("db-"), (pod, container)
    res = subprocess.run(["docker", "exec", "-i", CONTAINER, *argv], capture_output=True,
                         text=True, timeout=120, check=False, stdin=subprocess.DEVNULL)
    return res.returncode, res.stdout, res.stderr


@pytest.fixture
def inventory(kube_api: Any, mariadb: str, tmp_path: Path) -> Path:
    """Deployment `db` (mariadb:10.11, container db) and an inventory host reaching it."""
    kube_api.reset()
    kube_api.set_exec_handler(exec_in_container)
    dep = manifest("db", replicas=1, namespace=namespace_of(kube_api))
    dep["spec"]["template"]["spec"]["containers"][0].update(
        {"name": "db", "image": "mariadb:10.11", "ports": [{"containerPort": 3306}]})
    kube_api.apply(dep)
    data = yaml.safe_load(EXAMPLE.read_text())
    group = data["all"]["children"]["k8s"]
    group["vars"]["kubeconfig"] = str(kube_api.kubeconfig)
    group["vars"]["namespace"] = namespace_of(kube_api)
    group["vars"].pop("kube_context", None)
    group["hosts"] = {"db": {"deployment": "db", "container": "db", "db_engine": "mysql"}}
    path = tmp_path / "lab-k8s-db.yml"
    path.write_text(yaml.safe_dump(data))
    assert wait_for_rollout(cluster_for(load_inventory(str(path))["db"]), timeout=60).ok
    return path


def invoke(inventory: Path, tmp_path: Path, *args: str) -> tuple[int, list[dict[str, Any]]]:
    env = {**os.environ, "REMEDIATIONS_STATE_DIR": str(tmp_path / "state"),
           "REMEDIATIONS_AUDIT_LOG": str(tmp_path / "audit.jsonl")}
    proc = subprocess.run([sys.executable, "-m", "invoke", *args, "-i", str(inventory),
                           "--json"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    events = [json.loads(x) for x in proc.stdout.splitlines() if x.strip()]
    assert events, (proc.returncode, proc.stdout, proc.stderr)
    return proc.returncode, events


def result(code: int, events: list[dict[str, Any]]) -> dict[str, Any]:
    assert code in (0, 2), (code, events)
    (res,) = events[-1]["report"]["results"]
    assert res["host"] == "db", res
    return res  # type: ignore[no-any-return]


@pytest.fixture
def long_query(mariadb: str) -> Iterator[tuple[int, str]]:
    """`SELECT SLEEP(600)` as user app, older than 2 s: (its processlist id, its tag)."""
    tag = f"remk8s-{uuid.uuid4().hex[:8]}"
    docker("exec", "-d", "-e", f"MYSQL_PWD={APP_PASSWORD}", mariadb, "mariadb", "-u", "app",
           "app", "-e", f"SELECT SLEEP(600), '{tag}'")
    wait_for("the long query to run", lambda: sql(ACTIVE.format(tag=tag)), timeout=30)
    (ident,) = sql(ACTIVE.format(tag=tag))
    time.sleep(3)
    yield int(ident), tag
    docker("exec", mariadb, "mariadb", "-e", f"KILL {int(ident)}", check=False)


def test_db_status_in_the_database_pod(inventory: Path, tmp_path: Path) -> None:
    res = result(*invoke(inventory, tmp_path, "db-status"))
    assert res["status"] == "ok", res
    assert res["message"].startswith("mysql 10.11"), res["message"]
    data = res["data"]
    assert data["engine"] == "mysql" and data["pgbouncer"] is None
    assert data["connections"]["max"] >= data["connections"]["in_use"] >= 1
    assert data["reached"] == "mysql in a pod of deployment db (exec; no PgBouncer)"
    (command,) = res["commands"]                               # one exec in the pod
    assert ('p="$MARIADB_ROOT_PASSWORD"; [ -n "$p" ] || p="$MYSQL_ROOT_PASSWORD"; '
            'MYSQL_PWD="$p" exec "$c" -uroot --batch') in command, command
    assert "s3cret" not in command and "****" not in command


def test_long_query_found_and_stopped_in_the_pod(inventory: Path, tmp_path: Path,
                                                 long_query: tuple[int, str]) -> None:
    ident, tag = long_query
    active = ACTIVE.format(tag=tag)
    status = result(*invoke(inventory, tmp_path, "db-status", "--older-than", "2"))
    listed = {q["id"]: q for q in status["data"]["long_queries"]}
    assert ident in listed and listed[ident]["user"] == "app", status["data"]
    assert tag in listed[ident]["query"] and listed[ident]["seconds"] >= 2

    code, events = invoke(inventory, tmp_path, "stop-long-queries", "--older-than", "2")
    assert code == 1 and "--yes" in events[0]["message"], events
    assert sql(active) == [str(ident)]

    check = result(*invoke(inventory, tmp_path, "stop-long-queries", "--older-than", "2",
                           "--check"))
    assert check["status"] == "changed" and check["check"], check
    assert [t["id"] for t in check["data"]["targets"]] == [ident]
    assert check["data"]["sql"] == f"KILL QUERY {ident}"
    assert f"id {ident}, app, " in check["message"]
    assert sql(active) == [str(ident)]                         # check mode touched nothing

    done = result(*invoke(inventory, tmp_path, "stop-long-queries", "--older-than", "2",
                          "--yes"))
    assert done["status"] == "changed", done
    assert f"{ident}: no longer running it" in done["message"]
    assert sql(active) == []

    again = result(*invoke(inventory, tmp_path, "stop-long-queries", "--older-than", "2",
                           "--yes"))
    assert again["status"] == "ok", again
    assert all(t["id"] != ident for t in again["data"]["targets"])
