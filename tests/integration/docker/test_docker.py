"""Engine remediations on the real engine, through the CLI, on the local and the ssh Docker host.

Prune (issue 4's acceptance): a host holding dangling images, stopped containers and an
old image still used by a stopped container; `--check` lists exactly what goes, the real
run removes exactly that, the used image stays. Everything the prune test creates carries
its own label value and every prune is restricted to it, so nothing else is touched.
Also: a restart above a memory threshold, container logs cleared, container stats.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import docker
import pytest

import lab.stack as stack
from tests.integration.docker.conftest import HOSTS

pytestmark = pytest.mark.lab
BASE = "remediations-lab/base:bookworm"





def one(res: Any, host: str) -> dict[str, Any]:
    results = res.by_host()
    assert set(results) == {host}, res.stderr
    return results[host]  # type: ignore[no-any-return]


def sh(*argv: str, stdin: str | None = None) -> str:
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, check=True,
                          env=env, timeout=120).stdout.strip()


# --- prune ------------------------------------------------------------------------------------

class PruneScene:
    """Throwaway images and containers FROM the base image, all labelled `remediations.test=<value>`."""

    def __init__(self) -> None:
        self.value = f"prune-{uuid.uuid4().hex[:8]}"
        self.repo = f"remediations-test/{self.value}"
        self.label = f"remediations.test={self.value}"

    def build(self, tag: str) -> str:
        dockerfile = (f"FROM {BASE}\nLABEL remediations.test={self.value} "
                      f"remediations.test.nonce={uuid.uuid4().hex}\n"
                      f"RUN head -c {20000 + len(tag) * 1000} /dev/urandom > /blob\n")
        sh("docker", "build", "--network", "host", "-q", "-t", f"{self.repo}:{tag}", "-",
           stdin=dockerfile)
        return sh("docker", "image", "inspect", "-f", "{{.Id}}", f"{self.repo}:{tag}")

    def container(self, tag: str, *, run: bool) -> str:
        if run:  # started once, exited
            return sh("docker", "run", "-d", "--network", "none", f"{self.repo}:{tag}", "true")
        return sh("docker", "create", "--network", "none", f"{self.repo}:{tag}", "true")

    def exists(self, ref: str) -> bool:
        return subprocess.run(["docker", "inspect", ref], capture_output=True).returncode == 0

    def cleanup(self) -> None:
        ids = sh("docker", "ps", "-aq", "--filter", f"label={self.label}").split()
        if ids:
            sh("docker", "rm", "-f", *ids)
        images = sh("docker", "images", "-aq", "--filter", f"label={self.label}").split()
        for image in dict.fromkeys(images):
            subprocess.run(["docker", "rmi", "-f", image], capture_output=True)


@pytest.fixture
def scene() -> Iterator[PruneScene]:
    s = PruneScene()
    yield s
    s.cleanup()


def wait_next_second() -> int:
    """A cutoff: everything made before it has an older `Created` second, everything after not."""
    time.sleep(1.1)
    cutoff = int(time.time())
    while time.time() < cutoff + 1.05:
        time.sleep(0.05)
    return cutoff


@pytest.mark.parametrize("host", HOSTS)
def test_prune_lists_exactly_what_goes_removes_exactly_that_and_keeps_used_images(
        dcli: Any, host: str, scene: PruneScene) -> None:
    # Before the cutoff: A1 dangles (A2 took its tag), two stopped containers of A2, and B.
    a1 = scene.build("a")
    a2 = scene.build("a")
    b = scene.build("old")
    stopped = [scene.container("a", run=True), scene.container("a", run=False)]
    cutoff = wait_next_second()
    # After it: a stopped container of B, then B dangles (B2 took its tag); a newer stopped one.
    keeper = scene.container("old", run=False)
    b2 = scene.build("old")
    newer = scene.container("a", run=True)
    assert a1 != a2 and b != b2
    args = ("--until", str(cutoff), "--label", scene.label)

    check = dcli("docker-prune", host, "--yes", *args, "--check")
    assert check.code == 0, check.stderr
    c = one(check, host)
    assert c["status"] == "changed" and c["check"] is True, c
    assert sorted(x["id"] for x in c["data"]["containers"]) == sorted(stopped)
    assert [x["id"] for x in c["data"]["images"]] == [a1]
    assert [k["id"] for k in c["data"]["kept"]] == [b]
    assert c["data"]["kept"][0]["why"].startswith("used by container(s)")
    df = docker.from_env().api.df()
    sizes = {i["Id"]: i["Size"] - i["SharedSize"] for i in df["Images"]}
    sizes |= {x["Id"]: x.get("SizeRw", 0) for x in df["Containers"]}
    assert all(x["size"] == sizes[x["id"]] for x in c["data"]["containers"] + c["data"]["images"])
    assert c["data"]["images"][0]["size"] > 20000   # the image's own layer, exactly
    assert c["commands"] == ([f"docker container rm {x['id']}" for x in c["data"]["containers"]]
                             + [f"docker image rm {a1}"])
    assert f"image {a1.removeprefix('sha256:')[:12]} <none>" in c["message"]
    assert all(f"container {x[:12]} " in c["message"] for x in stopped)
    every = [a1, a2, b, b2, *stopped, keeper, newer]
    assert all(scene.exists(x) for x in every)      # check mode touched nothing

    real = dcli("docker-prune", host, "--yes", *args)
    assert real.code == 0, real.stderr
    r = one(real, host)
    assert r["status"] == "changed", r
    assert r["commands"] == c["commands"]             # exactly what check mode listed
    assert r["data"]["bytes_freed"] == c["data"]["bytes"] > 0
    assert [x for x in every if not scene.exists(x)] == [a1, *stopped]
    assert scene.exists(b) and scene.exists(keeper)   # the used image stays, and its user

    again = dcli("docker-prune", host, "--yes", *args)
    assert again.code == 0, again.stderr
    r2 = one(again, host)
    assert r2["status"] == "ok" and "kept 1 image(s) in use" in r2["message"], r2
    # A duration: nothing of this test is a day old.
    day = dcli("docker-prune", host, "--yes", "--until", "24h", "--label", scene.label, "--all-images")
    assert one(day, host)["status"] == "ok"


@pytest.mark.parametrize("host", HOSTS)
def test_prune_all_images_takes_unused_tagged_ones_never_used_ones(
        dcli: Any, host: str, scene: PruneScene) -> None:
    a = scene.build("a")
    b = scene.build("used")
    user = scene.container("used", run=True)
    args = ("--label", scene.label, "--all-images", "--no-containers")
    check = one(dcli("docker-prune", host, "--yes", *args, "--check"), host)
    assert [x["id"] for x in check["data"]["images"]] == [a]
    assert check["data"]["containers"] == [] and check["commands"] == [f"docker image rm {a}"]
    assert [k["id"] for k in check["data"]["kept"]] == [b]
    real = one(dcli("docker-prune", host, "--yes", *args), host)
    assert real["status"] == "changed" and not scene.exists(a)
    assert scene.exists(b) and scene.exists(user)


@pytest.mark.parametrize("host", HOSTS)
def test_prune_volumes_only_when_asked(dcli: Any, host: str, scene: PruneScene) -> None:
    name = f"remtest-{scene.value}"
    sh("docker", "volume", "create", "--label", scene.label, name)
    try:
        plain = one(dcli("docker-prune", host, "--yes", "--label", scene.label), host)
        assert plain["status"] == "ok" and plain["data"]["volumes"] == []
        check = one(dcli("docker-prune", host, "--yes", "--label", scene.label, "--volumes", "--check"), host)
        assert [v["id"] for v in check["data"]["volumes"]] == [name]
        assert check["commands"] == [f"docker volume rm {name}"]
        real = one(dcli("docker-prune", host, "--yes", "--label", scene.label, "--volumes"), host)
        assert real["status"] == "changed" and not scene.exists(name)
    finally:
        subprocess.run(["docker", "volume", "rm", "-f", name], capture_output=True)


# --- memory, stats, logs ----------------------------------------------------------------------

def backend() -> Any:
    """The backend container (named `remlab-backend-1` by compose v2, `remlab_backend_1` by v1)."""
    found = docker.from_env().containers.list(all=True, filters={"label": [
        f"com.docker.compose.project={stack.PROJECT}", "com.docker.compose.service=backend"]})
    assert len(found) == 1
    return found[0]


@pytest.mark.parametrize("host", HOSTS)
def test_container_stats(dcli: Any, host: str) -> None:
    res = dcli("container-stats", host, "--container", "backend")
    assert res.code == 0, res.stderr
    stats = one(res, host)["data"]["containers"][backend().name]
    assert 5 * 2**20 < stats["memory_bytes"] < 2**30 and stats["pids"] > 1
    assert stats["memory_limit"] > stats["memory_bytes"]


@pytest.mark.parametrize("host", HOSTS)
def test_restart_above_memory_threshold_once_per_run(dcli: Any, host: str) -> None:
    before = backend().attrs
    below = dcli("restart-if-memory", host, "--container", "backend", "--max-mb", "4096")
    assert below.code == 0 and one(below, host)["status"] == "ok", below.stdout
    check = dcli("restart-if-memory", host, "--container", "backend", "--max-mb", "1", "--check")
    cr = one(check, host)
    assert cr["status"] == "changed" and cr["commands"] == [
        f"docker container restart -t 10 {before['Id']}"]
    assert backend().attrs["State"]["StartedAt"] == before["State"]["StartedAt"]

    run_id = f"test-{uuid.uuid4().hex[:10]}"
    res = dcli("restart-if-memory", host, "--container", backend().name, "--max-mb", "1",
               "--run-id", run_id)
    assert res.code == 0, res.stderr
    r = one(res, host)
    assert r["status"] == "changed", r
    after = backend().attrs
    assert after["Id"] == before["Id"] and after["State"]["StartedAt"] > before["State"]["StartedAt"]
    assert after["State"]["Health"]["Status"] == "healthy"
    again = dcli("restart-if-memory", host, "--container", "backend", "--max-mb", "1",
                 "--run-id", run_id)
    r2 = one(again, host)
    assert r2["status"] == "ok" and "already restarted by this run" in r2["message"], r2
    assert backend().attrs["State"]["StartedAt"] == after["State"]["StartedAt"]


def requests_logged(n: int) -> None:
    """n access-log lines in the backend's output (external requests are logged)."""
    for _ in range(n):
        urllib.request.urlopen(stack.BACKEND_URL, timeout=5).read()


