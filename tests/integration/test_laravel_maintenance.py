"""Maintenance mode on the lab: 503 with the message, the bypass secret, 200 after; secret masked."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import LAB_HOSTS, LAB_INVENTORY, infra_host

pytestmark = pytest.mark.lab
INV = str(LAB_INVENTORY)
APP = "/srv/app/current"
DOWN = "/srv/app/shared/storage/framework/down"
MESSAGE = "Back at 14:00 (it's the database)"


def curl(url: str, *extra: str) -> tuple[int, str]:
    proc = subprocess.run(["curl", "-sS", "--max-time", "10", "-w", "\n%{http_code}", *extra, url],
                          capture_output=True, text=True, check=True)
    body, _, code = proc.stdout.rpartition("\n")
    return int(code), body


@pytest.fixture
def app_up(lab: Any) -> Iterator[dict[str, Any]]:
    hosts = {name: infra_host(name) for name in ("web1", "web2")}
    yield hosts
    for host in hosts.values():
        host.run(f"cd {APP} && runuser -u www-data -- php artisan up")


@pytest.mark.parametrize("connection", ["ssh", "docker"])
def test_maintenance_on_with_message_and_secret_then_off(cli: Any, app_up: dict[str, Any],
                                                         tmp_path: Path, connection: str) -> None:
    secret = f"bypass-{uuid.uuid4().hex[:12]}"
    audit = tmp_path / "audit.jsonl"
    rid = f"test-{uuid.uuid4().hex[:8]}"
    common = ["-i", INV, "-l", "web", "--json", "--connection", connection, "--audit-log", str(audit),
              "--run-id", rid]
    on = ["maintenance-on", "--message", MESSAGE, "--secret", secret, "--retry", "30", *common]
    outputs: list[str] = []

    checked = cli(*on, "--check")
    outputs.append(checked.stdout + checked.stderr)
    assert checked.code == 0, checked.stderr
    for r in checked.by_host().values():
        assert r["status"] == "changed" and r["message"] == "would put the app in maintenance mode"
        assert r["commands"] == [
            "runuser -u www-data -- env 'MAINTENANCE_MESSAGE=Back at 14:00 (it'\"'\"'s the "
            "database)' php /srv/app/current/artisan down --render=errors::503 --retry=30 "
            "--secret=********"]
    for name, host in app_up.items():
        assert not host.file(DOWN).exists
        assert curl(LAB_HOSTS[name].health_url)[0] == 200

    first = cli(*on)
    outputs.append(first.stdout + first.stderr)
    assert first.code == 0, first.stdout
    for name, r in first.by_host().items():
        assert r["status"] == "changed", r["message"]
        assert r["data"]["http_status"] == 503 and r["data"]["bypass_status"] == 200
        assert r["data"]["message_shown"] is True and r["data"]["retry_after"] == "30"
        url = LAB_HOSTS[name].health_url
        code, body = curl(url)
        assert code == 503 and "Back at 14:00 (it&#039;s the database)" in body
        assert app_up[name].file(DOWN).exists
        # the secret path sets the bypass cookie; with it a browser gets through
        jar = tmp_path / f"{name}.cookies"
        assert curl(url.replace("/up", f"/{secret}"), "-c", str(jar))[0] == 302
        assert curl(url, "-b", str(jar))[0] == 200

    again = cli(*on)
    outputs.append(again.stdout + again.stderr)
    assert {r["status"] for r in again.by_host().values()} == {"ok"}
    assert all(r["message"] == "already in maintenance mode" for r in again.by_host().values())

    off = ["maintenance-off", *common]
    down = cli(*off)
    assert {r["status"] for r in down.by_host().values()} == {"changed"}
    for name, host in app_up.items():
        assert not host.file(DOWN).exists
        assert curl(LAB_HOSTS[name].health_url)[0] == 200
    assert {r["status"] for r in cli(*off).by_host().values()} == {"ok"}

    for text in [*outputs, audit.read_text()]:
        assert secret not in text
    assert "--secret=********" in audit.read_text()
    entries = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [e["status"] for e in entries if e["host"] == "web1"] == [
        "changed", "changed", "ok", "changed", "ok"]


def test_maintenance_off_check_mode_leaves_the_app_down(cli: Any, app_up: dict[str, Any]) -> None:
    host = app_up["web1"]
    host.check_output(f"cd {APP} && runuser -u www-data -- php artisan down")
    res = cli("maintenance-off", "-i", INV, "-l", "web1", "--json", "--check")
    r = res.by_host()["web1"]
    assert r["status"] == "changed" and r["commands"] == [
        "runuser -u www-data -- php /srv/app/current/artisan up"]
    assert host.file(DOWN).exists
    assert curl(LAB_HOSTS["web1"].health_url)[0] == 503
