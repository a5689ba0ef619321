"""benchmarks/RESULTS.md: the machine, the versions, the exact commands, the table, the notes."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from lab._run import REPO_ROOT

from . import hosts, tools
from .roundtrips import median_per_host
from .suite import Outcome, Run, medians
from .targets import targets_section

__all__ = ["extras", "machine", "render", "versions"]

_MIB = 1 << 20
_LABELS = {
    "library": "remediations (invoke)",
    "ansible": "ansible-playbook (stock)",
    "ansible-cp": "ansible-playbook (pipelining + ControlPersist, warm)",
    "pyinfra": "pyinfra",
    "fabric": "raw Fabric ThreadingGroup",
}


def _out(argv: list[str]) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except OSError:
        return "not installed"
    return (proc.stdout or proc.stderr).strip().splitlines()[0] if (proc.stdout or proc.stderr) \
        else "?"


def machine() -> dict[str, str]:
    """Cores, RAM, kernel, CPU model."""
    import psutil

    model = next((line.split(":", 1)[1].strip() for line in
                  open("/proc/cpuinfo").read().splitlines() if line.startswith("model name")), "?")
    return {"cpu": model, "cores": str(os.cpu_count()),
            "ram": f"{psutil.virtual_memory().total / (1 << 30):.1f} GiB",
            "kernel": f"{platform.system()} {platform.release()}",
            "docker": _out(["docker", "version", "--format", "{{.Server.Version}}"]),
            "load average (1, 5, 15 min) when written": " ".join(
                open("/proc/loadavg").read().split()[:3])}


def _dist(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def versions() -> dict[str, str]:
    """Python and every tool the benchmark runs, with this library's commit."""
    pyinfra_python = tools.pyinfra_python()
    probe = ("import importlib.metadata as m; "
             "print(m.version('pyinfra'), m.version('paramiko'))")
    pyinfra, pyinfra_paramiko = [*_out([pyinfra_python, "-c", probe]).split(), "?", "?"][:2]
    commit = _out(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "remediations"],
                           capture_output=True, text=True, check=False).stdout.strip()
    if dirty:
        commit += " plus uncommitted changes in remediations/"
    return {
        "python": platform.python_version(),
        "remediations": f"{_dist('remediations')} (commit {commit})",
        "ansible-core": _dist("ansible-core"),
        "pyinfra": f"{pyinfra} (own venv, with paramiko {pyinfra_paramiko})"
        if pyinfra_python != sys.executable else pyinfra,
        "fabric": _dist("fabric"),
        "invoke": _dist("invoke"),
        "paramiko": _dist("paramiko"),
        "openssh": _out(["ssh", "-V"]),
    }


def extras(log: Callable[[str], None]) -> dict[str, Any]:
    """The start-up and inventory measurements of `benchmarks.startup` / `inventory_load`."""
    found: dict[str, Any] = {}
    for name in ("startup", "inventory_load"):
        module = f"benchmarks.{name}"
        if importlib.util.find_spec(module) is None:
            found[name] = {"skipped": f"{module} is not there yet"}
            continue
        log(f"measuring {module}")
        try:
            found[name] = dict(importlib.import_module(module).measure())
        except Exception as exc:  # noqa: BLE001 - reported in RESULTS.md, never hidden
            found[name] = {"failed": f"{type(exc).__name__}: {exc}"}
    return found


def _ratio(value: float, floor: float) -> str:
    if math.isnan(value) or math.isnan(floor) or floor <= 0:
        return "-"
    return f"{value / floor:.2f}×"


def _trips(runs: list[Run]) -> tuple[float | None, float | None]:
    """Median over hosts of the sessions and connections of the counting run (ok runs only)."""
    counted = next((r for r in runs if r.sessions and r.ok), None)
    if counted is None:
        return None, None
    return median_per_host(counted.sessions), median_per_host(counted.connections)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _by_tool(outcome: Outcome, count: int, scenario: str) -> dict[str, list[Run]]:
    return {t: [r for r in outcome.runs if (r.count, r.scenario, r.tool) == (count, scenario, t)]
            for t in outcome.plan.tools}


