"""Every remediation the package exports has a unit test and a lab test.

A unit test names it (in `tests/unit/<package>/`, the command-line tests not counted: they
reach every remediation through its task); a lab test names it or runs its task
(`tests/integration`, `tests/smoke`, `molecule/`).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from tests.unit.cli.test_complete import TASKS, package_remediations

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "tests" / "unit"
LAB = (ROOT / "tests" / "integration", ROOT / "tests" / "smoke", ROOT / "molecule")
REMEDIATIONS = sorted(package_remediations())
# Reached through a task of their own dispatch, not a one-to-one task.
DISPATCHED = {"run_steps": "runbook", "apply": ""}


@cache
def sources(*roots: Path, skip: tuple[Path, ...] = ()) -> str:
    texts = []
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.suffix in (".py", ".yml", ".yaml") and not any(
                    path.is_relative_to(s) for s in skip) and path != Path(__file__):
                texts.append(path.read_text(encoding="utf-8"))
    return "\n".join(texts)


def test_the_list_is_the_package_s() -> None:
    assert len(REMEDIATIONS) >= 50, REMEDIATIONS


@pytest.mark.parametrize("name", REMEDIATIONS)
def test_has_a_unit_test(name: str) -> None:
    text = sources(UNIT, skip=(UNIT / "cli",))
    assert re.search(rf"\b{name}\b", text), f"no unit test under tests/unit/ names {name}"


@pytest.mark.parametrize("name", REMEDIATIONS)
def test_has_a_lab_test(name: str) -> None:
    text = sources(*LAB)
    task = TASKS[name][0] if name in TASKS else DISPATCHED.get(name, "")
    named = re.search(rf"\b{name}\b", text)
    runs_task = task and re.search(rf"[\"' ]{re.escape(task)}[\"' ]", text)
    assert named or runs_task, (f"no lab test names {name} or runs its task "
                                f"{task or '(none)'}")
