"""A database Deployment (a postgres image) is not rollout-restarted or scaled to 0 without
--allow-database-restart: through the runner and the CLI, against the `kube_api` fixture."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from remediations.core.result import Status
from remediations.kubernetes.deployments import (
    RESTARTED_AT,
    deployment_restarted,
    deployment_scaled,
)
from remediations.kubernetes.rollout import wait_for_rollout
from tests.integration.test_kubernetes import ROOT, Lab, manifest

pytestmark = pytest.mark.kube
POSTGRES = "postgres:16"
FLAG = "pass allow_database_restart=True (--allow-database-restart) to do it"


@pytest.fixture
def lab(kube_api: Any, tmp_path: Path) -> Lab:
    kube_api.reset()
    lab = Lab(kube_api, tmp_path)
    dep = manifest("web", replicas=2, namespace=lab.namespace)
    dep["spec"]["template"]["spec"]["containers"][0]["image"] = POSTGRES
    kube_api.apply(dep)
    assert wait_for_rollout(lab.cluster(), timeout=60).ok
    return lab


def invoke(lab: Lab, tmp_path: Path, task: str, *args: str,
           inventory: Path | None = None) -> tuple[int, list[dict[str, Any]]]:
    env = {**os.environ, "REMEDIATIONS_STATE_DIR": str(tmp_path / "state"),
           "REMEDIATIONS_AUDIT_LOG": str(tmp_path / "audit.jsonl")}
    proc = subprocess.run([sys.executable, "-m", "invoke", task, *args, "-i",
                           str(inventory or lab.inventory_path), "-l", "web", "--json"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    return proc.returncode, [json.loads(x) for x in proc.stdout.splitlines() if x.strip()]


def untouched(lab: Lab, spec: dict[str, Any]) -> None:
    """The spec as it was (the runner's lock annotation comes and goes: not the spec)."""
    dep = lab.read()
    assert dep["spec"] == spec
    assert RESTARTED_AT not in (dep["spec"]["template"]["metadata"].get("annotations") or {})
    assert dep["spec"]["replicas"] == 2


def test_a_postgres_deployment_is_refused_without_the_flag(lab: Lab) -> None:
    spec = lab.read()["spec"]
    for fn, kwargs, says in ((deployment_restarted, {}, "refusing to restart deployment web"),
                             (deployment_scaled, {"replicas": 0},
                              "refusing to scale deployment web to 0 replicas")):
        for check in (False, True):
            res = lab.run(fn, check=check, **kwargs)
            assert res.status is Status.FAILED, res.to_dict()
            assert res.message.startswith(f"{says} (a database: image {POSTGRES})"), res.message
            assert FLAG in res.message and res.commands == ()
    untouched(lab, spec)
    # Other replica counts need no flag (check mode: the server-side dry run only).
    assert lab.run(deployment_scaled, check=True, replicas=1).status is Status.CHANGED
    untouched(lab, spec)


def test_the_cli_refuses_then_restarts_with_the_flag_and_yes(lab: Lab, tmp_path: Path) -> None:
    spec = lab.read()["spec"]
    code, events = invoke(lab, tmp_path, "rollout-restart")
    (result,) = events[-1]["report"]["results"]
    assert code == 2 and result["status"] == "failed" and FLAG in result["message"], result
    code, events = invoke(lab, tmp_path, "rollout-restart", "--allow-database-restart")
    assert code == 1 and "re-run with --yes" in events[0]["message"], events
    untouched(lab, spec)
    # Named a database by the inventory: refused before the API server is asked anything.
    data = yaml.safe_load(lab.inventory_path.read_text())
    data["all"]["children"]["k8s"]["hosts"]["web"]["database"] = True
    marked = tmp_path / "marked.yml"
    marked.write_text(yaml.safe_dump(data))
    code, events = invoke(lab, tmp_path, "rollout-restart", inventory=marked)
    assert code == 1 and events[0]["message"].startswith(
        "refusing to restart deployment web (a database: the inventory's database: true)"), events
    untouched(lab, spec)

    code, events = invoke(lab, tmp_path, "rollout-restart", "--allow-database-restart", "--yes",
                          "--run-id", "db-restart")
    (result,) = events[-1]["report"]["results"]
    assert code == 0 and result["status"] == "changed", result
    assert RESTARTED_AT in lab.read()["spec"]["template"]["metadata"]["annotations"]
