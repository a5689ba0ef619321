"""Invoke tasks for the benchmarks; the repo's tasks.py mounts them as `bench.*`.

invoke bench                                   # = bench.run: N = 10,50,100, 5 runs, every scenario and tool
invoke bench --hosts 10 --scenarios restart --repeats 3 --output /tmp/R.md
invoke bench --up-to caches=10,rollback=10 --tools-up-to ansible=10,ansible-cp=10   # ~30 min
invoke bench.up --hosts 10 | bench.down
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from lab._run import REPO_ROOT, LabError

from . import tools as tool_table

if TYPE_CHECKING:
    from . import hosts as fleet_hosts
    from . import suite

RESULTS_MD = REPO_ROOT / "benchmarks" / "RESULTS.md"


def _fleet() -> fleet_hosts.Fleet:
    """This lab slot's bench hosts (`REMEDIATIONS_LAB_SLOT`, as the lab and the stack)."""
    from . import hosts as fleet_hosts  # the harness loads when a task runs, not on --list

    return fleet_hosts.Fleet.for_slot(int(os.environ.get("REMEDIATIONS_LAB_SLOT", "0") or 0))


def _progress(line: str) -> None:
    print(f"bench: {line}", file=sys.stderr, flush=True)


def _names(value: str, known: tuple[str, ...], option: str) -> tuple[str, ...]:
    names = tuple(v.strip() for v in value.split(",") if v.strip())
    unknown = [n for n in names if n not in known]
    if not names or unknown:
        raise Exit(f"error: {option} takes a comma-separated subset of {','.join(known)}; "
                   f"got {value!r}", code=1)
    return names


def _up_to(value: str) -> dict[str, int]:
    limits: dict[str, int] = {}
    for item in filter(None, (v.strip() for v in value.split(","))):
        name, _, count = item.partition("=")
        if name not in tool_table.SCENARIOS or not count.isdigit():
            raise Exit(f"error: --up-to takes scenario=N pairs, e.g. caches=10; got {item!r}",
                       code=1)
        limits[name] = int(count)
    return limits


def _tools_up_to(value: str) -> dict[str, int]:
    limits: dict[str, int] = {}
    for item in filter(None, (v.strip() for v in value.split(","))):
        name, _, count = item.partition("=")
        if name not in tool_table.TOOLS or not count.isdigit():
            raise Exit(f"error: --tools-up-to takes tool=N pairs of {','.join(tool_table.TOOLS)}, "
                       f"e.g. ansible=10,ansible-cp=10; got {item!r}", code=1)
        limits[name] = int(count)
    return limits


