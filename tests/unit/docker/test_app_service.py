"""Laravel remediations on a compose host: where they run (run.app_service over
connections.compose_exec), without a Docker host: a recording connection answers."""

from __future__ import annotations

import shlex
from typing import Any

import pytest

from remediations.connections.base import CommandResult
from remediations.connections.compose_exec import (
    ServiceContainer,
    ServiceExec,
    list_argv,
    parse_containers,
)
from remediations.connections.recording import RecordingConnection
from remediations.core.errors import CommandTimeout, InvalidInput, Unreachable
from remediations.core.result import Status
from remediations.inventory import Host
from remediations.run import app_service
from remediations.run.target import RunContext, Target
from tests.unit.docker.test_engine import RUN_START

HOSTVARS = {"ansible_connection": "ssh", "ansible_user": "deploy",
            "compose_project_dir": "/srv/lab/compose", "compose_project": "remlab",
            "app_service": "backend", "worker_service": "worker", "app_path": "/srv/app",
            "app_user": "www-data"}
LISTING = "remlab-backend-1\t1\t\trunning\nremlab-backend-2\t2\t\trunning\n"


def target(conn: RecordingConnection, *, check: bool = False, **hostvars: Any) -> Target:
    return Target(Host("dockerhost", {**HOSTVARS, **hostvars}), conn,
                  RunContext("r1", RUN_START, check=check))


def listed(conn: RecordingConnection, text: str, service: str = "backend") -> RecordingConnection:
    return conn.on(rf"com\.docker\.compose\.service={service} ", stdout=text)


# --- the listing and the exec connection ---------------------------------------------------------

def test_parse_containers_orders_by_compose_number_and_keeps_states() -> None:
    text = ("remlab-backend-2\t2\twww-data:www-data\texited\n"
            "remlab-backend-1\t1\t\trunning\n\n garbage\n")
    found = parse_containers(text)
    assert [c.name for c in found] == ["remlab-backend-1", "remlab-backend-2"]
    assert found[0].running and found[0].exec_user == "root"
    assert not found[1].running and found[1].exec_user == "www-data"


def test_list_argv_filters_by_compose_labels_and_refuses_odd_names() -> None:
    argv = list_argv("remlab", "backend")
    assert argv[:2] == ["sh", "-c"] and "docker ps -a -q" in argv[2]
    assert argv[4:6] == ["com.docker.compose.project=remlab", "com.docker.compose.service=backend"]
    with pytest.raises(InvalidInput):
        list_argv("remlab", "backend; rm -rf /")


def test_service_exec_runs_docker_exec_bounded_inside_and_names_the_command_as_given() -> None:
    host = RecordingConnection("dockerhost").on(r"^docker exec", stdout="ok\n")
    conn = ServiceExec(host, ServiceContainer("remlab-backend-1", 1), "backend")
    res = conn.run(["php", "/srv/app/artisan", "about"], timeout=30)
    assert res.command == "php /srv/app/artisan about" and res.stdout == "ok\n"
    assert host.command_lines == [
        "docker exec remlab-backend-1 timeout -k 5 30 php /srv/app/artisan about"]
    conn.run(["true"])
    assert host.command_lines[-1] == "docker exec remlab-backend-1 true"
    assert conn.inner is host


def test_service_exec_batches_in_one_docker_exec() -> None:
    host = RecordingConnection("dockerhost")
    conn = ServiceExec(host, ServiceContainer("remlab-backend-1", 1), "backend")
    conn.run_batch([["true"], ["echo", "x"]])
    assert host.round_trips == 1
    (argv,) = host.commands
    assert argv[:5] == ("docker", "exec", "remlab-backend-1", "sh", "-c")


def test_service_exec_never_falls_back_to_another_container_and_times_out_inside() -> None:
    gone = RecordingConnection("dockerhost").on(
        r"^docker exec", exit_code=1,
        stderr="Error response from daemon: Container abc is not running\n")
    with pytest.raises(Unreachable, match="remlab-backend-1 of service backend is gone"):
        ServiceExec(gone, ServiceContainer("remlab-backend-1", 1), "backend").run(["true"])
    slow = RecordingConnection("dockerhost").on(r"^docker exec", exit_code=124)
    with pytest.raises(CommandTimeout):
        ServiceExec(slow, ServiceContainer("remlab-backend-1", 1), "backend").run(
            ["sleep", "99"], timeout=2)


