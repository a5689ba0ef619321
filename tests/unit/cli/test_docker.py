"""The Docker tasks' edges, without an engine: bad input stops before any inventory or host."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

# The Docker tasks as `invoke` shows them once `register(ns)` is wired into the package's
# collection; until then this runs the same Program with them added.
SHIM = ("import sys; from invoke.program import Program; "
        "from remediations.cli.tasks import build_namespace; from remediations.cli import docker; "
        "ns = build_namespace(); 'compose-restart' in ns.task_names or docker.register(ns); "
        "Program(namespace=ns, name='invoke', binary='invoke').run(['invoke', *sys.argv[1:]])")


def wired() -> bool:
    from remediations.cli import ns

    return "compose-restart" in ns.task_names


def invoke_argv(*args: str) -> list[str]:
    """argv running `invoke ARGS` with the Docker tasks available."""
    if wired():
        return [sys.executable, "-m", "invoke", *args]
    return [sys.executable, "-c", SHIM, *args]


def run(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REMEDIATIONS_STATE_DIR": str(tmp / "state")}
    return subprocess.run(invoke_argv(*args), cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.mark.parametrize("args,message", [
    (["compose-restart"], "--service is required"),
    (["compose-restart", "--service", "back end"], "not a valid compose service name"),
    (["compose-stop", "--services", "a,$(id)"], "not a valid compose service name"),
    (["compose-tag", "--service", "backend", "--tag", "v1;reboot"], "not a valid release tag"),
    (["compose-tag", "--service", "backend", "--tag", "v1", "--tag-var", "A-B"],
     "not a valid environment variable name"),
    (["restart-if-memory", "--container", "backend"], "one of --max-mb and --max-percent"),
    (["restart-if-memory", "--container", "x y", "--max-mb", "5"], "not a valid container name"),
    (["docker-prune", "--until", "last week"], "not a valid until"),
    (["docker-prune", "--label", "a b"], "not a valid label filter"),
    (["docker-prune", "--label", "k=v", "--build-cache"], "carry no labels"),
    (["clear-container-logs", "--container", "c", "--keep-lines", "-1"],
     "--keep-lines must be from 0 to 1e+08, got -1"),
    (["save-compose-logs", "--dest-dir", "tmp"], "must be an absolute path"),
])
def test_bad_input_is_rejected_before_the_inventory_is_read(tmp_path: Path, args: list[str],
                                                            message: str) -> None:
    res = run(tmp_path, *args, "-i", str(tmp_path / "missing.yml"))
    assert res.returncode == 1, res.stderr
    assert message in res.stderr
    assert not (tmp_path / "state" / "audit.jsonl").exists()


def test_every_docker_task_has_help(tmp_path: Path) -> None:
    for name in ("compose-restart", "compose-restart-stack", "compose-stop", "compose-start",
                 "compose-tag", "restart-if-memory", "container-stats", "docker-prune",
                 "clear-container-logs", "save-compose-logs", "compose-ps"):
        res = run(tmp_path, name, "--help")
        assert res.returncode == 0, res.stderr
        assert "--inventory" in res.stdout and "-c, --check" in res.stdout
