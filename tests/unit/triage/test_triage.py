"""`triage(t)` on a recorded shell host: one round trip, the exact command, secrets redacted, --save."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from remediations import triage
from remediations.connections.base import CommandResult
from remediations.connections.recording import RecordingConnection
from remediations.core.errors import InvalidInput
from remediations.core.result import Status
from remediations.run.target import RunContext, Target
from remediations.snapshot import script as snapshot_script
from remediations.snapshot.core import kind_of
from remediations.snapshot.save import file_name, save_dir
from tests.unit.helpers import host
from tests.unit.triage.sample import output, unit

SECRET = "s3cr3t-p4ss"


def target(conn: RecordingConnection, **hostvars: Any) -> Target:
    defaults = {"app_path": "/srv/app/current", "app_user": "www-data",
                "redis_password": SECRET}
    return Target(host("web1", **{**defaults, **hostvars}), conn, RunContext.new())


def answering(**faults: Any) -> RecordingConnection:
    """A host whose snapshot script prints the sample output (with `faults`), marker and all."""
    def reply(argv: tuple[str, ...]) -> CommandResult:
        marker = argv[argv.index(snapshot_script.NAME) + 1]
        return CommandResult(shlex.join(argv), 0, output(mark=marker, **faults), "")
    return RecordingConnection().on(r"sh -c", reply=reply)


def test_one_round_trip_and_the_exact_command() -> None:
    conn = answering()
    res = triage(target(conn))
    assert res.status is Status.OK and res.message == "all is well (systemd)"
    assert conn.round_trips == 1
    (argv,) = conn.commands
    marker = argv[6]
    assert list(argv) == ["env", f"REDISCLI_AUTH={SECRET}", "sh", "-c", snapshot_script.SCRIPT,
                          "triage-snapshot", marker, "/srv/app/current", "www-data", "200",
                          "queues:default"]
    assert marker.startswith("@@triage-snapshot-") and len(marker) == len("@@triage-snapshot-") + 16
    assert res.data["findings"] == [] and res.data["app"]["release"] == "v1.2.3"


def test_no_inventory_value_reaches_the_script_text() -> None:
    conn = answering()
    triage(target(conn, redis_host="cache.internal", redis_port=6380, redis_db=2,
                  redis_prefix="shop_", app_user="deploy"))
    (argv,) = conn.commands
    assert argv[4] == snapshot_script.SCRIPT           # the same constant, whatever the inventory
    assert argv[8:] == ("deploy", "200", "shop_queues:default", "-h", "cache.internal",
                        "-p", "6380", "-n", "2")
    assert SECRET not in " ".join(argv[2:])            # only in env's REDISCLI_AUTH=, not redis-cli's


@pytest.mark.parametrize("hostvars", [
    {"app_path": "/srv/app; rm -rf /"}, {"app_path": "relative/app"}, {"app_user": "www data"},
    {"redis_host": "x;reboot"}, {"redis_prefix": "a b"}, {"redis_password": "a\nb"},
    {"triage_thresholds": {"disk_warning": float("nan")}},
])
def test_bad_inventory_values_are_refused_before_the_host(hostvars: dict[str, Any]) -> None:
    conn = answering()
    with pytest.raises(InvalidInput):
        triage(target(conn, **hostvars))
    assert conn.commands == []


def test_the_script_is_valid_posix_sh() -> None:
    ran = subprocess.run(["sh", "-n", "-c", snapshot_script.SCRIPT], capture_output=True,
                         text=True, check=False)
    assert ran.returncode == 0, ran.stderr


def test_the_script_runs_here_and_its_output_parses(tmp_path: Path) -> None:
    """Run for real on this machine (read-only): every section present, the end reached."""
    from remediations.snapshot.parse import parse_snapshot

    marker = snapshot_script.mark()
    argv = snapshot_script.snapshot_argv(marker, app=str(tmp_path), user="nobody", scan=5,
                                         queue_key="queues:default")
    ran = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    snap = parse_snapshot(ran.stdout, marker)
    assert snap["complete"], ran.stdout[-2000:] + ran.stderr[-2000:]
    assert snap["load"]["cpus"] >= 1 and snap["memory"]["total_kb"] > 0 and snap["disk"]


def test_critical_fails_warnings_alone_do_not() -> None:
    res = triage(target(answering(units=unit("nginx.service", "inactive", "dead"), disk_pct=85)))
    assert res.status is Status.FAILED
    assert [f["severity"] for f in res.data["findings"]] == ["critical", "warning"]
    assert res.message.startswith("1 critical, 1 warning: unit nginx.service: inactive (dead)")
    res = triage(target(answering(disk_pct=85)))
    assert res.status is Status.OK and res.message.startswith("0 critical, 1 warning")


def test_python_thresholds_override_the_inventory() -> None:
    t = target(answering(llen="20"), triage_thresholds={"queue_length": 100})
    assert triage(t).data["findings"] == []
    res = triage(t, thresholds={"queue_length": 10})
    assert [f["what"] for f in res.data["findings"]] == ["queue"]
    assert res.data["thresholds"]["queue_length"] == 10


def test_secrets_are_redacted_from_data_message_and_commands() -> None:
    leak = (f"[2026-12-06] production.ERROR: redis auth {SECRET} failed\n"
            "[2026-12-06] production.ERROR: DB_PASSWORD=hunter2hunter2")
    res = triage(target(answering(app_log=leak)))
    text = json.dumps(res.to_dict())
    assert SECRET not in text and "hunter2hunter2" not in text
    assert "REDISCLI_AUTH=********" in res.commands[0]
    assert "<triage-snapshot script" in res.commands[0]          # named, not pasted


def test_a_snapshot_cut_short_is_critical() -> None:
    conn = RecordingConnection().on(r"sh -c", stdout="", stderr="sh: 1: Syntax error", exit_code=2)
    res = triage(target(conn))
    assert res.status is Status.FAILED
    assert res.data["findings"][0]["what"] == "snapshot"
    assert "Syntax error" in res.data["findings"][0]["detail"]


def test_save_writes_json_and_summary_redacted(tmp_path: Path) -> None:
    leak = f"[2026-12-06] production.ERROR: {SECRET}"
    t = target(answering(app_log=leak, disk_pct=95))
    res = triage(t, save_to=str(tmp_path / "ev"))
    folder = tmp_path / "ev" / t.run.run_id
    assert res.data["saved_to"] == str(folder)
    saved = json.loads((folder / "web1.json").read_text())
    assert saved["findings"] == res.data["findings"] and saved["host"] == "web1"
    summary = (folder / "summary.txt").read_text()
    assert summary.splitlines()[0] == "web1: failed: 2 finding(s)"
    assert "critical disk /: 95% used" in " ".join(summary.split())
    assert SECRET not in (folder / "web1.json").read_text() + summary
    triage(Target(host("web2", app_path="/srv/app/current"), answering(), t.run),
           save_to=str(tmp_path / "ev"))
    assert (folder / "summary.txt").read_text().splitlines()[-1] == "web2: ok: all is well"


@pytest.mark.parametrize("value", ["a b", "$(id)", "x;y", "../up", "a/../b", "-h", "", "~root",
                                   "*", "a\nb"])
def test_save_dir_refuses_anything_but_a_plain_path(value: str) -> None:
    with pytest.raises(InvalidInput):
        save_dir(value)


def test_file_names() -> None:
    assert file_name("web1.prod") == "web1.prod"
    assert file_name("../etc/passwd") == "_etc_passwd"


def test_kind_of() -> None:
    conn = RecordingConnection()
    assert kind_of(Target(host("a"), conn, RunContext.new())) == "systemd"
    assert kind_of(Target(host("a", compose_project="remlab", ansible_connection="local"), conn,
                          RunContext.new())) == "compose"
    assert kind_of(Target(host("a", ansible_connection="kubernetes"), conn,
                          RunContext.new())) == "kubernetes"
