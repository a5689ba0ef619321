"""Compose remediations on the real engine, through the CLI, on the local and the ssh Docker host.

Issue 4's acceptance: restart `backend` (changed, StartedAt moves, healthy; same run id
again: ok), bring it to v1.2.2 (`/up` answers 1.2.2; again ok, container id unchanged),
a failing healthcheck (v1.2.4) and a container killed mid-restart end `failed` within
the timeout with the container's last log lines; the same over both hosts; `--check`
touches nothing.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from typing import Any

import docker
import pytest

import lab.stack as stack
from tests.integration.docker.conftest import HOSTS

pytestmark = pytest.mark.lab
INCIDENTS = "/var/lib/remediations/incidents"





def rid() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


def engine() -> Any:
    return docker.from_env()


def containers(service: str | None = None, *, all: bool = False) -> list[Any]:
    """The containers of this lab slot's compose project (of one service), read directly."""
    labels = [f"com.docker.compose.project={stack.PROJECT}"]
    if service:
        labels.append(f"com.docker.compose.service={service}")
    return engine().containers.list(all=all, filters={"label": labels})  # type: ignore[no-any-return]


def backend() -> dict[str, Any]:
    """`docker inspect` of the backend container, read independently of the library."""
    found = containers("backend", all=True)
    assert len(found) == 1, found
    return found[0].attrs  # type: ignore[no-any-return]


def up_json() -> dict[str, Any]:
    with urllib.request.urlopen(stack.BACKEND_URL, timeout=5) as resp:
        return json.loads(resp.read())  # type: ignore[no-any-return]


def one(res: Any, host: str) -> dict[str, Any]:
    results = res.by_host()
    assert set(results) == {host}, res.stderr
    return results[host]  # type: ignore[no-any-return]


@pytest.mark.parametrize("host", HOSTS)
def test_restart_backend_once_per_run_and_healthy(dcli: Any, host: str) -> None:
    before = backend()
    run_id = rid()
    started = time.monotonic()
    first = dcli("compose-restart", host, "--service", "backend", "--run-id", run_id)
    assert first.code == 0, first.stderr
    r = one(first, host)
    assert r["status"] == "changed", r
    assert r["commands"] == [
        f"docker-compose -p remlab -f {stack.COMPOSE_FILE} --project-directory "
        f"{stack.PROJECT_DIR} restart backend"]
    after = backend()
    assert after["Id"] == before["Id"]
    assert after["State"]["StartedAt"] > before["State"]["StartedAt"]
    assert after["State"]["Health"]["Status"] == "healthy"
    assert up_json()["status"] == "ok"
    print(f"{host}: restart + healthy in {time.monotonic() - started:.1f}s", file=sys.stderr)

    again = dcli("compose-restart", host, "--service", "backend", "--run-id", run_id)
    assert again.code == 0, again.stderr
    r2 = one(again, host)
    assert r2["status"] == "ok" and "already restarted by this run" in r2["message"], r2
    assert r2["commands"] == []
    assert backend()["State"]["StartedAt"] == after["State"]["StartedAt"]


@pytest.mark.parametrize("host", HOSTS)
def test_check_mode_is_exact_and_touches_nothing(dcli: Any, host: str) -> None:
    before = backend()
    for task, args, command in (
        ("compose-restart", ("--service", "backend"), "restart backend"),
        ("compose-tag", ("--service", "backend", "--tag", "v1.2.2"), "up -d --no-deps backend"),
        ("compose-stop", ("--services", "worker"), "stop worker"),
        ("compose-restart-stack", (), "down"),
        ("compose-start", ("--services", "worker,redis"), None),
        ("save-compose-logs", (), "logs --no-color --timestamps"),
    ):
        if command is None:  # already running: nothing would change
            res = dcli(task, host, *args, "--check")
            assert one(res, host)["status"] == "ok" and one(res, host)["commands"] == []
            continue
        res = dcli(task, host, *args, "--check")
        assert res.code == 0, res.stderr
        r = one(res, host)
        assert r["status"] == "changed" and r["check"] is True, r
        assert r["message"].startswith("would "), r
        assert r["commands"][0].endswith(command), r
    after = backend()
    assert (after["Id"], after["State"]["StartedAt"]) == (before["Id"], before["State"]["StartedAt"])
    assert after["Config"]["Image"] == "remediations-lab/app:v1.2.3"
    workers = containers("worker")
    assert [w.status for w in workers] == ["running"]


