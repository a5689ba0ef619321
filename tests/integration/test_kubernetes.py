"""Kubernetes remediations through the real `kubernetes` client against the `kube_api` fixture.

The fixture is the local API server (tests/kubeapi), or, with REMEDIATIONS_KUBECONFIG set,
a real cluster: these tests run unchanged against either. The inventory is
`inventories/lab-k8s.yml` with its kubeconfig pointed at the fixture's.
"""

from __future__ import annotations

import copy
import functools
import os
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from remediations.connections import connect
from remediations.connections.cluster import Cluster, cluster_for, selector_string
from remediations.core.errors import KubeApiError
from remediations.core.result import Result, Status
from remediations.inventory import Host, load_inventory
from remediations.kubernetes.deployments import (
    deployment_restarted,
    deployment_rolled_back,
    deployment_scaled,
    image_set,
    rollout_complete,
)
from remediations.kubernetes.revisions import (
    controlled_replica_sets,
    history,
    images,
    semantic,
    template,
)
from remediations.kubernetes.rollout import wait_for_rollout
from remediations.run.runner import RunOptions, run
from remediations.run.target import RunContext, Target

pytestmark = pytest.mark.kube

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "inventories" / "lab-k8s.yml"
# On a real cluster the images must be pullable: a repository with tags v1.2.2, v1.2.3 and
# v1.2.4 (any small image retagged, e.g. registry.k8s.io/pause:3.9).
REPO = os.environ.get("REMEDIATIONS_KUBE_IMAGE_REPO", "registry.example/shop/app")


def img(tag: str) -> str:
    return f"{REPO}:{tag}"


def manifest(name: str, tag: str = "v1.2.2", *, replicas: int = 3, paused: bool = False,
             deadline: int = 600, namespace: str = "default") -> dict[str, Any]:
    """A Deployment whose selector has matchExpressions too, and annotations of its own."""
    labels = {"app": name, "tier": "web"}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name},
                     "annotations": {"team": "payments"}},
        "spec": {
            "replicas": replicas, "paused": paused, "progressDeadlineSeconds": deadline,
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": {"app": name},
                         "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web"]}]},
            "template": {"metadata": {"labels": labels},
                         "spec": {"containers": [{"name": "app", "image": img(tag),
                                                  "ports": [{"containerPort": 8080}]}]}},
        },
    }


def is_local(kube: Any) -> bool:
    """Whether the fixture is the local test double (it can slow pods and break images)."""
    return bool(getattr(kube, "is_local", not os.environ.get("REMEDIATIONS_KUBECONFIG")))


def namespace_of(kube: Any) -> str:
    """The fixture's namespace: `default` locally, the kubeconfig's on a real cluster."""
    return str(getattr(kube, "namespace", "default"))


def write_inventory(kube: Any, folder: Path, names: list[str]) -> Path:
    """The example inventory, its kubeconfig pointed at the fixture's, with these Deployments."""
    data = yaml.safe_load(EXAMPLE.read_text())
    group = data["all"]["children"]["k8s"]
    group["vars"]["kubeconfig"] = str(kube.kubeconfig)
    group["vars"]["namespace"] = namespace_of(kube)
    group["vars"].pop("kube_context", None)     # the kubeconfig's current context
    group["hosts"] = {n: {"deployment": n, "container": "app"} for n in names}
    path = folder / "lab-k8s.yml"
    path.write_text(yaml.safe_dump(data))
    return path


