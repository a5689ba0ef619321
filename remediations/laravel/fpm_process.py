"""php-fpm without systemd (a pod's container): found in /proc, reloaded with USR2.

In an app image php-fpm runs in the foreground under the entrypoint (or as PID 1);
there is no unit to reload. Its master is the process titled `php-fpm: master process
(...)`, its workers `php-fpm: pool NAME`, children of the master. USR2 makes the master
re-execute itself with a new shared memory (so a new, empty opcache) and replace every
worker: the same master pid, new worker pids. Processes are read from /proc because
app images may carry no `ps`/`pgrep`; the signal is the shell's `kill` builtin.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from remediations.core import validate
from remediations.core.result import Result, Status, Step
from remediations.run import markers
from remediations.run.contract import Verification, apply
from remediations.run.target import Target

# One line per php-fpm process: `M <pid>` for a master, `W <pid> <ppid>` for a worker.
_PROCESSES = r"""
for d in /proc/[0-9]*; do
  t=$(tr '\0' ' ' < "$d/cmdline" 2>/dev/null) || continue
  case "$t" in
    "php-fpm: master process"*) echo "M ${d#/proc/}" ;;
    "php-fpm: pool "*) echo "W ${d#/proc/} $(sed -n 's/^PPid:[[:space:]]*//p' "$d/status" 2>/dev/null)" ;;
  esac
done
"""
MARKER = "reload-php-fpm-process"


@dataclass(frozen=True, slots=True)
class FpmProcesses:
    """The php-fpm master (0 when none) and the pids of its workers."""

    master: int
    workers: frozenset[int]


def parse_processes(text: str) -> FpmProcesses:
    """The oldest master (lowest pid) and its workers, from `_PROCESSES`' lines."""
    masters: list[int] = []
    workers: list[tuple[int, int]] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "M" and parts[1].isdigit():
            masters.append(int(parts[1]))
        elif len(parts) == 3 and parts[0] == "W" and parts[1].isdigit() and parts[2].isdigit():
            workers.append((int(parts[1]), int(parts[2])))
    if not masters:
        return FpmProcesses(0, frozenset())
    master = min(masters)
    return FpmProcesses(master, frozenset(pid for pid, parent in workers if parent == master))


def fpm_processes(t: Target) -> FpmProcesses:
    return parse_processes(t.conn.run(["sh", "-c", _PROCESSES], check=False).stdout)


def opcache_reset_in_process(t: Target, *, verify_timeout: float = 15.0) -> Result:
    """Leave the opcache of the php-fpm running in this container empty, once in this run.

    USR2 to the master (found in /proc), at most once per run (a marker in the container);
    verified: the master still runs and none of the workers from before is left.
    `skipped` when no php-fpm runs here. Used by `opcache_reset` on a Kubernetes host,
    once in every pod (`run.per_pod`).
    """
    verify_timeout = validate.seconds(verify_timeout, "verify_timeout")
    name = "opcache_reset"
    before = fpm_processes(t)
    if not before.master:
        return t.result(name, Status.SKIPPED, "no php-fpm master process runs here: "
                        "no opcache to reset")
    if markers.done(t.conn, t.run, MARKER):
        why, steps = "php-fpm already reloaded by this run", []
    else:
        why = ""
        steps = [Step(["sh", "-c", 'kill -USR2 "$1"', "_", str(before.master)],
                      "reset the opcache"), markers.mark_step(t.run, MARKER)]

    def verify() -> Verification:
        deadline = time.monotonic() + verify_timeout
        while True:
            after = fpm_processes(t)
            left = before.workers & after.workers
            if after.master and after.workers and not left:
                return Verification(True, f"workers replaced ({len(before.workers)} -> "
                                    f"{len(after.workers)}), master {after.master}",
                                    data={"workers_after": sorted(after.workers)})
            if time.monotonic() > deadline:
                return Verification(False, f"old workers still serving: {sorted(left)}"
                                    if after.master else "php-fpm has no master process now")
            time.sleep(0.3)

    return apply(t, name, steps, verify=verify, ok_message=why,
                 action=f"reload php-fpm (USR2 to master {before.master})",
                 done=f"reloaded php-fpm (master {before.master})",
                 data={"master": before.master, "workers_before": sorted(before.workers)})
