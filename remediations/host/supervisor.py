"""supervisord programs (queue workers): started, restarted once per run, scaled by numprocs.

Facts come from `supervisorctl status`; a process's start time from `/proc/PID/stat`
(to the hundredth of a second, so "restarted after this run began" is exact), falling
back to supervisor's uptime, which is whole seconds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from remediations.connections.base import Connection
from remediations.core import validate
from remediations.core.errors import CommandFailed, InvalidInput
from remediations.core.result import Diff, Result, Status, Step
from remediations.core.scripts import script as load_script
from remediations.host import files
from remediations.run.contract import Verification, apply
from remediations.run.target import Target

STATES = ("STOPPED", "STARTING", "RUNNING", "BACKOFF", "STOPPING", "EXITED", "FATAL", "UNKNOWN")
STARTABLE = frozenset({"STOPPED", "EXITED", "FATAL"})
_LINE = re.compile(r"^(?P<spec>\S+)\s+(?P<state>" + "|".join(STATES) + r")\b\s*(?P<desc>.*)$")
_PID = re.compile(r"\bpid (\d+)")
_UPTIME = re.compile(r"\buptime (?:(\d+) days?, )?(\d+):(\d\d):(\d\d)")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
# Where distributions keep program sections (Debian, then RHEL); the first holding it wins.
CONF_GLOBS = ("/etc/supervisor/conf.d/*.conf", "/etc/supervisor/supervisord.conf",
              "/etc/supervisord.d/*.ini", "/etc/supervisord.conf")
MAX_NUMPROCS = 64
# Host-side clock and per-pid start ticks in one round trip.
_TIMES = load_script("proc-times.sh")


@dataclass(frozen=True, slots=True)
class Program:
    """One supervisor process, as `supervisorctl status` lists it."""

    name: str                       # laravel-worker_00
    group: str                      # laravel-worker
    state: str                      # RUNNING, STOPPED, ...
    pid: int = 0
    uptime: timedelta | None = None
    started_at: datetime | None = None

    @property
    def spec(self) -> str:
        """How supervisorctl addresses it: `group:name` (or `name` when alone in its group)."""
        return self.name if self.name == self.group else f"{self.group}:{self.name}"

    @property
    def running(self) -> bool:
        return self.state == "RUNNING"

    def describe(self) -> str:
        pid = f" pid {self.pid}" if self.pid else ""
        since = f" since {self.started_at:%H:%M:%S}" if self.started_at else ""
        return f"{self.spec}: {self.state}{pid}{since}"


def program_name(value: str, what: str = "program") -> str:
    """A supervisor program or group name: letters, digits, '_', '.', '-'."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise InvalidInput(f"not a valid supervisor {what} name: {value!r}")
    return value


def parse_supervisor_status(text: str, now: datetime | None = None) -> list[Program]:
    """Parse `supervisorctl status`; `started_at` is `now - uptime` (whole seconds)."""
    now = now or datetime.now(UTC)
    programs: list[Program] = []
    for line in text.splitlines():
        m = _LINE.match(line.strip())
        if not m:
            continue
        spec, state, desc = m["spec"], m["state"], m["desc"]
        group, _, name = spec.partition(":") if ":" in spec else (spec, "", spec)
        pid = int(p[1]) if (p := _PID.search(desc)) else 0
        uptime = None
        if state in ("RUNNING", "STOPPING") and (u := _UPTIME.search(desc)):
            days, hours, minutes, seconds = (int(x or 0) for x in u.groups())
            uptime = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        programs.append(Program(name, group, state, pid, uptime,
                                now - uptime if uptime is not None else None))
    return programs


def parse_start_times(text: str) -> dict[int, datetime]:
    """Parse `_TIMES` output: boot-relative start ticks of each pid, made wall-clock times."""
    lines = text.splitlines()
    try:
        since_boot = float(lines[0].split()[0])
        now = float(lines[1])
        hertz = int(lines[2])
    except (IndexError, ValueError):
        return {}
    times: dict[int, datetime] = {}
    for line in lines[3:]:
        pid, _, stat = line.partition(" ")
        # Field 2 (comm) may hold spaces: count fields after its closing parenthesis.
        fields = stat.rpartition(")")[2].split()
        if not pid.isdigit() or len(fields) < 20 or not fields[19].isdigit():
            continue
        started = now - (since_boot - int(fields[19]) / hertz)
        times[int(pid)] = datetime.fromtimestamp(started, UTC)
    return times


