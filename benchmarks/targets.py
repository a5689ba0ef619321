"""The "Targets" section of RESULTS.md: what the library aims for, met or missed, from the data.

- wall time: the library's median at most TARGETS[scenario] × raw Fabric's (others reported);
- faster than pyinfra (median wall time);
- round trips: the library's ssh sessions per host against the fewest of any tool;
- memory at the largest N: at most MEMORY_TARGET × raw Fabric's;
- start-up: `invoke --list` in at most STARTUP_TARGET_S (benchmarks/startup.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .roundtrips import median_per_host
from .suite import Outcome, Run, medians

__all__ = ["MEMORY_TARGET", "STARTUP_TARGET_S", "TARGETS", "targets_section"]

TARGETS = {"restart": 1.1, "noop": 1.1, "caches": 1.2, "rollback": 1.5}
MEMORY_TARGET = 1.1
STARTUP_TARGET_S = 0.15


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _runs(outcome: Outcome, count: int, scenario: str, tool: str) -> list[Run]:
    return [r for r in outcome.runs if (r.count, r.scenario, r.tool) == (count, scenario, tool)]


def _sessions(runs: list[Run]) -> float | None:
    counted = next((r for r in runs if r.sessions and r.ok), None)
    return median_per_host(counted.sessions) if counted else None


def _wall_line(outcome: Outcome, count: int, scenario: str) -> str | None:
    lib_wall, _ = medians(_runs(outcome, count, scenario, "library"))
    if math.isnan(lib_wall):
        return None
    fab_wall, _ = medians(_runs(outcome, count, scenario, "fabric"))
    pyi_wall, _ = medians(_runs(outcome, count, scenario, "pyinfra"))
    target = TARGETS.get(scenario)
    if math.isnan(fab_wall):
        ratio, verdict = "-", "no Fabric run"
    else:
        ratio = f"{lib_wall / fab_wall:.2f}×"
        verdict = (_verdict(lib_wall / fab_wall <= target) if target is not None
                   else "reported")
    pyinfra = "-" if math.isnan(pyi_wall) else (
        f"{'yes' if lib_wall < pyi_wall else '**no**'} ({lib_wall:.2f} vs {pyi_wall:.2f} s)")
    counts = {t: _sessions(_runs(outcome, count, scenario, t)) for t in outcome.plan.tools}
    known = {t: v for t, v in counts.items() if v is not None}
    if counts.get("library") is None or not known:
        trips = "-"
    else:
        fewest = min(known.values())
        who = ", ".join(t for t, v in known.items() if v == fewest)
        lib = counts["library"]
        trips = (f"{lib:g} vs {fewest:g} ({who}): "
                 f"{'fewest' if lib is not None and lib <= fewest else '**more**'}")
    return (f"| {count} | {scenario} | {ratio} | "
            f"{f'≤ {target:g}×' if target is not None else '-'} | {verdict} | {pyinfra} | "
            f"{trips} |")


def _memory_lines(outcome: Outcome) -> list[str]:
    lines = []
    for scenario in outcome.plan.scenarios:
        counts = sorted({r.count for r in outcome.runs if r.scenario == scenario})
        for count in reversed(counts):  # the largest N with both tools measured
            _, lib = medians(_runs(outcome, count, scenario, "library"))
            _, fab = medians(_runs(outcome, count, scenario, "fabric"))
            if math.isnan(lib) or math.isnan(fab) or fab <= 0:
                continue
            lines.append(f"- {scenario} at N = {count}: {lib / (1 << 20):.0f} vs "
                         f"{fab / (1 << 20):.0f} MiB = {lib / fab:.2f}× "
                         f"(target ≤ {MEMORY_TARGET:g}×): {_verdict(lib / fab <= MEMORY_TARGET)}")
            break
    return lines


def _startup_line(found: Mapping[str, Any]) -> str:
    value = (found.get("startup") or {}).get("invoke --list s")
    if not isinstance(value, int | float):
        return f"- `invoke --list` start-up: not measured (target ≤ {STARTUP_TARGET_S:g} s)"
    return (f"- `invoke --list` start-up: {value:.3f} s (target ≤ {STARTUP_TARGET_S:g} s): "
            f"{_verdict(value <= STARTUP_TARGET_S)}")


def targets_section(outcome: Outcome, found: Mapping[str, Any]) -> list[str]:
    """The section's lines: a table per (N, scenario), then memory and start-up."""
    counts = sorted({r.count for r in outcome.runs})
    rows = [line for count in counts for scenario in outcome.plan.scenarios
            if (line := _wall_line(outcome, count, scenario)) is not None]
    return [
        "## Targets",
        "",
        "The library's median wall time against raw Fabric's in the same table (targets: "
        + ", ".join(f"{s} ≤ {t:g}×" for s, t in TARGETS.items())
        + "; the other scenarios are reported), whether it is faster than pyinfra, and its "
        "ssh sessions per host against the fewest any tool needed.",
        "",
        "| N | scenario | library vs Fabric | target | wall time | faster than pyinfra "
        "| sessions/host: library vs fewest |",
        "|---|---|---|---|---|---|---|",
        *(rows or ["| - | - | - | - | no library run measured | - | - |"]),
        "",
        "Memory at the largest N measured (peak RSS, library vs raw Fabric):",
        "",
        *(_memory_lines(outcome) or ["- not measured"]),
        _startup_line(found),
        "",
    ]
