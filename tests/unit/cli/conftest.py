"""Fixtures shared by the command-line tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from remediations.run.report import Report


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[Callable[..., Any]]:
    """The remediations handed to the runner; the runner itself runs nothing."""
    from remediations.run import runner

    seen: list[Callable[..., Any]] = []

    def record(remediation: Callable[..., Any], hosts: Any, *, run: Any, name: str,
               **_: Any) -> Report:
        seen.append(remediation)
        return Report(run.run_id, name, run.started_at, (), run.check)

    monkeypatch.setattr(runner, "run", record)
    return seen
