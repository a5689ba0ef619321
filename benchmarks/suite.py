"""Run the benchmark: per N, per scenario, rounds of every tool in turn, each run checked.

A run counts only when the tool exited 0 and the hosts show its effect (nginx under a new
master PID after a restart, the same one after a no-op, no config cache after clearing
caches, `current` on v1.2.2 after a rollback). A run that fails either check is kept
with its reason and left out of the medians, never timed silently.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lab._run import LabError, Log
from lab.manage import ssh_key_path

from . import effects, hosts, tools
from .measure import Measurement, measure

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

    def scenarios_for(self, count: int) -> tuple[str, ...]:
        return tuple(s for s in self.scenarios if count <= self.up_to.get(s, count))


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

    @property
    def ok(self) -> bool:
        return not self.problem


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


def _fabric(paths: tools.Paths, command: str) -> Measurement:
    inv = tools.fabric_invocation(paths, command)
    return measure(inv.argv, cwd=inv.cwd)


def _close_masters(control_dir: Path) -> None:
    """End the ssh ControlMasters a stock ansible run left behind (ControlPersist=60s)."""
    sockets = [p for p in control_dir.iterdir()] if control_dir.is_dir() else []

    def close(sock: Path) -> None:
        subprocess.run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "bench"],
                       capture_output=True, timeout=30, check=False)

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(close, sockets))
    shutil.rmtree(control_dir, ignore_errors=True)


def paths_for(plan: Plan, count: int) -> tools.Paths:
    """Where N = `count`'s inventories and inputs are written (`hosts.write_inventories`)."""
    work = hosts.BENCH_DIR / f"{plan.fleet.prefix}-n{count}"
    files = hosts.inventory_files(work, count)
    return tools.Paths(work, files["ansible"], files["pyinfra"], files["fabric"], ssh_key_path())


def commands(plan: Plan, count: int) -> dict[str, dict[str, str]]:
    """Scenario -> tool -> the exact command line, at N = `count`."""
    fresh = Path("/tmp/rembench-cp-XXXXXXXX")  # stock ansible: a new directory every run
    return {scenario: {t: tools.invocation(t, scenario, count, paths_for(plan, count),
                                           fresh if t == "ansible" else None).display
                       for t in plan.tools}
            for scenario in plan.scenarios_for(count)}


def load_runs(path: Path) -> list[Run]:
    """The runs an earlier `invoke bench` appended to `path` (one JSON object a line)."""
    import json

    return [Run(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


class _Bench:
    """One N: its hosts, inputs and the checks around every run."""

    def __init__(self, plan: Plan, count: int, log: Log) -> None:
        self.plan, self.count, self.log = plan, count, log
        self.hosts = hosts.up(plan.fleet, count, log)
        self.paths = paths_for(plan, count)
        hosts.write_inventories(self.hosts, self.paths.key, self.paths.work)
        tools.write_inputs(self.paths)
        self.init = hosts.init_pids(self.hosts)

    def _prepare(self, scenario: str) -> str:
        """Put the hosts in the scenario's starting state (untimed); "" or why it failed."""
        if scenario == "caches":
            primed = _fabric(self.paths, f"{tools.ARTISAN} config:cache")
            if not primed.ok or not all(effects.config_cached(self.init).values()):
                return f"priming the config cache failed: {primed.stderr[-300:]}"
        if scenario == "rollback":
            on = effects.current_release(self.init)
            wrong = sorted(h for h, link in on.items() if link != f"releases/{tools.ROLLBACK_FROM}")
            if wrong:
                return f"not on {tools.ROLLBACK_FROM} before the run: {', '.join(wrong)}"
        return ""

    def _effect(self, scenario: str, before: dict[str, int | None]) -> str:
        after = effects.nginx_pids(self.init)
        if scenario == "restart":
            return effects.restart_problem(before, after)
        if scenario == "noop":
            return effects.unchanged_problem(before, after)
        if scenario == "caches":
            left = sorted(h for h, cached in effects.config_cached(self.init).items() if cached)
            return f"config cache still there on {', '.join(left)}" if left else ""
        on = effects.current_release(self.init)
        wrong = sorted(h for h, link in on.items() if link != f"releases/{tools.ROLLBACK_TO}")
        return f"current not on {tools.ROLLBACK_TO} on {', '.join(wrong)}" if wrong else ""

    def _reset(self, scenario: str, tool: str) -> None:
        if scenario != "rollback":
            return
        if tool == "library":
            inv = tools.invocation("library", "rollback", self.count, self.paths)
            argv = [a if a != tools.ROLLBACK_TO else tools.ROLLBACK_FROM for a in inv.argv]
            back = measure(argv, cwd=inv.cwd)
        else:
            back = _fabric(self.paths, tools.reset_command())
        if not back.ok:
            raise LabError(f"putting the hosts back on {tools.ROLLBACK_FROM} failed:\n"
                           f"{back.stdout[-600:]}{back.stderr[-600:]}")

    def once(self, tool: str, scenario: str, round_: int) -> Run:
        """Time `tool` doing `scenario` once (round 0 is the untimed warm-up)."""
        control_dir = None
        if tool == "ansible":  # stock: cold connections, as any first run
            control_dir = Path(tempfile.mkdtemp(prefix="rembench-cp-", dir="/tmp"))
        inv = tools.invocation(tool, scenario, self.count, self.paths, control_dir)
        problem = self._prepare(scenario)
        before = effects.nginx_pids(self.init)
        m = measure(inv.argv, cwd=inv.cwd, env=inv.env, interval=self.plan.interval)
        if control_dir is not None:
            _close_masters(control_dir)
        if not problem:
            problem = (f"exit {m.rc}: {(m.stderr or m.stdout).strip()[-400:]}" if m.rc
                       else self._effect(scenario, before))
        self._reset(scenario, tool)
        return Run(self.count, scenario, tool, round_, m.rc, m.wall_s, m.peak_rss,
                   m.peak_processes, problem)


def _say(log: Log, run: Run, repeats: int) -> None:
    what = "warm-up" if run.round == 0 else f"round {run.round}/{repeats}"
    status = "ok" if run.ok else f"FAILED: {run.problem}"
    log(f"N={run.count} {run.scenario} {what} {run.tool}: {run.wall_s:.2f} s, "
        f"{run.peak_rss / (1 << 20):.0f} MiB, {status}")


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
    outcome = Outcome(plan)
    tools.ensure_pyinfra(log)
    tools.compile_library(log)
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


def _measure_count(plan: Plan, count: int, running: int, outcome: Outcome, log: Log,
                   on_run: Callable[[Run], None] | None) -> int:
    free_before = _mem_available()
    bench = _Bench(plan, count, log)
    if count > running:
        time.sleep(5)  # let the new hosts settle before judging their memory
        if running == 0:
            outcome.host_memory = max(0, (free_before - _mem_available()) // count)
        running = count
    outcome.commands.update(commands(plan, count))
    for scenario in plan.scenarios_for(count):
        for i in range(plan.warmup + plan.repeats):
            round_ = max(0, i - plan.warmup + 1)
            for tool in plan.tools:
                run = bench.once(tool, scenario, round_)
                _say(log, run, plan.repeats)
                if round_:
                    outcome.runs.append(run)
                    if on_run:
                        on_run(run)
    return running


def medians(runs: Sequence[Run]) -> tuple[float, float]:
    """Median wall seconds and median peak RSS of the runs that succeeded."""
    import statistics

    good = [r for r in runs if r.ok]
    if not good:
        return float("nan"), float("nan")
    return (statistics.median(r.wall_s for r in good),
            statistics.median(float(r.peak_rss) for r in good))
