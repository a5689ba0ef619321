"""The redis queue on the lab: a 500-job backlog drained, queue:restart, failed jobs."""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import LAB_INVENTORY, wait_for

pytestmark = pytest.mark.lab
INV = str(LAB_INVENTORY)
GROUP = "laravel-worker"
PASSWORD = "lab-redis-s3cret"
ARTISAN = "runuser -u www-data -- php /srv/app/current/artisan"


def run_id() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


def redis(host: Any, *args: str) -> str:
    return host.check_output("env REDISCLI_AUTH=%s redis-cli " + " ".join(["%s"] * len(args)),
                             PASSWORD, *args)


def llen(host: Any) -> int:
    return int(redis(host, "LLEN", "queues:default"))


def worker_pids(host: Any) -> dict[str, int]:
    out = host.run("supervisorctl status").stdout
    return {line.split()[0]: int(line.split()[3].rstrip(",")) for line in out.splitlines()
            if line.startswith(f"{GROUP}:") and line.split()[1] == "RUNNING"}


def failed_ids(host: Any) -> list[str]:
    from remediations.laravel.queue import parse_failed_jobs

    return [j.id for j in parse_failed_jobs(host.check_output(f"{ARTISAN} queue:failed"))]


@pytest.fixture
def queue_hosts(web_hosts: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The web hosts; afterwards workers RUNNING, the queue empty, no failed jobs."""
    for host in web_hosts.values():  # an earlier test may have left them re-spawning
        wait_for("2 RUNNING workers", lambda h=host: len(worker_pids(h)) == 2)
    yield web_hosts
    for host in web_hosts.values():
        host.run_expect([0], "supervisorctl start %s", f"{GROUP}:*")
        wait_for("the queue to drain", lambda h=host: llen(h) == 0, timeout=120)
        for job in failed_ids(host):
            host.run_expect([0], f"{ARTISAN} queue:forget %s", job)


def test_queue_backlog_workers_started_restarted_and_drained(queue_hosts: dict[str, Any]) -> None:
    """Workers stopped, 500 jobs queued: start, queue:restart, drain; a second pass is all ok."""
    from remediations import load_inventory, run
    from remediations.host.supervisor import programs_running
    from remediations.laravel.queue import queue_drained, queue_restarted
    from remediations.run.runner import RunOptions
    from remediations.run.state import start_run

    for host in queue_hosts.values():
        host.run_expect([0], "supervisorctl stop %s", f"{GROUP}:*")
        host.run_expect([0], f"{ARTISAN} lab:enqueue 500")
        assert llen(host) == 500 and worker_pids(host) == {}
    hosts = load_inventory(INV).select("web")
    steps = [functools.partial(programs_running, group=GROUP), queue_restarted,
             functools.partial(queue_drained, timeout=120)]

    def runbook(check: bool, run_ctx: Any = None) -> tuple[Any, list[dict[str, Any]]]:
        ctx = run_ctx or start_run(run_id(), check=check)
        reports = [run(step, hosts, run=ctx, options=RunOptions(timeout=200)) for step in steps]
        return ctx, [{r.host: r for r in report} for report in reports]

    _, dry = runbook(check=True)
    for h, host in queue_hosts.items():
        started, restarted, drained = (d[h] for d in dry)
        assert (started.status.value, started.commands) == (
            "changed", ("supervisorctl start 'laravel-worker:*'",))
        assert restarted.status.value == "changed" and restarted.commands[0] == (
            f"{ARTISAN} queue:restart")
        assert drained.status.value == "ok" and "would wait up to 120s" in drained.message
        assert llen(host) == 500 and worker_pids(host) == {}   # check mode touched nothing

    began = time.monotonic()
    ctx, real = runbook(check=False)
    elapsed = time.monotonic() - began
    for h, host in queue_hosts.items():
        started, restarted, drained = (d[h] for d in real)
        assert started.status.value == "changed", started
        assert restarted.status.value == "changed", restarted
        spawned, respawned = started.data["pids"], restarted.data["pids"]
        assert len(respawned) == 2 and not set(spawned.values()) & set(respawned.values())
        assert "2 worker(s) re-spawned" in restarted.message
        assert drained.status.value == "ok", drained
        assert drained.data["length"] == 0 and drained.data["lengths_seen"][-1] == 0
        assert llen(host) == 0                                   # testinfra: LLEN reached 0
        assert worker_pids(host) == respawned
    assert elapsed < 150

    _, again = runbook(check=False, run_ctx=ctx)
    for h in queue_hosts:
        assert [d[h].status.value for d in again] == ["ok", "ok", "ok"], [d[h] for d in again]
        assert "already sent by this run" in again[1][h].message
        assert [d[h].commands for d in again] == [(), (), ()]
    assert length_fact(hosts) == {"web1": 0, "web2": 0}


def length_fact(hosts: Any) -> dict[str, int]:
    from remediations import run
    from remediations.laravel.queue import queue_length

    return {r.host: r.data["length"] for r in run(queue_length, hosts)}


def test_queue_length_is_a_fact_and_max_makes_it_a_check(cli: Any,
                                                        queue_hosts: dict[str, Any]) -> None:
    web1 = queue_hosts["web1"]
    web1.run_expect([0], "supervisorctl stop %s", f"{GROUP}:*")
    web1.run_expect([0], f"{ARTISAN} lab:enqueue 7")
    res = cli("queue-length", "-i", INV, "-l", "web1", "--json")
    assert res.code == 0, res.stderr
    r = res.by_host()["web1"]
    assert r["status"] == "ok" and r["data"]["length"] == 7 == llen(web1)
    assert r["message"] == "queues:default: 7 waiting, 0 delayed, 0 reserved"
    assert PASSWORD not in res.stdout

    over = cli("queue-length", "--max", "5", "-i", INV, "-l", "web1", "--json")
    assert over.code == 2 and over.by_host()["web1"]["status"] == "failed"
    assert "more than 5" in over.by_host()["web1"]["message"]


@pytest.mark.parametrize("connection", ["ssh", "docker"])
def test_restart_queue_once_per_run_workers_respawn(cli: Any, queue_hosts: dict[str, Any],
                                                    connection: str) -> None:
    before = {h: worker_pids(host) for h, host in queue_hosts.items()}
    rid = run_id()
    args = ["restart-queue", "-i", INV, "-l", "web", "--run-id", rid, "--json",
            "--connection", connection]
    marker = f"/run/lock/remediations.runs/{rid}/queue-restart"
    expected = [f"{ARTISAN} queue:restart",
                f"sh -c 'mkdir -p \"${{1%/*}}\" && : > \"$1\"' _ {marker}"]

    check = cli(*args, "--check")
    assert check.code == 0, check.stderr
    for h, r in check.by_host().items():
        assert r["status"] == "changed" and r["commands"] == expected
        assert worker_pids(queue_hosts[h]) == before[h]
        assert not queue_hosts[h].file(marker).exists

    first = cli(*args)
    assert first.code == 0, first.stdout + first.stderr
    for h, r in first.by_host().items():
        assert r["status"] == "changed" and r["commands"] == expected, r
        after = worker_pids(queue_hosts[h])
        assert len(after) == 2 and not set(after.values()) & set(before[h].values())
        assert r["data"]["pids_before"] == before[h]
        assert queue_hosts[h].file(marker).exists

    again = cli(*args)
    assert again.code == 0
    for r in again.by_host().values():
        assert r["status"] == "ok" and r["message"] == "queue:restart already sent by this run"


def push_failing_job(host: Any) -> str:
    """A job whose class does not exist: the worker fails it at once into failed_jobs."""
    job_id = str(uuid.uuid4())
    payload = {"uuid": job_id, "displayName": "App\\Jobs\\DoesNotExist",
               "job": "App\\Jobs\\DoesNotExist@handle", "maxTries": 1, "maxExceptions": None,
               "failOnTimeout": False, "backoff": None, "timeout": None, "retryUntil": None,
               "data": {}, "id": job_id, "attempts": 0}
    redis(host, "RPUSH", "queues:default", json.dumps(payload))
    return job_id


def test_failed_job_is_retried_then_forgotten(cli: Any, queue_hosts: dict[str, Any]) -> None:
    web1 = queue_hosts["web1"]
    job = push_failing_job(web1)
    wait_for("the job to fail", lambda: job in failed_ids(web1))
    # Workers stopped, so the retried job waits in the queue where testinfra can see it.
    web1.run_expect([0], "supervisorctl stop %s", f"{GROUP}:*")
    retry = ["retry-failed-jobs", "--ids", job, "-i", INV, "-l", "web1", "--json"]

    check = cli(*retry, "--check")
    r = check.by_host()["web1"]
    assert r["status"] == "changed" and r["commands"] == [f"{ARTISAN} queue:retry {job}"]
    assert job in failed_ids(web1)

    first = cli(*retry)
    assert first.code == 0, first.stdout + first.stderr
    r = first.by_host()["web1"]
    assert r["status"] == "changed" and r["commands"] == [f"{ARTISAN} queue:retry {job}"]
    assert job not in failed_ids(web1)
    assert any(job in item for item in redis(web1, "LRANGE", "queues:default", "0", "-1").splitlines())

    again = cli(*retry)
    r = again.by_host()["web1"]
    assert r["status"] == "ok" and r["commands"] == [] and "nothing to retry" in r["message"]

    # Back to work: the job fails again (same id) and is then forgotten for good.
    web1.run_expect([0], "supervisorctl start %s", f"{GROUP}:*")
    wait_for("the job to fail again", lambda: job in failed_ids(web1))
    forget = ["forget-failed-jobs", "--ids", job, "--yes", "-i", INV, "-l", "web1", "--json"]
    check = cli(*forget, "--check")
    assert check.by_host()["web1"]["commands"] == [f"{ARTISAN} queue:forget {job}"]
    assert job in failed_ids(web1)

    first = cli(*forget)
    assert first.code == 0, first.stdout + first.stderr
    r = first.by_host()["web1"]
    assert r["status"] == "changed" and r["commands"] == [f"{ARTISAN} queue:forget {job}"]
    assert job not in failed_ids(web1)
    assert cli(*forget).by_host()["web1"]["status"] == "ok"

    nothing = cli("retry-failed-jobs", "-i", INV, "-l", "web1", "--json")
    assert nothing.by_host()["web1"]["status"] == "ok"
    assert nothing.by_host()["web1"]["message"] == "no failed jobs"


@pytest.mark.parametrize("args,message", [
    (["forget-failed-jobs"], "--ids is required"),
    (["forget-failed-jobs", "--ids", "1;rm -rf /"], "not a valid failed-job id"),
    (["queue-length", "--queue", "de fault"], "not a valid queue name"),
])
def test_bad_input_is_refused(cli: Any, args: list[str], message: str) -> None:
    res = cli(*args, "-i", INV, "-l", "web")
    assert res.code == 1 and message in res.stderr
