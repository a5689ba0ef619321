"""The Kubernetes tasks as a user types them: `invoke TASK -i INVENTORY --json`, in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_kubernetes import ROOT, Lab, img

pytestmark = pytest.mark.kube

# Until `build_namespace` registers these tasks, the same Program runs with them added.
_SHIM = """
import sys
from invoke import Program
from remediations.cli import kubernetes
from remediations.cli.tasks import build_namespace
ns = build_namespace()
if "scale" not in ns.task_names:
    kubernetes.register(ns)
Program(namespace=ns, binary="invoke").run(["invoke", *sys.argv[1:]])
"""


@cache
def wired() -> bool:
    """Whether `invoke --list` (tasks.py) already carries the Kubernetes tasks."""
    out = subprocess.run([sys.executable, "-m", "invoke", "--list"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60, check=False).stdout
    return "rollout-undo" in out


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    def result(self) -> dict[str, Any]:
        events = [json.loads(line) for line in self.stdout.splitlines() if line.strip()]
        final = [e for e in events if e["event"] == "run_finished"]
        assert final, f"no report: stdout={self.stdout!r} stderr={self.stderr!r}"
        (result,) = final[-1]["report"]["results"]
        return result  # type: ignore[no-any-return]


@pytest.fixture
def cli(lab: Lab, tmp_path: Path) -> Any:
    env = {**os.environ, "REMEDIATIONS_STATE_DIR": str(tmp_path / "state"),
           "REMEDIATIONS_AUDIT_LOG": str(tmp_path / "audit.jsonl")}

    def invoke(task: str, *args: str, host: str = "web") -> Run:
        prefix = ["-m", "invoke"] if wired() else ["-c", _SHIM]
        argv = [sys.executable, *prefix, task, *args, "-i", str(lab.inventory_path), "-l", host,
                "--json"]
        proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=300, check=False)
        return Run(proc.returncode, proc.stdout, proc.stderr)

    return invoke


@pytest.fixture
def lab(kube_api: Any, tmp_path: Path) -> Lab:
    kube_api.reset()
    return Lab(kube_api, tmp_path)


def changed_then_ok(cli: Any, lab: Lab, task: str, *args: str) -> dict[str, Any]:
    rv = lab.rv()
    check = cli(task, *args, "--check")
    assert check.code == 0 and check.result()["status"] == "changed", check
    assert lab.rv() == rv                                   # check mode changed nothing
    first = cli(task, *args, "--run-id", f"cli-{task}")
    assert first.code == 0 and first.result()["status"] == "changed", first
    second = cli(task, *args, "--run-id", f"cli-{task}")
    assert second.code == 0 and second.result()["status"] == "ok", second
    return dict(first.result())


def test_scale(cli: Any, lab: Lab) -> None:
    lab.create()
    res = changed_then_ok(cli, lab, "scale", "--replicas", "5")
    assert res["data"]["ready"] == 5 and lab.read()["status"]["readyReplicas"] == 5


def test_set_image_and_restart(cli: Any, lab: Lab) -> None:
    lab.create()
    changed_then_ok(cli, lab, "set-image", "--image", img("v1.2.3"), "--container", "app")
    assert lab.image() == img("v1.2.3")
    changed_then_ok(cli, lab, "rollout-restart")


def test_rollout_undo_to_a_release_and_status(cli: Any, lab: Lab) -> None:
    lab.create()
    for tag in ("v1.2.3", "v1.2.4"):
        assert cli("set-image", "--image", img(tag)).code == 0
    res = changed_then_ok(cli, lab, "rollout-undo", "--release", "v1.2.2")
    assert (res["data"]["from_image"], res["data"]["to_image"]) == (img("v1.2.4"), img("v1.2.2"))
    assert lab.kubectl_history() == {2: img("v1.2.3"), 3: img("v1.2.4"), 4: img("v1.2.2")}
    status = cli("rollout-status", "--wait", "30")
    assert status.code == 0 and status.result()["status"] == "ok", status


def test_bad_input_exits_before_reading_the_inventory(cli: Any, lab: Lab) -> None:
    for args in (["scale"], ["set-image", "--image", "a b"],
                 ["rollout-undo", "--release", "v1;ls"],
                 ["rollout-undo", "--release", "v1", "--to-revision", "2"]):
        res = cli(*args)
        assert res.code == 1 and "run_finished" not in res.stdout, (args, res)
