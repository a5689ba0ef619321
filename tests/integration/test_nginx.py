"""`invoke block-ip / unblock-ip` on the lab's nginx, proven by real requests being denied."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import LAB_HOSTS, LAB_INVENTORY, WEB_HOSTS, infra_host, main_pid

pytestmark = pytest.mark.lab
INV = str(LAB_INVENTORY)
BLOCKLIST = "/etc/nginx/conf.d/blocked.conf"
BROKEN = "/etc/nginx/conf.d/zz-remediations-test-broken.conf"
HEADER = "# Managed by remediations"


def http_status(name: str) -> int:
    """GET /up through the published port: nginx sees the docker bridge gateway as client."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{LAB_HOSTS[name].http_port}/up",
                                    timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def status_inside(name: str) -> int:
    """GET /up from inside the container: nginx sees 127.0.0.1."""
    out = infra_host(name).check_output(
        "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1/up")
    return int(out)


def settles(fn: Any, expected: int, timeout: float = 10.0) -> int:
    """nginx reloads asynchronously: poll until the expected answer (or return the last)."""
    deadline = time.monotonic() + timeout
    got = fn()
    while got != expected and time.monotonic() < deadline:
        time.sleep(0.2)
        got = fn()
    return int(got)


def workers(name: str) -> set[int]:
    out = infra_host(name).check_output(f"pgrep -P {main_pid(name, 'nginx')} || true")
    return {int(p) for p in out.split()}


def gateway(name: str) -> str:
    out = subprocess.run(["docker", "inspect", WEB_HOSTS[name]], capture_output=True, text=True,
                         check=True).stdout
    networks = json.loads(out)[0]["NetworkSettings"]["Networks"]
    return str(next(n["Gateway"] for n in networks.values() if n.get("Gateway")))


def deny_lines(name: str) -> list[str]:
    f = infra_host(name).file(BLOCKLIST)
    return [ln for ln in f.content_string.splitlines() if ln.startswith("deny")] if f.exists else []


@pytest.fixture
def blocklist_restored(lab: Any) -> Iterator[None]:
    """Leave blocked.conf (and nginx) on every web host as the test found them."""
    saved = {}
    for name in WEB_HOSTS:
        f = infra_host(name).file(BLOCKLIST)
        saved[name] = f.content_string if f.exists else None
    yield
    for name, content in saved.items():
        host = infra_host(name)
        host.run(f"rm -f {BROKEN}")
        if content is None:
            host.run(f"rm -f {BLOCKLIST} {BLOCKLIST}.remediations.tmp")
        else:
            host.run(f"cat > {BLOCKLIST} <<'EOF'\n{content}EOF")
        assert host.run("nginx -t && systemctl reload nginx").rc == 0
        assert settles(lambda n=name: http_status(n), 200) == 200


@pytest.mark.parametrize("connection", ["ssh", "docker"])
def test_block_twice_leaves_one_deny_line_and_second_run_is_ok(
        cli: Any, blocklist_restored: None, connection: str) -> None:
    common = ["-i", INV, "-l", "web", "--json", "--connection", connection]
    nginx_pids = {h: main_pid(h, "nginx") for h in WEB_HOSTS}
    first = cli("block-ip", "203.0.113.7", *common)
    assert first.code == 0, first.stdout + first.stderr
    for h, r in first.by_host().items():
        assert r["status"] == "changed", r
        assert r["commands"][1:] == ["nginx -t", "systemctl reload nginx.service"]
        assert r["commands"][0].startswith("sh -c 'printf %s ")
        assert "deny 203.0.113.7;" in r["diff"]["after"] and r["diff"]["before"] == ""
        assert deny_lines(h) == ["deny 203.0.113.7;"]
        f = infra_host(h).file(BLOCKLIST)
        assert f.content_string.startswith(HEADER) and f.mode == 0o644 and f.user == "root"
        assert infra_host(h).service("nginx").is_running
        assert main_pid(h, "nginx") == nginx_pids[h]  # reloaded, not restarted
    mtimes = {h: infra_host(h).file(BLOCKLIST).mtime for h in WEB_HOSTS}

    time.sleep(1.1)
    again = cli("block-ip", "--address", "203.0.113.7", *common)
    assert again.code == 0, again.stdout + again.stderr
    for h, r in again.by_host().items():
        assert r["status"] == "ok" and "already blocked" in r["message"]
        assert r["commands"] == []
        assert deny_lines(h) == ["deny 203.0.113.7;"]
        assert infra_host(h).file(BLOCKLIST).mtime == mtimes[h]

    second = cli("block-ip", "2001:db8::/32", *common)
    assert second.code == 0, second.stdout + second.stderr
    assert all(deny_lines(h) == ["deny 203.0.113.7;", "deny 2001:db8::/32;"] for h in WEB_HOSTS)

    gone = cli("unblock-ip", "203.0.113.7", *common)
    assert gone.code == 0 and {r["status"] for r in gone.by_host().values()} == {"changed"}
    assert all(deny_lines(h) == ["deny 2001:db8::/32;"] for h in WEB_HOSTS)
    still_gone = cli("unblock-ip", "203.0.113.7", *common)
    assert {r["status"] for r in still_gone.by_host().values()} == {"ok"}
    assert all(r["commands"] == [] for r in still_gone.by_host().values())


