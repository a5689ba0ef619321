"""The Deployment controller, observed through the real kubectl's rollout commands."""

from __future__ import annotations

import re
import time

from tests.kubeapi.fixture import KubeApi
from tests.kubeapi.manifests import LARAVEL_IMAGE, app
from tests.kubeapi_tests.helpers import Apps, Core, wait_until

NS = "default"
REVISION = "deployment.kubernetes.io/revision"
HISTORY = "deployment.kubernetes.io/revision-history"


def ok(kube: KubeApi, *args: str) -> str:
    done = kube.kubectl(*args)
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done.stdout


def revisions(kube: KubeApi) -> list[int]:
    return [int(n) for n in re.findall(r"^(\d+)\s", ok(kube, "rollout", "history", "deployment/web"), re.M)]


def by_image(apps: Apps) -> dict[str, dict[str, str]]:
    """Each ReplicaSet's image -> its annotations."""
    return {rs.spec.template.spec.containers[0].image: rs.metadata.annotations
            for rs in apps.list_namespaced_replica_set(NS, label_selector="app=web").items}


def rolled_out(kube: KubeApi, image: str) -> None:
    ok(kube, "set", "image", "deployment/web", f"app={image}")
    ok(kube, "rollout", "status", "deployment/web", "--timeout=20s")


def test_rollout_status_after_set_image(fast: KubeApi, apps: Apps) -> None:
    fast.apply(app())
    ok(fast, "rollout", "status", "deployment/web", "--timeout=20s")
    ok(fast, "set", "image", "deployment/web", f"app={LARAVEL_IMAGE}:v1.2.3")
    out = ok(fast, "rollout", "status", "deployment/web", "--timeout=20s")
    assert 'deployment "web" successfully rolled out' in out
    d = apps.read_namespaced_deployment("web", NS)
    assert (d.status.updated_replicas, d.status.ready_replicas, d.status.available_replicas) == (3, 3, 3)
    assert d.status.observed_generation == d.metadata.generation == 2
    assert {c.type: c.reason for c in d.status.conditions} == {
        "Available": "MinimumReplicasAvailable", "Progressing": "NewReplicaSetAvailable"}
    assert d.metadata.annotations[REVISION] == "2"
    rss = apps.list_namespaced_replica_set(NS).items
    new = next(rs for rs in rss if rs.spec.replicas == 3)
    pod_hash = new.metadata.labels["pod-template-hash"]
    assert new.metadata.name == f"web-{pod_hash}"
    assert new.spec.selector.match_labels == {"app": "web", "pod-template-hash": pod_hash}
    (owner,) = new.metadata.owner_references
    assert (owner.kind, owner.name, owner.controller, owner.uid) == ("Deployment", "web", True, d.metadata.uid)
    assert new.metadata.annotations["deployment.kubernetes.io/desired-replicas"] == "3"
    assert new.metadata.annotations["deployment.kubernetes.io/max-replicas"] == "4"
    assert [rs.spec.replicas for rs in rss if rs is not new] == [0]


def test_history_and_undo_readopt_old_replicasets(fast: KubeApi, apps: Apps) -> None:
    fast.apply(app(annotations={"team": "payments"}))
    ok(fast, "rollout", "status", "deployment/web", "--timeout=20s")
    rolled_out(fast, f"{LARAVEL_IMAGE}:v1.2.3")
    rolled_out(fast, f"{LARAVEL_IMAGE}:v1.2.4")
    assert revisions(fast) == [1, 2, 3]
    assert f"{LARAVEL_IMAGE}:v1.2.3" in ok(fast, "rollout", "history", "deployment/web", "--revision=2")

    ok(fast, "rollout", "undo", "deployment/web")
    ok(fast, "rollout", "status", "deployment/web", "--timeout=20s")
    assert revisions(fast) == [1, 3, 4]
    readopted = by_image(apps)[f"{LARAVEL_IMAGE}:v1.2.3"]
    assert (readopted[REVISION], readopted[HISTORY]) == ("4", "2")
    assert len(by_image(apps)) == 3  # no new ReplicaSet: the old one was re-adopted

    ok(fast, "rollout", "undo", "deployment/web", "--to-revision=1")
    ok(fast, "rollout", "status", "deployment/web", "--timeout=20s")
    assert revisions(fast) == [3, 4, 5]
    first = by_image(apps)[f"{LARAVEL_IMAGE}:v1.2.2"]
    assert (first[REVISION], first[HISTORY]) == ("5", "1")
    d = apps.read_namespaced_deployment("web", NS)
    assert d.spec.template.spec.containers[0].image == f"{LARAVEL_IMAGE}:v1.2.2"
    assert "pod-template-hash" not in d.spec.template.metadata.labels
    assert d.metadata.annotations == {"team": "payments", REVISION: "5"}
    pods = [p for p in fast.kubectl("get", "pods", "-o", "name").stdout.split() if p]
    assert len(pods) == 3


