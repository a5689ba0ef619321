"""The benchmark harness's own logic: medians, ratios, the results table, option parsing,
and the process-tree measurement (run on real child processes). No timing is asserted."""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
from invoke.exceptions import Exit

from benchmarks import measure, results, suite, tools
from benchmarks import tasks as bench_tasks


def run(tool: str, wall: float, mib: int = 40, *, scenario: str = "restart", count: int = 10,
        rnd: int = 1, problem: str = "") -> suite.Run:
    return suite.Run(count, scenario, tool, rnd, 0 if not problem else 1, wall, mib << 20, 3,
                     problem)


def test_medians_ignore_failed_runs_and_say_nan_when_none_succeeded() -> None:
    runs = [run("library", 1.0), run("library", 3.0), run("library", 2.0),
            run("library", 0.1, problem="nginx MainPID unchanged on bench3")]
    assert suite.medians(runs) == (2.0, float(40 << 20))
    wall, mem = suite.medians([run("library", 1.0, problem="exit 1")])
    assert math.isnan(wall) and math.isnan(mem)


def test_rows_give_each_tool_its_ratio_to_fabric_in_the_same_table() -> None:
    plan = suite.Plan(counts=(10,), scenarios=("restart",), tools=("library", "fabric"))
    outcome = suite.Outcome(plan, runs=[
        run("fabric", 0.5, 40), run("fabric", 0.7, 40), run("fabric", 0.6, 40),
        run("library", 0.66, 48), run("library", 0.72, 48), run("library", 0.9, 48),
    ])
    library, fabric = results._rows(outcome, 10, "restart")
    assert "| 3/3 | 0.72 | 0.66–0.90 | 48 | 1.20× | 1.20× |" in library
    assert fabric.endswith("| 1.00× | 1.00× |")


def test_a_tool_with_no_successful_run_gets_dashes_not_a_ratio() -> None:
    plan = suite.Plan(counts=(10,), scenarios=("restart",), tools=("ansible", "fabric"))
    outcome = suite.Outcome(plan, runs=[run("fabric", 0.5), run("ansible", 5.0, problem="rc 2")])
    ansible, _ = results._rows(outcome, 10, "restart")
    assert "| 0/1 | - | - | - | - | - |" in ansible


def test_render_reports_failures_skipped_counts_and_unfinished_rounds() -> None:
    plan = suite.Plan(counts=(10, 100), repeats=3, scenarios=("restart", "noop"),
                      tools=("library", "fabric"))
    outcome = suite.Outcome(plan, runs=[
        run("fabric", 0.5), run("library", 0.6),
        run("library", 0.6, rnd=2, problem="nginx MainPID unchanged on bench3"),
    ], skipped={100: "100 hosts do not fit"}, started=0.0, finished=600.0)
    text = results.render(outcome, {"cores": "2"}, {"python": "3.11"}, {}, "stopped early")
    assert "### N = 100\n\nNot measured: 100 hosts do not fit." in text
    assert "Only 2 of 3 rounds were done (stopped early)." in text
    assert "### N = 10, noop\n\nNot measured (stopped early)." in text
    assert "- N=10 restart round 2 library: nginx MainPID unchanged on bench3" in text
    assert "- cores: 2" in text and "- python: 3.11" in text


def test_runs_written_by_an_earlier_bench_are_read_back(tmp_path: Path) -> None:
    log = tmp_path / "runs.jsonl"
    written = [run("fabric", 0.5), run("library", 0.6, problem="x")]
    log.write_text("".join(json.dumps(asdict(r)) + "\n" for r in written) + "\n")
    assert suite.load_runs(log) == written


def test_a_scenario_runs_only_up_to_its_limit() -> None:
    plan = suite.Plan(scenarios=("restart", "caches"), up_to={"caches": 10})
    assert plan.scenarios_for(10) == ("restart", "caches")
    assert plan.scenarios_for(50) == ("restart",)


@pytest.mark.parametrize("value,expected", [("10,50,100", (10, 50, 100)), (" 2 ", (2,))])
def test_host_counts_parse(value: str, expected: tuple[int, ...]) -> None:
    assert bench_tasks._counts(value) == expected


@pytest.mark.parametrize("value", ["", "ten", "0", "1000", "10,,x"])
def test_bad_host_counts_exit_1_with_an_example(value: str) -> None:
    with pytest.raises(Exit) as err:
        bench_tasks._counts(value)
    assert err.value.code == 1 and "e.g. 10,50,100" in str(err.value.message)


def test_names_and_limits_are_checked_against_what_exists() -> None:
    assert bench_tasks._names("restart, noop", tools.SCENARIOS, "--scenarios") == ("restart", "noop")
    with pytest.raises(Exit, match="subset of restart,noop,caches,rollback; got 'reboot'"):
        bench_tasks._names("reboot", tools.SCENARIOS, "--scenarios")
    assert bench_tasks._up_to("caches=10,rollback=50") == {"caches": 10, "rollback": 50}
    with pytest.raises(Exit, match="scenario=N pairs"):
        bench_tasks._up_to("caches=ten")


def test_every_tool_runs_the_same_remediation_for_every_scenario(tmp_path: Path) -> None:
    paths = tools.Paths(tmp_path, tmp_path / "inv.yml", tmp_path / "inv.py", tmp_path / "hosts.txt",
                        tmp_path / "key")
    for scenario in tools.SCENARIOS:
        lines = {t: tools.invocation(t, scenario, 10, paths, None).display for t in tools.TOOLS}
        fabric = tools.invocation("fabric", scenario, 10, paths, None).argv
        assert fabric[-1] == tools.shell_command(scenario)
        assert " -m invoke " in lines["library"] and "--forks 10" in lines["library"]
        assert "ansible-playbook" in lines["ansible"] and "ansible-playbook" in lines["ansible-cp"]
        assert "pyinfra" in lines["pyinfra"]


def test_the_measurement_counts_every_process_of_the_tree() -> None:
    # A parent holding ~64 MiB and a child holding ~64 MiB: the tree's peak holds both.
    hold = "b = bytearray(64 << 20); import time; time.sleep(0.6)"
    code = (f"import subprocess, sys; p = subprocess.Popen([sys.executable, '-c', {hold!r}]); "
            f"{hold}; p.wait()")
    m = measure.measure([sys.executable, "-c", code])
    assert m.rc == 0 and m.peak_processes >= 2
    assert m.peak_rss >= 128 << 20
    assert m.wall_s >= 0.6
