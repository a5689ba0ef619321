"""A Deployment at a release: from its revision history, from the inventory's `releases`, or refused."""

from __future__ import annotations

from remediations.connections.pod import KubeConnection
from remediations.core.result import Status
from remediations.kubernetes.deployments import deployment_at_release, deployment_releases
from remediations.run.target import RunContext, Target
from tests.unit.helpers import host
from tests.unit.kubernetes.test_deployments import image, rolled_forward
from tests.unit.kubernetes.test_fake import FakeCluster, patches


def target(cluster: FakeCluster, *, check: bool = False, **hostvars: object) -> Target:
    h = host("web", ansible_connection="kubernetes", **hostvars)
    return Target(h, KubeConnection(h, cluster=cluster), RunContext.new(check=check))


def test_a_release_in_the_history_is_rolled_back_to_then_ok() -> None:
    c = FakeCluster(rolled_forward("v1.2.3"))
    facts = deployment_releases(target(c))
    assert (facts["current"], facts["history"], facts["listed"]) == ("v1.2.3", ["v1.2.2", "v1.2.3"], [])
    res = deployment_at_release(target(c), "v1.2.2")
    assert res.status is Status.CHANGED and res.remediation == "deployment_rolled_back", res
    assert image(c) == "shop/app:v1.2.2"
    again = deployment_at_release(target(c), "v1.2.2")
    assert again.status is Status.OK and len(patches(c.world)) == 1


def test_a_listed_release_sets_the_image_and_check_mode_sends_only_a_dry_run() -> None:
    c = FakeCluster(rolled_forward("v1.2.3"))
    checked = deployment_at_release(target(c, check=True, releases=["v1.2.5"]), "v1.2.5")
    assert checked.status is Status.CHANGED and image(c) == "shop/app:v1.2.3"
    assert [p[2] for p in patches(c.world)] == ["All"]
    res = deployment_at_release(target(c, releases=["v1.2.5"]), "v1.2.5")
    assert res.status is Status.CHANGED and image(c) == "shop/app:v1.2.5", res
    again = deployment_at_release(target(c, releases=["v1.2.5"]), "v1.2.5")
    assert again.status is Status.OK and len(patches(c.world)) == 2


def test_a_release_neither_ran_nor_listed_is_refused_untouched() -> None:
    c = FakeCluster(rolled_forward("v1.2.3"))
    res = deployment_at_release(target(c), "v9.9.9")
    assert res.status is Status.FAILED and "does not list it (history: v1.2.2, v1.2.3)" in res.message
    assert patches(c.world) == [] and image(c) == "shop/app:v1.2.3"
