"""`triage(t)`: one read-only snapshot of a host, judged against thresholds; never changes anything."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from remediations.core import validate
from remediations.core.redact import Redactor
from remediations.core.result import Result, Status
from remediations.run.target import Target
from remediations.snapshot import compose, judge, kube, shell
from remediations.snapshot.save import save_dir, saved
from remediations.snapshot.thresholds import thresholds as merged_thresholds

NAME = "triage"
MAX_LINES = 1000


def kind_of(t: Target) -> str:
    """`kubernetes`, `compose` (a host with compose_project) or `systemd` (any shell host)."""
    if t.host.connection == "kubernetes":
        return "kubernetes"
    if t.var("compose_project"):
        return "compose"
    return "systemd"


def _message(findings: list[dict[str, str]], snap: Mapping[str, Any]) -> str:
    if not findings:
        return f"all is well ({snap['kind']})"
    crit = sum(1 for f in findings if f["severity"] == judge.CRITICAL)
    head = f"{crit} critical, {len(findings) - crit} warning"
    return f"{head}: " + "; ".join(f"{f['what']}: {f['detail']}" for f in findings[:3]) + (
        f"; and {len(findings) - 3} more" if len(findings) > 3 else "")


def triage(t: Target, *, thresholds: Mapping[str, Any] | None = None, lines: int = 20,
           save_to: str | None = None) -> Result:
    """Leave everything as it is; report a snapshot of the host and what looks wrong, worst first.

    `ok` when nothing does (or only warnings), `failed` when a finding is critical. Data: the
    snapshot (per kind: units, load, memory, processes, disk, inodes, ports, redis, queue,
    failed jobs, scheduler, maintenance, release, log tails, health, database; compose
    services; Deployment, pods, events, pod logs) and `findings` [{severity, what, detail}].
    Thresholds: defaults, then inventory `triage_thresholds`, then `thresholds`. `lines`:
    lines of each log shown. `save_to`: also write `<save_to>/<run id>/<host>.json` and
    `summary.txt` here, secrets redacted. Example: `triage(t, thresholds={"disk_warning": 70})`.
    """
    th = merged_thresholds(t.var("triage_thresholds"), thresholds, host=t.name)
    lines = validate.count(lines, "lines", high=MAX_LINES)
    if save_to is not None:
        save_dir(save_to)
    started = time.monotonic()
    kind = kind_of(t)
    if kind == "kubernetes":
        snap, commands = kube.snapshot(t, th, lines=lines)
        findings = judge.judge_kube(snap, th)
    elif kind == "compose":
        snap, commands = compose.snapshot(t, th, lines=lines)
        findings = judge.judge_compose(snap, th)
    else:
        snap, commands = shell.snapshot(t, th, lines=lines)
        findings = judge.judge_host(snap, th)
        if snap.get("script_error"):
            findings.insert(0, judge.finding(judge.CRITICAL, "snapshot",
                                             f"the script did not finish: {snap['script_error']}"))
    snap["seconds"] = round(time.monotonic() - started, 3)
    redact = Redactor(t.host.secret_values())
    data: dict[str, Any] = redact.value({**snap, "thresholds": th, "findings": findings,
                                         "host": t.name, "run_id": t.run.run_id})
    critical = any(f["severity"] == judge.CRITICAL for f in findings)
    status = Status.FAILED if critical else Status.OK
    message = redact.text(_message(findings, snap))
    if save_to is not None:
        data["saved_to"] = saved(save_to, t.run.run_id, t.name, data, data["findings"],
                                 status.value)
    return t.result(NAME, status, message, commands=[redact.text(c) for c in commands],
                    data=data)
