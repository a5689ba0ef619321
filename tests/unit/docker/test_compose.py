"""Compose remediations without a host: v1/v2 command lines recorded, decisions on fake containers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from remediations.connections.recording import RecordingConnection
from remediations.core.errors import InvalidInput
from remediations.core.result import Status
from remediations.docker.compose import (
    compose_logs_saved,
    compose_service_at_tag,
    compose_service_restarted,
    compose_services,
    compose_services_started,
    compose_services_stopped,
    compose_stack_restarted,
    plan_service_restarted,
)
from remediations.docker.engine import parse_container
from remediations.docker.project import (
    ComposeCli,
    ComposeMissing,
    ComposeProject,
    compose_argv,
    detect,
    judge,
    parse_version,
    project,
)
from remediations.inventory import Host
from remediations.run.target import RunContext, Target
from tests.unit.docker.test_engine import RUN_START, FakeDocker, inspect_doc, install_fake, stamp

V1 = ("docker-compose",)
V2 = ("docker", "compose")
PROJ = "-p remlab -f /srv/lab/compose/docker-compose.yml --project-directory /srv/lab/compose"
HOSTVARS = {"ansible_connection": "local", "compose_project_dir": "../lab/compose",
            "compose_project": "remlab", "compose_file": "docker-compose.yml",
            "health_url": "http://127.0.0.1:9/up"}


@pytest.fixture
def use_fake(monkeypatch: pytest.MonkeyPatch) -> Callable[[FakeDocker], None]:
    return lambda fake: install_fake(monkeypatch, fake)


def recording(v2: bool = False) -> RecordingConnection:
    conn = RecordingConnection("dockerhost")
    if v2:
        conn.on(r"^docker compose version", stdout="2.24.5\n")
    else:
        conn.on(r"^docker compose version", exit_code=1, stderr="docker: 'compose' is not a docker command.")
        conn.on(r"^docker-compose version", stdout="1.29.2\n")
    return conn


def target(conn: RecordingConnection, *, check: bool = False, run_id: str = "r1",
           **hostvars: Any) -> Target:
    return Target(Host("dockerhost", {**HOSTVARS, **hostvars}, source="/srv/inventories/lab.yml"),
                  conn, RunContext(run_id, RUN_START, check=check))


def compose_lines(conn: RecordingConnection) -> list[str]:
    return [c for c in conn.command_lines if "version --short" not in c and " config" not in c]


# --- project, detection, argv ----------------------------------------------------------------

def test_project_dir_resolves_against_the_inventory_folder() -> None:
    p = project(target(recording()))
    assert p == ComposeProject("remlab", "/srv/lab/compose", "/srv/lab/compose/docker-compose.yml")
    p = project(target(recording(), compose_project_dir="/opt/app", compose_file="prod.yml",
                       compose_project=None))
    assert p == ComposeProject("app", "/opt/app", "/opt/app/prod.yml")


@pytest.mark.parametrize("hostvars,match", [
    ({"compose_project_dir": None}, "no compose_project_dir"),
    ({"compose_project": "Bad Name"}, "not a valid compose project name"),
    ({"compose_file": "../../etc/passwd"}, None),
])
def test_project_refuses_bad_vars(hostvars: dict[str, Any], match: str | None) -> None:
    t = target(recording(), **hostvars)
    if match is None:  # normalised inside the project dir's parent: still an absolute, clean path
        assert project(t).file == "/srv/etc/passwd"
        return
    with pytest.raises(InvalidInput, match=match):
        project(t)


@pytest.mark.parametrize("text,version", [("2.24.5\n", "2.24.5"), ("v2.3.3", "2.3.3"),
                                          ("docker-compose version 1.29.2, build unknown", "1.29.2"),
                                          ("", "")])
def test_parse_version(text: str, version: str) -> None:
    assert parse_version(text) == version


def test_detect_prefers_v2_and_asks_once_per_connection() -> None:
    conn = recording(v2=True)
    assert detect(conn) == ComposeCli(V2, "2.24.5")
    assert detect(conn).major == 2
    assert conn.command_lines == ["docker compose version --short"]


def test_detect_falls_back_to_v1_then_fails_clearly() -> None:
    conn = recording()
    assert detect(conn) == ComposeCli(V1, "1.29.2")
    assert conn.command_lines == ["docker compose version --short", "docker-compose version --short"]
    none = RecordingConnection("bare").on(r"version", exit_code=127, stderr="not found")
    with pytest.raises(ComposeMissing, match="neither `docker compose` nor `docker-compose`"):
        detect(none)


@pytest.mark.parametrize("cli,expected", [
    (ComposeCli(V2, "2.24.5"), f"docker compose {PROJ} up -d --no-deps backend"),
    (ComposeCli(V1, "1.29.2"), f"docker-compose {PROJ} up -d --no-deps backend"),
])
def test_compose_argv(cli: ComposeCli, expected: str) -> None:
    proj = ComposeProject("remlab", "/srv/lab/compose", "/srv/lab/compose/docker-compose.yml")
    assert " ".join(compose_argv(cli, proj, "up", "-d", "--no-deps", "backend")) == expected
    with_env = compose_argv(cli, proj, "up", env={"APP_TAG": "v1.2.2"})
    assert with_env[:2] == ["env", "APP_TAG=v1.2.2"]
    with pytest.raises(InvalidInput):
        compose_argv(cli, proj, "up", env={"APP TAG; rm": "x"})


# --- decisions -----------------------------------------------------------------------------

def fact(**kw: Any) -> Any:
    return parse_container(inspect_doc(kw.pop("name", "remlab_backend_1"), service="backend", **kw))


@pytest.mark.parametrize("containers,expected", [
    ([], "up"),
    ([fact()], "restart"),
    ([fact(started=RUN_START + timedelta(seconds=5))], ""),  # restarted by this run already
    ([fact(started=RUN_START + timedelta(seconds=5)), fact(name="b2")], "restart"),
    ([fact(state="exited", started=RUN_START + timedelta(seconds=5))], ""),  # once per run
])
def test_plan_service_restarted(containers: list[Any], expected: str) -> None:
    assert plan_service_restarted(containers, run_started=RUN_START) == expected


def test_judge_fails_fast_on_exited_or_unhealthy_and_waits_on_starting() -> None:
    assert judge({"backend": [fact(state="exited", exit_code=137, health=None)]})[:2] == (False, True)
    assert judge({"backend": [fact(health="unhealthy")]})[:3] == (
        False, True, "remlab_backend_1 is unhealthy")
    assert judge({"backend": [fact(health="starting")]})[:2] == (False, False)
    assert judge({"backend": []})[:2] == (False, False)
    assert judge({"backend": [fact()]}, started_after=RUN_START)[:2] == (False, False)
    assert judge({"backend": [fact()]})[:2] == (True, True)


# --- remediations over a recording connection and a fake engine ---------------------------------

def backend(started: datetime, **kw: Any) -> dict[str, Any]:
    return inspect_doc("remlab_backend_1", service="backend", started=started, **kw)


def restart_on_fake(fake: FakeDocker, started_after: datetime,
                    health: str = "healthy") -> Callable[[tuple[str, ...]], Any]:
    """A compose `restart`/`up` that moves StartedAt in the fake engine, as the real one does."""
    from remediations.connections.base import CommandResult

    def reply(argv: tuple[str, ...]) -> CommandResult:
        for doc in fake.docs:
            doc["State"]["StartedAt"] = stamp(started_after + timedelta(seconds=2))
            doc["State"]["Health"]["Status"] = health
        return CommandResult(" ".join(argv), 0)
    return reply


@pytest.mark.parametrize("v2", [False, True])
def test_restart_runs_the_compose_restart_then_waits_healthy(use_fake: Any, v2: bool) -> None:
    fake = FakeDocker([backend(RUN_START - timedelta(hours=1))])
    use_fake(fake)
    conn = recording(v2)
    conn.on(r" restart backend$", reply=restart_on_fake(fake, RUN_START))
    res = compose_service_restarted(target(conn), "backend", timeout=5)
    assert res.status is Status.CHANGED, res
    cli = "docker compose" if v2 else "docker-compose"
    assert list(res.commands) == [f"{cli} {PROJ} restart backend"]
    assert compose_lines(conn) == [f"{cli} {PROJ} restart backend"]
    assert res.data["containers"][0]["health"] == "healthy"


def test_restart_again_in_the_same_run_is_ok_and_runs_nothing(use_fake: Any) -> None:
    fake = FakeDocker([backend(RUN_START + timedelta(seconds=3))])
    use_fake(fake)
    conn = recording()
    res = compose_service_restarted(target(conn), "backend", timeout=5)
    assert res.status is Status.OK and "already restarted by this run" in res.message
    assert compose_lines(conn) == [] and res.commands == ()


def test_restart_check_mode_lists_the_exact_command_and_touches_nothing(use_fake: Any) -> None:
    fake = FakeDocker([backend(RUN_START - timedelta(hours=1))])
    use_fake(fake)
    conn = recording()
    res = compose_service_restarted(target(conn, check=True), "backend")
    assert res.status is Status.CHANGED and res.check
    assert list(res.commands) == [f"docker-compose {PROJ} restart backend"]
    assert res.message == "would restart backend with docker-compose 1.29.2"
    assert compose_lines(conn) == []


def test_restart_that_never_gets_healthy_fails_with_logs_and_health_output(use_fake: Any) -> None:
    fake = FakeDocker([backend(RUN_START - timedelta(hours=1), probes=[
        {"ExitCode": 22, "Output": "curl: (22) The requested URL returned error: 500"}])])
    use_fake(fake)
    conn = recording()
    conn.on(r" restart backend$", reply=restart_on_fake(fake, RUN_START, health="unhealthy"))
    res = compose_service_restarted(target(conn), "backend", timeout=5)
    assert res.status is Status.FAILED
    assert "remlab_backend_1 is unhealthy" in res.message
    assert "log line of remlab_backend_1" in res.evidence
    assert "returned error: 500" in res.evidence


def test_restart_of_an_unknown_service_names_the_known_ones(use_fake: Any) -> None:
    use_fake(FakeDocker())
    conn = recording().on(r"config --services", stdout="backend\nworker\n")
    with pytest.raises(InvalidInput, match=r"no service nope .it has backend, worker"):
        compose_service_restarted(target(conn), "nope")


def test_stack_restart_is_down_up_and_a_marker_once_per_run(use_fake: Any) -> None:
    fake = FakeDocker([backend(RUN_START - timedelta(hours=1))])
    use_fake(fake)
    conn = recording().on(r"config --services", stdout="backend\n")
    conn.on(r"^test -e /run/lock/remediations.runs/r1/compose-stack-restarted-remlab$", exit_code=1)
    conn.on(r" up -d$", reply=restart_on_fake(fake, RUN_START))
    res = compose_stack_restarted(target(conn), timeout=5)
    assert res.status is Status.CHANGED, res
    assert list(res.commands[:2]) == [f"docker-compose {PROJ} down", f"docker-compose {PROJ} up -d"]
    assert "compose-stack-restarted-remlab" in res.commands[2]
    again = recording().on(r"config --services", stdout="backend\n")  # marker now present
    res2 = compose_stack_restarted(target(again), timeout=5)
    assert res2.status is Status.OK and "already restarted by this run" in res2.message
    assert compose_lines(again) == [
        "test -e /run/lock/remediations.runs/r1/compose-stack-restarted-remlab"]


def test_stop_only_what_runs_and_start_keeps_the_stopped_containers_config(use_fake: Any) -> None:
    worker = inspect_doc("remlab_worker_1", service="worker", state="exited", health=None)
    fake = FakeDocker([backend(RUN_START - timedelta(hours=1)), worker])
    use_fake(fake)
    conn = recording()
    res = compose_services_stopped(target(conn, check=True), ["backend", "worker"])
    assert list(res.commands) == [f"docker-compose {PROJ} stop backend"]
    ok = compose_services_stopped(target(recording()), ["worker"])
    assert ok.status is Status.OK and ok.commands == ()
    start = compose_services_started(target(recording(), check=True), ["worker", "backend"])
    assert list(start.commands) == [f"docker-compose {PROJ} start worker"]


def test_start_creates_a_service_that_has_no_container(use_fake: Any) -> None:
    use_fake(FakeDocker())
    conn = recording().on(r"config --services", stdout="backend\nworker\n")
    res = compose_services_started(target(conn, check=True), ["worker"])
    assert list(res.commands) == [f"docker-compose {PROJ} up -d --no-deps worker"]


CONFIG = """services:
  backend:
    image: remediations-lab/app:{tag}
  redis:
    image: remediations-lab/redis
