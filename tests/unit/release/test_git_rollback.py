"""The rollback over a fleet with git hosts: a work tree that refuses stops everything first."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from remediations.core.errors import InvalidInput
from remediations.release.kinds import ReleaseState, import_clients
from remediations.release.rollback import ReleaseMissing, ReleaseRefused
from remediations.run.target import Target
from tests.unit.helpers import inventory
from tests.unit.release.test_rollback import world  # noqa: F401  (fixture)

DIRTY = "/var/www/app has local changes to tracked files ( M config/app.php)"


def blocking(fleet: Any, hosts: dict[str, str]) -> None:
    plain = fleet.state

    def state(t: Target, release: str) -> ReleaseState:
        found: ReleaseState = plain(t, release)
        return dataclasses.replace(found, kind="git", blocked=hosts[t.name]) \
            if t.name in hosts else found
    fleet.state = state


def test_a_dirty_work_tree_refuses_and_nothing_moves_anywhere(world: Any,  # noqa: F811
                                                                monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    fleet, _, go = world
    from remediations.release import rollback as rollbacks

    blocking(fleet, {"web2": DIRTY})
    monkeypatch.setattr(rollbacks, "release_state", fleet.state)
    with pytest.raises(ReleaseRefused) as info:
        go("v1.2.2")
    assert info.value.refused == {"web2": f"git: {DIRTY}"}
    assert str(info.value).startswith("1 target(s) refuse to move to release v1.2.2; nothing "
                                      "was changed:\n  web2: git: /var/www/app has local changes")
    assert isinstance(info.value, InvalidInput) and fleet.moves == []


def test_missing_and_refused_are_named_together(world: Any,  # noqa: F811
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    fleet, _, go = world
    from remediations.release import rollback as rollbacks

    fleet.available["web3"] = ("v1.2.3",)
    blocking(fleet, {"web2": DIRTY})
    monkeypatch.setattr(rollbacks, "release_state", fleet.state)
    with pytest.raises(ReleaseMissing) as info:
        go("v1.2.2")
    assert info.value.missing == {"web3": "systemd: no releases/v1.2.2",
                                  "web2": f"refused: git: {DIRTY}"}
    assert fleet.moves == []


def test_clients_for_a_git_host_import(tmp_path: Path) -> None:
    hosts = list(inventory(tmp_path, {"apache1": {"release_kind": "git"}}, {}))
    import_clients(hosts)
    import sys

    assert "remediations.release.git" in sys.modules
