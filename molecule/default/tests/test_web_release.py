"""After converge: every web host serves release v1.2.2, its services running.

Run by `molecule verify` (testinfra over ssh, with molecule's inventory of the instances).
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import pytest

testinfra_hosts = ["web1", "web2"]


def test_current_points_at_the_release_rolled_back_to(host):
    current = host.file("/srv/app/current")
    assert current.is_symlink
    assert current.linked_to == "/srv/app/releases/v1.2.2"


@pytest.mark.parametrize("unit", ["nginx", "php8.2-fpm"])
def test_the_web_services_are_running(host, unit):
    service = host.service(unit)
    assert service.is_running
    assert service.is_enabled


def test_nginx_was_restarted_by_the_run(host):
    """Once, by the converge pass: the idempotence pass with the same run id left it alone."""
    ephemeral = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
    run_id = (ephemeral / "run-id").read_text().strip()
    record = json.loads((ephemeral / "state" / "runs" / f"{run_id}.json").read_text())
    run_started = datetime.fromisoformat(record["started_at"]).timestamp()
    entered = host.check_output("systemctl show -p ActiveEnterTimestamp --timestamp=unix nginx")
    assert float(entered.split("=@", 1)[1]) >= run_started - 1


def test_up_answers_the_release(host):
    answer = json.loads(host.check_output("curl -fsS --max-time 5 http://127.0.0.1/up"))
    assert answer == {"status": "ok", "version": "1.2.2"}