def supervisor_programs(conn: Connection, *, group: str | None = None,
                        precise: bool = True) -> list[Program]:
    """Every supervisor process (of `group`); raises `CommandFailed` when supervisord is away."""
    res = conn.run(["supervisorctl", "status"], check=False)
    # supervisorctl exits 3 when some process is not running; 4 and up mean it could not ask.
    programs = parse_supervisor_status(res.stdout)
    if res.exit_code not in (0, 3) and not programs:
        raise CommandFailed(res)
    if group is not None:
        programs = [p for p in programs if p.group == group]
    pids = [str(p.pid) for p in programs if p.pid]
    if precise and pids:
        times = parse_start_times(conn.run(["sh", "-c", _TIMES, "proc-times", *pids],
                                           check=False).stdout)
        programs = [replace(p, started_at=times.get(p.pid, p.started_at)) for p in programs]
    return programs


def _specs(programs: Sequence[Program], chosen: Sequence[Program]) -> list[str]:
    """supervisorctl names for `chosen`: `group:*` when it is the whole group."""
    specs: list[str] = []
    for group in dict.fromkeys(p.group for p in chosen):
        members = [p for p in programs if p.group == group]
        picked = [p for p in chosen if p.group == group]
        whole = len(picked) == len(members) and len(members) > 1
        specs += [f"{group}:*"] if whole else [p.spec for p in picked]
    return specs


def plan_programs_running(programs: Sequence[Program]) -> list[Step]:
    """Start what is stopped, exited or fatal; STARTING/BACKOFF are left to settle."""
    todo = [p for p in programs if p.state in STARTABLE]
    if not todo:
        return []
    return [Step(["supervisorctl", "start", *_specs(programs, todo)],
                 f"{len(todo)} process(es) not running")]


def plan_workers_restarted(programs: Sequence[Program], *, run_started: datetime) -> list[Step]:
    """Restart every process not (re)started since `run_started`; start the stopped ones."""
    start = [p for p in programs if p.state in STARTABLE]
    fresh = [p for p in programs if p.state == "STARTING"
             or (p.started_at is not None and p.started_at >= run_started)]
    restart = [p for p in programs if p not in start and p not in fresh]
    steps: list[Step] = []
    if restart:
        steps.append(Step(["supervisorctl", "restart", *_specs(programs, restart)],
                          "restart requested"))
    if start:
        steps.append(Step(["supervisorctl", "start", *_specs(programs, start)], "not running"))
    return steps


def wait_programs(conn: Connection, settled: Callable[[list[Program]], bool], *,
                  group: str | None, timeout: float, interval: float = 1.0) -> list[Program]:
    """Poll `supervisorctl status` until `settled(programs)` or time runs out; the last seen."""
    retry = Retrying(stop=stop_after_delay(timeout), wait=wait_fixed(interval),
                     retry=retry_if_result(lambda ps: not settled(ps)),
                     retry_error_callback=lambda s: s.outcome.result() if s.outcome else [])
    return retry(supervisor_programs, conn, group=group, precise=False)


def worker_log_tail(conn: Connection, group: str, lines: int = 20) -> str:
    """Evidence: supervisor's view, the group's first process output, supervisord's log."""
    status = conn.run(["supervisorctl", "status"], check=False)
    parts = [f"supervisorctl status:\n{status.tail(lines)}"]
    first = next((p for p in parse_supervisor_status(status.stdout)
                  if not group or p.group == group), None)
    if first is not None:
        out = conn.run(["supervisorctl", "tail", "-2000", first.spec], check=False)
        parts.append(f"supervisorctl tail {first.spec}:\n{out.tail(lines)}")
    log = conn.run(["tail", "-n", str(lines), "/var/log/supervisor/supervisord.log"], check=False)
    parts.append(f"supervisord.log (last {lines}):\n{log.tail(lines)}")
    return "\n".join(parts)


def _pids(programs: Sequence[Program]) -> dict[str, int]:
    return {p.spec: p.pid for p in programs}


def _unavailable(t: Target, name: str, exc: CommandFailed) -> Result:
    return t.result(name, Status.FAILED, "supervisord did not answer `supervisorctl status`",
                    evidence=str(exc))


