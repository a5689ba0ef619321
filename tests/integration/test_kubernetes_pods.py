"""State that lives in each pod, on a Deployment of two Ready pods, each a real app container.

The local API server (tests/kubeapi) runs the Deployments `web` (2 replicas) and `worker`
(1 replica); `tests.kubeapi.dockerpods.DockerPods` gives every pod a Docker container of
its own from the lab's app image (`remediations-lab/app`: nginx + php-fpm in the
foreground, no systemd, no supervisor), on a private network with a redis container as
the app's cache and queue. The library reaches the pods only through the API (pods/exec
over the websocket, pod status), as on a real cluster. Each per-pod remediation runs in
BOTH pods (checked by exec'ing into each pod afterwards), changed then ok, check mode
exact; with a pod not Ready it refuses and touches nothing; the queue restart is verified
by the worker pod's container restarting (restartCount), without supervisorctl.
"""

from __future__ import annotations

import functools
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.stack_images import build_stack_images
from remediations.connections import connect
from remediations.connections.cluster import Cluster, cluster_for
from remediations.connections.pod import KubeConnection
from remediations.core.result import Result, Status
from remediations.inventory import Host, load_inventory
from remediations.kubernetes.rollout import wait_for_rollout
from remediations.laravel.app import caches_cleared, caches_rebuilt
from remediations.laravel.maintenance import maintenance_off, maintenance_on
from remediations.laravel.php import artisan_argv, opcache_reset
from remediations.laravel.queue_signal import restart_signal
from remediations.run.runner import RunOptions, run
from remediations.run.target import RunContext, Target
from tests.integration.test_kubernetes import EXAMPLE, manifest, namespace_of
from tests.kubeapi.dockerpods import ContainerSpec, DockerPods, docker

pytestmark = [pytest.mark.kube, pytest.mark.lab]

SLOT = os.environ.get("REMEDIATIONS_LAB_SLOT", "0")
PREFIX = f"rem{SLOT}-k8spods"            # ours alone: never a shared lab container
NETWORK = f"{PREFIX}-net"
REDIS = f"{PREFIX}-redis"
IMAGE = "remediations-lab/app:v1.2.3"
REDIS_PASSWORD = "lab-k8s-redis-s3cret"  # lab only
APP = "/srv/app"
ENV = {
    "APP_NAME": "lab", "APP_ENV": "production", "APP_DEBUG": "false",
    "APP_KEY": "base64:bGFiLW9ubHkta2V5LWZvci10aGUtY29tcG9zZS1zdGs=",
    "LOG_CHANNEL": "stderr", "DB_CONNECTION": "sqlite", "SESSION_DRIVER": "file",
    "CACHE_DRIVER": "redis", "QUEUE_CONNECTION": "redis", "REDIS_CLIENT": "phpredis",
    "REDIS_HOST": REDIS, "REDIS_PORT": "6379", "REDIS_PASSWORD": REDIS_PASSWORD,
}


