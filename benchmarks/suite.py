"""Run the benchmark: per N, per scenario, rounds of every tool in turn, each run checked.

A run counts only when the tool exited 0 and the hosts show its effect (nginx under a new
master PID after a restart, the same one after a no-op, no config cache after clearing
caches, `current` on v1.2.2 after a rollback, ...: `benchmarks.bench`). A run that fails
either check is kept with its reason and left out of the medians, never timed silently.

The first run of every tool, scenario and N (the untimed warm-up, or round 1 without one)
also counts the ssh connections and sessions each host saw (`benchmarks.roundtrips`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lab._run import LabError, Log

from . import hosts, tools

__all__ = ["Plan", "Run", "run_suite"]

_GIB = 1 << 30


@dataclass(frozen=True)
class Plan:
    """What to measure."""

    counts: tuple[int, ...] = (10, 50, 100)
    repeats: int = 5
    scenarios: tuple[str, ...] = tools.SCENARIOS
    tools: tuple[str, ...] = tools.TOOLS
    fleet: hosts.Fleet = field(default_factory=hosts.Fleet)
    interval: float = 0.01
    warmup: int = 1  # untimed rounds first: page cache, ansible's warm ControlMasters
    up_to: dict[str, int] = field(default_factory=dict)  # scenario -> largest N to run it on
    tools_up_to: dict[str, int] = field(default_factory=dict)  # tool -> largest N to run it on

    def scenarios_for(self, count: int) -> tuple[str, ...]:
        """The scenarios run on the N = `count` fleet (compose-restart runs once, at N = 1)."""
        return tuple(s for s in self.scenarios if count <= self.up_to.get(s, count)
                     and s not in tools.ON_DOCKER_HOST)

    def tools_for(self, count: int) -> tuple[str, ...]:
        return tuple(t for t in self.tools if count <= self.tools_up_to.get(t, count))


@dataclass
class Run:
    """One timed run of one tool."""

    count: int
    scenario: str
    tool: str
    round: int
    rc: int
    wall_s: float
    peak_rss: int
    peak_processes: int
    problem: str
    # Per host, when this run was the counting one: ssh sessions (channels), connections.
    sessions: list[int] = field(default_factory=list)
    connections: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problem

    @property
    def timed(self) -> bool:
        return self.round > 0


@dataclass
class Outcome:
    """Everything one `run_suite` measured, for `results.render`."""

    plan: Plan
    runs: list[Run] = field(default_factory=list)
    commands: dict[str, dict[str, str]] = field(default_factory=dict)
    skipped: dict[int, str] = field(default_factory=dict)
    host_memory: int | None = None
    started: float = field(default_factory=time.time)
    finished: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["plan"]["fleet"] = asdict(self.plan.fleet)
        return data


def _mem_available() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    raise LabError("/proc/meminfo has no MemAvailable")


def commands(plan: Plan, count: int) -> dict[str, dict[str, str]]:
    """Scenario -> tool -> the exact command line, at N = `count`."""
    from .bench import paths_for

    fresh = Path("/tmp/rembench-cp-XXXXXXXX")  # stock ansible: a new directory every run
    return {scenario: {t: tools.invocation(t, scenario, count, paths_for(plan, count, scenario),
                                           fresh if t == "ansible" else None).display
                       for t in plan.tools_for(count)}
            for scenario in plan.scenarios_for(count)}


def load_runs(path: Path) -> list[Run]:
    """The runs an earlier `invoke bench` appended to `path` (one JSON object a line)."""
    import json

    return [Run(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def _say(log: Log, run: Run, repeats: int) -> None:
    what = "warm-up" if run.round == 0 else f"round {run.round}/{repeats}"
    status = "ok" if run.ok else f"FAILED: {run.problem}"
    trips = (f", ssh {sum(run.connections)} connection(s) and {sum(run.sessions)} session(s) "
             f"over {len(run.sessions)} host(s)" if run.sessions else "")
    log(f"N={run.count} {run.scenario} {what} {run.tool}: {run.wall_s:.2f} s, "
        f"{run.peak_rss / (1 << 20):.0f} MiB{trips}, {status}")


def _room(count: int, running: int, per_host: int | None) -> str:
    """"" when `count` hosts fit in memory, else why not."""
    if per_host is None or count <= running:
        return ""
    need = (count - running) * per_host + 3 * _GIB
    have = _mem_available()
    if need <= have:
        return ""
    return (f"{count} hosts do not fit: {count - running} more at "
            f"{per_host / (1 << 20):.0f} MiB each plus 3 GiB headroom need "
            f"{need / _GIB:.1f} GiB, {have / _GIB:.1f} GiB available")


def run_suite(plan: Plan, log: Log, *, on_run: Callable[[Run], None] | None = None) -> Outcome:
    """Measure every (N, scenario, tool) of `plan`; hosts are left running (`bench.down`)."""
    from .bench import Bench

    outcome = Outcome(plan)
    tools.ensure_pyinfra(log)
    tools.compile_library(log)
    if any(s in tools.ON_DOCKER_HOST for s in plan.scenarios):
        try:  # one ssh Docker host, whatever N: measured once, as N = 1
            bench = Bench(plan, 1, log, kind="compose")
            outcome.commands.update(bench.commands())
            _rounds(plan, bench, tools.ON_DOCKER_HOST, outcome, log, on_run)
        except LabError as exc:
            log(f"compose-restart stopped: {exc}")
            outcome.skipped[1] = f"stopped: {str(exc).splitlines()[0]}"
    running = 0
    for count in sorted(plan.counts):
        reason = _room(count, running, outcome.host_memory)
        if reason:
            log(f"skipping N={count}: {reason}")
            outcome.skipped[count] = reason
            continue
        try:
            running = _measure_count(plan, count, running, outcome, log, on_run)
        except LabError as exc:  # the other counts may still be measured
            log(f"N={count} stopped: {exc}")
            outcome.skipped[count] = f"stopped: {str(exc).splitlines()[0]}"
    outcome.finished = time.time()
    return outcome


def _rounds(plan: Plan, bench: Any, scenarios: Sequence[str], outcome: Outcome, log: Log,
            on_run: Callable[[Run], None] | None) -> None:
    """Warm-up and timed rounds of every tool, tools alternating within a round."""
    for scenario in scenarios:
        if scenario not in plan.scenarios:
            continue
        for i in range(plan.warmup + plan.repeats):
            round_ = max(0, i - plan.warmup + 1)
            counting = i == 0  # the first run of each tool counts its round trips
            for tool in plan.tools_for(bench.count):
                run = bench.once(tool, scenario, round_, count_trips=counting)
                _say(log, run, plan.repeats)
                if round_ or run.sessions:  # an untimed run is kept for its counts only
                    outcome.runs.append(run)
                    if on_run:
                        on_run(run)


def _measure_count(plan: Plan, count: int, running: int, outcome: Outcome, log: Log,
                   on_run: Callable[[Run], None] | None) -> int:
    from . import bench as benches

    free_before = _mem_available()
    web = [s for s in plan.scenarios_for(count) if s not in tools.ON_DATABASES]
    if web:
        bench = benches.Bench(plan, count, log)
        if count > running:
            time.sleep(5)  # let the new hosts settle before judging their memory
            if running == 0:
                outcome.host_memory = max(0, (free_before - _mem_available()) // count)
            running = count
        outcome.commands.update(commands(plan, count))
        _rounds(plan, bench, web, outcome, log, on_run)
    dbs = [s for s in plan.scenarios_for(count) if s in tools.ON_DATABASES]
    if dbs:  # a fleet of its own, up only while its scenario runs
        outcome.commands.update(commands(plan, count))
        db_bench = benches.Bench(plan, count, log, kind="db")
        try:
            _rounds(plan, db_bench, dbs, outcome, log, on_run)
        finally:
            hosts.down(plan.fleet.databases(), log)
    return running


def medians(runs: Sequence[Run]) -> tuple[float, float]:
    """Median wall seconds and median peak RSS of the runs that succeeded."""
    import statistics

    good = [r for r in runs if r.ok and r.timed]
    if not good:
        return float("nan"), float("nan")
    return (statistics.median(r.wall_s for r in good),
            statistics.median(float(r.peak_rss) for r in good))