def _rows(outcome: Outcome, count: int, scenario: str) -> list[str]:
    by_tool = _by_tool(outcome, count, scenario)
    floor_wall, floor_mem = medians(by_tool.get("fabric", []))
    rows = []
    for tool, runs in by_tool.items():
        timed = [r for r in runs if r.timed]
        if not runs:
            continue
        wall, mem = medians(timed)
        good = [r.wall_s for r in timed if r.ok]
        spread = f"{min(good):.2f}–{max(good):.2f}" if good else "-"
        sessions, connections = _trips(runs)
        rows.append(f"| {_LABELS.get(tool, tool)} | {len(good)}/{len(timed)} | "
                    f"{'-' if math.isnan(wall) else f'{wall:.2f}'} | {spread} | "
                    f"{'-' if math.isnan(mem) else f'{mem / _MIB:.0f}'} | "
                    f"{_ratio(wall, floor_wall)} | {_ratio(mem, floor_mem)} | "
                    f"{_num(sessions)} | {_num(connections)} |")
    return rows


def _failures(runs: list[Run]) -> list[str]:
    return [f"- N={r.count} {r.scenario} round {r.round} {r.tool}: {r.problem}"
            for r in runs if not r.ok and r.timed]


def _extras_lines(found: dict[str, Any]) -> list[str]:
    lines = []
    for name, data in found.items():
        text = ", ".join(f"{k}: {v}" for k, v in data.items())
        lines.append(f"- `benchmarks/{name}.py`: {text}")
    return lines


def _counts(outcome: Outcome) -> list[int]:
    """The counts to show: --hosts, and N = 1 when compose-restart ran (or was stopped)."""
    one = any(r.count == 1 for r in outcome.runs) or 1 in outcome.skipped
    return sorted(set(outcome.plan.counts) | ({1} if one else set()))


def render(outcome: Outcome, mach: dict[str, str], vers: dict[str, str],
           found: dict[str, Any], notes: str = "") -> str:
    """The whole of RESULTS.md; `notes`: why a run was stopped or anything else to say."""
    plan = outcome.plan
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(outcome.started))
    took = (outcome.finished - outcome.started) / 60
    out = [
        "# Benchmark results",
        "",
        f"Generated by `invoke bench` on {when} ({took:.0f} min): N = "
        f"{', '.join(map(str, plan.counts))} hosts, {plan.repeats} timed runs per tool after "
        f"{plan.warmup} untimed warm-up round(s), tools alternating within each round. "
        "compose-restart runs on one host (the lab stack's ssh Docker host) whatever N: "
        "its table is N = 1. "
        "Wall time is the whole process, start to exit; memory is the peak of the summed RSS "
        f"of every process the tool started (sampled every {plan.interval * 1000:.0f} ms, in a "
        "memory cgroup made for the run, so daemonized ssh masters count). Medians over the "
        "runs that succeeded; ratios are to raw Fabric's median in the same table. "
        "sessions/host and connections/host are the ssh channels (command, sftp, shell) and "
        "connections each host's sshd logged during the first, untimed run of the tool "
        "(median over hosts; see below). Timings are never asserted in tests.",
        "",
        *([f"Scenarios run only up to some N (time budget): "
           f"{', '.join(f'{k} at N ≤ {v}' for k, v in plan.up_to.items())}.", ""]
          if plan.up_to else []),
        *([f"Tools run only up to some N (time budget): "
           f"{', '.join(f'{_LABELS.get(k, k)} at N ≤ {v}' for k, v in plan.tools_up_to.items())}.",
           ""] if plan.tools_up_to else []),
        *([notes, ""] if notes else []),
        "## Machine and versions",
        "",
        *[f"- {k}: {v}" for k, v in {**mach, **vers}.items()],
        "",
        "## Results",
        "",
    ]
    for count in _counts(outcome):
        if count in outcome.skipped:
            out += [f"### N = {count}", "", f"Not measured: {outcome.skipped[count]}.", ""]
            continue
        for scenario in plan.scenarios:
            rows = _rows(outcome, count, scenario)
            if not rows:
                continue
            where = " (the lab stack's ssh Docker host)" if scenario in tools.ON_DOCKER_HOST \
                else ""
            out += [f"### N = {count}, {scenario}{where}", "",
                    "| tool | runs ok | median wall s | min–max s | median peak MiB "
                    "| wall vs Fabric | memory vs Fabric | sessions/host | connections/host |",
                    "|---|---|---|---|---|---|---|---|---|", *rows, ""]
            done = {r.round for r in outcome.runs
                    if (r.count, r.scenario) == (count, scenario) and r.timed}
            if len(done) < plan.repeats:
                out += [f"Only {len(done)} of {plan.repeats} rounds were done "
                        f"({notes or 'the run was stopped'}).", ""]
        missing = [s for s in plan.scenarios_for(count) if not any(
            (r.count, r.scenario) == (count, s) for r in outcome.runs)] \
            if count in plan.counts else []
        if missing and count not in outcome.skipped:
            out += [f"### N = {count}, {', '.join(missing)}", "",
                    f"Not measured ({notes or 'the run was stopped'}).", ""]
    out += targets_section(outcome, found)
    failures = _failures(outcome.runs)
    out += ["## Failed runs", "", *(failures or ["None: every timed run exited 0 and its "
                                                 "effect was checked on every host."]), ""]
    out += ["## Start-up and inventory", "", *_extras_lines(found), ""]
    out += ["## Exact commands", "",
            "Shown for the largest N measured; for another N only the count (forks = N "
            "everywhere) and the directory differ. The inventories list the same hosts, key, "
            "user (root) and ports for every tool, host-key checking off.", ""]
    for scenario, cmds in outcome.commands.items():
        out += [f"### {scenario}", "", "```sh", *cmds.values(), "```", ""]
    out += ["## What each scenario does and checks", "", *_NOTES.splitlines(), ""]
    if outcome.host_memory:
        out += [f"Memory of one bench host, measured as MemAvailable's drop when the first "
                f"hosts started: about {outcome.host_memory / _MIB:.0f} MiB.", ""]
    return "\n".join(out).rstrip() + "\n"


