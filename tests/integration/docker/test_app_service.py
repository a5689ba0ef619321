"""Laravel tasks on a compose host run inside the app service; block-ip in the proxy
container; a compose service scaled. On the real stack (`lab.stack`, compose v2), from the
local and the ssh Docker host, through the CLI as a user types it (block-ip through the
library: `docker.proxy.ip_blocked`).

Each remediation: `--check` plans exactly the commands the real run then runs and changes
nothing; the run reports `changed` and its effect is seen inside the container (the
framework's files, the maintenance file, the worker restarted by Docker, nginx's 403);
the same run again reports `ok`.
"""

from __future__ import annotations

import functools
import json
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import lab.stack as stack
from remediations.core.result import Status
from remediations.docker import proxy
from remediations.inventory import load_inventory
from remediations.run.runner import run
from remediations.run.target import RunContext
from tests.integration.conftest import wait_for
from tests.integration.docker.conftest import HOSTS

pytestmark = pytest.mark.lab
APP = "/srv/app"


def rid() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


def container(service: str, n: int = 1) -> str:
    return f"{stack.PROJECT}-{service}-{n}"


def in_container(name: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", "exec", name, *argv], capture_output=True, text=True,
                          timeout=60, check=False)


def exists(name: str, path: str) -> bool:
    return in_container(name, "test", "-e", path).returncode == 0


