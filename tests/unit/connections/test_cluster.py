"""The cluster handle from the inventory, errors at the boundary, exec in a pod, the lock, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import urllib3
from kubernetes.client.exceptions import ApiException

from remediations.connections import connect
from remediations.connections.cluster import Cluster, cluster_for, kube_settings, translate
from remediations.connections.pod import LOCK_ANNOTATION, KubeConnection
from remediations.core.errors import (
    CommandFailed,
    CommandTimeout,
    HostLocked,
    InventoryError,
    KubeApiError,
    Unreachable,
)
from remediations.core.result import Status
from remediations.laravel.app import caches_cleared
from remediations.laravel.queue import queue_restarted
from remediations.run.target import RunContext, Target
from tests.unit.helpers import host, inventory
from tests.unit.kubernetes.test_fake import FakeCluster, World, api_error, patches

ROOT = Path(__file__).resolve().parents[3]


# -- settings ------------------------------------------------------------------------------------

def test_settings_default_to_the_host_name_and_the_first_container(tmp_path: Path) -> None:
    h = inventory(tmp_path, {"web": {"ansible_connection": "kubernetes"}})["web"]
    s = kube_settings(h)
    assert (s.deployment, s.namespace, s.container, s.kubeconfig, s.context, s.in_cluster) == (
        "web", None, None, None, None, False)


def test_a_relative_kubeconfig_resolves_against_the_inventory_file(tmp_path: Path) -> None:
    hv = {"ansible_connection": "kubernetes", "kubeconfig": "kube/config", "kube_context": "lab",
          "namespace": "shop", "deployment": "web-app", "container": "php"}
    h = inventory(tmp_path, {"web": hv})["web"]
    s = kube_settings(h)
    assert s.kubeconfig == str(tmp_path / "kube" / "config")
    assert (s.context, s.namespace, s.deployment, s.container) == ("lab", "shop", "web-app", "php")


def test_ansibles_kubectl_variables_are_read_and_ours_win(tmp_path: Path) -> None:
    hv = {"ansible_connection": "kubectl", "ansible_kubectl_namespace": "a",
          "ansible_kubectl_context": "ctx", "ansible_kubectl_container": "c1",
          "ansible_kubectl_kubeconfig": "/etc/kube.conf", "container": "c2"}
    s = kube_settings(inventory(tmp_path, {"web": hv})["web"])
    assert (s.namespace, s.context, s.container, s.kubeconfig) == ("a", "ctx", "c2", "/etc/kube.conf")


@pytest.mark.parametrize("key,value", [("namespace", "Shop"), ("deployment", "web app"),
                                       ("container", "-x"), ("kube_in_cluster", "maybe")])
def test_bad_cluster_variables_name_the_inventory(tmp_path: Path, key: str, value: str) -> None:
    h = inventory(tmp_path, {"web": {"ansible_connection": "kubernetes", key: value}})["web"]
    with pytest.raises(InventoryError, match=key):
        kube_settings(h)


def test_a_missing_kubeconfig_is_an_inventory_error(tmp_path: Path) -> None:
    h = inventory(tmp_path, {"web": {"ansible_connection": "kubernetes",
                                     "kubeconfig": "nope/config"}})["web"]
    with pytest.raises(InventoryError, match="cannot load the cluster config"):
        cluster_for(h)


def test_cluster_from_a_kubeconfig_takes_its_context_namespace(tmp_path: Path) -> None:
    (tmp_path / "config").write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "a",
        "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {}}],
        "contexts": [{"name": "a", "context": {"cluster": "c", "user": "u", "namespace": "shop"}},
                     {"name": "b", "context": {"cluster": "c", "user": "u"}}]}))
    hv = {"ansible_connection": "kubernetes", "kubeconfig": "config"}
    c = cluster_for(inventory(tmp_path, {"web": hv})["web"])
    assert (c.namespace, c.deployment) == ("shop", "web")
    assert c.apps_v1.api_client.configuration.host == "http://127.0.0.1:1"
    other = cluster_for(inventory(tmp_path, {"web": {**hv, "kube_context": "b"}})["web"])
    assert other.namespace == "default"
    # Nothing listens on port 1: connection refused is Unreachable, not a crash.
    with pytest.raises(Unreachable, match="API server not answering"):
        c.read_deployment()


def test_connect_dispatches_kubernetes_hosts() -> None:
    conn = connect(host("web", ansible_connection="kubernetes"))
    assert isinstance(conn, KubeConnection)


# -- errors at the boundary ----------------------------------------------------------------------

def test_api_status_becomes_kube_api_error_with_its_message() -> None:
    err = translate(api_error(404, 'deployments.apps "web" not found', "NotFound"), "read(web)")
    assert isinstance(err, KubeApiError) and (err.status, err.reason) == (404, "NotFound")
    assert str(err) == 'read(web): deployments.apps "web" not found (HTTP 404)'


@pytest.mark.parametrize("exc", [
    urllib3.exceptions.MaxRetryError(None, "/", urllib3.exceptions.NewConnectionError(  # type: ignore[arg-type]
        None, "refused")),  # type: ignore[arg-type]
    urllib3.exceptions.ReadTimeoutError(None, "/", "read timed out"),  # type: ignore[arg-type]
    ConnectionRefusedError(111, "refused"),
    ApiException(status=0, reason="[Errno 111] Connection refused"),
])
def test_transport_failures_are_unreachable(exc: Exception) -> None:
    assert isinstance(translate(exc, "x"), Unreachable)


def test_a_refused_websocket_upgrade_is_the_apis_answer() -> None:
    reason = ("Handshake status 404 Not Found -+-+- {'content-type': 'application/json'} -+-+- "
              '{"kind": "Status", "message": "pods \\"web-1\\" not found", "reason": "NotFound"}')
    err = translate(ApiException(status=0, reason=reason), "exec in pod web-1")
    assert isinstance(err, KubeApiError) and (err.status, err.reason) == (404, "NotFound")
    assert str(err) == 'exec in pod web-1: pods "web-1" not found (HTTP 404)'


def test_raw_calls_translate_errors() -> None:
    class Broken:
        def read_namespaced_deployment(self, *a: Any, **kw: Any) -> Any:
            assert kw["_preload_content"] is False and kw["_request_timeout"] == (10.0, 60.0)
            raise api_error(403, "forbidden: no", "Forbidden")

    c = Cluster(Broken(), None, deployment="web")
    with pytest.raises(KubeApiError, match="forbidden: no") as info:
        c.read_deployment()
    assert info.value.status == 403


# -- exec in a pod -------------------------------------------------------------------------------

def conn_with(c: FakeCluster, **hostvars: Any) -> KubeConnection:
    return KubeConnection(host("web", ansible_connection="kubernetes", **hostvars), cluster=c)


def test_run_execs_in_the_oldest_ready_pod_and_its_container() -> None:
    c = FakeCluster()
    ready = next(x for x in c.world.pods[0]["status"]["conditions"] if x["type"] == "Ready")
    ready["status"] = "False"                                         # not ready
    c.world.pods[1]["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"  # terminating
    c.exec_reply = lambda argv: (0, "hello\n", "")
    res = conn_with(c).run(["echo", "hello"])
    assert res.stdout == "hello\n" and res.command == "echo hello"
    assert c.execs == [(c.world.pods[2]["metadata"]["name"], "app", ("echo", "hello"))]


def test_run_raises_on_failure_and_timeout_and_without_a_ready_pod() -> None:
    c = FakeCluster(container="php")
    conn = conn_with(c)
    c.exec_reply = lambda argv: (3, "", "boom")
    with pytest.raises(CommandFailed, match="exited 3"):
        conn.run(["false"])
    assert conn.run(["false"], check=False).exit_code == 3
    assert c.execs[-1][1] == "php"
    c.exec_reply = lambda argv: (None, "", "")
    with pytest.raises(CommandTimeout):
        conn.run(["sleep", "9"], timeout=1)
    for p in c.world.pods:
        p["status"]["phase"] = "Pending"
    conn.close()
    with pytest.raises(Unreachable, match="no Ready pod of deployment web"):
        conn.run(["true"])


def test_a_pod_that_went_away_is_replaced_once() -> None:
    c = FakeCluster()
    calls = []

    def reply(argv: tuple[str, ...]) -> Any:
        calls.append(argv)
        if len(calls) == 1:
            raise KubeApiError("pod gone", status=404)
        return 0, "ok", ""

    c.exec_reply = reply
    assert conn_with(c).run(["true"]).stdout == "ok"


class Pod:
    """A pod's files, as the Laravel remediations see them through exec."""

    def __init__(self) -> None:
        self.files = {"/var/www/html/bootstrap/cache/config.php": 100.0,
                      "/var/www/html/bootstrap/cache/routes-v7.php": 100.0}
        self.markers: set[str] = set()
        self.artisan: list[str] = []

    def __call__(self, argv: tuple[str, ...]) -> tuple[int, str, str]:
        if argv[0] == "find":
            return 0, "".join(f"{m} {p}\n" for p, m in self.files.items()), ""
        if argv[:2] == ("php", "/var/www/html/artisan"):
            self.artisan.append(argv[2])
            kind = argv[2].split(":")[0]
            name = {"config": "config.php", "route": "routes-v7.php"}.get(kind)
            self.files.pop(f"/var/www/html/bootstrap/cache/{name}", None)
            return 0, "", ""
        if argv[0] == "sh" and "remediations-cleared" in argv[2]:  # laravel-caches: one PHP
            return self.caches(*argv[argv.index("--") + 1:])
        if argv[:2] == ("test", "-e"):
            return (0 if argv[2] in self.markers else 1), "", ""
        if argv[0] == "sh" and "mkdir" in argv[2]:
            self.markers.add(argv[-1])
            return 0, "", ""
        if argv[0] == "sh" and "list-unit-files" in argv[2]:   # the runtime probe: no Horizon
            return 0, "systemd\tno\n", ""
        if argv[0] == "sh" and "artisan queue:work" in argv[2]:  # the workers in /proc: none
            return 0, "", ""
        raise AssertionError(f"unexpected command {argv}")

    def caches(self, app: str, mode: str, kinds: str) -> tuple[int, str, str]:
        """laravel-caches.php: the cache files before, the clears (as artisan), after."""
        names = {"config": "config.php", "route": "routes-v7.php", "event": "events.php"}

        def facts() -> dict[str, Any]:
            return {**{k: f"bootstrap/cache/{n}" if f"{app}/bootstrap/cache/{n}" in self.files
                       else None for k, n in names.items()}, "view": 0}

        before, cleared = facts(), []
        for kind in ("config", "route", "event") if mode == "clear" else ():
            if kind in kinds.split(",") and before[kind]:
                self(("php", f"{app}/artisan", f"{kind}:clear"))
                cleared.append(kind)
        return 0, json.dumps({"before": before, "cleared": cleared, "failed": None, "skipped": [],
                              "after": facts() if mode == "clear" else None}), ""


