"""The CLI's edges, without a lab: bad input and bad inventories stop before any host."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def invoke(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REMEDIATIONS_STATE_DIR": str(tmp / "state")}
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def unreachable_inventory(tmp_path: Path) -> Path:
    # Port 9 on loopback: nothing listens, so any attempt to connect would show as unreachable.
    inv = tmp_path / "inv.ini"
    inv.write_text("[web]\nweb1 ansible_host=127.0.0.1 ansible_port=9\n")
    return inv


@pytest.mark.parametrize("service", ["nginx; rm -rf /", "a b", "$(id)", "-x"])
def test_bad_service_is_rejected_before_the_inventory_is_even_read(tmp_path: Path,
                                                                     service: str) -> None:
    res = invoke(tmp_path, "restart", "--service", service, "-i", str(tmp_path / "missing.yml"))
    assert res.returncode == 1
    assert ("not a valid systemd unit name" in res.stderr
            or "--service may not start with '-'" in res.stderr)
    assert not (tmp_path / "state" / "audit.jsonl").exists()


def test_malformed_inventory_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("all:\n  children:\n    web:\n      hosts:\n        web1: {ansible_port: [\n")
    res = invoke(tmp_path, "restart", "--service", "nginx", "-i", str(bad), "--json")
    assert res.returncode == 1
    err = json.loads(res.stdout.splitlines()[-1])
    assert err["event"] == "error" and f"{bad}:" in err["message"]


def test_unreachable_host_exit_code_and_json(tmp_path: Path, unreachable_inventory: Path) -> None:
    started = time.monotonic()
    res = invoke(tmp_path, "restart", "--service", "nginx", "-i", str(unreachable_inventory),
                 "--json", "--timeout", "10")
    assert time.monotonic() - started < 30
    events = [json.loads(line) for line in res.stdout.splitlines()]
    (result,) = events[-1]["report"]["results"]
    assert result["status"] == "unreachable" and "127.0.0.1:9" in result["message"]
    assert res.returncode == 4


def test_limit_that_matches_nothing_is_an_error(tmp_path: Path, unreachable_inventory: Path) -> None:
    res = invoke(tmp_path, "restart", "--service", "nginx", "-i", str(unreachable_inventory),
                 "-l", "db")
    assert res.returncode == 1 and "db" in res.stderr


def test_missing_inventory_is_a_clear_error(tmp_path: Path) -> None:
    env_less = invoke(tmp_path, "restart", "--service", "nginx")
    if "REMEDIATIONS_INVENTORY" not in os.environ:
        assert env_less.returncode == 1 and "no inventory" in env_less.stderr
