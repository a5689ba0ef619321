"""block-ip in the nginx proxy container of a compose host, over a recording connection."""

from __future__ import annotations

from typing import Any

import pytest

from remediations.connections.recording import RecordingConnection
from remediations.core.errors import InvalidInput
from remediations.core.result import Status
from remediations.docker import proxy
from remediations.host.nginx import render_blocked
from remediations.inventory import Host
from remediations.run import app_service
from remediations.run.target import RunContext, Target
from tests.unit.docker.test_engine import RUN_START

HOSTVARS = {"ansible_connection": "local", "compose_project_dir": "/srv/lab/compose",
            "compose_project": "remlab", "app_service": "backend", "proxy_service": "proxy"}
EXEC = "docker exec remlab-proxy-1 "
PATH = "/etc/nginx/conf.d/blocked.conf"


def target(conn: RecordingConnection, *, check: bool = False, **hostvars: Any) -> Target:
    return Target(Host("dockerhost", {**HOSTVARS, **hostvars}), conn,
                  RunContext("r1", RUN_START, check=check))


def proxy_host(blocked: str | None = None, *, test_fails: bool = False) -> RecordingConnection:
    conn = RecordingConnection("dockerhost")
    conn.on(r"com\.docker\.compose\.service=proxy ", stdout="remlab-proxy-1\t1\t\trunning\n")
    if blocked is None:
        conn.on(rf"^{EXEC}cat -- {PATH}", exit_code=1, stderr="No such file", times=1)
    else:
        conn.on(rf"^{EXEC}cat -- {PATH}", stdout=blocked, times=1)
    conn.on(rf"^{EXEC}cat -- {PATH}", stdout=render_blocked(None, "203.0.113.7"))
    conn.on(r"nginx\.pid", stdout="master 1\nworker 7\nworker 8\n", times=1)
    conn.on(r"nginx\.pid", stdout="master 1\nworker 20\nworker 21\n")
    if test_fails:
        conn.on(rf"^{EXEC}nginx -t", exit_code=1, stderr="nginx: configuration file test failed")
    conn.on(rf"^{EXEC}curl ", stdout="<html>\n200")
    return conn


def in_proxy(conn: RecordingConnection) -> list[str]:
    return [c.removeprefix(EXEC) for c in conn.command_lines if c.startswith(EXEC)]


def test_parse_nginx_processes() -> None:
    assert proxy.parse_nginx_processes("master 1\nworker 7\nworker 8\n") == (1, frozenset({7, 8}))
    assert proxy.parse_nginx_processes("none\n") == (None, frozenset())


def test_block_writes_tests_reloads_and_sees_new_workers() -> None:
    conn = proxy_host()
    res = proxy.ip_blocked(target(conn), "203.0.113.7")
    assert res.status is Status.CHANGED, res
    assert "reloaded (new workers 20, 21)" in res.message and "answers 200" in res.message
    ran = in_proxy(conn)
    steps = [c for c in ran if c.startswith(("sh -c 'printf", "nginx"))]
    assert steps[0].endswith(f"mv -f {PATH}.remediations.tmp {PATH}'")
    assert steps[1:] == ["nginx -t", "nginx -s reload"]
    assert [c.split("] ", 1)[1] for c in res.commands][1:] == ["nginx -t", "nginx -s reload"]
    assert res.data["containers"]["remlab-proxy-1"]["status"] == "changed"


def test_check_mode_plans_the_same_commands_and_runs_none_of_them() -> None:
    conn = proxy_host()
    res = proxy.ip_blocked(target(conn, check=True), "203.0.113.7")
    assert res.status is Status.CHANGED and res.check
    assert [c.split("] ", 1)[1] for c in res.commands][1:] == ["nginx -t", "nginx -s reload"]
    assert not [c for c in in_proxy(conn) if c.startswith(("nginx", "sh -c 'printf"))]


def test_already_blocked_is_ok_and_unblock_of_an_absent_address_too() -> None:
    conn = proxy_host(render_blocked(None, "203.0.113.7"))
    res = proxy.ip_blocked(target(conn), "203.0.113.7")
    assert res.status is Status.OK and "already blocked" in res.message and res.commands == ()
    conn = proxy_host()
    assert proxy.proxy_ip_unblocked(target(conn), "198.51.100.1").status is Status.OK


def test_a_failing_test_restores_the_previous_file_and_never_reloads() -> None:
    conn = proxy_host(test_fails=True)
    res = proxy.ip_blocked(target(conn), "203.0.113.7")
    assert res.status is Status.FAILED
    ran = in_proxy(conn)
    assert "nginx -s reload" not in ran
    assert f"rm -f -- {PATH} {PATH}.remediations.tmp" in ran
    assert "nginx keeps its current configuration" in res.evidence


def test_without_a_proxy_service_the_hosts_own_nginx_is_meant(monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    from remediations.host import blocklist

    called: list[str] = []

    def host_web_server(t: Target, address: str) -> Any:
        called.append(address)
        return t.result("ip_blocked", Status.OK, "host nginx")
    monkeypatch.setattr(blocklist, "ip_blocked", host_web_server)
    web = Target(Host("web1", {}), RecordingConnection("web1"), RunContext("r1", RUN_START))
    assert proxy.ip_blocked(web, "203.0.113.7").message == "host nginx"
    assert called == ["203.0.113.7"]
    with pytest.raises(InvalidInput, match="proxy_service"):
        proxy.proxy_ip_blocked(target(RecordingConnection("d"), proxy_service=None), "203.0.113.7")
    with pytest.raises(InvalidInput):
        proxy.ip_blocked(target(RecordingConnection("d")), "not-an-ip")


def test_a_stopped_proxy_container_is_refused() -> None:
    conn = RecordingConnection("dockerhost").on(
        r"com\.docker\.compose\.service=proxy ",
        stdout="remlab-proxy-1\t1\t\trunning\nremlab-proxy-2\t2\t\texited\n")
    res = proxy.ip_blocked(target(conn), "203.0.113.7")
    assert res.status is Status.FAILED and "refused, nothing done" in res.message
    assert not in_proxy(conn)
    assert app_service.PER_CONTAINER  # the same walk as the app's per-container state
