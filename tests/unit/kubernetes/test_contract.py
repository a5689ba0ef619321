"""The Deployment changes keep `apply()`'s contract: check mode sends dry runs only, no-ops send nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from remediations.connections.cluster import MERGE_PATCH, ApiCall
from remediations.core.result import Result, Status
from remediations.kubernetes.deployments import (
    deployment_restarted,
    deployment_rolled_back,
    deployment_scaled,
    image_set,
)
from remediations.run.target import RunContext, Target
from tests.unit.kubernetes.test_deployments import rolled_forward, target
from tests.unit.kubernetes.test_fake import FakeCluster, patches

CHANGES: dict[str, Callable[[Target], Result]] = {
    "scaled": lambda t: deployment_scaled(t, 5),
    "image": lambda t: image_set(t, "shop/app:v1.2.5"),
    "restarted": deployment_restarted,
    "rolled_back": lambda t: deployment_rolled_back(t, release="v1.2.2"),
}


def writes(c: FakeCluster) -> list[Any]:
    return [call for call in c.world.calls if not call[0].startswith(("read_", "list_"))]


@pytest.mark.parametrize("change", CHANGES)
def test_check_mode_sends_only_server_side_dry_runs(change: str) -> None:
    c = FakeCluster(rolled_forward("v1.2.3"))
    rv = c.world.dep["metadata"]["resourceVersion"]
    res = CHANGES[change](target(c, check=True))
    assert res.status is Status.CHANGED and res.check, res
    assert res.message.startswith("would ") and "server-side dry run accepted" in res.message
    assert [dry for _, _, dry in patches(c.world)] == ["All"]
    assert len(writes(c)) == 1 and len(res.commands) == 1 and res.commands[0].startswith("PATCH ")
    assert c.world.dep["metadata"]["resourceVersion"] == rv and c.watches == 0
    assert "waited_seconds" not in res.data


@pytest.mark.parametrize("check", [False, True])
@pytest.mark.parametrize("change", CHANGES)
def test_a_no_op_sends_nothing_and_is_ok_after_the_rollout_check(change: str, check: bool) -> None:
    c = FakeCluster(rolled_forward("v1.2.3"))
    run = RunContext.new()
    CHANGES[change](target(c, run=run))                        # now in the state asked for
    sent = len(writes(c))
    watches = c.watches
    res = CHANGES[change](target(c, run=run, check=check))
    assert res.status is Status.OK and res.commands == (), res
    assert res.message.endswith('; deployment "web" successfully rolled out')
    assert len(writes(c)) == sent
    # Outside check mode the rollout is waited for; in check mode only read.
    assert ("waited_seconds" in res.data) is not check
    if check:
        assert c.watches == watches


def test_an_api_call_step_shows_the_request_and_sends_it_through_the_client() -> None:
    c = FakeCluster()
    step = c.deployment_patch({"spec": {"replicas": 2}}, MERGE_PATCH, sub="scale")
    assert isinstance(step, ApiCall)
    assert step.command == ('PATCH /apis/apps/v1/namespaces/default/deployments/web/scale '
                            '(merge-patch) {"spec":{"replicas":2}}')
    step.send(dry_run=True)
    step.send(dry_run=False)
    assert patches(c.world) == [(MERGE_PATCH, {"spec": {"replicas": 2}}, "All"),
                                (MERGE_PATCH, {"spec": {"replicas": 2}}, None)]
    assert c.world.dep["spec"]["replicas"] == 2