def test_laravel_remediations_run_unchanged_through_pod_exec() -> None:
    c = FakeCluster()
    pod = Pod()
    c.exec_reply = pod
    h = host("web", ansible_connection="kubernetes", ansible_user="www-data", app_user="www-data",
             app_path="/var/www/html")
    run = RunContext.new()

    def t() -> Target:
        return Target(h, KubeConnection(h, cluster=c), run)

    first = caches_cleared(t(), kinds=("config", "route"))
    assert first.status is Status.CHANGED, first
    assert pod.artisan == ["config:clear", "route:clear"]
    assert "php /var/www/html/artisan config:clear" in first.commands   # no runuser/sudo wrapper
    assert caches_cleared(t(), kinds=("config", "route")).status is Status.OK
    restarted = queue_restarted(t(), group=None)
    assert restarted.status is Status.CHANGED and pod.artisan[-1] == "queue:restart"
    assert queue_restarted(t(), group=None).status is Status.OK     # once per run
    assert {e[0] for e in c.execs} == {c.world.pods[0]["metadata"]["name"]}


# -- the Deployment's lock -----------------------------------------------------------------------

def lock_of(w: World) -> Any:
    return (w.dep["metadata"].get("annotations") or {}).get(LOCK_ANNOTATION)


def test_lock_taken_re_entered_and_released_by_its_owner_only() -> None:
    c = FakeCluster()
    conn = conn_with(c)
    mine, other = RunContext.new(), RunContext.new()
    conn.acquire_lock(mine, stale_after=3600)
    assert lock_of(c.world).split("\t")[0] == mine.run_id
    conn.acquire_lock(mine, stale_after=3600)                  # a resumed run re-enters
    with pytest.raises(HostLocked) as info:
        conn.acquire_lock(other, stale_after=3600)
    assert info.value.owner == mine.run_id and info.value.host == "web"
    conn.release_lock(other)                                   # not the owner: left alone
    assert lock_of(c.world) is not None
    conn.release_lock(mine)
    assert lock_of(c.world) is None
    assert c.world.dep["metadata"]["annotations"]["team"] == "payments"
    conn.release_lock(mine)                                    # idempotent
    every = [p for p in patches(c.world)]
    assert all(body["metadata"]["resourceVersion"] for _, body, _ in every)


