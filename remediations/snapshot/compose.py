"""A compose host's snapshot: services, memory, log tails, and the engine host's disk."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from remediations.docker.engine import DockerError, engine
from remediations.docker.project import open_compose
from remediations.run.target import Target
from remediations.snapshot.parse import parse_df, parse_log
from remediations.snapshot.shell import health

# Both df listings in one command (a constant: nothing from the inventory in it).
_DF = ["sh", "-c", "timeout 10 df -PT 2>/dev/null; echo; echo @@inodes; timeout 10 df -PTi 2>/dev/null"]
_STATS_MAX = 12  # containers sampled for memory: each costs an API call (or an exec)


def snapshot(t: Target, th: Mapping[str, float], *, lines: int) -> tuple[dict[str, Any], list[str]]:
    """Each service's state, health, restarts, memory and log tail; disk too over ssh."""
    scan = int(th["log_window"])
    commands: list[str] = []
    services: dict[str, dict[str, Any]] = {}
    logs: list[dict[str, Any]] = []
    with engine(t) as eng:
        comp = open_compose(t, eng)
        commands.append(" ".join(comp.argv("config", "--services")))
        found = comp.by_service(comp.services())
        sampled = 0
        for service, containers in found.items():
            first = containers[0] if containers else None
            entry: dict[str, Any] = {
                "state": first.state if first else "missing",
                "health": first.health if first else None,
                "image": first.image if first else None,
                "containers": [c.name for c in containers],
                "restarts": max((c.restart_count for c in containers), default=0),
                "oom_killed": any(c.oom_killed for c in containers)}
            if first is not None and first.running and sampled < _STATS_MAX:
                sampled += 1
                try:
                    stats = eng.stats(first.id)
                    entry["memory"] = {"bytes": stats.memory_bytes, "limit": stats.memory_limit,
                                       "percent": round(stats.memory_percent, 1)}
                except DockerError as exc:
                    entry["memory"] = {"error": str(exc)[:200]}
            services[service] = entry
            for c in containers:
                try:
                    text = eng.logs(c.id, tail=scan)
                except DockerError as exc:
                    logs.append({"kind": service, "path": c.name, "scanned": 0, "errors": 0,
                                 "tail": [f"logs not available: {exc}"]})
                    continue
                log = parse_log(service, c.name, [ln[:400] for ln in text.splitlines()], tail=lines)
                logs.append({"kind": log.kind, "path": log.path, "scanned": log.scanned,
                             "errors": log.errors, "tail": list(log.tail)})
        commands.append(f"docker logs --tail {scan} (each of {sum(map(len, found.values()))} "
                        "container(s)), docker stats")
    snap: dict[str, Any] = {"kind": "compose", "project": comp.proj.name,
                            "compose": comp.cli.label, "services": services, "logs": logs}
    if t.host.connection == "ssh":
        snap["disk"], snap["inodes"] = _df(t)
        commands.append(" ".join(_DF))
    snap["health"] = health(t, timeout=th["health_timeout"])
    return snap, commands


def _df(t: Target) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The engine host's file systems, blocks then inodes, in one round trip."""
    res = t.conn.run(_DF, check=False, timeout=30)
    blocks, _, inodes = res.stdout.partition("\n@@inodes\n")
    return ([asdict(d) for d in parse_df(blocks.splitlines())],
            [asdict(d) for d in parse_df(inodes.splitlines())])