def test_undo_of_a_paused_deployment_is_refused_by_kubectl(fast: KubeApi, apps: Apps) -> None:
    fast.apply(app(replicas=2))
    rolled_out(fast, f"{LARAVEL_IMAGE}:v1.2.3")
    ok(fast, "rollout", "pause", "deployment/web")
    refused = fast.kubectl("rollout", "undo", "deployment/web")
    assert refused.returncode != 0
    assert "cannot rollback a paused deployment" in refused.stderr
    # Paused: a template change makes no new ReplicaSet, but scaling still applies.
    ok(fast, "set", "image", "deployment/web", f"app={LARAVEL_IMAGE}:v1.2.4")
    ok(fast, "scale", "deployment/web", "--replicas=3")
    wait_until(lambda: by_image(apps).keys() == {f"{LARAVEL_IMAGE}:v1.2.2", f"{LARAVEL_IMAGE}:v1.2.3"}
               and apps.read_namespaced_deployment("web", NS).status.ready_replicas == 3)
    time.sleep(0.3)
    assert f"{LARAVEL_IMAGE}:v1.2.4" not in by_image(apps)
    progressing = {c.type: c for c in apps.read_namespaced_deployment("web", NS).status.conditions}
    assert progressing["Progressing"].reason == "DeploymentPaused"
    ok(fast, "rollout", "resume", "deployment/web")
    ok(fast, "rollout", "status", "deployment/web", "--timeout=20s")
    assert by_image(apps)[f"{LARAVEL_IMAGE}:v1.2.4"][REVISION] == "3"


def test_broken_image_exceeds_the_progress_deadline(fast: KubeApi, apps: Apps,
                                                    core: Core) -> None:
    fast.break_image(f"{LARAVEL_IMAGE}:v1.2.4")
    fast.apply(app(progress_deadline=2))
    ok(fast, "rollout", "status", "deployment/web", "--timeout=20s")
    ok(fast, "set", "image", "deployment/web", f"app={LARAVEL_IMAGE}:v1.2.4")
    started = time.monotonic()
    failed = fast.kubectl("rollout", "status", "deployment/web", "--timeout=20s")
    assert failed.returncode != 0
    assert 'deployment "web" exceeded its progress deadline' in failed.stderr
    assert time.monotonic() - started < 8
    d = apps.read_namespaced_deployment("web", NS)
    progressing = next(c for c in d.status.conditions if c.type == "Progressing")
    assert (progressing.status, progressing.reason) == ("False", "ProgressDeadlineExceeded")
    assert d.status.available_replicas == 3  # the old pods keep serving (maxUnavailable rounds to 0)
    assert d.status.unavailable_replicas == 1
    broken = [p for p in core.list_namespaced_pod(NS).items
              if p.spec.containers[0].image.endswith("v1.2.4")]
    assert len(broken) == 1
    waiting = broken[0].status.container_statuses[0].state.waiting
    assert waiting.reason == "ImagePullBackOff"
    reasons = {e.reason for e in core.list_namespaced_event(
        NS, field_selector=f"involvedObject.name={broken[0].metadata.name}").items}
    assert {"Failed", "BackOff"} <= reasons