def _counts(value: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        counts = ()
    if not counts or any(not 1 <= n <= 999 for n in counts):
        raise Exit(f"error: --hosts takes host counts 1-999, e.g. 10,50,100; got {value!r}",
                   code=1)
    return counts


def _measured(plan: suite.Plan) -> suite.Outcome:
    from . import hosts as fleet_hosts
    from . import suite

    log = fleet_hosts.BENCH_DIR / f"runs-{time.strftime('%Y%m%dT%H%M%S')}.jsonl"
    log.parent.mkdir(parents=True, exist_ok=True)

    def keep(one: suite.Run) -> None:  # every run on disk at once: a crash loses none
        with log.open("a") as fh:
            fh.write(json.dumps(dataclasses.asdict(one)) + "\n")

    _progress(f"every run is appended to {log}")
    try:
        return suite.run_suite(plan, _progress, on_run=keep)
    except LabError as exc:
        raise Exit(f"error: bench failed: {exc}", code=1) from exc


def _replayed(plan: suite.Plan, paths: list[Path]) -> suite.Outcome:
    from . import suite

    runs: list[suite.Run] = []
    for path in paths:
        try:
            runs += suite.load_runs(path)
        except (OSError, ValueError, TypeError) as exc:
            raise Exit(f"error: --runs {path}: {exc}", code=1) from exc
    outcome = suite.Outcome(plan, runs=runs, started=min(p.stat().st_ctime for p in paths),
                            finished=max(p.stat().st_mtime for p in paths))
    with contextlib.suppress(ValueError):  # runs-<local time>.jsonl
        outcome.started = min(time.mktime(time.strptime(p.stem.removeprefix("runs-"),
                                                        "%Y%m%dT%H%M%S")) for p in paths)
    for count in plan.counts:
        outcome.commands.update(suite.commands(plan, count))
    if any(r.scenario in tool_table.ON_DOCKER_HOST for r in runs):
        from .bench import compose_commands

        outcome.commands.update(compose_commands(plan))
    return outcome


@task(default=True, auto_shortflags=False, help={  # -h stays help
    "hosts": "host counts to measure, comma-separated (default 10,50,100)",
    "repeats": "timed runs per tool, scenario and N (default 5)",
    "warmup": "untimed rounds before the timed ones (default 1)",
    "scenarios": f"comma-separated subset of {','.join(tool_table.SCENARIOS)} (default all)",
    "tools": f"comma-separated subset of {','.join(tool_table.TOOLS)} (default all)",
    "output": "where to write the results table (default benchmarks/RESULTS.md)",
    "json": "also print every run and the summary as one JSON object on stdout",
    "up_to": "run a scenario only up to some N, e.g. caches=10,rollback=50 (default: every N)",
    "tools_up_to": "run a tool only up to some N, e.g. ansible=10,ansible-cp=10 (default: every N)",
    "runs": "measure nothing: write RESULTS.md from the runs-*.jsonl files (comma-separated) "
            "earlier runs appended (give it the options they had)",
    "note": "a sentence for RESULTS.md, e.g. why a run was stopped",
})
def run(c: Context, hosts: str = "10,50,100", repeats: int = 5, warmup: int = 1,
          scenarios: str = ",".join(tool_table.SCENARIOS),
          tools: str = ",".join(tool_table.TOOLS),
          output: str = str(RESULTS_MD), json_: bool = False, up_to: str = "",
          tools_up_to: str = "", runs: str = "", note: str = "") -> None:
    """Time this library, ansible-playbook, pyinfra and raw Fabric on N bench hosts; write RESULTS.md."""
    from . import results, suite

    if repeats < 1 or warmup < 0:
        raise Exit("error: --repeats must be at least 1 and --warmup at least 0", code=1)
    plan = suite.Plan(counts=_counts(hosts), repeats=repeats, warmup=warmup,
                      scenarios=_names(scenarios, tool_table.SCENARIOS, "--scenarios"),
                      tools=_names(tools, tool_table.TOOLS, "--tools"), fleet=_fleet(),
                      up_to=_up_to(up_to), tools_up_to=_tools_up_to(tools_up_to))
    outcome = _replayed(plan, [Path(r) for r in runs.split(",")]) if runs else _measured(plan)
    found = results.extras(_progress)
    mach, vers = results.machine(), results.versions()
    Path(output).write_text(results.render(outcome, mach, vers, found, note))
    _progress(f"wrote {output}")
    if json_:
        print(json.dumps({"machine": mach, "versions": vers, "extras": found,
                          **outcome.as_dict()}, indent=1))


@task(help={"hosts": "how many bench hosts to leave running (default 10)"})
def up(c: Context, hosts_: int = 10) -> None:
    """Start bench hosts rembench-1..N (ssh 127.0.0.1:20000+i, http 21000+i) and wait for them."""
    from . import hosts as fleet_hosts

    try:
        fleet_hosts.up(_fleet(), hosts_, _progress)
    except LabError as exc:
        raise Exit(f"error: bench.up failed: {exc}", code=1) from exc


@task
def down(c: Context) -> None:
    """Remove every bench host container (images are kept)."""
    from . import hosts as fleet_hosts

    removed = fleet_hosts.down(_fleet(), _progress)
    _progress(f"removed {removed} bench host(s)")


ns = Collection("bench", run, up, down)
