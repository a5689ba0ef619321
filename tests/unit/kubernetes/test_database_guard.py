"""A database Deployment is rollout-restarted or scaled to 0 only with allow_database_restart."""

from __future__ import annotations

from typing import Any

import pytest

from remediations.connections.pod import KubeConnection
from remediations.core.databases import DatabaseRestartRefused
from remediations.core.result import Status
from remediations.kubernetes.deployments import (
    database_reason,
    deployment_restarted,
    deployment_scaled,
)
from remediations.run.target import RunContext, Target
from tests.unit.helpers import host
from tests.unit.kubernetes.test_fake import FakeCluster, World, deployment, patches

FLAG = r"pass allow_database_restart=True \(--allow-database-restart\)"


def cluster(name: str = "orders", image: str = "postgres:16") -> FakeCluster:
    c = FakeCluster(World(deployment(name, image=image, replicas=1)))
    c.world.calls.clear()
    return c


def target(c: FakeCluster, *, check: bool = False, **hostvars: Any) -> Target:
    h = host("db1", ansible_connection="kubernetes", **hostvars)
    return Target(h, KubeConnection(h, cluster=c), RunContext.new(check=check))


@pytest.mark.parametrize("hostvars,match", [
    ({"database": True}, r"deployment orders \(a database: the inventory's database: true\)"),
    ({"db_deployment": ["ledger", "orders"]}, r"the inventory's db_deployment"),
])
def test_the_inventory_refuses_before_any_request(hostvars: dict[str, Any], match: str) -> None:
    c = cluster(image="shop/app:v1.2.3")
    for check in (False, True):
        with pytest.raises(DatabaseRestartRefused, match=match) as exc:
            deployment_restarted(target(c, check=check, **hostvars))
        assert exc.match(FLAG)
        with pytest.raises(DatabaseRestartRefused, match=r"^refusing to scale deployment orders "
                                                         r"to 0 replicas"):
            deployment_scaled(target(c, check=check, **hostvars), 0)
    assert c.world.calls == []


def test_a_postgres_image_is_refused_after_one_read_and_nothing_changes() -> None:
    c = cluster()
    with pytest.raises(DatabaseRestartRefused, match=r"^refusing to restart deployment orders "
                                                     r"\(a database: image postgres:16\)"):
        deployment_restarted(target(c))
    with pytest.raises(DatabaseRestartRefused, match="scaling down a database is a last resort"):
        deployment_scaled(target(c, check=True), 0)
    assert [call[0] for call in c.world.calls] == ["read_namespaced_deployment"] * 2
    assert patches(c.world) == [] and c.world.dep["spec"]["replicas"] == 1


def test_allowed_it_restarts_and_scales_and_check_mode_sends_a_dry_run() -> None:
    c = cluster()
    check = deployment_restarted(target(c, check=True), allow_database_restart=True)
    assert check.status is Status.CHANGED and check.commands[0].startswith(
        "PATCH /apis/apps/v1/namespaces/default/deployments/orders ")
    assert [p[2] for p in patches(c.world)] == ["All"]           # a server-side dry run only
    res = deployment_restarted(target(c), allow_database_restart=True, timeout=5)
    assert res.status is Status.CHANGED, res
    down = deployment_scaled(target(c), 0, allow_database_restart=True, timeout=5)
    assert down.status is Status.CHANGED and c.world.dep["spec"]["replicas"] == 0


def test_other_deployments_and_other_scales_need_no_flag() -> None:
    app = cluster("web", image="shop/app:v1.2.3")
    assert database_reason(target(app), app, app.world.dep) == ""
    assert deployment_scaled(target(app, check=True), 0).status is Status.CHANGED
    db = cluster()
    assert deployment_scaled(target(db), 3, timeout=5).status is Status.CHANGED
