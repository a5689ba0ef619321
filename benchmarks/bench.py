"""One family of hosts at one N: its inventories and inputs, and the checks around every run.

Three families: the web fleet (`rembench-<i>`: every scenario but two), the database fleet
(`rembench<k>db-<i>`: db-queries) and the lab stack's ssh Docker host (compose-restart, one
host whatever N). Each run is prepared (untimed), timed, checked for its effect from this
machine, and undone where the scenario needs it (rollback).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lab._run import LabError, Log, run
from lab.manage import ssh_key_path

from . import by_hand, effects, hosts, tools
from .measure import Measurement, measure
from .roundtrips import Counter
from .suite import Plan, Run

__all__ = ["Bench", "compose_commands", "paths_for"]

_KINDS = ("web", "db", "compose")


def _kind(scenario: str) -> str:
    if scenario in tools.ON_DATABASES:
        return "db"
    return "compose" if scenario in tools.ON_DOCKER_HOST else "web"


def _compose_host() -> tools.ComposeHost:
    from lab import stack_layout as stack  # this slot's (REMEDIATIONS_LAB_SLOT) stack

    return tools.ComposeHost(stack.INVENTORY, str(stack.PROJECT_DIR), stack.PROJECT,
                             stack.DOCKERHOST_CONTAINER)


def _compose_bench_host() -> hosts.BenchHost:
    from lab import stack_layout as stack

    return hosts.BenchHost("dockerhost-ssh", stack.DOCKERHOST_CONTAINER,
                           stack.DOCKERHOST_SSH_PORT, stack.BACKEND_PORT)


def paths_for(plan: Plan, count: int, scenario: str = "restart") -> tools.Paths:
    """Where `scenario`'s inventories and inputs are written at N = `count`."""
    kind = _kind(scenario)
    prefix = plan.fleet.databases().prefix if kind == "db" else plan.fleet.prefix
    work = hosts.BENCH_DIR / (f"{prefix}-compose" if kind == "compose" else f"{prefix}-n{count}")
    files = hosts.inventory_files(work, count)
    return tools.Paths(work, files["ansible"], files["pyinfra"], files["fabric"], ssh_key_path(),
                       _compose_host() if kind == "compose" else None)


def compose_commands(plan: Plan) -> dict[str, dict[str, str]]:
    """compose-restart -> tool -> the exact command line (one host: N = 1)."""
    fresh = Path("/tmp/rembench-cp-XXXXXXXX")
    return {s: {t: tools.invocation(t, s, 1, paths_for(plan, 1, s),
                                    fresh if t == "ansible" else None).display
                for t in plan.tools_for(1)}
            for s in plan.scenarios if s in tools.ON_DOCKER_HOST}


def _fabric(paths: tools.Paths, command: str, *, show: bool = False) -> Measurement:
    inv = tools.fabric_invocation(paths, command, show=show)
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


def _verbose_sshd(container: str) -> None:
    """sshd of the stack's ssh Docker host at LogLevel VERBOSE (a drop-in, then SIGHUP)."""
    script = (f"grep -qs VERBOSE {hosts.SSHD_VERBOSE} && exit 0; "
              f"printf 'LogLevel VERBOSE\\n' > {hosts.SSHD_VERBOSE} && "
              "kill -HUP \"$(cat /run/sshd.pid 2>/dev/null || echo 1)\" && sleep 1")
    run(["docker", "exec", container, "sh", "-c", script], timeout=60)