def programs_running(t: Target, *, group: str | None = None, timeout: float = 60.0) -> Result:
    """Leave every supervisor process (of `group`) RUNNING, starting the stopped ones.

    Example: `programs_running(t, group="laravel-worker")`.
    """
    timeout = validate.seconds(timeout, "timeout")
    name = "programs_running"
    group = program_name(group, "group") if group is not None else None
    try:
        before = supervisor_programs(t.conn, group=group, precise=False)
    except CommandFailed as exc:
        return _unavailable(t, name, exc)
    which = f"group {group}" if group else "supervisor"
    if not before:
        return t.result(name, Status.FAILED, f"no processes in {which}")
    steps = plan_programs_running(before)
    settling = [p for p in before if not p.running and p.state not in STARTABLE]

    def verify() -> Verification:
        after = wait_programs(t.conn, lambda ps: bool(ps) and all(p.running for p in ps),
                              group=group, timeout=timeout)
        data = {"pids": _pids(after)}
        down = [p.describe() for p in after if not p.running]
        if down or not after:
            return Verification(False, f"not RUNNING: {', '.join(down) or 'no processes'}",
                                worker_log_tail(t.conn, group or ""), data)
        return Verification(True, f"{len(after)} process(es) RUNNING", data=data)

    if not steps and settling:
        # Nothing to start, but something is STARTING/BACKOFF: wait for it, then judge.
        check = verify()
        status = Status.OK if check.ok else Status.FAILED
        return t.result(name, status, f"{which}: {check.message}", evidence=check.evidence,
                        data=check.data)
    return apply(t, name, steps, verify=verify, data={"pids_before": _pids(before)},
                 ok_message=f"all {len(before)} process(es) of {which} RUNNING",
                 action=f"start {' '.join(steps[0].argv[2:]) if steps else ''}",
                 done=f"started {' '.join(steps[0].argv[2:]) if steps else ''}",
                 diff=Diff("\n".join(p.describe() for p in before), f"{which}: all RUNNING"),
                 on_failure=lambda: worker_log_tail(t.conn, group or ""))


def workers_restarted(t: Target, group: str = "laravel-worker", *,
                      timeout: float = 90.0) -> Result:
    """Leave every process of `group` RUNNING and restarted since this run began (once per run).

    A process started after the run's start counts as restarted (re-running the same
    run restarts nothing twice). Verified: all RUNNING, each restarted one with a new pid.
    Example: `workers_restarted(t, "laravel-worker")`.
    """
    timeout = validate.seconds(timeout, "timeout")
    name = "workers_restarted"
    group = program_name(group, "group")
    try:
        before = supervisor_programs(t.conn, group=group)
    except CommandFailed as exc:
        return _unavailable(t, name, exc)
    if not before:
        return t.result(name, Status.FAILED, f"no supervisor group {group!r} on {t.name}")
    steps = plan_workers_restarted(before, run_started=t.run.started_at)
    restarted = {p.spec: p.pid for p in before if p.state not in STARTABLE and p.pid}
    acted = {s for step in steps if step.argv[1] == "restart" for s in step.argv[2:]}
    whole = f"{group}:*" in acted

    def renewed(p: Program) -> bool:
        if not p.running or not p.pid:
            return False
        if whole or p.spec in acted:
            return p.pid != restarted.get(p.spec)
        return True

    def verify() -> Verification:
        after = wait_programs(t.conn, lambda ps: len(ps) == len(before) and all(map(renewed, ps)),
                              group=group, timeout=timeout)
        data = {"pids_before": _pids(before), "pids": _pids(after)}
        stale = [p.describe() for p in after if not renewed(p)]
        if stale or len(after) != len(before):
            return Verification(False, f"not restarted and RUNNING: {', '.join(stale)}",
                                worker_log_tail(t.conn, group), data)
        pids = ", ".join(f"{restarted.get(p.spec, '-')}->{p.pid}" for p in after)
        return Verification(True, f"{len(after)} RUNNING, pids {pids}", data=data)

    first = min((p.started_at for p in before if p.started_at), default=None)
    ok_msg = (f"{group}: all {len(before)} process(es) already restarted by this run"
              + (f" (since {first:%H:%M:%S})" if first else ""))
    return apply(t, name, steps, verify=verify, ok_message=ok_msg,
                 action=f"restart {group}", done=f"restarted {group}",
                 diff=Diff("\n".join(p.describe() for p in before), f"{group}: RUNNING, new pids"),
                 data={"pids_before": _pids(before)},
                 on_failure=lambda: worker_log_tail(t.conn, group))


def parse_numprocs(conf: str, program: str) -> tuple[int, str] | None:
    """`numprocs` (default 1) and `process_name` of `[program:NAME]`; None if absent."""
    section = _section(conf, program)
    if section is None:
        return None
    lines = conf.splitlines()[section[0]:section[1]]
    values = {}
    for line in lines:
        key, sep, value = line.partition("=") if "=" in line else line.partition(":")
        if sep:
            values[key.strip().lower()] = value.strip()
    numprocs = values.get("numprocs", "1")
    return (int(numprocs) if numprocs.isdigit() else -1), values.get("process_name", "")


def _section(conf: str, program: str) -> tuple[int, int] | None:
    """Line range of `[program:NAME]`'s body."""
    lines = conf.splitlines()
    header = f"[program:{program}]"
    starts = [i for i, line in enumerate(lines) if line.strip() == header]
    if not starts:
        return None
    end = next((i for i in range(starts[0] + 1, len(lines)) if lines[i].lstrip().startswith("[")),
               len(lines))
    return starts[0] + 1, end