@pytest.mark.parametrize("host", HOSTS)
def test_backend_to_v122_and_back_without_needless_recreates(dcli: Any, host: str) -> None:
    res = dcli("compose-tag", host, "--service", "backend", "--tag", "v1.2.2")
    assert res.code == 0, res.stderr
    r = one(res, host)
    assert r["status"] == "changed", r
    assert r["commands"] == [
        f"env APP_TAG=v1.2.2 docker-compose -p remlab -f {stack.COMPOSE_FILE} "
        f"--project-directory {stack.PROJECT_DIR} up -d --no-deps backend"]
    assert "version 1.2.2" in r["message"], r
    assert up_json() == {"status": "ok", "version": "1.2.2"}
    at_122 = backend()
    assert at_122["Config"]["Image"] == "remediations-lab/app:v1.2.2"

    again = dcli("compose-tag", host, "--service", "backend", "--tag", "v1.2.2")
    assert again.code == 0, again.stderr
    r2 = one(again, host)
    assert r2["status"] == "ok" and "already runs remediations-lab/app:v1.2.2" in r2["message"]
    assert backend()["Id"] == at_122["Id"]  # no recreate
    # the worker was left alone (--no-deps, one service)
    worker = containers("worker")[0]
    assert worker.attrs["Config"]["Image"] == "remediations-lab/app:v1.2.3"

    back = dcli("compose-tag", host, "--service", "backend", "--tag", "v1.2.3")
    assert back.code == 0, back.stderr
    assert one(back, host)["status"] == "changed"
    assert up_json() == {"status": "ok", "version": "1.2.3"}


def logged_lines(evidence: str, name: str) -> list[str]:
    """The `docker logs --tail` section of a result's evidence."""
    section = evidence.split(f"docker logs --tail 30 {name}:\n", 1)[1]
    return [line for line in section.split("\nhealthcheck (last")[0].splitlines() if line]


@pytest.mark.parametrize("host", HOSTS)
def test_failing_healthcheck_fails_within_the_timeout_with_the_logs(dcli: Any, host: str) -> None:
    started = time.monotonic()
    try:
        res = dcli("compose-tag", host, "--service", "backend", "--tag", "v1.2.4", "--wait", "60")
        took = time.monotonic() - started
        assert res.code == 2, res.stderr
        r = one(res, host)
        assert r["status"] == "failed", r
        assert "remlab_backend_1 is unhealthy" in r["message"], r
        name = backend()["Name"].lstrip("/")
        shown = logged_lines(r["evidence"], name)
        full = subprocess.run(["docker", "logs", "--timestamps", name], capture_output=True,
                              text=True, check=True)
        lines = {line.rstrip() for line in (full.stdout + full.stderr).splitlines()}
        assert len(shown) >= 10 and set(shown) <= lines
        assert "healthcheck (last 3):" in r["evidence"]
        assert "exit 22: curl: (22) The requested URL returned error: 500" in r["evidence"]
        assert took < 60, took
        print(f"{host}: unhealthy v1.2.4 reported failed in {took:.1f}s", file=sys.stderr)
    finally:
        back = dcli("compose-tag", host, "--service", "backend", "--tag", "v1.2.3")
    assert back.code == 0 and one(back, host)["status"] == "changed", back.stdout
    assert up_json() == {"status": "ok", "version": "1.2.3"}


@pytest.mark.parametrize("host", HOSTS)
def test_container_killed_mid_restart_fails_with_its_logs(dcli: Any, host: str) -> None:
    before = backend()
    killed: dict[str, Any] = {}

    def kill_when_restarted() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = backend()
            if now["State"]["StartedAt"] > before["State"]["StartedAt"] and now["State"]["Running"]:
                health = now["State"].get("Health", {}).get("Status")
                subprocess.run(["docker", "kill", now["Id"]], check=True, capture_output=True)
                killed.update(health=health)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_when_restarted)
    killer.start()
    started = time.monotonic()
    try:
        res = dcli("compose-restart", host, "--service", "backend", "--wait", "60")
        took = time.monotonic() - started
        killer.join(timeout=70)
        assert killed.get("health") == "starting", killed   # killed before it became healthy
        assert res.code == 2, res.stderr
        r = one(res, host)
        assert r["status"] == "failed", r
        assert "remlab_backend_1 exited (exit code 137)" in r["message"], r
        assert len(logged_lines(r["evidence"], before["Name"].lstrip("/"))) >= 5, r["evidence"]
        assert took < 60
    finally:
        # a stopped service is started again, keeping its container (and its config)
        start = dcli("compose-start", host, "--services", "backend")
    assert start.code == 0, start.stderr
    assert one(start, host)["status"] == "changed"
    assert backend()["Id"] == before["Id"] and backend()["State"]["Health"]["Status"] == "healthy"