def test_container_logs_cleared_in_place_once_per_run(dcli: Any) -> None:
    host = "dockerhost-local"
    requests_logged(5)
    c = backend()
    path = c.attrs["LogPath"]
    inode = os.stat(path).st_ino
    size = os.path.getsize(path)
    assert size > 0
    check = one(dcli("clear-container-logs", host, "--yes", "--container", "backend", "--check"), host)
    assert check["status"] == "changed" and check["commands"][0] == f"truncate -s 0 -- {path}"
    assert os.path.getsize(path) >= size
    run_id = f"test-{uuid.uuid4().hex[:10]}"
    res = dcli("clear-container-logs", host, "--yes", "--container", "backend", "--run-id", run_id)
    r = one(res, host)
    assert r["status"] == "changed", r
    assert r["data"]["size_after"] < size and os.stat(path).st_ino == inode
    again = one(dcli("clear-container-logs", host, "--yes", "--container", "backend", "--run-id", run_id),
                host)
    assert again["status"] == "ok" and "already cleared by this run" in again["message"]
    requests_logged(2)  # written again, and read by the engine
    out = subprocess.run(["docker", "logs", c.name], check=True, capture_output=True, text=True)
    assert out.stdout.count("GET /up") == 2


def test_container_logs_keep_lines_leaves_a_log_the_engine_still_reads(dcli: Any) -> None:
    host = "dockerhost-local"
    c = backend()
    path = c.attrs["LogPath"]
    requests_logged(30)
    res = one(dcli("clear-container-logs", host, "--yes", "--container", "backend", "--keep-lines", "5"),
              host)
    assert res["status"] == "changed", res
    with open(path, "rb") as fh:
        kept = [line for line in fh.read().splitlines() if line.strip()]
    assert len(kept) == 5 and all("GET /up" in json.loads(line)["log"] for line in kept), kept
    out = subprocess.run(["docker", "logs", c.name], capture_output=True, text=True, check=True)
    assert len((out.stdout + out.stderr).splitlines()) == 5  # the engine reads what is left
    res2 = one(dcli("clear-container-logs", host, "--yes", "--container", "backend", "--keep-lines", "5"),
               host)
    assert res2["status"] == "ok", res2