def test_a_stale_lock_is_broken() -> None:
    c = FakeCluster()
    old = (datetime.now(UTC) - timedelta(hours=2)).isoformat(timespec="seconds")
    c.world.dep["metadata"]["annotations"][LOCK_ANNOTATION] = f"crashed\t{old}\tme@there"
    run = RunContext.new()
    conn_with(c).acquire_lock(run, stale_after=3600)
    assert lock_of(c.world).startswith(run.run_id)


def test_lock_retries_after_a_conflict() -> None:
    c = FakeCluster()
    apps: Any = c.apps_v1
    patch = apps.patch_namespaced_deployment
    seen = []

    def racing(*args: Any, **kwargs: Any) -> Any:
        seen.append(1)
        if len(seen) == 1:
            c.world.dep["metadata"]["resourceVersion"] = c.world.bump()
        return patch(*args, **kwargs)

    apps.patch_namespaced_deployment = racing
    run = RunContext.new()
    conn_with(c).acquire_lock(run, stale_after=3600)
    assert len(seen) == 2 and lock_of(c.world).startswith(run.run_id)


def test_the_runner_uses_the_deployment_lock() -> None:
    from remediations.kubernetes.deployments import deployment_scaled
    from remediations.run.runner import run

    c = FakeCluster()
    h = host("web", ansible_connection="kubernetes")
    seen: list[str | None] = []

    def scaled(t: Target) -> Any:
        seen.append(lock_of(c.world))
        return deployment_scaled(t, 4)

    report = run(scaled, [h], connect=lambda host, timeout=None: KubeConnection(host, cluster=c))
    assert [r.status for r in report] == [Status.CHANGED]
    assert seen[0] is not None and lock_of(c.world) is None


# -- command line --------------------------------------------------------------------------------

def test_tasks_register_and_validate_before_reading_the_inventory(tmp_path: Path) -> None:
    from invoke.collection import Collection

    from remediations.cli import kubernetes as tasks

    ns = Collection()
    tasks.register(ns)
    assert sorted(ns.task_names) == ["rollout-restart", "rollout-status", "rollout-undo",
                                     "scale", "set-image"]


def test_importing_the_cli_does_not_import_the_client() -> None:
    code = ("import sys, remediations.cli.kubernetes, remediations.kubernetes.deployments, "
            "remediations.connections.pod; print('kubernetes' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
