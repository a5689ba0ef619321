"""`invoke restart` on the lab's systemd web hosts, verified with testinfra."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import (
    LAB_HOSTS,
    LAB_INVENTORY,
    infra_host,
    inventory_text,
    main_pid,
)

pytestmark = pytest.mark.lab
INV = str(LAB_INVENTORY)


def run_id() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.mark.parametrize("connection", ["ssh", "docker"])
def test_restart_changes_pid_once_per_run(cli: Any, web_hosts: dict[str, Any], connection: str) -> None:
    before = {h: main_pid(h, "nginx") for h in web_hosts}
    rid = run_id()
    args = ["restart", "--service", "nginx", "-i", INV, "-l", "web", "--run-id", rid, "--json",
            "--connection", connection]

    first = cli(*args)
    assert first.code == 0, first.stderr
    results = first.by_host()
    assert {h: r["status"] for h, r in results.items()} == {"web1": "changed", "web2": "changed"}
    assert all(r["commands"] == ["systemctl restart nginx.service"] for r in results.values())
    after = {h: main_pid(h, "nginx") for h in web_hosts}
    for h, host in web_hosts.items():
        assert host.service("nginx").is_running
        assert after[h] != before[h]
        assert results[h]["data"]["main_pid"] == after[h]

    again = cli(*args)
    assert again.code == 0, again.stderr
    assert {r["status"] for r in again.by_host().values()} == {"ok"}
    assert all("already restarted by this run" in r["message"] for r in again.by_host().values())
    assert {h: main_pid(h, "nginx") for h in web_hosts} == after


def test_check_mode_reports_exact_commands_and_touches_nothing(cli: Any, web_hosts: dict[str, Any]) -> None:
    before = {h: main_pid(h, "nginx") for h in web_hosts}
    res = cli("restart", "--service", "nginx", "-i", INV, "-l", "web", "--check", "--json")
    assert res.code == 0, res.stderr
    for r in res.by_host().values():
        assert r["status"] == "changed" and r["check"] is True
        assert r["commands"] == ["systemctl restart nginx.service"]
        assert r["message"] == "would restart nginx.service"
    assert {h: main_pid(h, "nginx") for h in web_hosts} == before


def test_human_report_is_a_readable_table(cli: Any) -> None:
    res = cli("restart", "--service", "nginx", "-i", INV, "-l", "web1", "--check", "--diff")
    assert res.code == 0, res.stderr
    assert "web1" in res.stdout and "changed" in res.stdout and "would run:" in res.stdout
    assert "systemctl restart nginx.service" in res.stdout
    assert "nginx.service: active (running), MainPID" in res.stdout  # the diff's before side


def test_stopped_host_is_unreachable_within_timeout_and_others_complete(cli: Any) -> None:
    import lab.manage

    lab.manage.stop_host("web2")
    try:
        started = time.monotonic()
        res = cli("restart", "--service", "nginx", "-i", INV, "-l", "web", "--json",
                  "--timeout", "20")
        elapsed = time.monotonic() - started
    finally:
        lab.manage.start_host("web2")
    results = res.by_host()
    assert results["web2"]["status"] == "unreachable"
    assert str(LAB_HOSTS["web2"].ssh_port) in results["web2"]["message"]
    assert results["web1"]["status"] == "changed"
    assert res.code == 4
    assert elapsed < 20


def test_stopped_host_over_docker_exec_is_unreachable(cli: Any) -> None:
    import lab.manage

    lab.manage.stop_host("web2")
    try:
        res = cli("restart", "--service", "nginx", "-i", INV, "-l", "web", "--json",
                  "--connection", "docker", "--timeout", "20")
    finally:
        lab.manage.start_host("web2")
    assert res.by_host()["web2"]["status"] == "unreachable"
    assert res.by_host()["web1"]["status"] == "changed"
    assert res.code == 4


SLOW_UNIT = """[Unit]
Description=a unit that takes 4 s to start, so two runs overlap
[Service]
ExecStartPre=/bin/sleep 4
ExecStart=/bin/sleep infinity
"""


def test_two_runs_at_once_one_acts_the_other_reports_the_lock(cli: Any, tmp_path: Path) -> None:
    host = infra_host("web1")
    host.run("cat > /etc/systemd/system/rem-slow.service <<'EOF'\n" + SLOW_UNIT + "EOF")
    host.run("systemctl daemon-reload && systemctl start rem-slow")
    pid_before = main_pid("web1", "rem-slow")
    audit = tmp_path / "audit.jsonl"
    outcomes: list[Any] = []

    def go() -> None:
        outcomes.append(cli("restart", "--service", "rem-slow", "-i", INV, "-l", "web1",
                            "--json", "--audit-log", str(audit)))
    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    statuses = sorted(o.by_host()["web1"]["status"] for o in outcomes)
    assert statuses == ["changed", "skipped"], [o.stdout for o in outcomes]
    locked = next(o for o in outcomes if o.by_host()["web1"]["status"] == "skipped")
    assert "locked by run" in locked.by_host()["web1"]["message"]
    assert locked.by_host()["web1"]["commands"] == []
    assert locked.code == 3
    # restarted exactly once: one new MainPID, and one restart in the audit log
    assert main_pid("web1", "rem-slow") != pid_before
    entries = [json.loads(line) for line in audit.read_text().splitlines()]
    assert sorted(e["status"] for e in entries) == ["changed", "skipped"]


@pytest.mark.parametrize("service", ["nginx; rm -rf /", "nginx && reboot", "$(touch /tmp/pwned)",
                                     "../../bin/sh"])
def test_injection_is_rejected_before_any_host_is_touched(cli: Any, tmp_path: Path,
                                                          service: str) -> None:
    audit = tmp_path / "audit.jsonl"
    before = main_pid("web1", "nginx")
    res = cli("restart", "--service", service, "-i", INV, "-l", "web", "--audit-log", str(audit))
    assert res.code == 1
    assert "not a valid systemd unit name" in res.stderr
    assert not audit.exists()
    assert main_pid("web1", "nginx") == before
    assert not infra_host("web1").file("/tmp/pwned").exists


def test_json_lines_and_audit_log_carry_no_secret(cli: Any, tmp_path: Path) -> None:
    secret = "sup3r-s3cret-t0ken"
    inv = tmp_path / "inv.yml"
    inv.write_text(inventory_text().replace("lab-redis-s3cret", secret))
    audit = tmp_path / "audit.jsonl"
    res = cli("health", "-i", str(inv), "-l", "web", "--json", "--audit-log", str(audit),
              "--url", f"{LAB_HOSTS['web1'].health_url}?token={secret}")
    assert res.code == 0, res.stdout + res.stderr
    events = res.events()  # every line parses
    assert events[0]["event"] == "run_started"
    entries = [json.loads(line) for line in audit.read_text().splitlines()]
    assert sorted(e["host"] for e in entries) == ["web1", "web2"]
    assert all(e["run_id"] == events[0]["run_id"] and e["who"] for e in entries)
    assert secret not in res.stdout and secret not in audit.read_text()
    assert "********" in res.stdout


def test_health_reports_the_release(cli: Any) -> None:
    res = cli("health", "-i", INV, "-l", "web", "--json", "--field", "status", "--value", "ok")
    assert res.code == 0, res.stderr
    for r in res.by_host().values():
        assert r["status"] == "ok" and r["data"]["version"] == "1.2.3"


def test_cli_lists_tasks_with_help(cli: Any) -> None:
    res = cli("--list")
    assert res.code == 0
    for task in ("restart", "health", "lab.up", "lab.down", "lab.status"):
        assert task in res.stdout
    assert "Restart a systemd service once per run" in res.stdout
    helped = cli("restart", "--help")
    assert "--service" in helped.stdout and "--check" in helped.stdout and "--run-id" in helped.stdout


def test_console_script_works_after_pip_install_outside_the_repo(tmp_path: Path) -> None:
    import sys

    from tests.integration.conftest import ROOT

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-deps",
                    str(ROOT)], check=True, cwd=tmp_path, capture_output=True)
    out = subprocess.run([str(venv / "bin" / "remediate"), "--list"], cwd=tmp_path,
                         capture_output=True, text=True, check=True).stdout
    assert "restart" in out and "health" in out
    helped = subprocess.run([str(venv / "bin" / "remediate"), "restart", "--help"], cwd=tmp_path,
                            capture_output=True, text=True, check=True).stdout
    assert "--service" in helped


def test_become_over_ssh_as_a_sudoer(cli: Any, tmp_path: Path) -> None:
    """Log in as `deploy` and sudo to root for systemctl, as ansible_become does."""
    inv = tmp_path / "become.yml"
    inv.write_text(inventory_text()
                   .replace("ansible_user: root", "ansible_user: deploy\n    ansible_become: true"))
    before = main_pid("web1", "php8.2-fpm")
    res = cli("restart", "--service", "php8.2-fpm", "-i", str(inv), "-l", "web1", "--json")
    assert res.code == 0, res.stdout + res.stderr
    assert res.by_host()["web1"]["status"] == "changed"
    assert main_pid("web1", "php8.2-fpm") != before
    # and the lock was taken and released as the become user: none is left behind
    assert not infra_host("web1").file("/run/lock/remediations.lock").exists


def test_command_timeout_is_an_unknown_result_not_a_hang(tmp_path: Path, lab: Any) -> None:
    from remediations import load_inventory, run
    from remediations.core.result import Result, Status
    from remediations.run.runner import RunOptions

    def sleepy(t: Any) -> Result:
        t.conn.run(["sleep", "30"], timeout=2)
        return Result(t.name, "sleepy", Status.CHANGED, "slept")

    hosts = load_inventory(str(LAB_INVENTORY)).select("web1")
    for connection in ("ssh", "docker"):
        started = time.monotonic()
        report = run(sleepy, [h.with_vars(ansible_connection=connection) for h in hosts],
                     options=RunOptions(timeout=20))
        (r,) = report
        # `sleep 30` was sent and may still run there: the host's state is unknown.
        assert r.status is Status.UNKNOWN, r
        assert r.message.startswith("timed out: no answer within 2s: the host's state is "
                                    "unknown; last sent: `sleep 30`")
        if connection == "docker":  # the second run on web1 reads back what the first left
            assert r.data["earlier_unknown"]["last_sent"] == "sleep 30"
        assert time.monotonic() - started < 15
