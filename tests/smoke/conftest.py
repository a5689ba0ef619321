"""Run the sample smoke tests against this repository's lab when no inventory is given.

A project's smoke tests need no conftest. This one only makes `pytest tests` run them too:
without --remediations-inventory (or $REMEDIATIONS_INVENTORY) it points them at the lab's
inventory (REMEDIATIONS_LAB_SLOT honoured), marks them `lab` and starts the lab before the
first of them runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import lab.manage as _lab
from remediations.smoke.plugin import inventory_paths

HERE = Path(__file__).resolve().parent
_ON_LAB = pytest.StashKey[bool]()


def _log(line: str) -> None:
    print(f"lab: {line}", file=sys.stderr)


def pytest_configure(config: pytest.Config) -> None:
    if inventory_paths(config):
        return
    if not _lab.INVENTORY.exists():
        # Hosts are parametrized at collection; the lab itself starts only if a test runs.
        _lab._write_slot_inventory()
    config.option.remediations_inventory = str(_lab.INVENTORY)
    config.stash[_ON_LAB] = True


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.stash.get(_ON_LAB, False):
        return
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.lab)


@pytest.fixture(scope="session", autouse=True)
def _lab_running(pytestconfig: pytest.Config) -> None:
    if pytestconfig.stash.get(_ON_LAB, False):
        _lab.up(_log)
