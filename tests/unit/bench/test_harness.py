"""The benchmark harness's own logic: medians, ratios, the results table, option parsing,
and the process-tree measurement (run on real child processes). No timing is asserted."""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
from invoke.exceptions import Exit

from benchmarks import effects, measure, results, roundtrips, suite, targets, tools
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
    assert "| 3/3 | 0.72 | 0.66–0.90 | 48 | 1.20× | 1.20× | - | - |" in library
    assert fabric.endswith("| 1.00× | 1.00× | - | - |")


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
    with pytest.raises(Exit, match=r"subset of restart,noop,caches,rollback,triage,.*; got 'reboot'"):
        bench_tasks._names("reboot", tools.SCENARIOS, "--scenarios")
    assert bench_tasks._up_to("caches=10,rollback=50") == {"caches": 10, "rollback": 50}
    with pytest.raises(Exit, match="scenario=N pairs"):
        bench_tasks._up_to("caches=ten")


def test_every_tool_runs_the_same_remediation_for_every_scenario(tmp_path: Path) -> None:
    stack = tools.ComposeHost(tmp_path / "stack.yml", "/srv/stack", "remlab4", "rem4-dockerhost")
    paths = tools.Paths(tmp_path, tmp_path / "inv.yml", tmp_path / "inv.py", tmp_path / "hosts.txt",
                        tmp_path / "key", stack)
    for scenario in tools.SCENARIOS:
        lines = {t: tools.invocation(t, scenario, 10, paths, None).display for t in tools.TOOLS}
        fabric = tools.invocation("fabric", scenario, 10, paths, None).argv
        if scenario != "incident":
            assert fabric[-1] == tools.shell_command(scenario, paths)
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


JOURNAL = """\
Accepted publickey for root from 172.17.0.1 port 40000 ssh2: ED25519 SHA256:abc
pam_unix(sshd:session): session opened for user root(uid=0) by (uid=0)
User child is on pid 812
Starting session: command for root from 172.17.0.1 port 40000 id 0
Starting session: subsystem 'sftp' for root from 172.17.0.1 port 40000 id 1
Close session: user root from 172.17.0.1 port 40000 id 0
Accepted publickey for root from 172.17.0.1 port 40002 ssh2: ED25519 SHA256:abc
Starting session: shell on pts/0 for root from 172.17.0.1 port 40002 id 0
Received disconnect from 172.17.0.1 port 40000:11: disconnected by user
"""


def test_sessions_and_connections_are_counted_from_sshd_log_lines() -> None:
    # command + sftp on the first connection, a shell on the second: 3 channels, 2 connections
    assert roundtrips.count_log(JOURNAL) == roundtrips.Trips(sessions=3, connections=2)
    assert roundtrips.count_log("") == roundtrips.Trips(0, 0)
    assert roundtrips.median_per_host([1, 3, 2]) == 2 and roundtrips.median_per_host([]) is None


def test_round_trips_are_shown_per_tool_from_the_counting_run_only() -> None:
    plan = suite.Plan(counts=(10,), scenarios=("restart",), tools=("library", "fabric"))
    counted = dataclasses.replace(run("library", 9.0, rnd=0), sessions=[1, 1, 3],
                                  connections=[1, 1, 1])
    outcome = suite.Outcome(plan, runs=[counted, run("library", 0.6),
                                        dataclasses.replace(run("fabric", 0.5, rnd=0),
                                                            sessions=[1, 1], connections=[1, 1]),
                                        run("fabric", 0.5)])
    library, fabric = results._rows(outcome, 10, "restart")
    # the untimed counting run (9 s) is left out of the timings
    assert "| 1/1 | 0.60 |" in library and library.endswith("| 1 | 1 |")
    assert fabric.endswith("| 1.00× | 1.00× | 1 | 1 |")


def test_counts_survive_the_jsonl_replay(tmp_path: Path) -> None:
    log = tmp_path / "runs.jsonl"
    counted = dataclasses.replace(run("library", 0.6, rnd=0), sessions=[2, 2], connections=[1, 1])
    log.write_text(json.dumps(asdict(counted)) + "\n")
    assert suite.load_runs(log) == [counted]
    # lines written before the counts existed still load
    old = {k: v for k, v in asdict(run("fabric", 0.5)).items() if k not in ("sessions", "connections")}
    log.write_text(json.dumps(old) + "\n")
    assert suite.load_runs(log)[0].sessions == []