@pytest.mark.parametrize("host", HOSTS)
def test_stop_and_start_a_service_to_free_resources(dcli: Any, host: str) -> None:
    stop = dcli("compose-stop", host, "--services", "worker")
    assert stop.code == 0 and one(stop, host)["status"] == "changed", stop.stdout
    worker = containers("worker", all=True)
    assert [w.status for w in worker] == ["exited"]
    again = dcli("compose-stop", host, "--services", "worker")
    assert one(again, host)["status"] == "ok"
    start = dcli("compose-start", host, "--services", "worker")
    assert start.code == 0 and one(start, host)["status"] == "changed", start.stdout
    worker[0].reload()
    assert worker[0].status == "running" and worker[0].attrs["State"]["Health"]["Status"] == "healthy"
    assert one(dcli("compose-start", host, "--services", "worker"), host)["status"] == "ok"


def test_compose_ps_is_the_same_from_both_hosts(dcli: Any) -> None:
    seen = {}
    for host in HOSTS:
        res = dcli("compose-ps", host)
        assert res.code == 0, res.stderr
        r = one(res, host)
        assert r["status"] == "ok" and r["message"].startswith("all ready"), r
        seen[host] = r["data"]["services"]
    assert seen["dockerhost-local"] == seen["dockerhost-ssh"]
    assert set(seen["dockerhost-local"]) == {"backend", "worker", "redis", "db"}
    assert seen["dockerhost-local"]["backend"]["health"] == "healthy"


@pytest.mark.parametrize("host", HOSTS)
def test_compose_logs_saved_once_per_run_on_the_docker_host(dcli: Any, host: str) -> None:
    run_id = rid()
    res = dcli("save-compose-logs", host, "--run-id", run_id)
    assert res.code == 0, res.stderr
    r = one(res, host)
    assert r["status"] == "changed", r
    path = r["data"]["path"]
    assert path.startswith(f"{INCIDENTS}/") and path.endswith(f"-{run_id}-remlab-compose.log")
    where = ([] if host == "dockerhost-local" else ["docker", "exec", stack.DOCKERHOST_CONTAINER])
    text = subprocess.run([*where, "cat", path], capture_output=True, text=True, check=True).stdout
    for service in ("backend", "db", "redis"):
        assert re.search(rf"^{service}_1 +\| \d{{4}}-", text, re.M), service
    assert r["data"]["size"] == len(text.encode())
    again = dcli("save-compose-logs", host, "--run-id", run_id)
    assert one(again, host)["status"] == "ok"
    subprocess.run([*where, "rm", "-f", path], check=True)


@pytest.mark.parametrize("host", HOSTS)
def test_full_stack_restart_once_per_run(dcli: Any, host: str) -> None:
    before = {c.name: c.id for c in containers()}
    run_id = rid()
    started = time.monotonic()
    res = dcli("compose-restart-stack", host, "--run-id", run_id)
    assert res.code == 0, res.stderr
    r = one(res, host)
    assert r["status"] == "changed", r
    assert [c.split(" --project-directory ")[1] for c in r["commands"][:2]] == [
        f"{stack.PROJECT_DIR} down", f"{stack.PROJECT_DIR} up -d"]
    after = {c.name: c for c in containers()}
    assert set(after) == set(before) and all(after[n].id != before[n] for n in before)
    assert all(c.attrs["State"]["Health"]["Status"] == "healthy" for c in after.values())
    print(f"{host}: stack down/up/healthy in {time.monotonic() - started:.1f}s", file=sys.stderr)
    again = dcli("compose-restart-stack", host, "--run-id", run_id)
    r2 = one(again, host)
    assert r2["status"] == "ok" and "already restarted by this run" in r2["message"], r2
    assert {c.name: c.id for c in containers()} == {n: c.id for n, c in after.items()}