@pytest.mark.parametrize("connection", ["ssh", "docker"])
def test_blocked_client_gets_403_and_200_again_once_unblocked(
        cli: Any, blocklist_restored: None, connection: str) -> None:
    client = gateway("web1")  # what nginx sees for requests to the published port
    assert http_status("web1") == 200
    common = ["-i", INV, "-l", "web1", "--json", "--connection", connection]
    res = cli("block-ip", client, *common)
    assert res.code == 0, res.stdout + res.stderr
    assert res.by_host()["web1"]["status"] == "changed"
    assert settles(lambda: http_status("web1"), 403) == 403
    assert status_inside("web1") == 200       # only that client is denied
    assert http_status("web2") == 200         # and only on the host it was blocked on

    res = cli("unblock-ip", client, *common)
    assert res.code == 0 and res.by_host()["web1"]["status"] == "changed"
    assert settles(lambda: http_status("web1"), 200) == 200


def test_blocking_loopback_denies_requests_from_inside(cli: Any, blocklist_restored: None) -> None:
    res = cli("block-ip", "127.0.0.0/8", "-i", INV, "-l", "web1", "--json")
    assert res.code == 0, res.stdout + res.stderr
    r = res.by_host()["web1"]
    # the remediation's own check (curl on the host) is answered, with a 403: nginx is up
    assert r["status"] == "changed" and r["data"]["http_status"] == 403
    assert settles(lambda: status_inside("web1"), 403) == 403
    assert http_status("web1") == 200
    res = cli("unblock-ip", "127.0.0.0/8", "-i", INV, "-l", "web1", "--json")
    assert res.by_host()["web1"]["status"] == "changed"
    assert settles(lambda: status_inside("web1"), 200) == 200


@pytest.mark.parametrize("connection", ["ssh", "docker"])
def test_failing_nginx_t_restores_the_file_and_nginx_keeps_serving(
        cli: Any, blocklist_restored: None, connection: str) -> None:
    host = infra_host("web1")
    host.run(f"printf '{HEADER}\\ndeny 198.51.100.1;\\n' > {BLOCKLIST} && systemctl reload nginx")
    before = host.file(BLOCKLIST).content_string
    host.run(f"printf 'bogus_directive on;\\n' > {BROKEN}")
    pid, old_workers = main_pid("web1", "nginx"), workers("web1")
    res = cli("block-ip", "203.0.113.7", "-i", INV, "-l", "web1", "--json",
              "--connection", connection)
    assert res.code == 2, res.stdout + res.stderr
    r = res.by_host()["web1"]
    assert r["status"] == "failed" and r["message"] == "`nginx -t` failed"
    assert 'unknown directive "bogus_directive"' in r["evidence"]
    assert "restored the previous /etc/nginx/conf.d/blocked.conf" in r["evidence"]
    assert host.file(BLOCKLIST).content_string == before
    assert not host.file(f"{BLOCKLIST}.remediations.tmp").exists
    # nothing reloaded: the same master and the same workers still serve
    assert (main_pid("web1", "nginx"), workers("web1")) == (pid, old_workers)
    assert host.service("nginx").is_running
    assert http_status("web1") == 200


def test_check_mode_lists_the_exact_commands_and_changes_nothing(
        cli: Any, blocklist_restored: None) -> None:
    existed = {h: infra_host(h).file(BLOCKLIST).exists for h in WEB_HOSTS}
    res = cli("block-ip", "203.0.113.7", "-i", INV, "-l", "web", "--json", "--check")
    assert res.code == 0, res.stdout + res.stderr
    for h, r in res.by_host().items():
        assert r["status"] == "changed" and r["check"] is True
        assert r["message"].startswith("would block 203.0.113.7 in /etc/nginx/conf.d/blocked.conf")
        assert len(r["commands"]) == 3
        assert r["commands"][0].startswith("sh -c 'printf %s ")
        assert r["commands"][0].endswith(f"mv -f {BLOCKLIST}.remediations.tmp {BLOCKLIST}'")
        assert r["commands"][1:] == ["nginx -t", "systemctl reload nginx.service"]
        assert infra_host(h).file(BLOCKLIST).exists == existed[h]
        assert deny_lines(h) == []


@pytest.mark.parametrize("address", ["999.1.1.1", "1.2.3.4; reload", "10.0.0.1/8", "all"])
def test_bad_addresses_are_rejected_before_any_host_is_touched(
        cli: Any, tmp_path: Path, address: str) -> None:
    audit = tmp_path / "audit.jsonl"
    existed = infra_host("web1").file(BLOCKLIST).exists
    res = cli("block-ip", address, "-i", INV, "-l", "web", "--audit-log", str(audit))
    assert res.code == 1
    assert f"not a valid IP address or CIDR: {address!r}" in res.stderr
    assert not audit.exists()
    assert infra_host("web1").file(BLOCKLIST).exists == existed
