"""A compose database is restarted or stopped only with allow_database_restart; refused before
anything is touched (the host not even reached when its name or the inventory tells). The same
for a database container restarted above a memory threshold (restart-if-memory)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

import remediations.docker.compose
from remediations.core.databases import DatabaseRestartRefused
from remediations.core.result import Status
from remediations.docker.compose import (
    compose_service_restarted,
    compose_services_started,
    compose_services_stopped,
    compose_stack_restarted,
)
from remediations.docker.containers import container_restarted_above_memory
from remediations.run.target import Target
from tests.unit.docker.test_compose import (
    PROJ,
    compose_lines,
    recording,
    restart_on_fake,
    target,
)
from tests.unit.docker.test_engine import RUN_START, FakeDocker, inspect_doc, install_fake

MARIADB = "remediations-lab/mariadb"
FLAG = r"allow_database_restart=True \(--allow-database-restart\)"


def db(service: str = "db", image: str = MARIADB, **kw: Any) -> dict[str, Any]:
    return inspect_doc(f"remlab_{service}_1", service=service, image=image,
                       started=RUN_START - timedelta(hours=1), **kw)


def app(service: str = "backend") -> dict[str, Any]:
    return inspect_doc(f"remlab_{service}_1", service=service,
                       started=RUN_START - timedelta(hours=1))


@pytest.fixture
def tripwire(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reaching the Docker engine at all fails the test."""
    def engine(t: Target, **_: Any) -> Any:
        raise AssertionError(f"{t.name}: the engine was reached")
    monkeypatch.setattr(remediations.docker.compose, "engine", engine)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Callable[..., FakeDocker]:
    def make(*docs: dict[str, Any]) -> FakeDocker:
        docker = FakeDocker(list(docs))
        install_fake(monkeypatch, docker)
        return docker
    return make


# -- by name or inventory: refused before the host is reached -----------------------------------

@pytest.mark.parametrize("call,match", [
    (lambda t: compose_service_restarted(t, "db"), r"^refusing to restart compose service db "
                                                   r"\(a database: named db\)"),
    (lambda t: compose_service_restarted(t, "mysql", timeout=5), "compose service mysql"),
    (lambda t: compose_service_restarted(t, "primary"), r"primary \(a database: the "
                                                        r"inventory's db_service\)"),
    (lambda t: compose_services_stopped(t, ["worker", "db"]), r"^refusing to stop compose "
                                                              r"service db"),
    (lambda t: compose_services_stopped(t, ["primary"]), "stop compose service primary"),
    (lambda t: compose_stack_restarted(t), r"^refusing to restart the compose project remlab, "
                                           r"whose `down` stops primary"),
])
def test_named_databases_are_refused_before_the_host_is_reached(
        tripwire: None, call: Callable[[Target], Any], match: str) -> None:
    for check in (False, True):  # check mode refuses too: it would not be allowed to act
        conn = recording()
        with pytest.raises(DatabaseRestartRefused, match=match) as exc:
            call(target(conn, check=check, db_service="primary"))
        assert exc.match(FLAG)
        assert conn.commands == []


# -- by image: refused after reading the containers, before any command that acts ---------------

def test_a_service_whose_image_is_a_database_is_refused_after_only_reading(fake: Any) -> None:
    docker = fake(db("store", image="bitnami/postgresql:16"), app())
    conn = recording()
    with pytest.raises(DatabaseRestartRefused,
                       match=r"restart compose service store \(a database: image "
                             r"bitnami/postgresql:16\)"):
        compose_service_restarted(target(conn), "store")
    assert compose_lines(conn) == []                            # only `version --short` ran
    assert {c[0] for c in docker.calls} <= {"list", "inspect_container"}
    conn = recording()
    with pytest.raises(DatabaseRestartRefused, match="stop compose service store"):
        compose_services_stopped(target(conn), ["backend", "store"])
    assert compose_lines(conn) == []


def test_a_stack_with_a_database_is_refused_after_reading_its_services(fake: Any) -> None:
    docker = fake(app(), db("store", image="mariadb:11"))
    conn = recording().on(r"config --services", stdout="backend\nstore\n")
    with pytest.raises(DatabaseRestartRefused, match=r"whose `down` stops store \(a database: "
                       r"image mariadb:11\).*to do it; or restart the other services one by one"):
        compose_stack_restarted(target(conn, db_service=None))
    assert compose_lines(conn) == []                            # no marker test, no down
    assert {c[0] for c in docker.calls} <= {"list", "inspect_container"}
    lab = recording().on(r"config --services", stdout="backend\nworker\nredis\ndb\n")
    fake(app(), db())
    with pytest.raises(DatabaseRestartRefused, match="whose `down` stops db"):
        compose_stack_restarted(target(lab))                   # by name, no db_service


# -- allowed: check mode is exact; the restart is done once per run ------------------------------

