"""Typed facts about containers, parsed from what the engine says: pure functions, no engine."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from remediations.core.errors import InvalidInput
from remediations.core.scripts import script

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def container_ref(value: str) -> str:
    """A container name or id (letters, digits, `_.-`), validated before any host is touched."""
    if not isinstance(value, str) or not _NAME.fullmatch(value.lstrip("/")):
        raise InvalidInput(f"not a valid container name or id: {value!r}")
    return value.lstrip("/")


def parse_time(value: str | None) -> datetime | None:
    """The engine's RFC 3339 time (nanoseconds, `Z`) as an aware datetime; None for the zero time."""
    if not value or value.startswith("0001-01-01"):
        return None
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?", value.strip())
    if not m:
        return None
    frac = (m.group(2) or "0")[:6].ljust(6, "0")
    zone = m.group(3) or "Z"
    stamp = datetime.fromisoformat(f"{m.group(1)}.{frac}{'+00:00' if zone == 'Z' else zone}")
    return stamp.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class HealthProbe:
    """One run of a container's healthcheck."""

    exit_code: int
    output: str
    end: str = ""


@dataclass(frozen=True, slots=True)
class ContainerFact:
    """What `docker inspect` says about one container."""

    id: str
    name: str
    image: str                      # as configured, e.g. remediations-lab/app:v1.2.3
    image_id: str
    state: str                      # created, running, paused, restarting, exited, dead
    exit_code: int = 0
    health: str | None = None       # starting, healthy, unhealthy; None without a healthcheck
    started_at: datetime | None = None
    restart_count: int = 0
    oom_killed: bool = False
    log_path: str = ""
    log_driver: str = ""
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    health_log: tuple[HealthProbe, ...] = ()

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def service(self) -> str:
        return self.labels.get("com.docker.compose.service", "")

    @property
    def ready(self) -> bool:
        """Running, and healthy when it has a healthcheck."""
        return self.running and self.health in (None, "healthy")

    def describe(self) -> str:
        health = f" ({self.health})" if self.health else ""
        since = f", started {self.started_at:%Y-%m-%d %H:%M:%S}" if self.started_at else ""
        code = f" {self.exit_code}" if self.state == "exited" else ""
        return f"{self.name}: {self.state}{code}{health}, {self.image}, {self.id[:12]}{since}"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "image": self.image, "state": self.state,
                "health": self.health, "exit_code": self.exit_code,
                "started_at": self.started_at.isoformat() if self.started_at else None}


def parse_container(attrs: Mapping[str, Any]) -> ContainerFact:
    """A `ContainerFact` from the engine's inspect document."""
    state = attrs.get("State") or {}
    config = attrs.get("Config") or {}
    health = state.get("Health") or None
    probes = tuple(HealthProbe(int(p.get("ExitCode", -1)), str(p.get("Output", "")).strip(),
                               str(p.get("End", ""))) for p in (health or {}).get("Log") or ())
    log_config = (attrs.get("HostConfig") or {}).get("LogConfig") or {}
    return ContainerFact(
        id=str(attrs.get("Id", "")), name=str(attrs.get("Name", "")).lstrip("/"),
        image=str(config.get("Image", "")), image_id=str(attrs.get("Image", "")),
        state=str(state.get("Status", "")), exit_code=int(state.get("ExitCode", 0) or 0),
        health=str(health["Status"]) if health and health.get("Status") else None,
        started_at=parse_time(state.get("StartedAt")),
        restart_count=int(attrs.get("RestartCount", 0) or 0),
        oom_killed=bool(state.get("OOMKilled")), log_path=str(attrs.get("LogPath") or ""),
        log_driver=str(log_config.get("Type", "")), labels=dict(config.get("Labels") or {}),
        health_log=probes,
    )


@dataclass(frozen=True, slots=True)
class ContainerStats:
    """Memory in use as the docker CLI counts it (inactive page cache excluded), and pids."""

    memory_bytes: int
    memory_limit: int
    pids: int = 0
    source: str = "engine"          # or "cgroup": read inside the container (see `stats`)

    @property
    def memory_percent(self) -> float:
        return 100.0 * self.memory_bytes / self.memory_limit if self.memory_limit else 0.0


def _without_cache(usage: int, stats: Mapping[str, Any]) -> int:
    for key in ("total_inactive_file", "inactive_file"):
        if key in stats and int(stats[key]) < usage:
            return usage - int(stats[key])
    return usage


def parse_stats(sample: Mapping[str, Any]) -> ContainerStats | None:
    """A `docker stats` sample (cgroup v1 or v2); None when the engine had no memory data."""
    mem = sample.get("memory_stats") or {}
    if "usage" not in mem:
        return None
    usage = _without_cache(int(mem.get("usage") or 0), mem.get("stats") or {})
    return ContainerStats(usage, int(mem.get("limit", 0) or 0),
                          int((sample.get("pids_stats") or {}).get("current", 0) or 0))


# Inside the container, its own cgroup: v2 (memory.current) or v1 (memory/...). key=value lines.
CGROUP_MEMORY = script("cgroup-memory.sh")


def parse_cgroup_memory(text: str, host_memory: int) -> ContainerStats | None:
    """`CGROUP_MEMORY`'s output; no limit ("max", or v1's near-2^63) counts as the host's memory."""
    values = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    if not values.get("usage", "").isdigit():
        return None
    usage = _without_cache(int(values["usage"]), {k: int(v) for k, v in values.items()
                                                  if k.endswith("inactive_file") and v.isdigit()})
    raw = values.get("limit", "")
    limit = int(raw) if raw.isdigit() and int(raw) < 2**62 else host_memory
    pids = values.get("pids", "")
    return ContainerStats(usage, limit, int(pids) if pids.isdigit() else 0, "cgroup")
