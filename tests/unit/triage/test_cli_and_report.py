"""`invoke triage` on this machine (a local host, read-only): the table, --json, --save."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from invoke.program import Program

from remediations.cli import build_namespace
from remediations.core.result import Result, Status
from remediations.run.report import Report
from remediations.run.reporters import TextReporter
from remediations.run.triage_table import footer, is_triage, rows


def invoke(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            Program(namespace=build_namespace(), binary="invoke").run(["invoke", *argv])
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("REMEDIATIONS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("REMEDIATIONS_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    inv = tmp_path / "inv.yml"
    # Thresholds no machine reaches, so the run is the same on every machine.
    inv.write_text("all:\n  hosts:\n    here:\n      ansible_connection: local\n"
                   "      api_token: tok-0123456789\n"
                   "      triage_thresholds: {disk_critical: 100, disk_warning: 100, "
                   "inodes_critical: 100, inodes_warning: 100, load_per_core: 1000000, "
                   "memory_available_percent: 0, log_errors: 1000000000, failed_jobs: 1000000}\n")
    return inv


def test_json_carries_the_whole_snapshot_and_save_writes_it(local: Path, tmp_path: Path) -> None:
    code, out, _ = invoke("triage", "-i", str(local), "--json", "--save", str(tmp_path / "ev"))
    events = [json.loads(line) for line in out.splitlines()]
    (result,) = events[-1]["report"]["results"]
    data = result["data"]
    assert code == (0 if result["status"] == "ok" else 2), result["message"]
    assert data["kind"] == "systemd" and data["complete"] and data["memory"]["total_kb"] > 0
    assert set(data) >= {"units", "load", "memory", "top_memory", "top_cpu", "disk", "inodes",
                         "listening", "redis", "logs", "findings", "thresholds", "saved_to"}
    folder = Path(data["saved_to"])
    assert folder == tmp_path / "ev" / events[-1]["report"]["run_id"]
    assert json.loads((folder / "here.json").read_text())["host"] == "here"
    assert (folder / "summary.txt").read_text().startswith("here: ")
    assert "tok-0123456789" not in out + (folder / "here.json").read_text()


def test_people_get_the_table_and_where_it_was_saved(local: Path, tmp_path: Path) -> None:
    code, out, _ = invoke("triage", "-i", str(local), "--save", str(tmp_path / "ev"))
    assert code in (0, 2)
    lines = out.splitlines()
    assert lines[0].startswith("triage · run ")
    assert lines[1].split() == ["host", "severity", "what", "detail"]
    assert any(line.startswith("here ") for line in lines[2:])
    assert any(line.startswith("snapshots saved to " + str(tmp_path / "ev")) for line in lines)


@pytest.mark.parametrize("argv", [["--save", "a b"], ["--save", "../x"], ["--save", "$(id)"],
                                  ["--lines", "0"], ["--lines", "1001"]])
def test_bad_options_are_one_line(local: Path, tmp_path: Path, argv: list[str]) -> None:
    code, out, err = invoke("triage", "-i", str(local), *argv)
    assert code == 1 and out == "" and err.startswith("error: --")
    assert not (tmp_path / "state").exists()


def _result(host: str, status: Status, findings: list[dict[str, str]]) -> Result:
    return Result(host, "triage", status, "m", data={"kind": "systemd", "findings": findings,
                                                     "units": [], "disk": []})


def test_the_table_puts_what_looks_wrong_first() -> None:
    crit = {"severity": "critical", "what": "unit nginx.service", "detail": "inactive (dead)"}
    warn = {"severity": "warning", "what": "disk /", "detail": "85% used"}
    report = Report("r1", "triage", datetime.now(UTC), (
        _result("a-ok", Status.OK, []), _result("b-warn", Status.OK, [warn]),
        _result("c-crit", Status.FAILED, [crit, warn]),
        Result("d-down", "triage", Status.UNREACHABLE, "ssh: connection refused")))
    assert is_triage(report)
    assert [r[:3] for r in rows(report)] == [
        ("d-down", "unreachable", "triage"), ("c-crit", "critical", "unit nginx.service"),
        ("c-crit", "warning", "disk /"), ("b-warn", "warning", "disk /"),
        ("a-ok", "ok", "all is well")]
    assert footer(report) == "1 host(s) critical, 1 with warnings, 1 all is well, 1 not read"
    out = io.StringIO()
    TextReporter(out=out, err=io.StringIO()).summary(report)
    assert "c-crit  critical     unit nginx.service" in out.getvalue()
    assert out.getvalue().splitlines()[-1].endswith("(exit 2)")


def test_other_runs_keep_their_table() -> None:
    report = Report("r1", "status", datetime.now(UTC), (Result("a", "services_status", Status.OK,
                                                                "all active"),))
    assert not is_triage(report)
