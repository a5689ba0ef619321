"""Compose remediations on the real engine, through the CLI, on the local and the ssh Docker host,
with compose v1 (docker-compose 1.29) and with v2 (the `docker compose` plugin).

Issue 4's acceptance: restart `backend` (changed, StartedAt moves, healthy; same run id
again: ok), bring it to v1.2.2 (`/up` answers 1.2.2; again ok, container id unchanged),
a failing healthcheck (v1.2.4) and a container killed mid-restart end `failed` within
the timeout with the container's last log lines; the same over both hosts; `--check`
touches nothing. Every test runs once per compose version (`compose_version`, a parameter
of the lab: the CLI that creates the project and that the lab's inventory makes the
library use, v1 by `compose_version: v1`, v2 by picking it where both exist); results
name the one that ran.
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
from tests.integration.docker.conftest import HOSTS, ComposeUnderTest

pytestmark = pytest.mark.lab
INCIDENTS = "/var/lib/remediations/incidents"


@pytest.fixture(scope="module", params=stack.COMPOSE_VERSIONS)
def compose_version(request: pytest.FixtureRequest) -> str:
    """Both compose CLIs (overrides the conftest's v2 for this module)."""
    return str(request.param)


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


def project_args(compose: ComposeUnderTest) -> str:
    return (f"{compose.command} -p {stack.PROJECT} -f {stack.COMPOSE_FILE} --project-directory "
            f"{stack.PROJECT_DIR}")


def names_it(r: dict[str, Any], compose: ComposeUnderTest, what: str) -> None:
    """The result says what it did with which compose, and its data names that compose."""
    assert re.search(rf"{what} with {compose.label.pattern}\b", r["message"]), r["message"]
    assert compose.label.fullmatch(r["data"]["compose"]), r["data"]


@pytest.mark.parametrize("host", HOSTS)
def test_restart_backend_once_per_run_and_healthy(dcli: Any, host: str,
                                                 compose: ComposeUnderTest) -> None:
    before = backend()
    assert before["Name"] == f"/{compose.container('backend')}"  # created by this compose
    run_id = rid()
    started = time.monotonic()
    first = dcli("compose-restart", host, "--service", "backend", "--run-id", run_id)
    assert first.code == 0, first.stderr
    r = one(first, host)
    assert r["status"] == "changed", r
    assert r["commands"] == [f"{project_args(compose)} restart backend"]
    names_it(r, compose, "restarted backend")
    after = backend()
    assert after["Id"] == before["Id"]
    assert after["State"]["StartedAt"] > before["State"]["StartedAt"]
    assert after["State"]["Health"]["Status"] == "healthy"
    assert up_json()["status"] == "ok"
    print(f"{host} {compose.version}: restart + healthy in {time.monotonic() - started:.1f}s",
          file=sys.stderr)

    again = dcli("compose-restart", host, "--service", "backend", "--run-id", run_id)
    assert again.code == 0, again.stderr
    r2 = one(again, host)
    assert r2["status"] == "ok" and "already restarted by this run" in r2["message"], r2
    assert r2["commands"] == []
    assert backend()["State"]["StartedAt"] == after["State"]["StartedAt"]


@pytest.mark.parametrize("host", HOSTS)
def test_check_mode_is_exact_and_touches_nothing(dcli: Any, host: str,
                                                 compose: ComposeUnderTest) -> None:
    before = backend()
    for task, args, command in (
        ("compose-restart", ("--service", "backend"), "restart backend"),
        ("compose-tag", ("--service", "backend", "--tag", "v1.2.2"), "up -d --no-deps backend"),
        ("compose-stop", ("--services", "worker"), "stop worker"),
        ("compose-restart-stack", ("--allow-database-restart",), "down"),  # it has `db`
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
        assert compose.label.search(r["message"]), r
        assert project_args(compose) in r["commands"][0], r
        assert r["commands"][0].endswith(command), r
    after = backend()
    assert (after["Id"], after["State"]["StartedAt"]) == (before["Id"], before["State"]["StartedAt"])
    assert after["Config"]["Image"] == "remediations-lab/app:v1.2.3"
    workers = containers("worker")
    assert [w.status for w in workers] == ["running"]


@pytest.mark.parametrize("host", HOSTS)
def test_backend_to_v122_and_back_without_needless_recreates(dcli: Any, host: str,
                                                            compose: ComposeUnderTest) -> None:
    res = dcli("compose-tag", host, "--service", "backend", "--tag", "v1.2.2")
    assert res.code == 0, res.stderr
    r = one(res, host)
    assert r["status"] == "changed", r
    assert r["commands"] == [f"env APP_TAG=v1.2.2 {project_args(compose)} up -d --no-deps backend"]
    names_it(r, compose, "recreated backend from remediations-lab/app:v1.2.2")
    assert "version 1.2.2" in r["message"], r
    assert up_json() == {"status": "ok", "version": "1.2.2"}
    at_122 = backend()
    assert at_122["Config"]["Image"] == "remediations-lab/app:v1.2.2"
    assert at_122["Name"] == f"/{compose.container('backend')}"

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
def test_failing_healthcheck_fails_within_the_timeout_with_the_logs(
        dcli: Any, host: str, compose: ComposeUnderTest) -> None:
    started = time.monotonic()
    try:
        res = dcli("compose-tag", host, "--service", "backend", "--tag", "v1.2.4", "--wait", "60")
        took = time.monotonic() - started
        assert res.code == 2, res.stderr
        r = one(res, host)
        assert r["status"] == "failed", r
        assert f"{compose.container('backend')} is unhealthy" in r["message"], r
        name = backend()["Name"].lstrip("/")
        shown = logged_lines(r["evidence"], name)
        full = subprocess.run(["docker", "logs", "--timestamps", name], capture_output=True,
                              text=True, check=True)
        lines = {line.rstrip() for line in (full.stdout + full.stderr).splitlines()}
        assert len(shown) >= 10 and set(shown) <= lines
        assert "healthcheck (last 3):" in r["evidence"]
        assert "exit 22: curl: (22) The requested URL returned error: 500" in r["evidence"]
        assert took < 60, took
        print(f"{host} {compose.version}: unhealthy v1.2.4 reported failed in {took:.1f}s",
              file=sys.stderr)
    finally:
        back = dcli("compose-tag", host, "--service", "backend", "--tag", "v1.2.3")
    assert back.code == 0 and one(back, host)["status"] == "changed", back.stdout
    assert up_json() == {"status": "ok", "version": "1.2.3"}


@pytest.mark.parametrize("host", HOSTS)
def test_container_killed_mid_restart_fails_with_its_logs(dcli: Any, host: str,
                                                          compose: ComposeUnderTest) -> None:
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
        assert f"{compose.container('backend')} exited (exit code 137)" in r["message"], r
        assert len(logged_lines(r["evidence"], before["Name"].lstrip("/"))) >= 5, r["evidence"]
        assert took < 60
    finally:
        # a stopped service is started again, keeping its container (and its config)
        start = dcli("compose-start", host, "--services", "backend")
    assert start.code == 0, start.stderr
    assert one(start, host)["status"] == "changed"
    names_it(one(start, host), compose, "started backend")
    assert backend()["Id"] == before["Id"] and backend()["State"]["Health"]["Status"] == "healthy"


@pytest.mark.parametrize("host", HOSTS)
def test_stop_and_start_a_service_to_free_resources(dcli: Any, host: str,
                                                   compose: ComposeUnderTest) -> None:
    stop = dcli("compose-stop", host, "--services", "worker")
    assert stop.code == 0 and one(stop, host)["status"] == "changed", stop.stdout
    names_it(one(stop, host), compose, "stopped worker")
    assert one(stop, host)["commands"] == [f"{project_args(compose)} stop worker"]
    worker = containers("worker", all=True)
    assert [w.status for w in worker] == ["exited"]
    again = dcli("compose-stop", host, "--services", "worker")
    assert one(again, host)["status"] == "ok"
    start = dcli("compose-start", host, "--services", "worker")
    assert start.code == 0 and one(start, host)["status"] == "changed", start.stdout
    names_it(one(start, host), compose, "started worker")
    worker[0].reload()
    assert worker[0].status == "running" and worker[0].attrs["State"]["Health"]["Status"] == "healthy"
    assert one(dcli("compose-start", host, "--services", "worker"), host)["status"] == "ok"


def test_compose_ps_is_the_same_from_both_hosts(dcli: Any, compose: ComposeUnderTest) -> None:
    seen = {}
    for host in HOSTS:
        res = dcli("compose-ps", host)
        assert res.code == 0, res.stderr
        r = one(res, host)
        assert r["status"] == "ok" and r["message"].startswith("all ready"), r
        assert compose.label.fullmatch(r["data"]["compose"]), r["data"]
        seen[host] = r["data"]["services"]
    assert seen["dockerhost-local"] == seen["dockerhost-ssh"]
    assert set(seen["dockerhost-local"]) == {"backend", "worker", "proxy", "redis", "db"}
    assert seen["dockerhost-local"]["backend"]["health"] == "healthy"


@pytest.mark.parametrize("host", HOSTS)
def test_compose_logs_saved_once_per_run_on_the_docker_host(dcli: Any, host: str,
                                                            compose: ComposeUnderTest) -> None:
    run_id = rid()
    res = dcli("save-compose-logs", host, "--run-id", run_id)
    assert res.code == 0, res.stderr
    r = one(res, host)
    assert r["status"] == "changed", r
    names_it(r, compose, "saved the logs of every service to .+")
    path = r["data"]["path"]
    assert path.startswith(f"{INCIDENTS}/") and path.endswith(
        f"-{run_id}-{stack.PROJECT}-compose.log")
    where = ([] if host == "dockerhost-local" else ["docker", "exec", stack.DOCKERHOST_CONTAINER])
    text = subprocess.run([*where, "cat", path], capture_output=True, text=True, check=True).stdout
    for service in ("backend", "db", "redis"):
        # v1 prefixes a line with `backend_1  | `, v2 with `backend-1  | `
        prefix = compose.container(service).removeprefix(f"{stack.PROJECT}")[1:]
        assert re.search(rf"^{re.escape(prefix)} +\| \d{{4}}-", text, re.M), (service, text[:300])
    assert r["data"]["size"] == len(text.encode())
    again = dcli("save-compose-logs", host, "--run-id", run_id)
    assert one(again, host)["status"] == "ok"
    subprocess.run([*where, "rm", "-f", path], check=True)


@pytest.mark.parametrize("host", HOSTS)
def test_full_stack_restart_once_per_run(dcli: Any, host: str,
                                         compose: ComposeUnderTest) -> None:
    before = {c.name: c.id for c in containers()}
    run_id = rid()
    started = time.monotonic()
    # The stack has a database (`db`): its `down` needs the flag, and the flag --yes.
    flag = ("--allow-database-restart", "--yes")
    res = dcli("compose-restart-stack", host, *flag, "--run-id", run_id)
    assert res.code == 0, res.stderr
    r = one(res, host)
    assert r["status"] == "changed", r
    assert r["commands"][:2] == [f"{project_args(compose)} down", f"{project_args(compose)} up -d"]
    assert compose.label.search(r["message"]) and "down, up -d" in r["message"], r
    after = {c.name: c for c in containers()}
    assert set(after) == set(before) and all(after[n].id != before[n] for n in before)
    assert all(c.attrs["State"]["Health"]["Status"] == "healthy" for c in after.values())
    print(f"{host} {compose.version}: stack down/up/healthy in {time.monotonic() - started:.1f}s",
          file=sys.stderr)
    again = dcli("compose-restart-stack", host, *flag, "--run-id", run_id)
    r2 = one(again, host)
    assert r2["status"] == "ok" and "already restarted by this run" in r2["message"], r2
    assert {c.name: c.id for c in containers()} == {n: c.id for n, c in after.items()}