def test_targets_say_met_or_missed_from_the_data() -> None:
    plan = suite.Plan(counts=(10,), scenarios=("restart", "triage"),
                      tools=("library", "pyinfra", "fabric"))
    runs = [run("fabric", 1.0), run("library", 1.05), run("pyinfra", 1.5),
            run("fabric", 1.0, scenario="triage"), run("library", 2.0, scenario="triage"),
            run("pyinfra", 1.5, scenario="triage")]
    runs += [dataclasses.replace(run(t, 1.0, rnd=0), sessions=[n], connections=[1])
             for t, n in (("library", 1), ("pyinfra", 4), ("fabric", 1))]
    text = "\n".join(targets.targets_section(suite.Outcome(plan, runs=runs),
                                             {"startup": {"invoke --list s": 0.2}}))
    assert "| 10 | restart | 1.05× | ≤ 1.1× | met | yes (1.05 vs 1.50 s) | 1 vs 1 (library, fabric): fewest |" in text
    assert "| 10 | triage | 2.00× | - | reported | **no** (2.00 vs 1.50 s) | - |" in text
    assert "- restart at N = 10: 40 vs 40 MiB = 1.00× (target ≤ 1.1×): met" in text
    assert "`invoke --list` start-up: 0.200 s (target ≤ 0.15 s): **missed**" in text


def test_render_has_the_new_columns_the_targets_and_compose_at_n_1() -> None:
    plan = suite.Plan(counts=(10,), repeats=1, scenarios=("restart", "compose-restart"),
                      tools=("library", "fabric"))
    outcome = suite.Outcome(plan, runs=[run("fabric", 0.5), run("library", 0.6),
                                        run("fabric", 3.0, scenario="compose-restart", count=1),
                                        run("library", 4.0, scenario="compose-restart", count=1)],
                            started=0.0, finished=60.0)
    text = results.render(outcome, {}, {}, {})
    assert "| sessions/host | connections/host |" in text
    assert "### N = 1, compose-restart (the lab stack's ssh Docker host)" in text
    assert "## Targets" in text and "| 1 | compose-restart | 1.33× | - | reported |" in text


def test_tools_run_only_up_to_their_limit() -> None:
    assert bench_tasks._tools_up_to("ansible=10, ansible-cp=10") == {"ansible": 10,
                                                                      "ansible-cp": 10}
    with pytest.raises(Exit, match="tool=N pairs"):
        bench_tasks._tools_up_to("chef=10")
    plan = suite.Plan(tools=("library", "ansible"), tools_up_to={"ansible": 10})
    assert plan.tools_for(10) == ("library", "ansible") and plan.tools_for(50) == ("library",)
    # compose-restart is never part of an N's scenarios: it runs once, at N = 1
    assert "compose-restart" not in suite.Plan().scenarios_for(10)


def test_the_incident_is_three_processes_of_each_tool(tmp_path: Path) -> None:
    paths = tools.Paths(tmp_path, tmp_path / "inv.yml", tmp_path / "inv.py", tmp_path / "hosts.txt",
                        tmp_path / "key")
    library = tools.invocation("library", "incident", 10, paths).argv
    assert library[:2] == ("sh", "-c") and library[2].count(" -m invoke ") == 3
    assert [s in library[2] for s in (" status ", " restart --service nginx ", " health ")] == [True] * 3
    fabric = tools.invocation("fabric", "incident", 10, paths).argv[2]
    assert fabric.count("fabric_group.py") == 3 and "curl" in fabric
    assert tools.invocation("ansible", "incident", 10, paths).argv[2].count("ansible-playbook") == 3


def test_a_go_template_reaches_ansible_unrendered(tmp_path: Path) -> None:
    stack = tools.ComposeHost(tmp_path / "stack.yml", "/srv/stack", "remlab4", "rem4-dockerhost")
    paths = tools.Paths(tmp_path, tmp_path / "inv.yml", tmp_path / "inv.py", tmp_path / "hosts.txt",
                        tmp_path / "key", stack)
    tools.write_inputs(paths, ("compose-restart",))
    task = json.loads(paths.playbook("compose-restart").read_text())[0]["tasks"][0]
    assert task["ansible.builtin.shell"].startswith("{% raw %}cd /srv/stack && docker compose")


def test_output_must_name_every_host() -> None:
    names = {"bench1": "127.0.0.1:20001", "bench10": "127.0.0.1:20010"}
    assert effects.unmentioned("ok: [bench10]", names) == ["bench1"]
    assert effects.unmentioned("127.0.0.1:20001: up=200\nbench10 ok", names) == []
