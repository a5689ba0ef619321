"""The nginx deny list: rendering, idempotency, check mode, restore on a failed test."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from remediations.connections.base import CommandResult
from remediations.connections.recording import RecordingConnection
from remediations.core.errors import InvalidInput
from remediations.core.result import Status
from remediations.host.nginx import (
    HEADER,
    blocklist_path,
    denied,
    ip_blocked,
    ip_unblocked,
    render_blocked,
    render_unblocked,
)
from remediations.run.target import RunContext, Target

PATH = "/etc/nginx/conf.d/blocked.conf"
NGINX_ACTIVE = ("Id=nginx.service\nLoadState=loaded\nActiveState=active\nSubState=running\n"
                "MainPID=10\nUnitFileState=enabled\n")


def target(conn: RecordingConnection, *, check: bool = False, **hostvars: object) -> Target:
    from tests.unit.helpers import host

    return Target(host("web1", **hostvars), conn,
                  RunContext("r1", datetime(2026, 11, 23, 10, tzinfo=UTC), check=check))


class FakeHost:
    """A host with one file: `cat` reads it, the write step replaces it, `rm` removes it."""

    def __init__(self, content: str | None, *, nginx_t_ok: bool = True,
                 nginx: str = NGINX_ACTIVE) -> None:
        self.content = content
        self.writes: list[str | None] = []
        self.conn = RecordingConnection("web1")
        self.conn.on(r"^cat -- ", reply=self._cat)
        self.conn.on(r"^sh -c 'printf %s ", reply=self._write)
        self.conn.on(r"^rm -f -- ", reply=self._rm)
        self.conn.on(r"^systemctl show", stdout=nginx)
        self.conn.on(r"^nginx -t", exit_code=0 if nginx_t_ok else 1,
                     stderr="nginx: configuration file /etc/nginx/nginx.conf test is successful"
                     if nginx_t_ok else 'nginx: [emerg] unknown directive "bogus" in x.conf:1')
        self.conn.on(r"^curl ", stdout="hello\n200")

    def _cat(self, argv: tuple[str, ...]) -> CommandResult:
        if self.content is None:
            return CommandResult("cat", 1, "", "No such file or directory")
        return CommandResult("cat", 0, self.content)

    def _write(self, argv: tuple[str, ...]) -> CommandResult:
        script = argv[2]
        encoded = script.split()[2].strip("'")
        self.content = base64.b64decode(encoded).decode()
        self.writes.append(self.content)
        return CommandResult("sh", 0)

    def _rm(self, argv: tuple[str, ...]) -> CommandResult:
        self.content = None
        self.writes.append(None)
        return CommandResult("rm", 0)


@pytest.mark.parametrize("before,address,after", [
    (None, "203.0.113.7", HEADER + "deny 203.0.113.7;\n"),
    (HEADER + "deny 203.0.113.7;\n", "203.0.113.7", HEADER + "deny 203.0.113.7;\n"),
    (HEADER + "deny 198.51.100.1;\n", "203.0.113.7",
     HEADER + "deny 198.51.100.1;\ndeny 203.0.113.7;\n"),
    # duplicates collapse to exactly one line
    (HEADER + "deny 203.0.113.7;\ndeny 10.0.0.1;\ndeny  203.0.113.7 ; # again\n", "203.0.113.7",
     HEADER + "deny 203.0.113.7;\ndeny 10.0.0.1;\n"),
    # a hand-made file keeps its lines and gains the header when it changes
    ("deny all;\n", "2001:db8::/32", HEADER + "deny all;\ndeny 2001:db8::/32;\n"),
    # same network written differently is the same address
    (HEADER + "deny 2001:0db8::/32;\n", "2001:db8::/32", HEADER + "deny 2001:0db8::/32;\n"),
])
def test_render_blocked(before: str | None, address: str, after: str) -> None:
    assert render_blocked(before, address) == after


@pytest.mark.parametrize("before,address,after", [
    (None, "203.0.113.7", None),
    (HEADER + "deny 203.0.113.7;\n", "203.0.113.7", HEADER),
    (HEADER + "deny 198.51.100.1;\n", "203.0.113.7", HEADER + "deny 198.51.100.1;\n"),
    (HEADER + "deny 203.0.113.7;\ndeny 10.0.0.1;\ndeny 203.0.113.7;\n", "203.0.113.7",
     HEADER + "deny 10.0.0.1;\n"),
])
def test_render_unblocked(before: str | None, address: str, after: str | None) -> None:
    assert render_unblocked(before, address) == after


def test_denied_reads_every_deny_line() -> None:
    assert denied(HEADER + "deny 1.2.3.4;\n  deny 10.0.0.0/8; # office\n# deny 5.5.5.5;\n") == [
        "1.2.3.4", "10.0.0.0/8"]


def test_block_writes_tests_and_reloads_in_that_order() -> None:
    fake = FakeHost(None)
    res = ip_blocked(target(fake.conn), "203.0.113.7")
    assert res.status is Status.CHANGED, (res.message, res.evidence)
    assert fake.content == HEADER + "deny 203.0.113.7;\n"
    assert res.commands[1:] == ("nginx -t", "systemctl reload nginx.service")
    assert res.commands[0].startswith("sh -c 'printf %s ")
    lines = fake.conn.command_lines
    write = next(i for i, c in enumerate(lines) if c.startswith("sh -c 'printf"))
    assert write < lines.index("nginx -t") < lines.index("systemctl reload nginx.service")
    assert res.diff is not None and res.diff.before == "" and "deny 203.0.113.7;" in res.diff.after
    assert res.data["http_status"] == 200


def test_block_of_a_blocked_address_is_ok_and_touches_nothing() -> None:
    fake = FakeHost(HEADER + "deny 203.0.113.7;\n")
    res = ip_blocked(target(fake.conn), "203.0.113.7")
    assert res.status is Status.OK and "already blocked" in res.message
    assert [a[0] for a in fake.conn.commands] == ["cat"]


def test_failing_nginx_t_restores_the_previous_file_and_does_not_reload() -> None:
    old = HEADER + "deny 198.51.100.1;\n"
    fake = FakeHost(old, nginx_t_ok=False)
    res = ip_blocked(target(fake.conn), "203.0.113.7")
    assert res.status is Status.FAILED
    assert 'unknown directive "bogus"' in res.evidence
    assert "restored the previous" in res.evidence
    assert fake.content == old
    assert not fake.conn.commands_matching(r"^systemctl reload")


def test_failing_nginx_t_removes_a_file_that_did_not_exist() -> None:
    fake = FakeHost(None, nginx_t_ok=False)
    res = ip_blocked(target(fake.conn), "203.0.113.7")
    assert res.status is Status.FAILED and fake.content is None
    assert fake.conn.ran("rm", "-f", "--", PATH, f"{PATH}.remediations.tmp")


def test_check_mode_lists_the_exact_commands_and_writes_nothing() -> None:
    fake = FakeHost(None)
    res = ip_blocked(target(fake.conn, check=True), "203.0.113.7")
    assert res.status is Status.CHANGED and res.check and res.message.startswith("would block")
    assert len(res.commands) == 3 and res.commands[1:] == ("nginx -t", "systemctl reload nginx.service")
    assert fake.writes == []
    assert [a[:2] for a in fake.conn.commands] == [("cat", "--"), ("systemctl", "show")]


def test_block_while_nginx_is_stopped_writes_and_tests_without_reloading() -> None:
    fake = FakeHost(None, nginx=NGINX_ACTIVE.replace("ActiveState=active", "ActiveState=inactive"))
    res = ip_blocked(target(fake.conn), "203.0.113.7")
    assert res.status is Status.CHANGED
    assert res.commands[1:] == ("nginx -t",)
    assert "not running" in res.message


def test_unblock_removes_the_line_and_is_ok_the_second_time() -> None:
    fake = FakeHost(HEADER + "deny 203.0.113.7;\ndeny 10.0.0.1;\n")
    res = ip_unblocked(target(fake.conn), "203.0.113.7")
    assert res.status is Status.CHANGED
    assert fake.content == HEADER + "deny 10.0.0.1;\n"
    again = ip_unblocked(target(fake.conn), "203.0.113.7")
    assert again.status is Status.OK and "not blocked" in again.message
    missing = FakeHost(None)
    assert ip_unblocked(target(missing.conn), "203.0.113.7").status is Status.OK
    assert missing.writes == []


def test_blocklist_path_from_inventory_is_validated() -> None:
    conn = RecordingConnection()
    assert blocklist_path(target(conn, nginx_blocklist_path="/etc/nginx/deny.conf")) == (
        "/etc/nginx/deny.conf")
    for bad in ("relative.conf", "/etc/nginx/../shadow", "/etc/nginx/a b.conf", "/etc/x;reboot"):
        with pytest.raises(InvalidInput):
            blocklist_path(target(conn, nginx_blocklist_path=bad))


@pytest.mark.parametrize("address", ["999.1.1.1", "1.2.3.4; reload", "10.0.0.1/8", "", "all",
                                     "1.2.3.4 deny", "$(reboot)"])
def test_bad_addresses_are_refused_before_any_host_is_touched(address: str) -> None:
    conn = RecordingConnection()
    with pytest.raises(InvalidInput):
        ip_blocked(target(conn), address)
    with pytest.raises(InvalidInput):
        ip_unblocked(target(conn), address)
    assert conn.commands == []