def test_scale_reaches_five_ready(fast: KubeApi, apps: Apps) -> None:
    fast.apply(app())
    ok(fast, "rollout", "status", "deployment/web", "--timeout=20s")
    ok(fast, "scale", "deployment/web", "--replicas=5")
    ok(fast, "rollout", "status", "deployment/web", "--timeout=20s")
    d = apps.read_namespaced_deployment("web", NS)
    assert (d.spec.replicas, d.status.ready_replicas, d.status.available_replicas) == (5, 5, 5)
    ok(fast, "scale", "deployment/web", "--replicas=0")
    wait_until(lambda: not fast.kubectl("get", "pods", "-o", "name").stdout.strip())
    assert revisions(fast) == [1]


def test_revision_history_limit_prunes_old_replicasets(fast: KubeApi, apps: Apps) -> None:
    fast.apply(app(replicas=1, revision_history_limit=1))
    for tag in ("v1.2.3", "v1.2.4", "v1.2.5"):
        rolled_out(fast, f"{LARAVEL_IMAGE}:{tag}")
    wait_until(lambda: len(by_image(apps)) == 2)
    assert set(by_image(apps)) == {f"{LARAVEL_IMAGE}:v1.2.4", f"{LARAVEL_IMAGE}:v1.2.5"}
    assert revisions(fast) == [3, 4]


def test_recreate_strategy_and_restart(fast: KubeApi, apps: Apps, core: Core) -> None:
    fast.apply(app(replicas=2, strategy={"type": "Recreate"}))
    ok(fast, "rollout", "status", "deployment/web", "--timeout=20s")
    ok(fast, "rollout", "restart", "deployment/web")
    ok(fast, "rollout", "status", "deployment/web", "--timeout=20s")
    d = apps.read_namespaced_deployment("web", NS)
    assert "kubectl.kubernetes.io/restartedAt" in d.spec.template.metadata.annotations
    assert revisions(fast) == [1, 2]
    messages = [e.message for e in sorted(
        core.list_namespaced_event(NS, field_selector="reason=ScalingReplicaSet").items,
        key=lambda e: int(e.metadata.resource_version))]
    down = next(i for i, m in enumerate(messages) if m.startswith("Scaled down"))
    assert messages[down].endswith("from 2 to 0")
    assert messages[down + 1].startswith("Scaled up") and messages[down + 1].endswith("from 0 to 2")



def test_scaling_a_stuck_rollout_scales_replicasets_proportionally(fast: KubeApi, apps: Apps,
                                                                   core: Core) -> None:
    fast.break_image(f"{LARAVEL_IMAGE}:v1.2.4")
    fast.apply(app())
    ok(fast, "rollout", "status", "deployment/web", "--timeout=20s")
    ok(fast, "set", "image", "deployment/web", f"app={LARAVEL_IMAGE}:v1.2.4")
    wait_until(lambda: {k: v["deployment.kubernetes.io/desired-replicas"] for k, v in by_image(apps).items()}
               == {f"{LARAVEL_IMAGE}:v1.2.2": "3", f"{LARAVEL_IMAGE}:v1.2.4": "3"})
    ok(fast, "scale", "deployment/web", "--replicas=6")
    # dc.scale(): 6 + maxSurge 2 = 8 pods allowed, shared 3:1 as before (old 6, new 2); then the
    # rolling update goes on within maxUnavailable 1 (old 5, new 3) and is stuck there.
    wait_until(lambda: sorted(rs.spec.replicas for rs in apps.list_namespaced_replica_set(NS).items) == [3, 5])
    messages = [e.message for e in sorted(
        core.list_namespaced_event(NS, field_selector="reason=ScalingReplicaSet").items,
        key=lambda e: int(e.metadata.resource_version))]
    old, new = (f"web-{rs.metadata.labels['pod-template-hash']}" for rs in sorted(
        apps.list_namespaced_replica_set(NS).items, key=lambda rs: -rs.spec.replicas))
    assert messages[-4:] == [f"Scaled up replica set {old} from 3 to 6",
                             f"Scaled up replica set {new} from 1 to 2",
                             f"Scaled down replica set {old} from 6 to 5",
                             f"Scaled up replica set {new} from 2 to 3"]