def test_container_logs_cleared_over_the_lab_ssh_host(dcli: Any) -> None:
    """The lab's ssh host sees the engine's files, as a real Docker host does."""
    requests_logged(10)
    r = one(dcli("clear-container-logs", "dockerhost-ssh", "--yes", "--container", "backend"),
            "dockerhost-ssh")
    assert r["status"] == "changed", r
    with open(backend().attrs["LogPath"], "rb") as fh:
        assert fh.read().strip() == b""
    again = one(dcli("clear-container-logs", "dockerhost-ssh", "--yes", "--container", "backend"),
                "dockerhost-ssh")
    assert again["status"] == "ok", again


@pytest.fixture
def ssh_host_with_engine_files(tmp_path: Any) -> Iterator[Any]:
    """An ssh Docker host as a real one is: the engine's socket AND its files (this test's own)."""
    from lab import readiness
    from lab.manage import ssh_key_path
    from lab.stack_images import DOCKERHOST

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    key = ssh_key_path()
    name = f"remtest-dockerhost-{uuid.uuid4().hex[:8]}"
    sh("docker", "run", "-d", "--name", name, "--label", "remediations.test=logs",
       "-p", f"127.0.0.1:{port}:22", "-v", f"{key.with_suffix('.pub')}:/root/.ssh/authorized_keys:ro",
       "-v", "/var/run/docker.sock:/var/run/docker.sock",
       "-v", "/var/lib/docker/containers:/var/lib/docker/containers", DOCKERHOST.ref("latest"))
    try:
        readiness.wait_ssh(key, port)
        inventory = tmp_path / "ssh-engine-files.yml"
        inventory.write_text(
            "all:\n  hosts:\n    dockerhost-files:\n      ansible_host: 127.0.0.1\n"
            f"      ansible_port: {port}\n      ansible_user: root\n"
            f"      ansible_ssh_private_key_file: {key}\n      ansible_host_key_checking: false\n")
        yield inventory
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def test_container_logs_cleared_over_ssh_on_a_host_that_has_the_engines_files(
        cli: Any, ssh_host_with_engine_files: Any) -> None:
    def run(*args: str) -> dict[str, Any]:
        argv = ["clear-container-logs", "--container", backend().name, "--yes", *args,
                "-i", str(ssh_host_with_engine_files), "--json"]
        res = cli(*argv)
        return one(res, "dockerhost-files")

    requests_logged(5)
    path = backend().attrs["LogPath"]
    size, inode = os.path.getsize(path), os.stat(path).st_ino
    check = run("--check")
    assert check["status"] == "changed" and check["commands"][0] == f"truncate -s 0 -- {path}"
    assert os.path.getsize(path) >= size
    run_id = f"test-{uuid.uuid4().hex[:10]}"
    r = run("--run-id", run_id)
    assert r["status"] == "changed", r
    assert os.path.getsize(path) < size and os.stat(path).st_ino == inode
    assert run("--run-id", run_id)["status"] == "ok"
