"""Interruption drills on the lab's systemd hosts: Ctrl-C, SIGTERM, a second Ctrl-C, kill -9.

A run that is interrupted stops starting hosts, lets the one in flight finish, leaves no
lock, writes what happened to the audit log and exits 130 (143 for SIGTERM); re-run with
the same run id it finishes without repeating a step. A run killed outright leaves its
lock, which another run reports (owner, age) and `unlock` clears.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import LAB_INVENTORY, ROOT, CliRun, infra_host, main_pid

pytestmark = pytest.mark.lab
INV = str(LAB_INVENTORY)
HOSTS = ("web1", "web2")
LOCK = "/run/lock/remediations.lock"
# A unit whose restart takes a few seconds (its stop sleeps), so a signal lands mid-restart.
UNIT = """[Unit]
Description=interruption drill
[Service]
ExecStart=/bin/sleep infinity
ExecStop=/bin/sleep 4
"""


@pytest.fixture
def drill_unit(lab: Any) -> Iterator[str]:
    for name in HOSTS:
        host = infra_host(name)
        host.check_output(f"printf %s {_q(UNIT)} > /etc/systemd/system/drill.service")
        host.check_output("systemctl daemon-reload && systemctl start drill.service")
        host.run(f"rm -rf {LOCK}")
    yield "drill.service"
    for name in HOSTS:
        host = infra_host(name)
        host.run("systemctl stop drill.service; rm -f /etc/systemd/system/drill.service; "
                 f"systemctl daemon-reload; rm -rf {LOCK}")


def _q(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


class Controller:
    """An `invoke` run in the background whose --json events are read as they come."""

    def __init__(self, state: Path, *args: str) -> None:
        env = {**os.environ, "REMEDIATIONS_STATE_DIR": str(state), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "invoke", *args, "--json"], cwd=ROOT,
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.events: list[dict[str, Any]] = []

    def until(self, kind: str, host: str | None = None, timeout: float = 60) -> dict[str, Any]:
        """Read events until one of `kind` (for `host`) arrives."""
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            event = json.loads(line)
            self.events.append(event)
            if event["event"] == kind and (host is None or event.get("host") == host):
                return event
        raise AssertionError(f"no {kind} event for {host}; got {self.events}")

    def finish(self, timeout: float = 120) -> CliRun:
        out, err = self.proc.communicate(timeout=timeout)
        self.events += [json.loads(line) for line in out.splitlines() if line.strip()]
        return CliRun(self.proc.returncode, "\n".join(json.dumps(e) for e in self.events), err)


def cli_in(state: Path, *args: str) -> CliRun:
    env = {**os.environ, "REMEDIATIONS_STATE_DIR": str(state)}
    proc = subprocess.run([sys.executable, "-m", "invoke", *args, "--json"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    return CliRun(proc.returncode, proc.stdout, proc.stderr)


def audit(state: Path) -> list[dict[str, Any]]:
    path = state / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def locked(name: str) -> bool:
    return infra_host(name).file(LOCK).exists


def run_id() -> str:
    return f"drill-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_new_hosts_lets_the_one_in_flight_finish(
        tmp_path: Path, drill_unit: str, signum: signal.Signals) -> None:
    before = {h: main_pid(h, drill_unit) for h in HOSTS}
    rid = run_id()
    args = ("restart", "--service", drill_unit, "-i", INV, "-l", "web", "--forks", "1",
            "--run-id", rid)
    run = Controller(tmp_path, *args)
    run.until("host_started", "web1")
    time.sleep(0.5)  # the restart script is on web1 now, its stop sleeping
    run.proc.send_signal(signum)
    first = run.finish()

    assert first.code == {signal.SIGINT: 130, signal.SIGTERM: 143}[signum], first.stderr
    assert "Traceback" not in first.stderr
    results = first.by_host()
    assert results["web1"]["status"] == "changed", results["web1"]
    assert results["web2"]["status"] == "skipped"
    assert "interrupted" in results["web2"]["message"]
    assert first.report()["interrupted"] == signum.name
    assert main_pid("web1", drill_unit) != before["web1"]  # the restart in flight finished
    assert main_pid("web2", drill_unit) == before["web2"]  # never started
    assert not locked("web1") and not locked("web2")
    lines = audit(tmp_path)
    assert [(e.get("event"), e.get("host"), e.get("status")) for e in lines] == [
        ("interrupted", None, None), (None, "web1", "changed"), (None, "web2", "skipped")]
    assert lines[0]["in_flight"] == ["web1"]

    restarted = main_pid("web1", drill_unit)
    again = cli_in(tmp_path, *args)
    assert again.code == 0, again.stderr
    results = again.by_host()
    assert results["web1"]["status"] == "ok" and "already restarted by this run" in results["web1"]["message"]
    assert results["web2"]["status"] == "changed"
    assert main_pid("web1", drill_unit) == restarted  # not restarted twice
    assert main_pid("web2", drill_unit) != before["web2"]
    assert not locked("web1") and not locked("web2")


def test_a_second_ctrl_c_stops_at_once_and_the_next_run_reads_back(
        tmp_path: Path, drill_unit: str) -> None:
    before = main_pid("web1", drill_unit)
    rid = run_id()
    args = ("restart", "--service", drill_unit, "-i", INV, "-l", "web1", "--run-id", rid)
    run = Controller(tmp_path, *args)
    run.until("host_started", "web1")
    time.sleep(0.5)
    run.proc.send_signal(signal.SIGINT)
    run.until("interrupted")
    started = time.monotonic()
    run.proc.send_signal(signal.SIGINT)
    first = run.finish()

    assert time.monotonic() - started < 3  # did not wait for the 4 s stop
    assert first.code == 130, first.stderr
    web1 = first.by_host()["web1"]
    assert web1["status"] == "unknown"
    assert "the host's state is unknown" in web1["message"] and "last sent" in web1["message"]
    assert web1["commands"], "what was sent is named"
    assert [e["status"] for e in audit(tmp_path) if e.get("host")] == ["unknown"]

    time.sleep(5)  # the restart the controller stopped waiting for ends on the host meanwhile
    after = main_pid("web1", drill_unit)
    assert after != before
    again = cli_in(tmp_path, *args)
    assert again.code == 0, again.stderr
    web1 = again.by_host()["web1"]
    assert web1["status"] == "ok" and "already restarted by this run" in web1["message"]
    earlier = web1["data"]["earlier_unknown"]
    assert earlier["run_id"] == rid and earlier["lock"] in (rid, "free")
    assert f"run {rid} stopped waiting for this host" in web1["message"]
    assert main_pid("web1", drill_unit) == after
    assert not locked("web1")
    third = cli_in(tmp_path, *args)  # reported once: the record is gone
    assert "earlier_unknown" not in third.by_host()["web1"]["data"]


def test_a_killed_run_leaves_its_lock_reported_then_cleared_by_unlock(
        tmp_path: Path, drill_unit: str) -> None:
    rid = run_id()
    run = Controller(tmp_path, "restart", "--service", drill_unit, "-i", INV, "-l", "web1",
                     "--run-id", rid)
    run.until("host_started", "web1")
    time.sleep(0.5)
    run.proc.kill()
    run.proc.wait()
    time.sleep(5)
    assert locked("web1")
    owner = infra_host("web1").file(f"{LOCK}/owner").content_string
    assert owner.startswith(rid)

    other = cli_in(tmp_path, "restart", "--service", drill_unit, "-i", INV, "-l", "web1")
    assert other.code == 3, other.stderr
    web1 = other.by_host()["web1"]
    assert web1["status"] == "skipped" and web1["data"]["locked_by"] == rid
    assert f"locked by run {rid}" in web1["message"] and "held " in web1["message"]
    assert f"unlock -l web1 --run-id {rid}" in web1["message"]
    assert locked("web1")  # never broken before it is stale

    wrong = cli_in(tmp_path, "unlock", "-i", INV, "-l", "web1", "--run-id", "someone-else")
    assert wrong.by_host()["web1"]["status"] == "skipped" and locked("web1")
    check = cli_in(tmp_path, "unlock", "-i", INV, "-l", "web1", "--run-id", rid, "--check")
    assert check.by_host()["web1"]["status"] == "changed" and locked("web1")
    cleared = cli_in(tmp_path, "unlock", "-i", INV, "-l", "web1", "--run-id", rid)
    assert cleared.code == 0, cleared.stderr
    assert cleared.by_host()["web1"]["status"] == "changed"
    assert not locked("web1")
    again = cli_in(tmp_path, "unlock", "-i", INV, "-l", "web1", "--run-id", rid)
    assert again.by_host()["web1"]["status"] == "ok"


def test_an_interrupted_rollback_stops_after_its_batch_and_resumes(tmp_path: Path, lab: Any) -> None:
    rid = run_id()
    args = ("rollback", "--release", "v1.2.2", "-i", INV, "-l", "web", "--serial", "1",
            "--run-id", rid)
    try:
        run = Controller(tmp_path, *args)
        run.until("host_started", "web1")
        run.proc.send_signal(signal.SIGINT)
        first = run.finish(timeout=300)
        assert first.code == 130, first.stderr
        results = first.by_host()
        assert results["web1"]["status"] == "changed", results["web1"]
        assert results["web2"]["status"] == "skipped"
        assert _current("web1") == "v1.2.2" and _current("web2") == "v1.2.3"
        assert not locked("web1") and not locked("web2")
        lines = audit(tmp_path)
        assert lines[0]["event"] == "interrupted" and lines[0]["in_flight"] == ["web1"]
        assert {e["host"]: e["status"] for e in lines[1:]} == {"web1": "changed",
                                                               "web2": "skipped"}
        history = {h: _history(h) for h in HOSTS}

        again = cli_in(tmp_path, *args)
        assert again.code == 0, again.stderr
        results = again.by_host()
        assert results["web1"]["status"] == "ok" and results["web1"]["commands"] == []
        assert results["web2"]["status"] == "changed"
        assert _current("web2") == "v1.2.2"
        assert _history("web1") == history["web1"]  # nothing repeated on web1
        assert not locked("web1") and not locked("web2")
    finally:
        back = cli_in(tmp_path, "rollback", "--release", "v1.2.3", "-i", INV, "-l", "web")
        assert back.code == 0, back.stderr


def _current(name: str) -> str:
    return infra_host(name).check_output("readlink /srv/app/current").rsplit("/", 1)[-1]


def _history(name: str) -> str:
    return str(infra_host(name).run("cat /srv/app/.remediations-releases.jsonl 2>/dev/null").stdout)
