"""The Deployment remediations over a fake API: decide, act, verify; check mode; once per run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from remediations.connections.pod import KubeConnection
from remediations.core.errors import InvalidInput
from remediations.core.result import Status
from remediations.kubernetes.deployments import (
    RESTARTED_AT,
    deployment_restarted,
    deployment_rolled_back,
    deployment_scaled,
    image_set,
    rollout_complete,
)
from remediations.kubernetes.revisions import REVISION
from remediations.run.target import RunContext, Target
from tests.unit.helpers import host
from tests.unit.kubernetes.test_fake import FakeCluster, World, deployment, patches

HOST = host("web", ansible_connection="kubernetes")


def target(cluster: FakeCluster, *, check: bool = False, run: RunContext | None = None) -> Target:
    ctx = run or RunContext.new(check=check)
    if check and not ctx.check:
        ctx = RunContext(ctx.run_id, ctx.started_at, check=True)
    return Target(HOST, KubeConnection(HOST, cluster=cluster), ctx)


def set_image(w: World, image: str) -> None:
    w.dep["spec"]["template"]["spec"]["containers"][0]["image"] = image
    w.dep["metadata"]["generation"] += 1
    w.sync()


def rolled_forward(*tags: str) -> World:
    """A Deployment at v1.2.2 (revision 1), then each of `tags`."""
    w = World()
    for tag in tags:
        set_image(w, f"shop/app:{tag}")
    return w


# -- scaled --------------------------------------------------------------------------------------

def test_scaled_changes_then_is_ok() -> None:
    c = FakeCluster()
    first = deployment_scaled(target(c), 5)
    assert first.status is Status.CHANGED, first
    assert first.message.startswith("scaled web from 3 to 5 replica(s); deployment \"web\" successfully")
    assert first.data["ready"] == 5 and first.diff is not None
    assert patches(c.world) == [("application/merge-patch+json", {"spec": {"replicas": 5}}, None)]
    assert first.commands == (
        'PATCH /apis/apps/v1/namespaces/default/deployments/web/scale (merge-patch) {"spec":{"replicas":5}}',)
    second = deployment_scaled(target(c), 5)
    assert second.status is Status.OK and len(patches(c.world)) == 1


def test_scaled_to_zero_and_back() -> None:
    c = FakeCluster()
    assert deployment_scaled(target(c), 0).status is Status.CHANGED
    assert c.world.pods == []
    assert deployment_scaled(target(c), 3).status is Status.CHANGED
    assert len(c.world.pods) == 3


def test_scaled_in_check_mode_is_a_server_dry_run() -> None:
    c = FakeCluster()
    rv = c.world.dep["metadata"]["resourceVersion"]
    res = deployment_scaled(target(c, check=True), 5)
    assert res.status is Status.CHANGED and res.check
    assert "would scale web from 3 to 5" in res.message
    assert patches(c.world) == [("application/merge-patch+json", {"spec": {"replicas": 5}}, "All")]
    assert c.world.dep["metadata"]["resourceVersion"] == rv and c.world.dep["spec"]["replicas"] == 3
    assert c.watches == 0


@pytest.mark.parametrize("bad", [-1, True, "3", 10_001])
def test_scaled_refuses_bad_counts_before_any_call(bad: Any) -> None:
    c = FakeCluster()
    with pytest.raises(InvalidInput):
        deployment_scaled(target(c), bad)
    assert c.world.calls == []


# -- image set -----------------------------------------------------------------------------------

def test_image_set_patches_one_container_then_is_ok() -> None:
    c = FakeCluster()
    res = image_set(target(c), "shop/app:v1.2.3")
    assert res.status is Status.CHANGED, res
    assert patches(c.world) == [("application/strategic-merge-patch+json", {"spec": {"template": {
        "spec": {"containers": [{"name": "app", "image": "shop/app:v1.2.3"}]}}}}, None)]
    assert res.data["image_before"] == "shop/app:v1.2.2" and res.data["revision"] == 2
    assert image_set(target(c), "shop/app:v1.2.3").status is Status.OK
    assert len(patches(c.world)) == 1


def test_image_set_names_a_missing_container_and_refuses_a_paused_deployment() -> None:
    c = FakeCluster()
    res = image_set(target(c), "x:1", container="nope")
    assert res.status is Status.FAILED and "no container 'nope' (containers: app)" in res.message
    c.world.dep["spec"]["paused"] = True
    res = image_set(target(c), "x:1")
    assert res.status is Status.FAILED and "paused" in res.message
    assert patches(c.world) == []


@pytest.mark.parametrize("bad", ["a b", "app:v1;rm -rf /", "", "../x", "-x"])
def test_image_set_refuses_bad_references(bad: str) -> None:
    with pytest.raises(InvalidInput):
        image_set(target(FakeCluster()), bad)


def test_a_broken_image_fails_with_the_deadline_and_the_events() -> None:
    # A deadline shorter than the wait (the default is 600s): it passes in cluster time.
    c = FakeCluster(World(deployment(progressDeadlineSeconds=2)))
    c.world.broken.add("shop/app:v1.2.4")
    res = image_set(target(c), "shop/app:v1.2.4", timeout=5)
    assert res.status is Status.FAILED
    assert res.message.endswith('but deployment "web" exceeded its progress deadline')
    assert "Progressing=False ProgressDeadlineExceeded" in res.evidence
    assert 'Failed to pull image "shop/app:v1.2.4"' in res.evidence


# -- restarted -----------------------------------------------------------------------------------

def test_restarted_once_per_run() -> None:
    c = FakeCluster()
    run = RunContext.new()
    first = deployment_restarted(target(c, run=run))
    assert first.status is Status.CHANGED, first
    stamp = c.world.dep["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT]
    assert datetime.fromisoformat(stamp) >= run.started_at.replace(microsecond=0)
    assert stamp.endswith("Z") and len(stamp) == 20           # RFC 3339 to the second, as kubectl
    again = deployment_restarted(target(c, run=run))
    assert again.status is Status.OK and "already restarted by this run" in again.message
    assert len(patches(c.world)) == 1
    # A new run restarts again.
    later = RunContext("run-2", datetime.now(UTC) + timedelta(seconds=2))
    assert deployment_restarted(target(c, run=later)).status is Status.CHANGED


def test_restart_is_refused_on_a_paused_deployment_as_kubectl_does() -> None:
    c = FakeCluster(World(deployment(paused=True)))
    res = deployment_restarted(target(c))
    assert res.status is Status.FAILED
    assert res.message == "can't restart paused deployment (run rollout resume first)"


def test_restart_in_check_mode_touches_nothing() -> None:
    c = FakeCluster()
    before = c.world.dep["metadata"]["resourceVersion"]
    res = deployment_restarted(target(c, check=True))
    assert res.status is Status.CHANGED and "would restart web" in res.message
    assert patches(c.world)[0][2] == "All"
    assert c.world.dep["metadata"]["resourceVersion"] == before


# -- rolled back ---------------------------------------------------------------------------------

def image(c: FakeCluster) -> str:
    return str(c.world.dep["spec"]["template"]["spec"]["containers"][0]["image"])


def test_rolled_back_to_a_release_then_ok() -> None:
    c = FakeCluster(rolled_forward("v1.2.3", "v1.2.4"))
    res = deployment_rolled_back(target(c), release="v1.2.2")
    assert res.status is Status.CHANGED, res
    assert image(c) == "shop/app:v1.2.2"
    assert (res.data["from_revision"], res.data["to_revision"], res.data["revision"]) == (3, 1, 4)
    assert (res.data["from_image"], res.data["to_image"]) == ("shop/app:v1.2.4", "shop/app:v1.2.2")
    assert res.diff is not None and res.diff.after == "app: shop/app:v1.2.2"
    notes = c.world.dep["metadata"]["annotations"]
    assert notes["team"] == "payments"                         # the Deployment's own: kept
    assert notes[REVISION] == "4"
    assert "pod-template-hash" not in c.world.dep["spec"]["template"]["metadata"]["labels"]
    again = deployment_rolled_back(target(c), release="v1.2.2")
    assert again.status is Status.OK and len(patches(c.world)) == 1


def test_rolled_back_to_previous_once_per_run() -> None:
    c = FakeCluster(rolled_forward("v1.2.3", "v1.2.4"))
    run = RunContext.new()
    res = deployment_rolled_back(target(c, run=run))
    assert res.status is Status.CHANGED and image(c) == "shop/app:v1.2.3"
    # Revision 2 is now 4: undoing "previous" again in this run would flip back; it is done.
    again = deployment_rolled_back(target(c, run=run))
    assert again.status is Status.OK and "already rolled back (previous) by this run" in again.message
    assert image(c) == "shop/app:v1.2.3"
    # Another run undoes again, as kubectl would: back to v1.2.4.
    other = deployment_rolled_back(target(c))
    assert other.status is Status.CHANGED and image(c) == "shop/app:v1.2.4"


def test_rolled_back_to_a_revision_number() -> None:
    c = FakeCluster(rolled_forward("v1.2.3", "v1.2.4"))
    run = RunContext.new()
    assert deployment_rolled_back(target(c, run=run), to_revision=1).status is Status.CHANGED
    assert image(c) == "shop/app:v1.2.2"
    assert deployment_rolled_back(target(c, run=run), to_revision=1).status is Status.OK
    missing = deployment_rolled_back(target(c), to_revision=9)
    assert missing.status is Status.FAILED
    assert missing.message == "unable to find specified revision 9 in history"


def test_rollback_of_a_paused_deployment_is_refused_with_kubectls_message() -> None:
    w = rolled_forward("v1.2.3")
    w.dep["spec"]["paused"] = True
    c = FakeCluster(w)
    res = deployment_rolled_back(target(c), release="v1.2.2")
    assert res.status is Status.FAILED
    assert res.message == ("you cannot rollback a paused deployment; resume it first with "
                           "'kubectl rollout resume deployment/web' and try again")
    assert patches(c.world) == []


def test_rollback_in_check_mode_is_a_server_dry_run_of_the_same_patch() -> None:
    c = FakeCluster(rolled_forward("v1.2.3", "v1.2.4"))
    rv = c.world.dep["metadata"]["resourceVersion"]
    res = deployment_rolled_back(target(c, check=True), release="v1.2.2")
    assert res.status is Status.CHANGED
    assert res.message.startswith("would roll back web from revision 3 (shop/app:v1.2.4) to "
                                  "revision 1 (shop/app:v1.2.2)")
    (kind, body, dry), = patches(c.world)
    assert kind == "application/json-patch+json" and dry == "All"
    assert body[0] == {"op": "test", "path": "/metadata/resourceVersion", "value": rv}
    assert image(c) == "shop/app:v1.2.4" and c.world.dep["metadata"]["resourceVersion"] == rv


def test_rollback_decides_again_when_the_deployment_changed_under_it() -> None:
    w = rolled_forward("v1.2.3", "v1.2.4")
    c = FakeCluster(w)
    apps: Any = c.apps_v1
    patch = apps.patch_namespaced_deployment
    tries = []

    def racing(*args: Any, **kwargs: Any) -> Any:
        tries.append(args[2])
        if len(tries) == 1:  # someone writes between our read and our first patch
            w.dep["metadata"]["resourceVersion"] = w.bump()
        return patch(*args, **kwargs)

    apps.patch_namespaced_deployment = racing
    res = deployment_rolled_back(target(c), release="v1.2.2")
    assert res.status is Status.CHANGED and image(c) == "shop/app:v1.2.2"
    assert len(tries) == 2 and tries[0][0]["value"] != tries[1][0]["value"]


def test_rollback_argument_checks() -> None:
    c = FakeCluster()
    with pytest.raises(InvalidInput):
        deployment_rolled_back(target(c), to_revision=1, release="v1")
    with pytest.raises(InvalidInput):
        deployment_rolled_back(target(c), release="v1;ls")
    res = deployment_rolled_back(target(c))
    assert res.status is Status.FAILED and res.message == 'no rollout history found for deployment "web"'


# -- rollout complete ----------------------------------------------------------------------------

def test_rollout_complete_waits_through_the_watch() -> None:
    c = FakeCluster()
    c.world.dep["metadata"]["generation"] += 1      # a change the controller has not seen yet
    res = rollout_complete(target(c))
    assert res.status is Status.OK and res.message == 'deployment "web" successfully rolled out'
    assert c.watches == 1


def test_rollout_complete_times_out_with_evidence() -> None:
    c = FakeCluster()

    def never() -> Any:
        while True:
            yield "MODIFIED", {**c.world.dep, "metadata": {**c.world.dep["metadata"], "generation": 99}}

    c.watch = lambda *a, **kw: never()  # type: ignore[method-assign]
    c.world.dep["metadata"]["generation"] = 99
    res = rollout_complete(target(c), timeout=0.3)
    assert res.status is Status.FAILED
    assert res.message == ("not rolled out within 0.3s: Waiting for deployment spec update "
                           "to be observed...")
    assert "conditions:" in res.evidence and "events:" in res.evidence


def test_remediations_refuse_a_host_that_is_not_kubernetes() -> None:
    from remediations.connections.recording import RecordingConnection

    t = Target(host("web1"), RecordingConnection("web1"), RunContext.new())
    with pytest.raises(InvalidInput, match="not a Kubernetes host"):
        deployment_scaled(t, 2)


def test_a_watch_that_ends_at_once_does_not_spin() -> None:
    c = FakeCluster()
    c.world.dep["metadata"]["generation"] = 99          # never observed
    c.watch = lambda *a, **kw: iter(())  # type: ignore[method-assign]
    res = rollout_complete(target(c), timeout=1.0)
    reads = [x for x in c.world.calls if x[0] == "read_namespaced_deployment"]
    assert res.status is Status.FAILED and len(reads) <= 5