class _Restarting:
    """A Docker host whose daemon refuses `refusals` execs (the container restarting), then runs them."""

    name = "dockerhost"

    def __init__(self, refusals: int) -> None:
        self.refusals, self.sent = refusals, 0

    def run(self, argv: Any, *, timeout: float | None = None, check: bool = True) -> CommandResult:
        self.sent += 1
        if self.sent <= self.refusals:
            return CommandResult(shlex.join(argv), 1, "", "Error response from daemon: Container "
                                 "abc is restarting, wait until the container is running\n")
        return CommandResult(shlex.join(argv), 0, "ran\n", "")

    def close(self) -> None:
        return None


def test_a_container_being_restarted_is_waited_for_and_the_command_runs_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("remediations.connections.compose_exec.time.sleep", lambda s: None)
    host = _Restarting(refusals=2)
    res = ServiceExec(host, ServiceContainer("remlab-worker-1", 1), "worker").run(["true"])
    assert res.succeeded and res.stdout == "ran\n" and host.sent == 3
    monkeypatch.setattr("remediations.connections.compose_exec.RESTART_WAIT", 0.0)
    never = _Restarting(refusals=99)
    with pytest.raises(Unreachable, match="remlab-worker-1 of service worker is gone or stopped"):
        ServiceExec(never, ServiceContainer("remlab-worker-1", 1), "worker").run(["true"])
    assert never.sent == 1


# --- where a remediation runs ----------------------------------------------------------------------

def recorder(status: Status = Status.CHANGED) -> tuple[list[Target], Any]:
    seen: list[Target] = []

    def caches_cleared(t: Target) -> Any:
        seen.append(t)
        t.conn.run(["php", "/srv/app/artisan", "config:clear"])
        return t.result("caches_cleared", status, f"cleared as {t.host.user}",
                        commands=["php /srv/app/artisan config:clear"], data={"present": 1})
    return seen, caches_cleared


def test_a_host_that_is_not_a_compose_host_runs_the_remediation_as_it_is() -> None:
    seen, fn = recorder()
    conn = RecordingConnection("web1")
    t = Target(Host("web1", {"app_path": "/srv/app"}), conn, RunContext("r1", RUN_START))
    res = app_service.call(fn, t)
    assert res.status is Status.CHANGED and seen == [t]
    assert conn.command_lines == ["php /srv/app/artisan config:clear"]


def test_a_compose_remediation_runs_on_the_docker_host() -> None:
    seen: list[Target] = []

    def compose_services(t: Target) -> Any:
        seen.append(t)
        return t.result("compose_services", Status.OK, "all ready")
    t = target(RecordingConnection("dockerhost"))
    assert app_service.call(compose_services, t).status is Status.OK and seen == [t]


def test_per_container_state_is_changed_in_every_running_container() -> None:
    seen, fn = recorder()
    conn = listed(RecordingConnection("dockerhost"), LISTING)
    res = app_service.call(fn, target(conn))
    assert res.status is Status.CHANGED
    assert [type(t.conn) for t in seen] == [ServiceExec, ServiceExec]
    # docker exec runs as the image's user (root here), not the ssh user: artisan as
    # www-data then goes through runuser, as in any root shell.
    assert {t.host.user for t in seen} == {"root"} and not seen[0].host.become
    assert [c for c in conn.command_lines if c.startswith("docker exec")] == [
        "docker exec remlab-backend-1 php /srv/app/artisan config:clear",
        "docker exec remlab-backend-2 php /srv/app/artisan config:clear"]
    assert res.message.startswith("in all 2 containers of backend (remlab-backend-1, "
                                  "remlab-backend-2): cleared as root")
    assert res.commands == ("[remlab-backend-1] php /srv/app/artisan config:clear",
                            "[remlab-backend-2] php /srv/app/artisan config:clear")
    assert set(res.data["containers"]) == {"remlab-backend-1", "remlab-backend-2"}


