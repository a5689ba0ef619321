"""The queue on real workers: a `queue:work --once` smoke check, failed jobs as a fact, and a
queue restart verified without supervisorctl, in the compose stack's worker container."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

import lab.stack as stack
from lab.stack_layout import PROJECT
from tests.integration.conftest import LAB_INVENTORY, wait_for

pytestmark = pytest.mark.lab
INV = str(LAB_INVENTORY)
SMOKE = "remediations-smoke"
REDIS = "redis-cli -a lab-redis-s3cret --no-auth-warning"


def results(cli: Any, *args: str, inv: str = INV, limit: str = "web1,apache1") -> dict[str, Any]:
    res = cli(*args, "-i", inv, "-l", limit, "--json")
    assert res.code in (0, 2), res.stdout + res.stderr
    return res.by_host()  # type: ignore[no-any-return]


def smoke_length(host: Any) -> int:
    # The apps keep their queues in redis db 0 (Laravel's default connection).
    return int(host.check_output(f"{REDIS} LLEN queues:{SMOKE}"))


def test_a_worker_processes_a_smoke_job(cli: Any, web_hosts: dict[str, Any],
                                        apache_hosts: dict[str, Any]) -> None:
    """queue_worker_processes_job on a supervisor host (web1) and a Horizon host (apache1)."""
    hosts = {"web1": web_hosts["web1"], "apache1": apache_hosts["apache1"]}
    check = results(cli, "queue-smoke", "--check")
    for name, r in check.items():
        assert r["status"] == "changed", r
        assert "queue:work --once --queue=remediations-smoke --stop-when-empty" in r["commands"][1]
        assert smoke_length(hosts[name]) == 0                   # nothing pushed in check mode

    rid = ["--run-id", f"test-{uuid.uuid4().hex[:8]}"]
    first = results(cli, "queue-smoke", *rid)
    for name, r in first.items():
        assert r["status"] == "changed", r
        assert "a worker processed the smoke job" in r["message"]
        assert r["data"]["size_after"] == 0 and smoke_length(hosts[name]) == 0
        assert "QueuedCommand" in r["data"]["worker_output"]
    again = results(cli, "queue-smoke", *rid)
    assert {n: (r["status"], r["commands"]) for n, r in again.items()} == {
        n: ("ok", []) for n in hosts}


def push_failing_job(host: Any) -> str:
    """A job whose class does not exist: a worker fails it at once into failed_jobs."""
    job_id = str(uuid.uuid4())
    payload = {"uuid": job_id, "displayName": "App\\Jobs\\DoesNotExist",
               "job": "App\\Jobs\\DoesNotExist@handle", "maxTries": 1, "maxExceptions": None,
               "failOnTimeout": False, "backoff": None, "timeout": None, "retryUntil": None,
               "data": {}, "id": job_id, "attempts": 0}
    host.run_expect([0], f"{REDIS} -n 0 RPUSH queues:default %s", json.dumps(payload))
    return job_id


def test_failed_jobs_are_a_fact(cli: Any, web_hosts: dict[str, Any]) -> None:
    """failed_jobs_listed: the failed job with its exception's first line."""
    web1 = web_hosts["web1"]
    art = "runuser -u www-data -- php /srv/app/current/artisan"
    job = push_failing_job(web1)
    try:
        wait_for("the job to fail", lambda: job in web1.check_output(f"{art} queue:failed"))
        r = results(cli, "queue-failed", limit="web1")["web1"]
        assert r["status"] == "failed" and r["commands"] == []
        listed = {j["id"]: j for j in r["data"]["jobs"]}
        assert job in listed and r["data"]["total"] >= 1
        assert listed[job]["queue"] == "default" and listed[job]["job"] == "App\\Jobs\\DoesNotExist"
        assert "DoesNotExist" in listed[job]["exception"]
        assert "\n" not in listed[job]["exception"]
    finally:
        web1.run(f"{art} queue:forget {job}")
    r = results(cli, "queue-failed", limit="web1")["web1"]
    assert job not in {j["id"] for j in r["data"]["jobs"]}


@pytest.fixture
def worker_inventory(lab: Any, tmp_path: Path) -> str:
    """The compose stack's worker container (no supervisorctl in the image), by docker exec."""
    stack.up(lambda line: None)
    container = f"{PROJECT}-worker-1"
    path = tmp_path / "worker.yml"
    path.write_text(json.dumps({"all": {"hosts": {"worker": {
        "ansible_connection": "docker", "ansible_host": container, "ansible_user": "www-data",
        "app_path": "/srv/app", "app_user": "www-data"}}}}))
    return str(path)


def test_queue_restart_verified_without_supervisorctl(cli: Any, worker_inventory: str) -> None:
    from remediations import load_inventory
    from remediations.connections import connect
    from remediations.laravel.queue import queue_workers

    worker = load_inventory(worker_inventory).get("worker")
    assert worker is not None
    conn = connect(worker)
    try:
        assert conn.run(["sh", "-c", "command -v supervisorctl"], check=False).failed
        before = queue_workers(conn)
        assert len(before) == 1, before
        check = results(cli, "restart-queue", "--check", inv=worker_inventory, limit="worker")
        assert check["worker"]["status"] == "changed"
        assert [w.identity for w in queue_workers(conn)] == [w.identity for w in before]

        rid = ["--run-id", f"test-{uuid.uuid4().hex[:8]}"]
        r = results(cli, "restart-queue", *rid, inv=worker_inventory, limit="worker")["worker"]
        assert r["status"] == "changed", r
        assert r["commands"][0] == "php /srv/app/artisan queue:restart"
        assert "1 worker process(es) replaced" in r["message"]
        after = queue_workers(conn)
        assert len(after) == 1 and after[0].identity != before[0].identity
        again = results(cli, "restart-queue", *rid, inv=worker_inventory, limit="worker")
        assert again["worker"]["status"] == "ok"
        assert [w.identity for w in queue_workers(conn)] == [w.identity for w in after]
    finally:
        conn.close()
