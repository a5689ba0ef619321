"""The benchmark harness on two bench hosts: every tool really restarts nginx, `invoke bench`
writes the results table. Timings are printed by the harness, never asserted here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import testinfra

from benchmarks import hosts, tools
from benchmarks.measure import measure
from lab.manage import ssh_key_path

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
SLOT = int(os.environ.get("REMEDIATIONS_LAB_SLOT", "0") or 0)
FLEET = hosts.Fleet.for_slot(SLOT)
COUNT = 2


@pytest.fixture(scope="module")
def bench_hosts() -> Iterator[tuple[hosts.BenchHost, ...]]:
    started = hosts.up(FLEET, COUNT, lambda line: print(line, file=sys.stderr))
    tools.ensure_pyinfra(lambda line: print(line, file=sys.stderr))
    yield started
    hosts.down(FLEET)


@pytest.fixture(scope="module")
def paths(bench_hosts: tuple[hosts.BenchHost, ...],
          tmp_path_factory: pytest.TempPathFactory) -> tools.Paths:
    work = tmp_path_factory.mktemp("bench")
    files = hosts.write_inventories(bench_hosts, ssh_key_path(), work)
    found = tools.Paths(work, files["ansible"], files["pyinfra"], files["fabric"], ssh_key_path())
    tools.write_inputs(found)
    return found


def main_pid(host: hosts.BenchHost) -> int:
    infra = testinfra.get_host(f"docker://{host.container}")
    assert infra.service("nginx").is_running
    return int(infra.check_output("systemctl show -p MainPID --value nginx.service"))


@pytest.mark.parametrize("tool", tools.TOOLS)
def test_every_tool_really_restarts_nginx(tool: str, bench_hosts: tuple[hosts.BenchHost, ...],
                                          paths: tools.Paths) -> None:
    before = {h.name: main_pid(h) for h in bench_hosts}
    inv = tools.invocation(tool, "restart", COUNT, paths)
    run = measure(inv.argv, cwd=inv.cwd, env=inv.env)
    assert run.ok, f"{inv.display}\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
    after = {h.name: main_pid(h) for h in bench_hosts}
    assert all(after[h] and after[h] != before[h] for h in after), (before, after)
    assert run.wall_s > 0 and run.peak_rss > 0


def test_bench_writes_the_results_table(bench_hosts: tuple[hosts.BenchHost, ...],
                                        tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    proc = subprocess.run(
        [sys.executable, "-m", "invoke", "bench", "--hosts", str(COUNT), "--repeats", "1",
         "--warmup", "0", "--scenarios", "restart", "--output", str(out), "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=900, check=False,
        env={**os.environ, "REMEDIATIONS_LAB_SLOT": str(SLOT)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(proc.stdout)
    runs = data["runs"]
    assert sorted(r["tool"] for r in runs) == sorted(tools.TOOLS)
    assert all(r["problem"] == "" and r["rc"] == 0 for r in runs), runs
    # Round trips, from each host's sshd log: Fabric opens one connection and runs one
    # command; the library's restart is one script (lock, inspect, restart, verify, unlock).
    trips = {r["tool"]: (r["sessions"], r["connections"]) for r in runs}
    assert trips["fabric"] == ([1] * COUNT, [1] * COUNT), trips
    assert trips["library"] == ([1] * COUNT, [1] * COUNT), trips
    text = out.read_text()
    assert f"### N = {COUNT}, restart" in text
    table = [line for line in text.splitlines() if line.startswith("| ") and "| 1/1 |" in line]
    assert len(table) == len(tools.TOOLS), text
    fabric_row = next(line for line in table if "raw Fabric" in line)
    assert fabric_row.endswith("| 1.00× | 1.00× | 1 | 1 |")
    assert "## Targets" in text and f"| {COUNT} | restart |" in text
    assert "StartLimitIntervalSec=0" in text and "ansible-playbook" in text
    assert "bench:" in proc.stderr  # progress goes to stderr, stdout stays JSON