class Lab:
    """Deployments on the fixture's server, reached as inventory hosts."""

    def __init__(self, kube: Any, folder: Path) -> None:
        self.kube = kube
        self.namespace = namespace_of(kube)
        self.folder = folder
        self.inventory_path = write_inventory(kube, folder, ["web", "web-a", "web-b"])
        self.inventory = load_inventory(str(self.inventory_path))

    def host(self, name: str = "web") -> Host:
        return self.inventory[name]

    def cluster(self, name: str = "web") -> Cluster:
        return cluster_for(self.host(name))

    def create(self, name: str = "web", tag: str = "v1.2.2", **kw: Any) -> dict[str, Any]:
        self.kube.apply(manifest(name, tag, namespace=self.namespace, **kw))
        if not kw.get("paused"):
            assert wait_for_rollout(self.cluster(name), timeout=60).ok
        return self.read(name)

    def read(self, name: str = "web") -> dict[str, Any]:
        return self.cluster(name).read_deployment()

    def rv(self, name: str = "web") -> str:
        return str(self.read(name)["metadata"]["resourceVersion"])

    def image(self, name: str = "web") -> str:
        return images(template(self.read(name)))["app"]

    def revisions(self, name: str = "web") -> dict[int, str]:
        """Revision -> image of the controlled ReplicaSets, read through the client."""
        c = self.cluster(name)
        dep = c.read_deployment()
        items = c.apps.list_namespaced_replica_set(
            c.namespace, label_selector=selector_string(dep["spec"]["selector"]))["items"]
        return {r.number: r.images["app"] for r in history(controlled_replica_sets(dep, items))}

    def target(self, name: str = "web", *, check: bool = False,
               ctx: RunContext | None = None) -> Target:
        ctx = ctx or RunContext.new(check=check)
        return Target(self.host(name), connect(self.host(name)), ctx)

    def run(self, fn: Callable[..., Result], name: str = "web", *, check: bool = False,
            ctx: RunContext | None = None, **kwargs: Any) -> Result:
        """Through the runner, as the CLI does: connection from the inventory, the lock."""
        ctx = ctx or RunContext.new(check=check)
        report = run(functools.partial(fn, **kwargs), [self.host(name)], run=ctx,
                     options=RunOptions(timeout=120))
        (result,) = list(report)
        return result

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["kubectl", "-n", self.namespace, *args], env=self.kube.env,
                              capture_output=True, text=True, timeout=120, check=check)

    def kubectl_history(self, name: str = "web") -> dict[int, str]:
        """`kubectl rollout history`: its revision numbers, each with the image it shows."""
        out = self.kubectl("rollout", "history", f"deployment/{name}").stdout
        numbers = [int(m.group(1)) for m in re.finditer(r"^(\d+)\s", out, re.M)]
        found = {}
        for n in numbers:
            detail = self.kubectl("rollout", "history", f"deployment/{name}", f"--revision={n}").stdout
            found[n] = re.search(r"Image:\s+(\S+)", detail).group(1)  # type: ignore[union-attr]
        return found


@pytest.fixture
def lab(kube_api: Any, tmp_path: Path) -> Lab:
    kube_api.reset()
    return Lab(kube_api, tmp_path)


def assert_check_mode_changes_nothing(lab: Lab, fn: Callable[..., Result], **kwargs: Any) -> Result:
    before = lab.read()
    res = lab.run(fn, check=True, **kwargs)
    assert res.status is Status.CHANGED and res.check, res
    after = lab.read()
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert after["spec"] == before["spec"]
    return res


def assert_changed_then_ok(lab: Lab, fn: Callable[..., Result], *,
                           ctx: RunContext | None = None, **kwargs: Any) -> Result:
    ctx = ctx or RunContext.new()
    first = lab.run(fn, ctx=ctx, **kwargs)
    assert first.status is Status.CHANGED, first.to_dict()
    second = lab.run(fn, ctx=ctx, **kwargs)
    assert second.status is Status.OK, second.to_dict()
    assert lab.read()["metadata"].get("annotations", {}).get("remediations.io/lock") is None
    return first


# -- each remediation: check mode touches nothing, then changed, then ok ----------------------------

def test_scaled_3_to_5_waits_until_5_ready(lab: Lab) -> None:
    lab.create()
    if is_local(lab.kube):
        lab.kube.set_ready_delay(1.0)
    assert_check_mode_changes_nothing(lab, deployment_scaled, replicas=5)
    started = time.monotonic()
    first = assert_changed_then_ok(lab, deployment_scaled, replicas=5)
    assert first.data["replicas_before"] == 3 and first.data["ready"] == 5
    assert lab.read()["status"]["readyReplicas"] == 5
    if is_local(lab.kube):
        assert time.monotonic() - started >= 1.0      # it waited for the new pods to be ready


def test_scaled_to_zero_and_back(lab: Lab) -> None:
    lab.create()
    assert_changed_then_ok(lab, deployment_scaled, replicas=0)
    assert not lab.read()["status"].get("readyReplicas")
    assert_changed_then_ok(lab, deployment_scaled, replicas=3)
    assert lab.read()["status"]["readyReplicas"] == 3


def test_image_set_then_ok(lab: Lab) -> None:
    lab.create()
    res = assert_check_mode_changes_nothing(lab, image_set, image=img("v1.2.3"))
    assert res.commands and '"image":"registry.example/shop/app:v1.2.3"' in res.commands[0]
    first = assert_changed_then_ok(lab, image_set, image=img("v1.2.3"))
    assert first.data["revision"] == 2 and lab.image() == img("v1.2.3")