class Bench:
    """One family of hosts at N = `count`, ready to run any of its scenarios."""

    def __init__(self, plan: Plan, count: int, log: Log, *, kind: str = "web") -> None:
        if kind not in _KINDS:
            raise ValueError(f"kind: one of {', '.join(_KINDS)}, got {kind!r}")
        self.plan, self.count, self.log, self.kind = plan, count, log, kind
        scenario = {"web": "restart", "db": tools.ON_DATABASES[0],
                    "compose": tools.ON_DOCKER_HOST[0]}[kind]
        self.paths = paths_for(plan, count, scenario)
        if kind == "compose":
            self.hosts: tuple[hosts.BenchHost, ...] = (_compose_bench_host(),)
            if not _running(self.hosts[0].container):
                raise LabError(f"{self.hosts[0].container} is not running: start the stack "
                               "first (`invoke stack.up`, same REMEDIATIONS_LAB_SLOT)")
            _verbose_sshd(self.hosts[0].container)
            self.counter = Counter(containers={h.name: h.container for h in self.hosts})
            self.init: dict[str, int] = {}
        else:
            fleet = plan.fleet.databases() if kind == "db" else plan.fleet
            self.hosts = hosts.up(fleet, count, log)
            self.init = hosts.init_pids(self.hosts)
            self.counter = Counter(journals=self.init)
        hosts.write_inventories(self.hosts, self.paths.key, self.paths.work)
        tools.write_inputs(self.paths, tuple(s for s in tools.SCENARIOS if _kind(s) == kind))

    def commands(self) -> dict[str, dict[str, str]]:
        """Scenario -> tool -> the exact command line, for this family's scenarios."""
        return compose_commands(self.plan)

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
        if scenario in tools.ON_DATABASES:
            return self._long_query()
        return ""

    def _long_query(self) -> str:
        """A query running for more than --older-than seconds on every database host."""
        started = _fabric(self.paths, by_hand.start_sleep())
        if not started.ok:
            return f"starting the long query failed: {started.stderr[-300:]}"
        for _ in range(60):
            ages = _fabric(self.paths, by_hand.sleep_age(), show=True)
            seen = [int(m) for m in re.findall(r": (-?\d+)$", ages.stdout, re.M)]
            if len(seen) == self.count and min(seen) > by_hand.DB_OLDER_THAN:
                return ""
            time.sleep(1)
        return f"the long query is not older than {by_hand.DB_OLDER_THAN} s on every host"

    def _state(self, scenario: str) -> object:
        if scenario in tools.ON_DOCKER_HOST:
            assert self.paths.compose is not None
            return effects.service_started_at(self.paths.compose.project, by_hand.COMPOSE_SERVICE)
        return effects.nginx_pids(self.init)

    def _effect(self, scenario: str, before: object, m: Measurement) -> str:
        if scenario in tools.ON_DOCKER_HOST:
            after = self._state(scenario)
            return "" if after and after != before else (
                f"{by_hand.COMPOSE_SERVICE} not restarted (started at {after or 'nowhere'})")
        output = m.stdout + m.stderr
        names = {h.name: f"127.0.0.1:{h.ssh_port}" for h in self.hosts}
        if scenario in ("triage", "db-queries"):
            missing = effects.unmentioned(output, names)
            if missing:
                return f"output does not mention {', '.join(missing)}"
        if scenario == "db-queries":
            marker = "running > " if "db-status" in m.argv else by_hand.SLEEP_SQL
            found = output.count(marker)
            return "" if found >= self.count else (
                f"the long query is listed {found} time(s) for {self.count} host(s)")
        after = effects.nginx_pids(self.init)
        if scenario in ("restart", "incident"):
            problem = effects.restart_problem(before, after)  # type: ignore[arg-type]
            if scenario == "incident" and not problem:
                problem = effects.health_problem({h.name: h.health_url for h in self.hosts})
            return problem
        if scenario in ("noop", "triage"):
            return effects.unchanged_problem(before, after)  # type: ignore[arg-type]
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

    def once(self, tool: str, scenario: str, round_: int, *, count_trips: bool = False) -> Run:
        """Time `tool` doing `scenario` once (round 0 is the untimed warm-up).

        With `count_trips`, the ssh connections and sessions every host saw are counted
        from its sshd log (read after the run, outside the timed window).
        """
        control_dir = None
        if tool == "ansible":  # stock: cold connections, as any first run
            control_dir = Path(tempfile.mkdtemp(prefix="rembench-cp-", dir="/tmp"))
        inv = tools.invocation(tool, scenario, self.count, self.paths, control_dir)
        problem = self._prepare(scenario)
        before = self._state(scenario)
        if count_trips:
            self.counter.mark()
        m = measure(inv.argv, cwd=inv.cwd, env=inv.env, interval=self.plan.interval)
        if control_dir is not None:
            _close_masters(control_dir)
        trips = self.counter.count() if count_trips else {}
        if not problem:
            problem = (f"exit {m.rc}: {(m.stderr or m.stdout).strip()[-400:]}" if m.rc
                       else self._effect(scenario, before, m))
        self._reset(scenario, tool)
        return Run(self.count, scenario, tool, round_, m.rc, m.wall_s, m.peak_rss,
                   m.peak_processes, problem,
                   sessions=[trips[h.name].sessions for h in self.hosts if h.name in trips],
                   connections=[trips[h.name].connections for h in self.hosts
                                if h.name in trips])


def _running(container: str) -> bool:
    out = run(["docker", "inspect", "-f", "{{.State.Running}}", container], check=False)
    return out.returncode == 0 and out.stdout.strip() == "true"
