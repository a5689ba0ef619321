"""`invoke smoke`: the sample smoke tests (tests/smoke) against the lab, reported per host."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import LAB_HOSTS, LAB_INVENTORY, infra_host, wait_for

pytestmark = pytest.mark.lab

SAMPLE_TESTS = ("test_nginx_and_php_fpm_are_running", "test_up_is_healthy",
                "test_current_release_is_linked", "test_nginx_needs_no_remediation",
                "test_health_as_the_runner_sees_it")


def healthy(name: str) -> bool:
    try:
        with urllib.request.urlopen(LAB_HOSTS[name].health_url, timeout=5) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


@pytest.fixture
def php_fpm_stopped_on_web2(lab: Any) -> Iterator[None]:
    web2 = infra_host("web2")
    web2.run("systemctl stop php8.2-fpm")
    assert not web2.service("php8.2-fpm").is_running
    try:
        yield
    finally:
        web2.run("systemctl start php8.2-fpm")
        wait_for("php-fpm back on web2", lambda: healthy("web2"))


def test_smoke_passes_on_every_lab_host_with_a_row_per_host(cli: Any) -> None:
    run = cli("smoke", "-i", str(LAB_INVENTORY), "-l", "web")
    assert run.code == 0, run.stdout + run.stderr
    rows = [line for line in run.stdout.splitlines() if "web" in line]
    for name in ("web1", "web2"):
        row = next(line for line in rows if f" {name} " in line)
        assert "passed" in row and f"{len(SAMPLE_TESTS)} " in row, row
    assert "2 host(s): all passed" in run.stdout
    assert "10 passed" in run.stderr  # pytest's own summary goes to stderr

    machine = cli("smoke", "-i", str(LAB_INVENTORY), "-l", "web2", "--json")
    assert machine.code == 0, machine.stderr
    (report,) = machine.events()
    assert report["event"] == "smoke_finished" and report["ok"] and report["exit_code"] == 0
    assert [h["host"] for h in report["hosts"]] == ["web2"]
    web2 = report["hosts"][0]
    assert (web2["passed"], web2["failed"]) == (len(SAMPLE_TESTS), 0)
    assert sorted(t["test"] for t in web2["tests"]) == sorted(SAMPLE_TESTS)


@pytest.mark.usefixtures("php_fpm_stopped_on_web2")
def test_php_fpm_down_on_web2_fails_web2_naming_the_test_while_web1_passes(cli: Any) -> None:
    run = cli("smoke", "-i", str(LAB_INVENTORY), "-l", "web")
    assert run.code == 2, run.stdout + run.stderr
    web1 = next(line for line in run.stdout.splitlines() if " web1 " in line)
    web2 = next(line for line in run.stdout.splitlines() if " web2 " in line)
    assert "passed" in web1 and "failed" not in web1
    assert "failed" in web2
    assert "test_nginx_and_php_fpm_are_running: php8.2-fpm is not running" in web2
    assert "failed on web2" in run.stdout

    machine = cli("smoke", "-i", str(LAB_INVENTORY), "-l", "web", "--json")
    assert machine.code == 2
    (report,) = machine.events()
    assert report["failed_hosts"] == ["web2"]
    hosts = {h["host"]: h for h in report["hosts"]}
    assert hosts["web1"]["ok"] and hosts["web1"]["failed"] == 0
    failed = {t["test"]: t["reason"] for t in hosts["web2"]["tests"] if t["outcome"] == "failed"}
    assert failed["test_nginx_and_php_fpm_are_running"] == "php8.2-fpm is not running"
    assert "HTTP 502" in failed["test_up_is_healthy"]
    assert "HTTP 502" in failed["test_health_as_the_runner_sees_it"]
    assert "test_current_release_is_linked" not in failed


def test_bad_input_exits_1_with_one_line(cli: Any, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("all:\n  hosts:\n    web1: {ansible_port: 2201\n")
    run = cli("smoke", "-i", str(broken))
    assert run.code == 1
    assert run.stdout == ""
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith("error:") and "broken.yml:" in line and "invalid YAML" in line

    unknown = cli("smoke", "-i", str(LAB_INVENTORY), "-l", "web9", "--json")
    assert unknown.code == 1
    (event,) = unknown.events()
    assert event["event"] == "error" and "web9" in event["message"]

    nowhere = cli("smoke", "-i", str(LAB_INVENTORY), "--path", str(tmp_path / "none"))
    assert nowhere.code == 1
    assert "no smoke tests at" in nowhere.stderr

    empty = tmp_path / "empty"
    empty.mkdir()
    none = cli("smoke", "-i", str(LAB_INVENTORY), "--path", str(empty))
    assert none.code == 1
    assert "no tests collected" in none.stderr.strip().splitlines()[-1]


def test_check_mode_runs_the_smoke_tests_without_touching_a_host(cli: Any) -> None:
    before = infra_host("web1").check_output("systemctl show -p MainPID --value nginx")
    run = cli("smoke", "-i", str(LAB_INVENTORY), "-l", "web1", "--check", "--json")
    assert run.code == 0, run.stderr
    (report,) = run.events()
    assert report["check"] and report["hosts"][0]["passed"] == len(SAMPLE_TESTS)
    assert infra_host("web1").check_output("systemctl show -p MainPID --value nginx") == before
