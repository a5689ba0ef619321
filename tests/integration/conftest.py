"""The lab, started once per session, and helpers to drive the CLI as a user does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import lab.manage as _lab

ROOT = Path(__file__).resolve().parents[2]
# REMEDIATIONS_LAB_SLOT picks an independent copy of the lab (see lab/manage.py).
LAB_INVENTORY = _lab.INVENTORY
# The web hosts (web1, web2): what most tests iterate. db1 is kept apart so they stay so.
WEB_HOSTS = {h.name: h.container for h in _lab.HOSTS}
LAB_HOSTS = {h.name: h for h in _lab.HOSTS}
# The database host (db1: PostgreSQL 15 + PgBouncer, MariaDB, and the web stack too).
DB_HOSTS = {h.name: h.container for h in _lab.DB_HOSTS}
# The Forge-style host (apache1: Apache + mod_php, no php-fpm; cron; Horizon; git work tree).
APACHE_HOSTS = {h.name: h.container for h in _lab.APACHE_HOSTS}
ALL_LAB_HOSTS = {h.name: h for h in _lab.ALL_HOSTS}


def inventory_text() -> str:
    """The lab inventory with its key path made absolute, for tests that copy it elsewhere."""
    return LAB_INVENTORY.read_text().replace("../.lab/", f"{ROOT / '.lab'}/")


@pytest.fixture(scope="session")
def lab() -> Any:
    """Bring the lab up (installing Docker and building images when missing)."""
    return _lab.up(lambda line: print(line, file=sys.stderr))


@pytest.fixture(scope="session")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("state")


@dataclass
class CliRun:
    code: int
    stdout: str
    stderr: str

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    def report(self) -> dict[str, Any]:
        finals = [e for e in self.events() if e["event"] == "run_finished"]
        assert finals, f"no final report; stdout={self.stdout!r} stderr={self.stderr!r}"
        return finals[-1]["report"]  # type: ignore[no-any-return]

    def by_host(self) -> dict[str, dict[str, Any]]:
        return {r["host"]: r for r in self.report()["results"]}


@pytest.fixture
def cli(state_dir: Path, lab: Any) -> Any:
    """Run `invoke TASK ...` from the repository root, as a user types it."""
    def invoke(*args: str, timeout: float = 300, program: str = "invoke") -> CliRun:
        env = {**os.environ, "REMEDIATIONS_STATE_DIR": str(state_dir)}
        cmd = [sys.executable, "-m", "invoke", *args] if program == "invoke" else [program, *args]
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)
        return CliRun(proc.returncode, proc.stdout, proc.stderr)
    return invoke


def wait_for(what: str, check: Any, timeout: float = 60) -> None:
    """Poll `check()` every half second until true; fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def infra_host(name: str) -> Any:
    import testinfra

    return testinfra.get_host(f"docker://{ALL_LAB_HOSTS[name].container}")


def main_pid(name: str, unit: str) -> int:
    return int(infra_host(name).check_output(f"systemctl show -p MainPID --value {unit}"))


@pytest.fixture
def web_hosts(lab: Any) -> Iterator[dict[str, Any]]:
    yield {name: infra_host(name) for name in WEB_HOSTS}


@pytest.fixture
def apache_hosts(lab: Any) -> dict[str, Any]:
    return {name: infra_host(name) for name in APACHE_HOSTS}


@pytest.fixture
def apache(lab: Any) -> Any:
    """apache1 as a testinfra host (the lab brought up first)."""
    return infra_host("apache1")
