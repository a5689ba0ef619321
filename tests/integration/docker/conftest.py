"""The compose stack for the Docker tests, and the CLI aimed at its inventory."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

import lab.stack as stack

HOSTS = ["dockerhost-local", "dockerhost-ssh"]


def _log(line: str) -> None:
    print(f"stack: {line}", file=sys.stderr)


@pytest.fixture(scope="module")
def lab() -> Iterator[stack.StackInfo]:
    """The compose stack instead of the web lab (the `cli` fixture asks for `lab`)."""
    info = stack.up(_log)
    yield info
    stack.reset(_log)  # declared state again: v1.2.3, every service healthy


@pytest.fixture
def dcli(cli: Any, lab: stack.StackInfo) -> Any:
    """`invoke TASK ... -i inventories/lab-docker.yml -l HOST --json` as a user types it."""
    def run(task: str, host: str, *args: str, timeout: float = 400) -> Any:
        return cli(task, *args, "-i", str(lab.inventory), "-l", host, "--json", timeout=timeout)
    return run
