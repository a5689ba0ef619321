"""Container remediations on a fake engine: memory threshold restarts, json-file logs cleared."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from remediations.connections.recording import RecordingConnection
from remediations.core.errors import InvalidInput
from remediations.core.result import Status
from remediations.docker.containers import (
    container_logs_cleared,
    container_restarted_above_memory,
    container_stats,
    over,
)
from remediations.docker.engine import ContainerStats
from remediations.inventory import Host
from remediations.run.target import RunContext, Target
from tests.unit.docker.test_engine import RUN_START, FakeDocker, inspect_doc, install_fake

MiB = 2**20


def target(conn: RecordingConnection | None = None, *, check: bool = False) -> Target:
    hostvars = {"ansible_connection": "local", "compose_project_dir": "/srv/lab/compose",
                "compose_project": "remlab"}
    return Target(Host("dockerhost", hostvars), conn or RecordingConnection("dockerhost"),
                  RunContext("r1", RUN_START, check=check))


def with_memory(fake: FakeDocker, name: str, used: int, limit: int = 1024 * MiB) -> None:
    fake.stats[name] = {"memory_stats": {"usage": used, "limit": limit, "stats": {}}}


def backend_fake(used: int, started: Any = None) -> FakeDocker:
    fake = FakeDocker([inspect_doc("remlab_backend_1", service="backend",
                                   started=started or RUN_START - timedelta(hours=2))])
    with_memory(fake, "remlab_backend_1", used)
    return fake


@pytest.mark.parametrize("sample,max_bytes,max_percent,expected", [
    (ContainerStats(600, 1000), 500, None, True),
    (ContainerStats(400, 1000), 500, None, False),
    (ContainerStats(600, 1000), None, 50.0, True),
    (ContainerStats(600, 1000), None, 70.0, False),
])
def test_over(sample: ContainerStats, max_bytes: int | None, max_percent: float | None,
              expected: bool) -> None:
    assert over(sample, max_bytes=max_bytes, max_percent=max_percent) is expected


def test_below_the_threshold_is_ok_and_restarts_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = backend_fake(100 * MiB)
    install_fake(monkeypatch, fake)
    res = container_restarted_above_memory(target(), "backend", max_bytes=512 * MiB)
    assert res.status is Status.OK and "not above 512.0 MiB" in res.message
    assert not [c for c in fake.calls if c[0] == "restart"]


def test_above_the_threshold_restarts_via_the_sdk_and_verifies(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = backend_fake(700 * MiB)
    install_fake(monkeypatch, fake)
    cid = fake.docs[0]["Id"]
    check = container_restarted_above_memory(target(check=True), "backend", max_bytes=512 * MiB)
    assert check.status is Status.CHANGED
    assert list(check.commands) == [f"docker container restart -t 10 {cid}"]
    assert not [c for c in fake.calls if c[0] == "restart"]
    res = container_restarted_above_memory(target(), "remlab_backend_1", max_bytes=512 * MiB,
                                           timeout=5)
    assert res.status is Status.CHANGED, res
    assert ("restart", cid, 10) in fake.calls
    assert "remlab_backend_1 now 700.0 MiB" in res.message


def test_restarted_by_this_run_already_is_not_restarted_again(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = backend_fake(700 * MiB, started=RUN_START + timedelta(seconds=10))
    install_fake(monkeypatch, fake)
    res = container_restarted_above_memory(target(), "backend", max_percent=50)
    assert res.status is Status.OK and "already restarted by this run" in res.message
    assert res.commands == ()


def test_threshold_input_is_checked_first(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = backend_fake(1)
    install_fake(monkeypatch, fake)
    for kw in ({}, {"max_bytes": 1, "max_percent": 1.0}, {"max_bytes": -1}, {"max_percent": 101.0}):
        with pytest.raises(InvalidInput):
            container_restarted_above_memory(target(), "backend", **kw)
    assert fake.calls == []


def test_stats_fact_for_a_service(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = backend_fake(256 * MiB)
    install_fake(monkeypatch, fake)
    res = container_stats(target(), "backend")
    assert res.status is Status.OK
    assert res.data["containers"]["remlab_backend_1"]["memory_bytes"] == 256 * MiB
    assert res.data["containers"]["remlab_backend_1"]["memory_percent"] == 25.0


def test_a_service_name_wins_over_an_id_prefix_of_another_container(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The engine answers `inspect cafe` with the container whose id starts with cafe...:
    # here the redis container, not service cafe's (as `db` once found redis in the lab).
    fake = FakeDocker([inspect_doc("remlab_redis_1", service="redis", cid="cafe" + "0" * 60),
                       inspect_doc("remlab_cafe_1", service="cafe")])
    with_memory(fake, "remlab_cafe_1", 64 * MiB)
    install_fake(monkeypatch, fake)
    res = container_stats(target(), "cafe")
    assert list(res.data["containers"]) == ["remlab_cafe_1"]


def test_an_id_prefix_still_names_a_container(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeDocker([inspect_doc("remlab_redis_1", service="redis", cid="cafe" + "0" * 60)])
    with_memory(fake, "remlab_redis_1", 64 * MiB)
    install_fake(monkeypatch, fake)
    assert list(container_stats(target(), "cafe00").data["containers"]) == ["remlab_redis_1"]


LOG = "/var/lib/docker/containers/remlab_backend_1.log"


def test_logs_cleared_truncates_the_json_file_once_per_run(monkeypatch: pytest.MonkeyPatch) -> None:
    install_fake(monkeypatch, backend_fake(1))
    conn = RecordingConnection("dockerhost")
    conn.on(rf"^stat -c %s -- {LOG}$", stdout="5000\n", times=1)
    conn.on(rf"^stat -c %s -- {LOG}$", stdout="0\n")
    conn.on(r"^test -e /run/lock/remediations.runs/r1/container-logs-cleared-", exit_code=1)
    res = container_logs_cleared(target(conn), "backend")
    assert res.status is Status.CHANGED, res
    assert res.commands[0] == f"truncate -s 0 -- {LOG}"
    assert "container-logs-cleared-" in res.commands[1]
    assert res.data["freed"] == 5000
    done = RecordingConnection("dockerhost").on(r"^stat", stdout="120\n")
    again = container_logs_cleared(target(done), "backend")
    assert again.status is Status.OK and "already cleared by this run" in again.message


def test_logs_of_another_driver_are_skipped_and_an_invisible_file_fails(
        monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeDocker([inspect_doc("j", driver="journald")])
    install_fake(monkeypatch, fake)
    assert container_logs_cleared(target(), "j").status is Status.SKIPPED
    fake.docs = [inspect_doc("k")]
    conn = RecordingConnection("dockerhost").on(r"^stat", exit_code=1)
    res = container_logs_cleared(target(conn), "k")
    assert res.status is Status.FAILED and "not visible on dockerhost" in res.message


def test_logs_keep_lines_uses_the_in_place_tail_with_a_blank_marker(
        monkeypatch: pytest.MonkeyPatch) -> None:
    install_fake(monkeypatch, backend_fake(1))
    conn = RecordingConnection("dockerhost")
    conn.on(r"^stat -c %s", stdout="5000\n")
    conn.on(r"^test -e", exit_code=1)
    conn.on(r"realpath", stdout="root=/var/lib/docker/containers\0real=" + LOG + "\0"
            "stat=regular file|5000|42|1795400000\0keep=300\0keep1=350\0first={\"log\":1}\0")
    res = container_logs_cleared(target(conn, check=True), "backend", keep_lines=10)
    assert res.status is Status.CHANGED, res
    step = res.commands[0]
    assert step.startswith("sh -c") and f" _ {LOG} 10 42 '' " in step