def test_one_container_keeps_the_remediations_data_and_says_where() -> None:
    _, fn = recorder(Status.OK)
    conn = listed(RecordingConnection("dockerhost"), "remlab-backend-1\t1\twww-data\trunning\n")
    res = app_service.call(fn, target(conn))
    assert res.status is Status.OK and res.data["present"] == 1
    assert res.message == "in backend (remlab-backend-1): cleared as www-data"


def test_a_stopped_container_of_the_service_refuses_per_container_state() -> None:
    seen, fn = recorder()
    conn = listed(RecordingConnection("dockerhost"),
                  "remlab-backend-1\t1\t\trunning\nremlab-backend-2\t2\t\texited\n")
    res = app_service.call(fn, target(conn))
    assert res.status is Status.FAILED and seen == []
    assert "refused, nothing done: 1 of 2 container(s) of service backend running " \
           "(remlab-backend-2 exited)" in res.message
    assert res.data["state"] == "untouched"
    assert not [c for c in conn.command_lines if c.startswith("docker exec")]


def test_no_running_container_fails_and_names_the_way_out() -> None:
    seen, fn = recorder()
    res = app_service.call(fn, target(listed(RecordingConnection("dockerhost"), "")))
    assert res.status is Status.FAILED and seen == []
    assert "no running container of service backend" in res.message
    assert "compose-start --services backend" in res.message


def test_shared_state_runs_once_and_the_queue_restart_in_the_worker_service() -> None:
    seen: list[Target] = []

    def queue_restarted(t: Target) -> Any:
        seen.append(t)
        return t.result("queue_restarted", Status.CHANGED, "sent queue:restart")
    conn = listed(RecordingConnection("dockerhost"),
                  "remlab-worker-1\t1\twww-data\trunning\nremlab-worker-2\t2\twww-data\trunning\n",
                  service="worker")
    res = app_service.call(queue_restarted, target(conn))
    assert res.status is Status.CHANGED and len(seen) == 1
    assert isinstance(seen[0].conn, ServiceExec) and seen[0].conn.container.name == "remlab-worker-1"
    assert seen[0].host.user == "www-data"  # the worker's user: artisan runs as is
    assert "1 of 2 container(s): the state is shared" in res.message
    without = listed(RecordingConnection("dockerhost"), LISTING)
    app_service.call(queue_restarted, target(without, worker_service=None))
    assert seen[-1].conn.container.name == "remlab-backend-1"  # type: ignore[attr-defined]


def test_a_failure_in_one_container_fails_the_host_with_each_result() -> None:
    calls: list[str] = []

    def maintenance_on(t: Target) -> Any:
        name = t.conn.container.name  # type: ignore[attr-defined]
        calls.append(name)
        if name.endswith("2"):
            raise Unreachable(f"{name} went away")
        return t.result("maintenance_on", Status.CHANGED, "app is down")
    res = app_service.call(maintenance_on, target(listed(RecordingConnection("dockerhost"),
                                                         LISTING)))
    assert res.status is Status.FAILED and calls == ["remlab-backend-1", "remlab-backend-2"]
    assert res.data["containers"]["remlab-backend-2"]["status"] == "unreachable"


def test_the_project_name_defaults_to_the_folder_as_compose_derives_it() -> None:
    t = target(RecordingConnection("dockerhost"), compose_project=None,
               compose_project_dir="/srv/My_App")
    assert app_service.app_service(t) == app_service.AppService("my_app", "backend")
    docker_exec_host = target(RecordingConnection("c"), ansible_connection="docker")
    assert app_service.app_service(docker_exec_host) is None


def test_the_listing_goes_through_the_hosts_connection_once() -> None:
    _, fn = recorder()
    conn = listed(RecordingConnection("dockerhost"), LISTING)
    app_service.call(fn, target(conn))
    listings = [a for a in conn.commands if a[:2] == ("sh", "-c")]
    assert len(listings) == 1
    assert "docker inspect --format" in shlex.join(listings[0])


def test_exec_failure_reaches_the_remediation_as_a_command_result() -> None:
    host = RecordingConnection("dockerhost").on(r"^docker exec", exit_code=2, stdout="boom")
    res = ServiceExec(host, ServiceContainer("remlab-backend-1", 1), "backend").run(
        ["php", "x"], check=False)
    assert isinstance(res, CommandResult) and res.exit_code == 2 and res.stdout == "boom"