def with_numprocs(conf: str, program: str, numprocs: int) -> str:
    """`conf` with `numprocs=N` in `[program:NAME]` (replaced in place, or added after the header)."""
    section = _section(conf, program)
    if section is None:
        raise ValueError(f"no [program:{program}] section")
    lines = conf.splitlines(keepends=True)
    rx = re.compile(r"^(\s*numprocs\s*[=:]\s*)\S*(.*)$", re.DOTALL)
    for i in range(*section):
        if m := rx.match(lines[i]):
            lines[i] = f"{m[1]}{numprocs}{m[2]}"
            return "".join(lines)
    lines.insert(section[0], f"numprocs={numprocs}\n")
    return "".join(lines)


def find_program_conf(conn: Connection, program: str) -> list[str]:
    """Config files holding `[program:NAME]` (see CONF_GLOBS)."""
    script = 'grep -lsF -e "$1" ' + " ".join(CONF_GLOBS) + " || true"
    res = conn.run(["sh", "-c", script, "find-conf", f"[program:{program}]"], check=False)
    return [line for line in res.stdout.splitlines() if line.strip()]


def workers_scaled(t: Target, numprocs: int, *, program: str = "laravel-worker",
                   conf_path: str | None = None, timeout: float = 90.0) -> Result:
    """Leave exactly `numprocs` processes of `program` RUNNING (numprocs= in its config).

    Edits `numprocs=` in the program's config file, then `supervisorctl reread` and
    `update PROGRAM` (which restarts that group only). Already N = ok.
    Example: `workers_scaled(t, 4)`, then `workers_scaled(t, 2)` to scale back.
    """
    numprocs = validate.count(numprocs, "numprocs", low=1, high=MAX_NUMPROCS)
    timeout = validate.seconds(timeout, "timeout")
    name = "workers_scaled"
    program = program_name(program)
    if conf_path is not None and (not conf_path.startswith("/") or not conf_path.isprintable()
                                  or ".." in conf_path.split("/")):
        raise InvalidInput(f"not a valid config path: {conf_path!r}")

    def failed(message: str, evidence: str = "") -> Result:
        return t.result(name, Status.FAILED, message, evidence=evidence)

    paths = [conf_path] if conf_path else find_program_conf(t.conn, program)
    if len(paths) != 1:
        where = ", ".join(paths) if paths else " ".join(CONF_GLOBS)
        return failed(f"[program:{program}] is in {len(paths)} config files ({where}); "
                      "pass conf_path to choose")
    path = paths[0]
    text = files.read_text(t.conn, path)
    parsed = parse_numprocs(text or "", program)
    if text is None or parsed is None:
        return failed(f"no [program:{program}] section in {path}")
    current, process_name = parsed
    if numprocs > 1 and "process_num" not in process_name:
        return failed(f"{path}: process_name must contain %(process_num)s to run "
                      f"{numprocs} processes of {program}; nothing changed")
    try:
        before = supervisor_programs(t.conn, group=program, precise=False)
    except CommandFailed as exc:
        return _unavailable(t, name, exc)
    steps: list[Step] = []
    diff = None
    if current != numprocs:
        fact = files.stat(t.conn, path)
        new = with_numprocs(text, program, numprocs)
        steps.append(files.write_step(path, new, mode=fact.mode or "0644",
                                      owner=f"{fact.owner}:{fact.group}" if fact.owner else None))
        diff = Diff(text, new)
    if current != numprocs or len(before) != numprocs:
        steps += [Step(["supervisorctl", "reread"], "load the changed config"),
                  Step(["supervisorctl", "update", program], f"apply it to {program} only")]
    else:
        steps += plan_programs_running(before)

    def verify() -> Verification:
        after = wait_programs(t.conn, lambda ps: len(ps) == numprocs and all(p.running for p in ps),
                              group=program, timeout=timeout)
        running = sum(p.running for p in after)
        data = {"numprocs": numprocs, "running": running, "pids": _pids(after)}
        if len(after) != numprocs or running != numprocs:
            return Verification(False, f"{running} of {len(after)} RUNNING, expected {numprocs}",
                                worker_log_tail(t.conn, program), data)
        return Verification(True, f"{numprocs} RUNNING", data=data)

    return apply(t, name, steps, verify=verify, diff=diff,
                 data={"conf": path, "numprocs_before": current, "processes_before": len(before)},
                 ok_message=f"{program}: {numprocs} process(es) RUNNING (numprocs={current})",
                 action=f"scale {program} from {len(before)} to {numprocs} process(es)",
                 done=f"scaled {program} from {len(before)} to {numprocs} process(es)",
                 on_failure=lambda: worker_log_tail(t.conn, program))