_NOTES = f"""\
- **Hosts**: containers `rembench-<i>` with systemd as PID 1 (the lab's run flags), from
  the lab's web image with {', '.join(hosts.DISABLED)} disabled (nothing here uses them) and a
  systemd drop-in `StartLimitIntervalSec=0` on {', '.join(hosts.UNLIMITED)}: repeated
  restarts would otherwise trip systemd's start limit (5 starts in 10 s). sshd on
  127.0.0.1:20000+i, nginx on 127.0.0.1:21000+i (below the ephemeral port range); nginx, php-fpm, redis and the Laravel
  releases as on the lab hosts. Each systemd host takes about 5 inotify instances, so
  `fs.inotify.max_user_instances` is raised (from Linux's default of 128) when too low.
- **Every run is checked** from this machine through `/proc/<container init>/root`, and
  counts only if it exited 0 and: restart — every host's nginx master PID changed;
  no-op — every PID is unchanged; caches — no config cache is left (each run starts with
  `config:cache` done, untimed); rollback — `current` points at releases/v1.2.2 (each run
  starts on v1.2.3; afterwards the hosts are put back untimed: the library by its own
  `rollback --release v1.2.3`, the others by the same shell switch).
- **Round trips** (sessions/host, connections/host): the bench images' sshd logs at
  `LogLevel VERBOSE` (drop-in `{hosts.SSHD_VERBOSE}`), one `Accepted publickey` line per
  connection and one `Starting session:` line per channel (a command, the sftp subsystem, a
  shell). After the first run of each tool, scenario and N (the untimed warm-up), each
  host's journal is read from this machine (`journalctl -D /proc/<init>/root/var/log/journal
  --after-cursor`, the cursor taken just before the run), so nothing runs on the hosts
  during a timed run. The ssh Docker host has no journal: its sshd (stderr) is read with
  `docker logs --since`, after the same drop-in and a SIGHUP. Only a counting run that
  passed its checks is shown; the figure is the median over hosts.
- **restart**: the library inspects (unit state, MainPID), takes its lock, restarts,
  verifies active with a new MainPID, writes the audit log. Ansible and pyinfra restart
  and run `systemctl is-active`; pyinfra also reads its systemd facts first. Fabric runs
  `systemctl restart nginx && systemctl is-active nginx`.
- **noop**: the library's `start` (inspect, nothing to do, `ok`); Ansible `state: started`
  and pyinfra `running=True` (each reads state, does nothing) plus `is-active`; Fabric only
  `systemctl is-active nginx`.
- **caches**: the library reads which caches exist and clears only those (config, route,
  view, event files, the redis store), verifies the files are gone; the others run
  `artisan optimize:clear` as www-data (clears all, verifies nothing beyond exit 0).
- **rollback**: the library reads every host first (the release must exist), switches
  atomically (`ln -sfn` + `mv -T`), rebuilds config/route/view caches in the release,
  reloads php-fpm, `queue:restart`, verifies `/up` serves 1.2.2 from this machine and
  php-fpm is active, marks v1.2.3 bad and appends to the release history, audit log. The
  others do `ln -sfn` + `mv -T`, `systemctl reload php8.2-fpm` and check
  `curl /up` on the host reports 1.2.2: no cache rebuild, no queue restart, no lock, no
  record, and nothing read before acting (a missing release is found only by the curl).
- **triage**: the library's `triage` (read-only): one script per host (systemd units,
  scheduler, load, memory, top processes, disk, inodes, listening sockets, redis PING, LLEN
  and INFO, maintenance flag, release link, `queue:failed`, the last lines of the app,
  nginx and php-fpm logs) plus the health URL fetched from this machine. Fabric runs the
  same reads as one `;`-separated shell line (`/up` with curl on the host), pyinfra with
  `server.shell` (`-vvv`, to print them), Ansible with a shell task (`-v`). Checked: exit 0,
  the output names every host, and nginx kept its master PID (nothing changed).
- **db-queries**: on a fleet of its own (`rembench<k>db-<i>`, up only while this scenario
  runs, removed after), built from the lab's db image with everything but PostgreSQL 15
  and sshd disabled (no web stack, MariaDB or PgBouncer). Before the runs (untimed) every
  host starts `SELECT pg_sleep(3600)` as a transient unit (`systemd-run`,
  application_name `rembench-sleep`) and the harness waits until it is older than 5 s.
  The library runs `db-status --engine postgresql --older-than 5`; the others the same
  pg_stat_activity query through `runuser -u postgres -- psql`. Checked: the output names
  every host and lists the long query once per host at least.
- **compose-restart**: one host whatever `--hosts` says (its table is N = 1): the lab
  stack's ssh Docker host (`invoke stack.up`, same `REMEDIATIONS_LAB_SLOT`). The library
  runs `compose-restart --service worker -i <the stack's inventory> --limit dockerhost-ssh`
  (inspect, restart once per run, wait healthy); the others `cd <project> && docker compose
  -p <project> restart worker`, then poll `docker inspect` until the container is healthy.
  Checked: the worker container has a new `State.StartedAt`.
- **incident**: three commands a person runs a minute apart, timed as a whole (one `sh -c
  'A && B && C'`): the library's `status --services nginx,php8.2-fpm,redis-server`,
  `restart --service nginx`, `health`; Fabric three fabric_group.py processes
  (`systemctl is-active nginx php8.2-fpm redis-server`; restart + is-active; curl /up on the
  host); pyinfra and Ansible three runs each. Checked: nginx has a new master PID and every
  host's /up answers 200 from this machine.
- **Ansible stock** uses ansible-core's defaults, whose ssh args already include
  `ControlPersist=60s`; each stock run gets a fresh ControlPath directory, so its
  connections are cold as a first run's, and its masters are closed after the run
  (untimed). **Ansible tuned** adds `pipelining` and `ControlPersist=600s`, warmed by the
  warm-up round: its masters live outside the timed run and its memory.
- pyinfra runs from its own virtualenv when it is not importable here (its paramiko pin
  differs from this library's): started the same way, a fresh `python -m pyinfra`."""
