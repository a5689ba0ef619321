"""After converge: the compose project's app services run release v1.2.2, healthy.

Run by `molecule verify` (testinfra over ssh on the Docker host, whose docker CLI drives the
engine the project runs on). The project's name and published URL come from the lab
(lab/stack.py) for the slot molecule.yml sets.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import pytest
import testinfra

import lab.stack as stack

testinfra_hosts = ["dockerhost"]
RELEASE_IMAGE = "remediations-lab/app:v1.2.2"


def _inspect(host, service):
    found = host.docker.get_containers(label=[f"com.docker.compose.project={stack.PROJECT}",
                                              f"com.docker.compose.service={service}"])
    assert len(found) == 1, f"{service}: {found}"
    return found[0].inspect()


def _run_started() -> float:
    ephemeral = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
    run_id = (ephemeral / "run-id").read_text().strip()
    record = json.loads((ephemeral / "state" / "runs" / f"{run_id}.json").read_text())
    return datetime.fromisoformat(record["started_at"]).timestamp()


def _started_at(info) -> float:
    # Docker gives nanoseconds; fromisoformat takes at most microseconds.
    stamp = info["State"]["StartedAt"].rstrip("Z")
    whole, _, fraction = stamp.partition(".")
    return datetime.fromisoformat(f"{whole}.{fraction[:6] or '0'}+00:00").timestamp()


@pytest.mark.parametrize("service", ["backend", "worker"])
def test_the_app_services_run_the_release_healthy(host, service):
    info = _inspect(host, service)
    assert info["Config"]["Image"] == RELEASE_IMAGE
    # recreated by the rollback with Compose v2, which the library picks where both exist
    assert info["Config"]["Labels"]["com.docker.compose.version"].startswith("2."), info
    assert info["State"]["Running"]
    assert info["State"]["Health"]["Status"] == "healthy"


@pytest.mark.parametrize("service", ["redis", "db"])
def test_the_other_services_were_left_running(host, service):
    info = _inspect(host, service)
    assert info["State"]["Health"]["Status"] == "healthy"
    assert _started_at(info) < _run_started()


def test_up_answers_the_release_inside_the_backend(host):
    name = _inspect(host, "backend")["Name"].lstrip("/")
    answer = host.check_output("docker exec %s curl -fsS --max-time 5 http://127.0.0.1/up", name)
    assert json.loads(answer) == {"status": "ok", "version": "1.2.2"}


def test_up_answers_the_release_on_the_published_port():
    controller = testinfra.get_host("local://")
    answer = controller.check_output("curl -fsS --max-time 5 %s", stack.BACKEND_URL)
    assert json.loads(answer) == {"status": "ok", "version": "1.2.2"}