def wait_for(what: str, check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


class Pods:
    """The Deployments `web` and `worker`, their pods' containers, and an inventory host `web`."""

    def __init__(self, kube: Any, runtime: DockerPods, inventory: Path) -> None:
        self.kube, self.runtime = kube, runtime
        self.host: Host = load_inventory(str(inventory))["web"]
        self.cluster = cluster_for(self.host)

    def names(self, app: str = "web") -> list[str]:
        items = self.cluster.core.list_namespaced_pod(self.cluster.namespace,
                                                      label_selector=f"app={app}")["items"]
        return sorted(p["metadata"]["name"] for p in items)

    def run(self, fn: Callable[..., Result], *, ctx: RunContext, **kwargs: Any) -> Result:
        """Through the runner, as the CLI does (the Deployment's lock, the per-pod walk)."""
        report = run(functools.partial(fn, **kwargs), [self.host], run=ctx,
                     options=RunOptions(timeout=180))
        (result,) = list(report)
        return result

    def in_pod(self, pod: str, *argv: str) -> tuple[int, str]:
        """Exec in `pod` through the API (pods/exec), as `kubectl exec POD -c app --` does."""
        code, out, _ = self.cluster.exec_in_pod(pod, "app", argv, 60)
        assert code is not None
        return code, out

    def exists(self, pod: str, path: str) -> bool:
        return self.in_pod(pod, "test", "-e", f"{APP}/{path}")[0] == 0

    def fpm_workers(self, pod: str) -> set[int]:
        _, out = self.in_pod(pod, "sh", "-c", "for d in /proc/[0-9]*; do case \"$(tr '\\0' ' ' "
                             "< $d/cmdline 2>/dev/null)\" in 'php-fpm: pool '*) echo ${d#/proc/};; "
                             "esac; done")
        return {int(p) for p in out.split()}


@pytest.fixture(scope="module")
def pods(kube_api: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pods]:
    """Two Ready `web` pods and one `worker` pod, each a container of the app image."""
    build_stack_images()          # the app and redis images, rebuilt only when out of date
    for name in (REDIS,):
        docker("rm", "-f", name, check=False)
    docker("network", "rm", NETWORK, check=False)
    docker("network", "create", "--label", "remediations.lab=k8s-pods", NETWORK)
    runtime = DockerPods(kube_api, prefix=PREFIX)
    try:
        docker("run", "-d", "--name", REDIS, "--network", NETWORK, "--label",
               "remediations.lab=k8s-pods", "-e", f"REDIS_PASSWORD={REDIS_PASSWORD}",
               "remediations-lab/redis")
        kube_api.reset()
        kube_api.set_exec_handler(runtime.exec)
        ns = namespace_of(kube_api)
        kube_api.apply(manifest("web", replicas=2, namespace=ns))
        worker = manifest("worker", replicas=1, namespace=ns)
        worker["spec"]["template"]["spec"]["containers"][0]["name"] = "worker"
        kube_api.apply(worker)
        folder = tmp_path_factory.mktemp("k8spods")
        data = yaml.safe_load(EXAMPLE.read_text())
        group = data["all"]["children"]["k8s"]
        group["vars"].update(kubeconfig=str(kube_api.kubeconfig), namespace=ns, app_path=APP)
        group["vars"].pop("kube_context", None)
        # docker exec runs as root, as a pod's exec does when the image sets no USER.
        group["hosts"] = {"web": {"deployment": "web", "container": "app", "ansible_user": "root"}}
        inventory = folder / "lab-k8s-pods.yml"
        inventory.write_text(yaml.safe_dump(data))
        lab = Pods(kube_api, runtime, inventory)
        for name in ("web", "worker"):
            assert wait_for_rollout(Cluster(lab.cluster.apps_v1, lab.cluster.core_v1, ns,
                                            deployment=name), timeout=60).ok
        for pod in lab.names("web"):
            runtime.start(pod, ContainerSpec(IMAGE, env=ENV, network=NETWORK))
        for pod in lab.names("worker"):
            runtime.start(pod, ContainerSpec(
                IMAGE, ("php", "artisan", "queue:work", "redis", "--sleep=1", "--tries=1"),
                env=ENV, network=NETWORK, user="www-data", workdir=APP, init=True),
                container="worker")
        runtime.sync()            # the pods' status shows the containers' own start times
        for pod in lab.names("web"):
            wait_for(f"php-fpm in {pod}", functools.partial(lambda p: bool(lab.fpm_workers(p)), pod))
        yield lab
    finally:
        runtime.close()
        if kube_api.is_local:
            kube_api.set_exec_handler(None)
        docker("rm", "-f", REDIS, check=False)
        docker("network", "rm", NETWORK, check=False)


def same_plan(check: Result, real: Result, check_ctx: RunContext, ctx: RunContext) -> None:
    """Check mode planned exactly the commands the real run ran (the run ids aside)."""
    assert [c.replace(check_ctx.run_id, "RUN") for c in check.commands] == \
        [c.replace(ctx.run_id, "RUN") for c in real.commands]


def test_caches_rebuilt_then_cleared_in_both_pods(pods: Pods) -> None:
    a, b = pods.names()
    ctx = RunContext.new()
    built = pods.run(caches_rebuilt, ctx=ctx, kinds=("config", "route"))
    assert built.status is Status.CHANGED, built.to_dict()
    assert set(built.data["pods"]) == {a, b}
    assert all(pods.exists(p, "bootstrap/cache/config.php") for p in (a, b))
    assert pods.run(caches_rebuilt, ctx=ctx, kinds=("config", "route")).status is Status.OK

    kinds = ("config", "route", "view")
    check_ctx = RunContext.new(check=True)
    check = pods.run(caches_cleared, ctx=check_ctx, kinds=kinds)
    assert check.status is Status.CHANGED and check.check, check.to_dict()
    assert all(pods.exists(p, "bootstrap/cache/config.php") for p in (a, b))   # untouched
    cleared = pods.run(caches_cleared, ctx=ctx, kinds=kinds)
    assert cleared.status is Status.CHANGED, cleared.to_dict()
    assert {p: r["status"] for p, r in cleared.data["pods"].items()} == {a: "changed", b: "changed"}
    for p in (a, b):
        assert not pods.exists(p, "bootstrap/cache/config.php"), p
        assert not pods.exists(p, "bootstrap/cache/routes-v7.php"), p
    same_plan(check, cleared, check_ctx, ctx)
    again = pods.run(caches_cleared, ctx=ctx, kinds=kinds)
    assert again.status is Status.OK, again.to_dict()


def test_maintenance_on_then_off_in_both_pods(pods: Pods) -> None:
    a, b = pods.names()
    ctx, check_ctx = RunContext.new(), RunContext.new(check=True)
    check = pods.run(maintenance_on, ctx=check_ctx)
    assert check.status is Status.CHANGED, check.to_dict()
    assert not any(pods.exists(p, "storage/framework/down") for p in (a, b))
    on = pods.run(maintenance_on, ctx=ctx)
    assert on.status is Status.CHANGED, on.to_dict()
    assert all(pods.exists(p, "storage/framework/down") for p in (a, b))
    same_plan(check, on, check_ctx, ctx)
    assert pods.run(maintenance_on, ctx=ctx).status is Status.OK
    off = pods.run(maintenance_off, ctx=ctx)
    assert off.status is Status.CHANGED, off.to_dict()
    assert not any(pods.exists(p, "storage/framework/down") for p in (a, b))
    assert pods.run(maintenance_off, ctx=ctx).status is Status.OK


def test_opcache_reset_reloads_php_fpm_in_both_pods_once_per_run(pods: Pods) -> None:
    a, b = pods.names()
    before = {p: pods.fpm_workers(p) for p in (a, b)}
    ctx, check_ctx = RunContext.new(), RunContext.new(check=True)
    check = pods.run(opcache_reset, ctx=check_ctx)
    assert check.status is Status.CHANGED, check.to_dict()
    assert {p: pods.fpm_workers(p) for p in (a, b)} == before            # nothing reloaded
    reset = pods.run(opcache_reset, ctx=ctx)
    assert reset.status is Status.CHANGED, reset.to_dict()
    for p in (a, b):
        after = pods.fpm_workers(p)
        assert after and not after & before[p], (p, before[p], after)  # every worker replaced
    same_plan(check, reset, check_ctx, ctx)
    again = pods.run(opcache_reset, ctx=ctx)
    assert again.status is Status.OK and "already reloaded by this run" in again.message


def test_a_pod_not_ready_is_refused_and_nothing_is_touched(pods: Pods) -> None:
    a, b = pods.names()
    pods.kube.set_pod_ready(b, False, "Readiness probe failed: HTTP probe failed with statuscode: 500")
    try:
        wait_for("the pod to be not Ready", lambda: not KubeConnection(
            pods.host, cluster=pods.cluster).pods().pods[1].ready, timeout=10)
        sent = len(pods.runtime.execs)
        for check in (True, False):
            res = pods.run(maintenance_on, ctx=RunContext.new(check=check))
            assert res.status is Status.FAILED, res.to_dict()
            assert res.message.startswith("refused, nothing done: 1 of 2 pod(s) of deployment web")
            assert f"{b}: Running, not Ready (Readiness probe failed" in res.message
        assert len(pods.runtime.execs) == sent                           # no exec in any pod
        assert not any(pods.exists(p, "storage/framework/down") for p in (a, b))
    finally:
        pods.kube.set_pod_ready(b, True)


def test_queue_restart_is_verified_by_the_worker_pods_restarting(pods: Pods) -> None:
    """No supervisorctl in the image: the signal in the shared cache, then restartCount."""
    (worker,) = pods.names("worker")
    conn = connect(pods.host)
    assert isinstance(conn, KubeConnection)
    t = Target(pods.host, conn, RunContext.new())
    assert conn.run(["sh", "-c", "command -v supervisorctl"], check=False).exit_code != 0
    wait_for("the worker to run", lambda: any(
        c.running for c in conn.container_starts("worker")), timeout=30)
    signal = restart_signal(t)
    assert signal.driver == "redis" and signal.shared
    before = conn.container_starts("worker")
    assert [c.key for c in before] == [f"{worker}/worker"]
    conn.run(artisan_argv(t, "queue:restart"))
    after_signal = restart_signal(t)
    assert after_signal.value is not None and after_signal.value != signal.value
    restarts = conn.wait_restarted(before, deployment="worker", timeout=60)
    assert restarts.ok, restarts.describe()
    (now,) = restarts.after
    assert now.restart_count == before[0].restart_count + 1 and now.running
    # Asked again with nothing sent, the worker is left alone: no restart is seen.
    still = conn.wait_restarted(restarts.after, deployment="worker", timeout=2, interval=0.5)
    assert not still.ok and still.stale == (f"{worker}/worker",)
    assert subprocess.run(["docker", "exec", pods.runtime.name_of(worker), "sh", "-c",
                           "command -v supervisorctl"], check=False,
                          capture_output=True).returncode != 0
