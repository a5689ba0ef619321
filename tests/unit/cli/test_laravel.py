"""The Laravel tasks: listed with help, and bad input refused before the inventory is read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
TASKS = ("clear-caches", "rebuild-caches", "reset-opcache", "maintenance-on", "maintenance-off",
         "storage-link", "fix-storage-permissions", "pause-scheduler", "resume-scheduler",
         "clear-schedule-cache", "php-settings", "reload-octane")


def invoke(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REMEDIATIONS_STATE_DIR": str(tmp / "state")}
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_every_task_is_listed(tmp_path: Path) -> None:
    listed = invoke(tmp_path, "--list").stdout
    for task in TASKS:
        assert task in listed
    helped = invoke(tmp_path, "maintenance-on", "--help").stdout
    assert "--secret" in helped and "--message" in helped and "--check" in helped


@pytest.mark.parametrize("args,error", [
    (("clear-caches", "--kinds", "config,sessions"), "cache kinds must be among"),
    (("rebuild-caches", "--kinds", "cache"), "cache kinds must be among"),
    (("maintenance-on", "--secret", "a b;c"), "bypass secret"),
    (("maintenance-on", "--message", "x" * 600), "maintenance message"),
    (("maintenance-on", "--retry", "0"), "--retry"),
    (("reset-opcache", "--service", "php-fpm; reboot"), "not a valid systemd unit name"),
    (("pause-scheduler", "--unit", "$(id)"), "not a valid systemd unit name"),
    (("fix-storage-permissions", "--group", "www data"), "not a valid group name"),
    (("php-settings", "--names", "memory_limit;id"), "not valid php.ini setting names"),
    (("php-settings", "--at-least", "memory_limit"), "name=value"),
])
def test_bad_input_exits_1_before_the_inventory_is_read(tmp_path: Path, args: tuple[str, ...],
                                                        error: str) -> None:
    res = invoke(tmp_path, *args, "-i", str(tmp_path / "missing.yml"))
    assert res.returncode == 1, res.stdout + res.stderr
    assert error in res.stderr
    assert "missing.yml" not in res.stderr
