"""The compose stack for the Docker tests, and the CLI aimed at its inventory.

`compose_version` is a parameter of the lab: the compose CLI (`v1`, docker-compose 1.29, or
`v2`, the `docker compose` plugin) that creates the project and that the inventory in
`lab.inventory` makes the library use. It is v2 here; test_compose.py runs every test on
both (module-scoped, so pytest runs all of one version, then all of the other: each switch
recreates every container once).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import lab.stack as stack

HOSTS = ["dockerhost-local", "dockerhost-ssh"]


def _log(line: str) -> None:
    print(f"stack: {line}", file=sys.stderr)


@dataclass(frozen=True)
class ComposeUnderTest:
    """What a result says and names when the library ran compose `version`."""

    version: str

    @property
    def command(self) -> str:
        """How the library types it: `docker compose` or `docker-compose`."""
        return " ".join(stack.compose_command(self.version))

    @property
    def label(self) -> re.Pattern[str]:
        """How results name it: `docker compose v2.26.1`, `docker-compose 1.29.2`."""
        return re.compile(r"docker compose v2\.\d+\.\d+" if self.version == "v2"
                          else r"docker-compose 1\.\d+\.\d+")

    def container(self, service: str) -> str:
        """The name compose gives a service's first container (v1 `_`, v2 `-`)."""
        sep = "-" if self.version == "v2" else "_"
        return f"{stack.PROJECT}{sep}{service}{sep}1"


@pytest.fixture(scope="module")
def compose_version() -> str:
    return stack.DEFAULT_COMPOSE


@pytest.fixture(scope="module")
def lab(compose_version: str) -> Iterator[stack.StackInfo]:
    """The compose stack instead of the web lab (the `cli` fixture asks for `lab`), created
    by `compose_version`."""
    info = stack.up(_log, compose_version=compose_version)
    yield info
    stack.reset(_log)  # declared state again: v1.2.3, every service healthy


@pytest.fixture(scope="module")
def compose(lab: stack.StackInfo) -> ComposeUnderTest:
    return ComposeUnderTest(lab.compose_version)


@pytest.fixture
def dcli(cli: Any, lab: stack.StackInfo) -> Any:
    """`invoke TASK ... -i <the lab's inventory> -l HOST --json` as a user types it."""
    def run(task: str, host: str, *args: str, timeout: float = 400) -> Any:
        return cli(task, *args, "-i", str(lab.inventory), "-l", host, "--json", timeout=timeout)
    return run