def test_restarted_once_per_run_replaces_the_pods(lab: Lab) -> None:
    lab.create()
    pods = {p["metadata"]["name"] for p in lab.cluster().core.list_namespaced_pod(
        lab.namespace, label_selector="app=web")["items"]}
    assert_check_mode_changes_nothing(lab, deployment_restarted)
    assert_changed_then_ok(lab, deployment_restarted)
    now = {p["metadata"]["name"] for p in lab.cluster().core.list_namespaced_pod(
        lab.namespace, label_selector="app=web")["items"]}
    assert now and not now & pods
    annotations = lab.read()["spec"]["template"]["metadata"]["annotations"]
    assert "kubectl.kubernetes.io/restartedAt" in annotations


def test_rollout_complete_on_a_settled_deployment(lab: Lab) -> None:
    lab.create()
    res = lab.run(rollout_complete, timeout=30)
    assert res.status is Status.OK and res.message == 'deployment "web" successfully rolled out'


# -- roll forward, then back by release --------------------------------------------------------------

def test_roll_forward_then_back_to_a_release(lab: Lab) -> None:
    lab.create()
    for tag in ("v1.2.3", "v1.2.4"):
        assert lab.run(image_set, image=img(tag)).status is Status.CHANGED
    # An annotation the Deployment gains after v1.2.2: kubectl's undo would drop it.
    lab.kubectl("annotate", "deployment/web", "oncall=alice")
    assert lab.revisions() == {1: img("v1.2.2"), 2: img("v1.2.3"), 3: img("v1.2.4")}

    res = assert_check_mode_changes_nothing(lab, deployment_rolled_back, release="v1.2.2")
    assert "would roll back web from revision 3" in res.message
    first = assert_changed_then_ok(lab, deployment_rolled_back, release="v1.2.2")

    dep = lab.read()
    assert lab.image() == img("v1.2.2")
    assert (first.data["from_revision"], first.data["to_revision"], first.data["revision"]) == (3, 1, 4)
    assert first.diff is not None and first.diff.after == f"app: {img('v1.2.2')}"
    assert lab.kubectl_history() == lab.revisions() == {
        2: img("v1.2.3"), 3: img("v1.2.4"), 4: img("v1.2.2")}
    notes = dep["metadata"]["annotations"]
    assert notes["team"] == "payments" and notes["oncall"] == "alice"
    assert notes["deployment.kubernetes.io/revision"] == "4"
    assert "pod-template-hash" not in dep["spec"]["template"]["metadata"]["labels"]


def test_rollback_of_a_paused_deployment_is_refused(lab: Lab) -> None:
    lab.create()
    assert lab.run(image_set, image=img("v1.2.3")).status is Status.CHANGED
    lab.kubectl("rollout", "pause", "deployment/web")
    spec = lab.read()["spec"]
    res = lab.run(deployment_rolled_back, release="v1.2.2")
    assert res.status is Status.FAILED
    expected = ("you cannot rollback a paused deployment; resume it first with "
                "'kubectl rollout resume deployment/web' and try again")
    assert res.message == expected                  # current kubectl's words (rollback.go)
    # kubectl 1.32 says the same without naming the Deployment.
    refused = lab.kubectl("rollout", "undo", "deployment/web", check=False)
    assert refused.returncode == 1
    assert expected.split(" deployment/web")[0] in refused.stderr
    assert lab.read()["spec"] == spec and lab.image() == img("v1.2.3")


def test_broken_image_fails_with_the_progress_deadline_and_events(lab: Lab) -> None:
    lab.create(deadline=3)
    lab.kube.break_image(img("v1.2.4"))
    started = time.monotonic()
    res = lab.run(image_set, image=img("v1.2.4"), timeout=60)
    took = time.monotonic() - started
    assert res.status is Status.FAILED, res.to_dict()
    assert res.message.endswith('but deployment "web" exceeded its progress deadline')
    assert "ProgressDeadlineExceeded" in res.evidence
    events = res.evidence.split("events:", 1)[1]
    assert events.strip(), res.evidence
    assert took < 60
    waited = lab.run(rollout_complete, timeout=60)
    assert waited.status is Status.FAILED and "exceeded its progress deadline" in waited.message
    assert waited.duration < 10                         # failed at once, not at the timeout
    # And the remedy: back to the release that worked.
    back = lab.run(deployment_rolled_back, release="v1.2.2")
    assert back.status is Status.CHANGED and lab.image() == img("v1.2.2"), back.to_dict()


