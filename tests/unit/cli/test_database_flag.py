"""--allow-database-restart on the compose, restart-if-memory and Kubernetes tasks: refused
without it (exit 1, one line naming the service and the flag), --yes with it, before any host
is touched."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.unit.cli.test_complete import in_process

INVENTORY = """\
all:
  children:
    docker_hosts:
      vars: {compose_project_dir: /srv/app, compose_project: shop, db_service: primary}
      hosts:
        dock1: {ansible_connection: local}
    plain_docker:
      vars: {compose_project_dir: /srv/app, compose_project: shop}
      hosts:
        dock2: {ansible_connection: local}
    k8s:
      vars: {ansible_connection: kubernetes, kubeconfig: /nonexistent/kubeconfig}
      hosts:
        web: {deployment: web}
        pg: {deployment: orders, database: true}
        ledger: {db_deployment: ledger}
"""


@pytest.fixture
def inventory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("REMEDIATIONS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("REMEDIATIONS_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    monkeypatch.delenv("REMEDIATIONS_DEBUG", raising=False)
    path = tmp_path / "inv.yml"
    path.write_text(INVENTORY)
    return str(path)


def kwargs(fn: Any) -> dict[str, Any]:
    assert isinstance(fn, functools.partial)
    return dict(fn.keywords)


@pytest.mark.parametrize("argv,limit,says", [
    (["compose-restart", "--service", "db"], "dock2",
     "error: refusing to restart compose service db (a database: named db)"),
    (["compose-restart", "--service", "primary"], "dock1",
     "error: refusing to restart compose service primary (a database: the inventory's db_service)"),
    (["compose-stop", "--services", "worker,mysql"], "dock2",
     "error: refusing to stop compose service mysql (a database: named mysql)"),
    (["compose-restart-stack"], "dock1",
     "error: refusing to restart the compose project, whose `down` stops primary"),
    (["restart-if-memory", "--container", "db", "--max-mb", "1"], "dock2",
     "error: refusing to restart container db (a database: named db)"),
    (["restart-if-memory", "--container", "primary", "--max-percent", "90"], "dock1",
     "error: refusing to restart container primary (a database: the inventory's db_service)"),
    (["rollout-restart"], "k8s",
     "error: refusing to restart deployment orders (a database: the inventory's database: true)"),
    (["scale", "--replicas", "0", "--yes"], "ledger",
     "error: refusing to scale deployment ledger to 0 replicas (a database: the inventory's "
     "db_deployment)"),
])
def test_a_database_without_the_flag_is_one_line_and_exit_1(
        argv: list[str], limit: str, says: str, inventory: str, runs: list[Any],
        capsys: pytest.CaptureFixture[str]) -> None:
    for extra in ([], ["--check"]):
        assert in_process(*argv, *extra, "-i", inventory, "-l", limit) == 1
        (line,) = capsys.readouterr().err.splitlines()
        assert line.startswith(says) and "pass allow_database_restart=True " \
            "(--allow-database-restart) to do it" in line, line
    assert runs == []


@pytest.mark.parametrize("argv,limit,says", [
    (["compose-restart", "--service", "db"], "dock2", "restarting db drops every database"),
    (["compose-stop", "--services", "primary"], "dock1", "stopping primary drops every database"),
    (["compose-restart-stack"], "dock1", "restarting primary drops every database"),
    (["compose-restart", "--service", "store"], "dock2",
     "--allow-database-restart lets compose-restart take a database down"),  # its image may tell
    (["restart-if-memory", "--container", "db", "--max-mb", "1"], "dock2",
     "restarting db drops every database connection"),
    (["restart-if-memory", "--container", "remlab_db_1", "--max-mb", "1"], "dock1",
     "--allow-database-restart lets restart-if-memory take a database down"),
    (["rollout-restart"], "pg", "restarting orders drops every database connection"),
    (["rollout-restart"], "web", "--allow-database-restart lets rollout-restart restart a database"),
])
def test_the_flag_needs_yes_or_check(argv: list[str], limit: str, says: str, inventory: str,
                                     runs: list[Callable[..., Any]],
                                     capsys: pytest.CaptureFixture[str]) -> None:
    base = [*argv, "--allow-database-restart", "-i", inventory, "-l", limit]
    assert in_process(*base) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: {says}") and "re-run with --yes, or --check to " in line, line
    assert runs == []
    assert in_process(*base, "--yes") == 0 and in_process(*base, "--check") == 0
    assert [kwargs(fn)["allow_database_restart"] for fn in runs] == [True, True]


@pytest.mark.parametrize("argv,limit", [
    (["compose-restart", "--service", "backend"], "dock1"),
    (["compose-stop", "--services", "worker"], "dock1"),
    (["compose-restart-stack"], "dock2"),       # no db_service: the run looks at the services
    (["restart-if-memory", "--container", "backend", "--max-mb", "512"], "dock1"),
    (["rollout-restart"], "web"),
    (["scale", "--replicas", "0", "--yes"], "web"),
    (["scale", "--replicas", "2"], "k8s"),      # only to 0 needs the flag
])
def test_the_rest_needs_neither(argv: list[str], limit: str, inventory: str,
                                runs: list[Callable[..., Any]],
                                capsys: pytest.CaptureFixture[str]) -> None:
    assert in_process(*argv, "-i", inventory, "-l", limit) == 0, capsys.readouterr().err
    (fn,) = runs
    assert kwargs(fn)["allow_database_restart"] is False
