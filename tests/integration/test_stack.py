"""The Docker lab itself: compose project `remlab` and the ssh-reached Docker host.

What the Docker remediations rely on, proven against the real engine: every service
healthy, /up reporting the release of the running tag, APP_TAG switching the backend,
v1.2.4 turning unhealthy, the worker draining the redis queue, the ssh host seeing the
very same containers (and compose agreeing they are up to date), and `reset()` undoing it.
Both compose CLIs are there, on this machine and on the ssh host; the project is created
by v2 unless the lab is asked for v1 (its inventory then says `compose_version: v1`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import lab.stack as stack
from lab import readiness
from remediations import load_inventory

pytestmark = pytest.mark.lab

REDIS_LLEN = ["sh", "-c", 'REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli llen queues:default']


def _log(line: str) -> None:
    print(f"stack: {line}", file=sys.stderr)


@pytest.fixture(scope="module")
def stack_info() -> Iterator[stack.StackInfo]:
    info = stack.up(_log)
    yield info
    # Leave the declared state (v1.2.3, all healthy) for whoever uses the stack next.
    stack.reset(_log)


def _by_service() -> dict[str, dict[str, Any]]:
    return {c["Config"]["Labels"]["com.docker.compose.service"]: c for c in stack.containers()}


def _container(service: str) -> str:
    return str(_by_service()[service]["Name"].lstrip("/"))


def _docker(*args: str) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60,
                          check=True)
    return proc.stdout


def _llen() -> int:
    return int(_docker("exec", _container("redis"), *REDIS_LLEN).strip())


def _wait_for(what: str, check: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_every_service_is_healthy(stack_info: stack.StackInfo) -> None:
    rows = {row["service"]: row for row in stack.status()}
    assert set(rows) == {*stack.SERVICES, "dockerhost"}
    for service in stack.SERVICES:
        assert rows[service]["state"] == "running", rows[service]
        assert rows[service]["health"] == "healthy", rows[service]
    # The proxy publishes the stack; the backend behind it publishes nothing (scalable).
    assert rows["proxy"]["ports"] == "127.0.0.1:8091->80/tcp"
    assert rows["backend"]["ports"] == ""
    assert rows["proxy"]["http_status"] == 200 and rows["proxy"]["version"] == "1.2.3"
    assert rows["dockerhost"]["ports"] == "127.0.0.1:2290->22/tcp"
    for c in stack.containers():
        assert c["Config"]["Labels"]["remediations.lab"] == "stack"
        assert c["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert stack_info.project == "remlab"
    assert stack_info.compose_version == "v2"
    assert {rows[s]["compose"][:2] for s in stack.SERVICES} == {"2."}, rows  # created by v2
    assert stack_info.backend_url == "http://127.0.0.1:8091/up"
    assert (stack_info.project_dir / "docker-compose.yml").is_file()
    assert stack_info.inventory.is_file()


def test_backend_reports_the_default_release(stack_info: stack.StackInfo) -> None:
    code, version = readiness.probe_up(stack_info.backend_url)
    assert (code, version) == (200, "1.2.3")
    assert _by_service()["backend"]["Config"]["Image"] == "remediations-lab/app:v1.2.3"


def test_app_tag_brings_the_backend_to_an_older_release(stack_info: stack.StackInfo) -> None:
    worker_before = _by_service()["worker"]["Id"]
    # Exactly what a user (or the compose remediation) types.
    subprocess.run(
        [*stack.compose_command(stack_info.compose_version), "-p", "remlab", "up", "-d",
         "--no-deps", "backend"],
        cwd=stack_info.project_dir, env={**os.environ, "APP_TAG": "v1.2.2"},
        capture_output=True, text=True, timeout=120, check=True,
    )
    try:
        stack.wait_service_health("backend", "healthy", timeout=60)
        assert readiness.probe_up(stack_info.backend_url) == (200, "1.2.2")
        assert _by_service()["backend"]["Config"]["Image"] == "remediations-lab/app:v1.2.2"
        assert _by_service()["worker"]["Id"] == worker_before, "--no-deps left worker alone"
    finally:
        stack.reset(_log)
    assert readiness.probe_up(stack_info.backend_url) == (200, "1.2.3")


def test_release_v124_turns_the_backend_unhealthy(stack_info: stack.StackInfo) -> None:
    stack.set_backend_tag("v1.2.4", _log, wait=False)
    try:
        stack.wait_service_health("backend", "unhealthy", timeout=40)
        code, _ = readiness.probe_up(stack_info.backend_url)
        assert code == 500
    finally:
        stack.reset(_log)
    assert readiness.probe_up(stack_info.backend_url) == (200, "1.2.3")


def test_the_worker_drains_queued_jobs(stack_info: stack.StackInfo) -> None:
    worker = _container("worker")
    # With the worker stopped the jobs wait in redis, so it is the worker that drains them.
    _docker("stop", worker)
    try:
        assert _llen() == 0
        out = _docker("exec", "-u", "www-data", _container("backend"),
                      "php", "artisan", "lab:enqueue", "5")
        assert "queued 5 ping job(s)" in out
        assert _llen() == 5
        since = _docker("exec", _container("redis"), "date", "+%s").strip()
    finally:
        _docker("start", worker)
    stack.wait_service_health("worker", "healthy", timeout=30)
    _wait_for("queues:default to drain", lambda: _llen() == 0, timeout=30)
    logs = subprocess.run(["docker", "logs", "--since", since, worker], capture_output=True,
                          text=True, timeout=30, check=True)
    assert (logs.stdout + logs.stderr).count("Processed:  App\\Jobs\\Ping") >= 5
    assert "No failed jobs" in _docker("exec", _container("backend"), "php", "artisan",
                                       "queue:failed")


def test_queue_restart_makes_docker_respawn_the_worker(stack_info: stack.StackInfo) -> None:
    """`queue:restart` makes the worker exit; its restart policy brings it back."""
    before = _by_service()["worker"]["State"]
    _docker("exec", "-u", "www-data", _container("backend"), "php", "artisan", "queue:restart")
    _wait_for("the worker to be respawned",
              lambda: _by_service()["worker"]["State"]["StartedAt"] != before["StartedAt"],
              timeout=30)
    stack.wait_service_health("worker", "healthy", timeout=30)


def test_backend_container_dies_with_nginx(stack_info: stack.StackInfo) -> None:
    """No supervisor hides a dead nginx: the container exits and Docker restarts it."""
    backend = _container("backend")
    before = _by_service()["backend"]["RestartCount"]
    master = _docker("exec", backend, "pgrep", "-o", "-x", "nginx").strip()
    _docker("exec", backend, "kill", "-9", master)
    _wait_for("backend to be restarted",
              lambda: _by_service()["backend"]["RestartCount"] > before, timeout=30)
    stack.wait_service_health("backend", "healthy", timeout=30)
    assert readiness.probe_up(stack_info.backend_url) == (200, "1.2.3")


def test_the_ssh_host_drives_the_same_engine_and_project(stack_info: stack.StackInfo) -> None:
    local = {c["Name"].lstrip("/"): c["Id"] for c in stack.containers()}
    proc = stack.ssh("docker", "ps", "-a", "--filter", "label=com.docker.compose.project=remlab",
                     "--format", "{{.Names}}")
    assert proc.returncode == 0, proc.stderr
    assert set(proc.stdout.split()) == set(local)
    # compose on the ssh host, in the same absolute directory, sees the same project...
    cli = " ".join(stack.compose_command(stack_info.compose_version))
    ps = stack.ssh("sh", "-c", f"cd {stack_info.project_dir} && {cli} -p remlab ps -q")
    assert ps.returncode == 0, ps.stderr
    assert set(ps.stdout.split()) == set(local.values())
    # ...and agrees it is up to date: nothing recreated when driven from there.
    up = stack.ssh(*stack.compose_command(stack_info.compose_version), "-p", "remlab", "-f",
                   str(stack.COMPOSE_FILE), "up", "-d")
    assert up.returncode == 0, up.stderr
    assert "Recreat" not in up.stderr  # v1 says Recreating, v2 Recreate
    assert {c["Name"].lstrip("/"): c["Id"] for c in stack.containers()} == local
    # Both compose CLIs, as on this machine: Debian's 1.29 and trixie's v2 plugin.
    assert stack.ssh("docker-compose", "version", "--short").stdout.strip() == "1.29.2"
    assert stack.ssh("docker", "compose", "version", "--short").stdout.startswith("2.")


def test_reset_restores_the_declared_state(stack_info: stack.StackInfo) -> None:
    stack.set_backend_tag("v1.2.2", _log)
    assert readiness.probe_up(stack_info.backend_url) == (200, "1.2.2")
    _docker("stop", _container("worker"))
    stack.reset(_log)
    assert readiness.probe_up(stack_info.backend_url) == (200, "1.2.3")
    rows = {row["service"]: row for row in stack.status()}
    assert all(rows[s]["health"] == "healthy" for s in stack.SERVICES), rows


def test_up_again_is_quick_and_changes_nothing(stack_info: stack.StackInfo) -> None:
    before = {c["Id"]: c["State"]["StartedAt"] for c in stack.containers()}
    host_before = _docker("inspect", "--format", "{{.Id}} {{.State.StartedAt}}",
                          stack_info.dockerhost)
    started = time.monotonic()
    stack.up(_log)
    elapsed = time.monotonic() - started
    assert {c["Id"]: c["State"]["StartedAt"] for c in stack.containers()} == before
    assert _docker("inspect", "--format", "{{.Id}} {{.State.StartedAt}}",
                   stack_info.dockerhost) == host_before
    assert elapsed < 20, f"a no-op up took {elapsed:.1f}s"


def test_the_inventory_names_both_docker_hosts(stack_info: stack.StackInfo) -> None:
    inventory = load_inventory(str(stack_info.inventory))
    hosts = {h.name: h for h in inventory.select("docker_hosts")}
    assert set(hosts) == {"dockerhost-local", "dockerhost-ssh"}
    for host in hosts.values():
        assert host.vars["compose_project"] == "remlab"
        assert host.vars["compose_file"] == "docker-compose.yml"
        assert host.vars["health_url"] == stack_info.backend_url
        # Relative to the inventory file, like key files: the same directory on both hosts.
        project_dir = (stack_info.inventory.parent / host.vars["compose_project_dir"]).resolve()
        assert project_dir == stack_info.project_dir
    assert hosts["dockerhost-local"].vars["ansible_connection"] == "local"
    ssh_vars = hosts["dockerhost-ssh"].vars
    assert (ssh_vars["ansible_host"], ssh_vars["ansible_port"]) == ("127.0.0.1", 2290)
    key = (stack_info.inventory.parent / ssh_vars["ansible_ssh_private_key_file"]).resolve()
    assert key == stack_info.ssh_key.resolve()
    assert "compose_version" not in ssh_vars  # the library picks v2 where both exist
    # The lab's compose v1 inventory: the same hosts and paths, `compose_version: v1`.
    v1 = {h.name: h.vars for h in load_inventory(str(stack.inventory_for("v1"))).select("all")}
    assert set(v1) == set(hosts)
    for name, host in hosts.items():
        resolved = {k: v for k, v in v1[name].items() if k != "compose_version"}
        assert resolved["compose_project_dir"] == str(stack_info.project_dir)
        assert v1[name]["compose_version"] == "v1"
        assert set(resolved) == set(host.vars)


def test_stack_status_task_prints_json(stack_info: stack.StackInfo) -> None:
    code = (
        "import json, sys\n"
        "from invoke import Collection, Program\n"
        "from lab.stack_tasks import ns\n"
        "root = Collection(); root.add_collection(ns, 'stack')\n"
        "Program(namespace=root).run(['invoke', 'stack.status', '--json'])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=Path(stack.__file__).parents[1],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    rows = {row["service"]: row for row in json.loads(proc.stdout)}
    assert rows["proxy"]["version"] == "1.2.3"  # /up through the published proxy



# -- Compose v2 beside v1 (lab/compose_v2.py) -------------------------------------------------

def test_both_compose_clis_on_this_machine_and_installing_again_is_a_no_op() -> None:
    from lab import compose_v2

    started = time.monotonic()
    version = compose_v2.install(log=lambda line: pytest.fail(f"installed again: {line}"))
    assert time.monotonic() - started < 5
    assert version.startswith("2.") and compose_v2.plugin_version() == version
    docker = subprocess.run(["docker", "compose", "version", "--short"], capture_output=True,
                            text=True, check=True)
    assert docker.stdout.startswith(version)
    v1 = subprocess.run(["docker-compose", "version", "--short"], capture_output=True, text=True,
                        check=True)
    assert v1.stdout.strip() == "1.29.2"
    # v1 is still Debian's package; the plugin was copied out of trixie's, never installed
    package = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "docker-compose"],
                             capture_output=True, text=True, check=True)
    assert package.stdout.startswith("1.29.")


def test_the_trixie_sources_are_derived_from_this_machines_own(tmp_path: Path) -> None:
    from lab import compose_v2

    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(
        "# a comment\n"
        "deb [arch=amd64 signed-by=/usr/share/keyrings/a.gpg] http://mirror.test/debian "
        "bookworm main contrib\n"
        "deb http://mirror.test/debian bookworm-updates main\n"
        "deb-src http://mirror.test/debian bookworm main\n")
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\n# http://snapshot.test/archive\nURIs: http://other.test/debian\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
        "Types: deb\nURIs: http://other.test/debian-security\nSuites: bookworm-security\n"
        "Components: main\n\n"
        "Types: deb\nURIs: http://off.test/debian\nSuites: bookworm\nEnabled: no\n")
    (tmp_path / "sources.list.d" / "vendor.list.disabled").write_text(
        "deb http://vendor.test/apt bookworm main\n")
    assert compose_v2.derived_sources(tmp_path, "bookworm") == (
        "Types: deb\nURIs: http://mirror.test/debian\nSuites: trixie\nComponents: main\n"
        "Architectures: amd64\nSigned-By: /usr/share/keyrings/a.gpg\n\n"
        "Types: deb\nURIs: http://other.test/debian\nSuites: trixie\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n")
    with pytest.raises(compose_v2.InstallError, match=r"no `deb \.\.\. bullseye` entry"):
        compose_v2.derived_sources(tmp_path, "bullseye")