def inspect(name: str) -> dict[str, Any]:
    out = subprocess.run(["docker", "inspect", name], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    return json.loads(out)[0]  # type: ignore[no-any-return]


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def one(res: Any, host: str) -> dict[str, Any]:
    results = res.by_host()
    assert set(results) == {host}, (res.stdout, res.stderr)
    return results[host]  # type: ignore[no-any-return]


def inner(commands: list[str]) -> list[str]:
    """The commands without their `[container] ` prefix."""
    return [c.split("] ", 1)[1] for c in commands]


@pytest.fixture
def task(dcli: Any) -> Any:
    """`dcli` returning the host's result, asserting the exit code fits the status."""
    def go(name: str, host: str, *args: str) -> dict[str, Any]:
        res = dcli(name, host, *args)
        r = one(res, host)
        assert (res.code == 0) == (r["status"] in ("ok", "changed")), (r, res.stderr)
        return r
    return go


@pytest.mark.parametrize("host", HOSTS)
def test_caches_are_rebuilt_and_cleared_inside_the_backend(task: Any, host: str) -> None:
    backend = container("backend")
    config = f"{APP}/bootstrap/cache/config.php"
    run_id = rid()
    task("clear-caches", host, "--kinds", "config,route,event,view")  # a known start
    assert not exists(backend, config)
    check = task("rebuild-caches", host, "--check")
    assert check["status"] == "changed" and check["check"], check
    assert not exists(backend, config), "--check changed nothing"
    done = task("rebuild-caches", host)
    assert done["status"] == "changed", done
    assert done["commands"] == check["commands"]
    assert inner(done["commands"])[0] == f"runuser -u www-data -- php {APP}/artisan config:cache"
    assert done["message"].startswith(f"in backend ({backend}): rebuilt config")
    assert exists(backend, config) and exists(backend, f"{APP}/bootstrap/cache/routes-v7.php")
    assert task("rebuild-caches", host)["status"] == "ok"

    check = task("clear-caches", host, "--check", "--run-id", run_id)
    assert check["status"] == "changed" and exists(backend, config)
    done = task("clear-caches", host, "--run-id", run_id)
    assert done["status"] == "changed" and done["commands"] == check["commands"], done
    assert not exists(backend, config)
    again = task("clear-caches", host, "--run-id", run_id)
    assert again["status"] == "ok", again


@pytest.mark.parametrize("host", HOSTS)
def test_maintenance_mode_is_set_in_the_backend_and_seen_through_the_proxy(
        task: Any, host: str) -> None:
    backend = container("backend")
    down = f"{APP}/storage/framework/down"
    try:
        check = task("maintenance-on", host, "--check")
        assert check["status"] == "changed" and not exists(backend, down)
        on = task("maintenance-on", host)
        assert on["status"] == "changed" and on["commands"] == check["commands"], on
        assert exists(backend, down) and status_of(stack.BACKEND_URL) == 503
        assert f"{stack.BACKEND_URL} answers 503" in on["message"]
        assert task("maintenance-on", host)["status"] == "ok"
        check = task("maintenance-off", host, "--check")
        assert check["status"] == "changed" and exists(backend, down)
        off = task("maintenance-off", host)
        assert off["status"] == "changed" and off["commands"] == check["commands"], off
        assert not exists(backend, down) and status_of(stack.BACKEND_URL) == 200
        assert task("maintenance-off", host)["status"] == "ok"
    finally:
        in_container(backend, "runuser", "-u", "www-data", "--", "php", f"{APP}/artisan", "up")


@pytest.mark.parametrize("host", HOSTS)
def test_queue_restart_is_sent_from_the_worker_and_docker_restarts_it(task: Any,
                                                                       host: str) -> None:
    worker = container("worker")
    stack.wait_service_health("worker", timeout=60)
    started = inspect(worker)["State"]["StartedAt"]
    run_id = rid()
    check = task("restart-queue", host, "--check", "--run-id", run_id)
    assert check["status"] == "changed", check
    assert inspect(worker)["State"]["StartedAt"] == started
    done = task("restart-queue", host, "--run-id", run_id)
    assert done["status"] == "changed", done
    assert done["commands"] == check["commands"]
    assert inner(done["commands"])[0] == f"php {APP}/artisan queue:restart"  # as www-data
    assert done["message"].startswith(f"in worker ({worker}")
    assert "worker process(es) replaced" in done["message"], done
    assert inspect(worker)["State"]["StartedAt"] > started  # the container's process restarted
    again = task("restart-queue", host, "--run-id", run_id)
    assert again["status"] == "ok" and "already sent by this run" in again["message"], again
    stack.wait_service_health("worker", timeout=60)


@pytest.mark.parametrize("host", HOSTS)
def test_artisan_backed_checks_run_in_the_backend(task: Any, host: str) -> None:
    r = task("db-check", host)
    assert r["status"] == "ok", r
    assert r["message"].startswith(f"in backend ({container('backend')}): database reachable")


def _library(host: str, fn: Any, *, check: bool = False) -> Any:
    (target,) = load_inventory([str(stack.INVENTORY)]).select(host)
    report = run(fn, [target], run=RunContext.new(check=check))
    (result,) = report.results
    return result


def _seen_by_the_proxy() -> str:
    """The address nginx in the proxy sees for a request through the published port."""
    status_of(stack.BACKEND_URL)
    last = in_container(container("proxy"), "tail", "-n", "1", "/var/log/nginx/access.log")
    address = last.stdout.split(" ", 1)[0]
    assert address, last
    return address


@pytest.fixture
def unblocked() -> Iterator[None]:
    yield
    name = container("proxy")
    in_container(name, "rm", "-f", "/etc/nginx/conf.d/blocked.conf")
    in_container(name, "nginx", "-s", "reload")
    wait_for("the proxy to serve again", lambda: status_of(stack.BACKEND_URL) == 200, 20)


@pytest.mark.parametrize("host", HOSTS)
def test_block_ip_denies_the_address_in_the_proxy_container(host: str, unblocked: None) -> None:
    address = _seen_by_the_proxy()
    block = functools.partial(proxy.ip_blocked, address=address)  # what block-ip runs
    check = _library(host, functools.partial(proxy.proxy_ip_blocked, address=address),
                     check=True)
    assert check.status is Status.CHANGED and status_of(stack.BACKEND_URL) == 200
    assert inner(list(check.commands))[1:] == ["nginx -t", "nginx -s reload"]
    done = _library(host, block)
    assert done.status is Status.CHANGED, done
    assert inner(list(done.commands)) == inner(list(check.commands))
    assert "reloaded (new workers" in done.message
    wait_for("403 for the blocked address", lambda: status_of(stack.BACKEND_URL) == 403, 10)
    assert _library(host, block).status is Status.OK
    unblock = functools.partial(proxy.ip_unblocked, address=address)
    done = _library(host, unblock)
    assert done.status is Status.CHANGED, done
    wait_for("200 again", lambda: status_of(stack.BACKEND_URL) == 200, 10)
    again = _library(host, functools.partial(proxy.proxy_ip_unblocked, address=address))
    assert again.status is Status.OK


def test_compose_scale_worker_up_and_back(task: Any) -> None:
    """compose_service_scaled through compose-scale: 1 -> 2 changed, again ok, 2 -> 1."""
    ssh, local = HOSTS[1], HOSTS[0]
    try:
        check = task("compose-scale", ssh, "--service", "worker", "--replicas", "2", "--check")
        assert check["status"] == "changed" and len(stack.containers()) == 5
        up = task("compose-scale", ssh, "--service", "worker", "--replicas", "2")
        assert up["status"] == "changed" and up["commands"] == check["commands"], up
        assert up["commands"][0].endswith("up -d --no-deps --no-recreate --scale worker=2 worker")
        assert inspect(container("worker", 2))["State"]["Health"]["Status"] == "healthy"
        again = task("compose-scale", local, "--service", "worker", "--replicas", "2")
        assert again["status"] == "ok" and "already at 2" in again["message"], again
        down = task("compose-scale", local, "--service", "worker", "--replicas", "1")
        assert down["status"] == "changed", down
        names = [c["Name"].lstrip("/") for c in stack.containers()]
        assert container("worker") in names and container("worker", 2) not in names
    finally:
        stack.compose("up", "-d", "--no-deps", "--scale", "worker=1", "worker")


def test_per_container_state_changes_in_every_backend_or_none(task: Any) -> None:
    host = HOSTS[0]
    config = f"{APP}/bootstrap/cache/config.php"
    try:
        assert task("compose-scale", host, "--service", "backend", "--replicas", "2")[
            "status"] == "changed"
        both = [container("backend"), container("backend", 2)]
        built = task("rebuild-caches", host, "--kinds", "config")
        assert built["status"] == "changed", built
        assert built["message"].startswith(f"in all 2 containers of backend ({', '.join(both)})")
        assert all(exists(c, config) for c in both)
        subprocess.run(["docker", "stop", "-t", "5", both[1]], check=True, timeout=60,
                       capture_output=True)
        refused = task("clear-caches", host, "--kinds", "config")
        assert refused["status"] == "failed" and "refused, nothing done" in refused["message"]
        assert exists(both[0], config), "nothing was touched"
    finally:
        stack.compose("up", "-d", "--no-deps", "--scale", "backend=1", "backend")
        stack.wait_healthy(("backend",), timeout=60)
        in_container(container("backend"), "runuser", "-u", "www-data", "--", "php",
                     f"{APP}/artisan", "config:clear")