def test_allowed_check_mode_shows_the_exact_commands_and_touches_nothing(fake: Any) -> None:
    fake(db(), app())
    conn = recording()
    res = compose_service_restarted(target(conn, check=True), "db", allow_database_restart=True)
    assert res.status is Status.CHANGED and res.check
    assert list(res.commands) == [f"docker-compose {PROJ} restart db"]
    assert res.message == "would restart db with docker-compose 1.29.2"
    stop = compose_services_stopped(target(recording(), check=True), ["db"],
                                    allow_database_restart=True)
    assert list(stop.commands) == [f"docker-compose {PROJ} stop db"]
    stack = recording().on(r"config --services", stdout="backend\ndb\n")
    stack.on(r"^test -e /run/lock/remediations.runs/r1/compose-stack-restarted-remlab$",
             exit_code=1)
    res = compose_stack_restarted(target(stack, check=True, db_service="db"),
                                  allow_database_restart=True)
    assert res.status is Status.CHANGED
    assert list(res.commands[:2]) == [f"docker-compose {PROJ} down", f"docker-compose {PROJ} up -d"]
    assert compose_lines(conn) == [] and all(" down" not in c for c in compose_lines(stack))


def test_allowed_restart_of_the_database_runs_once_per_run(fake: Any) -> None:
    docker = fake(db())
    conn = recording()
    conn.on(r" restart db$", reply=restart_on_fake(docker, RUN_START))
    res = compose_service_restarted(target(conn), "db", timeout=5, allow_database_restart=True)
    assert res.status is Status.CHANGED, res
    assert compose_lines(conn) == [f"docker-compose {PROJ} restart db"]
    again = recording()
    res2 = compose_service_restarted(target(again), "db", timeout=5, allow_database_restart=True)
    assert res2.status is Status.OK and "already restarted by this run" in res2.message
    assert compose_lines(again) == []


def test_other_services_and_starting_a_database_need_no_flag(fake: Any) -> None:
    stopped = db(state="exited", health=None)
    fake(app(), app("worker"), stopped)
    res = compose_service_restarted(target(recording(), check=True), "backend")
    assert list(res.commands) == [f"docker-compose {PROJ} restart backend"]
    res = compose_services_stopped(target(recording(), check=True), ["worker"])
    assert list(res.commands) == [f"docker-compose {PROJ} stop worker"]
    start = compose_services_started(target(recording(), check=True), ["db"])
    assert list(start.commands) == [f"docker-compose {PROJ} start db"]


# -- restart-if-memory: the same rule for a container above its memory threshold -----------------

MiB = 2**20


def above(*docs: dict[str, Any]) -> FakeDocker:
    """A fake engine where every container uses 700 MiB of 1 GiB."""
    docker = FakeDocker(list(docs))
    for doc in docs:
        docker.stats[doc["Name"].lstrip("/")] = {
            "memory_stats": {"usage": 700 * MiB, "limit": 1024 * MiB, "stats": {}}}
    return docker


@pytest.mark.parametrize("ref,doc,match", [
    ("db", None, r"^refusing to restart container db \(a database: named db\)"),
    ("primary", None, r"^refusing to restart container primary \(a database: the inventory's "
                      r"db_service\)"),
    ("remlab_db_1", db(), r"^refusing to restart container remlab_db_1 \(a database: named db\)"),
    ("remlab_primary_1", db("primary", image="remediations-lab/app:v1.2.3"),
     r"container remlab_primary_1 \(a database: the inventory's db_service\)"),
    ("store", db("store", image="bitnami/postgresql:16"),
     r"^refusing to restart container remlab_store_1 \(a database: image bitnami/postgresql:16\)"),
    ("cache", inspect_doc("cache", image="mysql:8.0"),                 # no compose labels at all
     r"container cache \(a database: image mysql:8.0\)"),
])
def test_a_database_container_above_memory_is_refused_without_the_flag(
        monkeypatch: pytest.MonkeyPatch, ref: str, doc: dict[str, Any] | None, match: str) -> None:
    docker = above(*([doc] if doc else []))
    # by name or inventory the engine is not even reached; by label or image, only read
    install_fake(monkeypatch, docker)
    for check in (False, True):
        conn = recording()
        with pytest.raises(DatabaseRestartRefused, match=match) as exc:
            container_restarted_above_memory(target(conn, check=check, db_service="primary"), ref,
                                             max_bytes=512 * MiB)
        assert exc.match(FLAG)
        assert conn.commands == []
    assert {c[0] for c in docker.calls} <= {"list", "inspect_container"}
    if doc is None:
        assert docker.calls == []


def test_a_database_container_above_memory_is_restarted_with_the_flag(
        monkeypatch: pytest.MonkeyPatch) -> None:
    docker = above(db())
    install_fake(monkeypatch, docker)
    cid = docker.docs[0]["Id"]
    check = container_restarted_above_memory(target(recording(), check=True), "db",
                                             max_bytes=512 * MiB, allow_database_restart=True)
    assert check.status is Status.CHANGED and check.check
    assert list(check.commands) == [f"docker container restart -t 10 {cid}"]
    assert not [c for c in docker.calls if c[0] == "restart"]
    res = container_restarted_above_memory(target(recording()), "db", max_bytes=512 * MiB,
                                           timeout=5, allow_database_restart=True)
    assert res.status is Status.CHANGED, res
    assert [c for c in docker.calls if c[0] == "restart"] == [("restart", cid, 10)]


def test_a_container_that_is_no_database_needs_no_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    docker = above(app(), inspect_doc("adminer", service="adminer", image="adminer:4"))
    install_fake(monkeypatch, docker)
    for ref, doc in (("backend", docker.docs[0]), ("adminer", docker.docs[1])):
        res = container_restarted_above_memory(target(recording(), check=True, db_service="primary"),
                                               ref, max_bytes=512 * MiB)
        assert res.status is Status.CHANGED, res
        assert list(res.commands) == [f"docker container restart -t 10 {doc['Id']}"]