def test_a_deployment_locked_by_another_run_is_skipped(lab: Lab) -> None:
    lab.create()
    lab.kubectl("annotate", "deployment/web",
                "remediations.io/lock=other-run\t2099-01-01T00:00:00+00:00\tsomeone@else")
    res = lab.run(deployment_scaled, replicas=4)
    assert res.status is Status.SKIPPED and res.data["locked_by"] == "other-run"
    assert lab.read()["spec"]["replicas"] == 3


# -- fidelity: the library's undo leaves what kubectl's leaves ----------------------------------------

def test_fidelity_with_kubectl_rollout_undo(lab: Lab) -> None:
    """The same history, undone by `kubectl rollout undo` on A and by the library on B."""
    for name in ("web-a", "web-b"):
        lab.create(name)
    steps: list[tuple[list[str], dict[str, Any]]] = [
        (["--to-revision=0"], {}),                 # previous
        (["--to-revision=1"], {"to_revision": 1}),
        (["--to-revision=0"], {}),
        (["--to-revision=3"], {"release": "v1.2.4"}),
    ]
    for tag in ("v1.2.3", "v1.2.4"):
        lab.kubectl("set", "image", "deployment/web-a", f"app={img(tag)}")
        lab.kubectl("rollout", "status", "deployment/web-a", "--timeout=60s")
        assert lab.run(image_set, "web-b", image=img(tag)).status is Status.CHANGED
    assert_same(lab)
    for kubectl_args, library_kwargs in steps:
        lab.kubectl("rollout", "undo", "deployment/web-a", *kubectl_args)
        lab.kubectl("rollout", "status", "deployment/web-a", "--timeout=60s")
        res = lab.run(deployment_rolled_back, "web-b", **library_kwargs)
        assert res.status is Status.CHANGED, res.to_dict()
        assert_same(lab)
    # 1..3 forward; undo -> v1.2.3 is 4; to 1 -> v1.2.2 is 5; undo -> v1.2.3 is 6; to 3 -> 7.
    assert lab.kubectl_history("web-b") == {5: img("v1.2.2"), 6: img("v1.2.3"), 7: img("v1.2.4")}


def assert_same(lab: Lab) -> None:
    a, b = lab.read("web-a"), lab.read("web-b")
    ta, tb = copy.deepcopy(a["spec"]["template"]), copy.deepcopy(b["spec"]["template"])
    for t in (ta, tb):
        t["metadata"]["labels"].pop("app")
    # kubectl sends the template as Go serialises it (`creationTimestamp: null`): equal
    # under kubectl's own comparison (apiequality.Semantic), which `semantic` mirrors.
    assert semantic(ta) == semantic(tb)
    assert lab.kubectl_history("web-a") == lab.kubectl_history("web-b") == lab.revisions("web-a") \
        == lab.revisions("web-b")
    assert a["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == \
        b["metadata"]["annotations"]["deployment.kubernetes.io/revision"]


def test_points_at_a_real_cluster_with_an_environment_variable(kube_api: Any) -> None:
    # The fixture yields the local server unless REMEDIATIONS_KUBECONFIG names a cluster.
    if os.environ.get("REMEDIATIONS_KUBECONFIG"):
        assert Path(kube_api.kubeconfig) == Path(os.environ["REMEDIATIONS_KUBECONFIG"]).expanduser().resolve()
    else:
        assert kube_api.url.startswith("http://127.0.0.1:")


def test_exec_picks_a_ready_pod_and_reports_a_server_without_exec(lab: Lab) -> None:
    """The local server has no websocket exec: the pod is chosen, the refusal is translated.

    Artisan over exec itself is proven with a fake exec in the unit tests; against a real
    cluster (REMEDIATIONS_KUBECONFIG) this test runs `true` in the pod instead.
    """
    lab.create()
    conn = connect(lab.host())
    pod, container = conn.pod()  # type: ignore[attr-defined]
    assert container == "app"
    assert pod in {p["metadata"]["name"] for p in lab.cluster().core.list_namespaced_pod(
        lab.namespace, label_selector="app=web")["items"]}
    if not is_local(lab.kube):
        # Whatever the image holds, the command reached the container and came back.
        assert conn.run(["true"], check=False).command == "true"
        return
    with pytest.raises(KubeApiError, match=f"exec in pod {pod}: pods/exec is not supported") as info:
        conn.run(["php", "artisan", "about"])
    assert info.value.status == 400