"""


def tag_conn(tag: str) -> RecordingConnection:
    return recording().on(r"config$", stdout=CONFIG.format(tag=tag))


def test_tag_already_running_is_ok_without_recreate(use_fake: Any) -> None:
    fake = FakeDocker([backend(RUN_START, image="remediations-lab/app:v1.2.2",
                               image_id="sha256:" + "2" * 64)])
    fake.image_ids["remediations-lab/app:v1.2.2"] = "sha256:" + "2" * 64
    use_fake(fake)
    conn = tag_conn("v1.2.2")
    res = compose_service_at_tag(target(conn), "backend", "v1.2.2", timeout=5)
    assert res.status is Status.OK and "already runs remediations-lab/app:v1.2.2" in res.message
    assert compose_lines(conn) == []
    assert conn.command_lines[-1] == f"env APP_TAG=v1.2.2 docker-compose {PROJ} config"


def test_tag_check_mode_shows_the_env_and_up_command(use_fake: Any) -> None:
    fake = FakeDocker([backend(RUN_START)])
    fake.image_ids["remediations-lab/app:v1.2.2"] = "sha256:" + "2" * 64
    use_fake(fake)
    res = compose_service_at_tag(target(tag_conn("v1.2.2"), check=True), "backend", "v1.2.2")
    assert res.status is Status.CHANGED
    assert list(res.commands) == [f"env APP_TAG=v1.2.2 docker-compose {PROJ} up -d --no-deps backend"]
    assert res.diff is not None and "app:v1.2.3" in res.diff.before


def test_tag_refuses_an_image_the_engine_lacks_and_a_file_without_the_variable(use_fake: Any) -> None:
    use_fake(FakeDocker([backend(RUN_START)]))
    res = compose_service_at_tag(target(tag_conn("v9.9.9")), "backend", "v9.9.9")
    assert res.status is Status.FAILED and "not on the engine" in res.message
    conn = recording().on(r"config$", stdout=CONFIG.format(tag="v1.2.3"))
    with pytest.raises(InvalidInput, match=r"does not take its tag from .{APP_TAG}"):
        compose_service_at_tag(target(conn), "backend", "v1.2.2")
    with pytest.raises(InvalidInput, match="not a valid release tag"):
        compose_service_at_tag(target(recording()), "backend", "v1; rm -rf /")


def test_services_fact(use_fake: Any) -> None:
    fake = FakeDocker([backend(RUN_START),
                       inspect_doc("remlab_worker_1", service="worker", health="unhealthy")])
    use_fake(fake)
    conn = recording().on(r"config --services", stdout="redis\nbackend\nworker\n")
    res = compose_services(target(conn))
    assert res.status is Status.FAILED and "2 of 3 not ready: redis, worker" in res.message
    svc = res.data["services"]
    assert svc["redis"]["state"] == "missing"
    assert svc["backend"]["health"] == "healthy" and svc["backend"]["image"].endswith("v1.2.3")


def test_logs_saved_once_per_run_and_since_needs_v2(use_fake: Any) -> None:
    use_fake(FakeDocker())
    conn = recording().on(r"^sh -c 'stat", exit_code=1)
    res = compose_logs_saved(target(conn, check=True), services=["backend"])
    path = "/var/lib/remediations/incidents/20261123T100000Z-r1-remlab-compose.log"
    assert res.status is Status.CHANGED and res.data["path"] == path
    assert res.commands[0].endswith(f"{PROJ} logs --no-color --timestamps backend")
    done = recording().on(r"^sh -c 'stat", stdout="123\nabc  -\n")
    assert compose_logs_saved(target(done)).status is Status.OK
    with pytest.raises(InvalidInput, match="has no `logs --since`"):
        compose_logs_saved(target(recording()), since="10m")
    v2 = recording(v2=True).on(r"^sh -c 'stat", exit_code=1)
    res = compose_logs_saved(target(v2, check=True), since="10m")
    assert "logs --no-color --timestamps --since 10m" in res.commands[0]


@pytest.mark.parametrize("call", [
    lambda t: compose_service_restarted(t, "back end"),
    lambda t: compose_services_stopped(t, []),
    lambda t: compose_services_started(t, ["$(id)"]),
    lambda t: compose_service_at_tag(t, "backend", "v1.2.2", tag_var="APP-TAG"),
    lambda t: compose_logs_saved(t, dest_dir="relative/dir"),
    lambda t: compose_stack_restarted(t, timeout=0),
])
def test_bad_input_touches_no_host(use_fake: Any, call: Callable[[Target], Any]) -> None:
    use_fake(FakeDocker())
    conn = recording()
    with pytest.raises(InvalidInput):
        call(target(conn))
    assert conn.commands == []
