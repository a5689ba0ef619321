"""compose_service_scaled over a recording connection and a fake engine (v1 and v2)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from remediations.connections.base import CommandResult
from remediations.core.databases import DatabaseRestartRefused
from remediations.core.errors import InvalidInput
from remediations.core.result import Status
from remediations.docker import scale
from remediations.docker.engine import parse_container
from tests.unit.docker.test_compose import PROJ, compose_lines, recording, target
from tests.unit.docker.test_engine import RUN_START, FakeDocker, fake_engine, inspect_doc


def worker(n: int, **kw: Any) -> dict[str, Any]:
    return inspect_doc(f"remlab-worker-{n}", service="worker", cid=f"{n:064d}",
                       started=RUN_START - timedelta(hours=1), **kw)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeDocker:
    docs = FakeDocker([worker(1)])
    monkeypatch.setattr(scale, "engine", lambda t, **kw: fake_engine(docs, t.name))
    return docs


def scaled_to(fake: FakeDocker, n: int) -> Any:
    def reply(argv: tuple[str, ...]) -> CommandResult:
        fake.docs[:] = [worker(i + 1) for i in range(n)]
        return CommandResult(" ".join(argv), 0)
    return reply


@pytest.mark.parametrize("states,replicas,why", [
    (["running"], 1, ""),
    (["running"], 2, "1 container(s), 2 wanted"),
    (["running", "running"], 1, "2 container(s), 1 wanted"),
    (["running", "exited"], 2, "not running: remlab-worker-2"),
    ([], 0, ""),
])
def test_plan_scaled(states: list[str], replicas: int, why: str) -> None:
    found = [parse_container(worker(i + 1, state=s)) for i, s in enumerate(states)]
    assert scale.plan_scaled(found, replicas) == why


@pytest.mark.parametrize("v2", [False, True])
def test_scale_up_runs_up_scale_no_recreate_and_waits_for_every_container(
        fake: FakeDocker, v2: bool) -> None:
    conn = recording(v2)
    conn.on(r" --scale worker=2 worker$", reply=scaled_to(fake, 2))
    res = scale.compose_service_scaled(target(conn), "worker", 2, timeout=5)
    assert res.status is Status.CHANGED, res
    cli = "docker compose" if v2 else "docker-compose"
    want = f"{cli} {PROJ} up -d --no-deps --no-recreate --scale worker=2 worker"
    assert list(res.commands) == [want] and compose_lines(conn) == [want]
    assert "scaled worker from 1 to 2" in res.message and "2 container(s)" in res.message


def test_already_at_the_count_is_ok_and_check_mode_is_exact(fake: FakeDocker) -> None:
    conn = recording(True)
    res = scale.compose_service_scaled(target(conn), "worker", 1, timeout=5)
    assert res.status is Status.OK and "already at 1 container(s)" in res.message
    assert compose_lines(conn) == []
    check = scale.compose_service_scaled(target(recording(True), check=True), "worker", 3)
    assert check.status is Status.CHANGED and check.commands[0].endswith(
        "up -d --no-deps --no-recreate --scale worker=3 worker")


def test_fewer_containers_than_asked_after_up_fails(fake: FakeDocker) -> None:
    conn = recording(True)
    conn.on(r"--scale worker=3", reply=scaled_to(fake, 2))
    res = scale.compose_service_scaled(target(conn), "worker", 3, timeout=1)
    assert res.status is Status.FAILED and "2 container(s) of worker, not 3" in res.message


def test_a_database_service_is_refused_before_anything_runs(fake: FakeDocker) -> None:
    conn = recording(True)
    with pytest.raises(DatabaseRestartRefused, match="--allow-database-restart"):
        scale.compose_service_scaled(target(conn, db_service="db"), "db", 2)
    assert conn.commands == []
    with pytest.raises(InvalidInput):
        scale.compose_service_scaled(target(conn), "worker", 101)
    with pytest.raises(InvalidInput):
        scale.compose_service_scaled(target(conn), "worker;x", 1)
