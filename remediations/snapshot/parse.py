"""Pure parsers of the snapshot script's output (`triage.script`) into typed facts."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

# File systems that are never full of anyone's data: kernel views, and the files a
# container runtime bind-mounts (/etc/hosts...). tmpfs and overlay are kept (/run, /).
PSEUDO_TYPES = frozenset({"proc", "sysfs", "cgroup", "cgroup2", "devtmpfs", "devpts", "mqueue",
                          "debugfs", "tracefs", "securityfs", "pstore", "bpf", "configfs",
                          "fusectl", "hugetlbfs", "autofs", "binfmt_misc", "nsfs", "efivarfs",
                          "rpc_pipefs", "squashfs"})
_PSEUDO_MOUNTS = ("/proc", "/sys", "/dev")
_RUNTIME_FILES = frozenset({"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"})
# Lines of a log that count as errors: Laravel/monolog levels, nginx/apache, php-fpm,
# PostgreSQL and MySQL severities.
ERROR_LINE = re.compile(r"\.(ERROR|CRITICAL|ALERT|EMERGENCY):|\[(error|crit|alert|emerg)\]|"
                        r"\b(ERROR|CRITICAL|ALERT|EMERGENCY|FATAL|PANIC)\b|\[ERROR\]")
_FAILED_JOB = re.compile(r"^\s*\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+\S+")


@dataclass(frozen=True, slots=True)
class Unit:
    """One discovered unit's state."""

    name: str
    active: str
    sub: str
    main_pid: int
    restarts: int
    load: str
    enabled: str

    @property
    def expected(self) -> bool:
        """Meant to run: enabled (or generated/static and loaded), or running now."""
        return self.load == "loaded" and (self.enabled in ("enabled", "enabled-runtime",
                                                           "static", "generated", "alias")
                                          or self.active in ("active", "activating",
                                                             "reloading", "failed"))


@dataclass(frozen=True, slots=True)
class Disk:
    """One mounted file system: blocks (KiB) or inodes, and how full."""

    mount: str
    source: str
    type: str
    size: int
    used: int
    percent: float


@dataclass(frozen=True, slots=True)
class Process:
    pid: int
    user: str
    mem_percent: float
    cpu_percent: float
    rss_kb: int
    command: str


@dataclass(frozen=True, slots=True)
class LogTail:
    """A log's last lines: how many of the scanned ones are errors, and the tail shown."""

    kind: str
    path: str
    scanned: int
    errors: int
    tail: tuple[str, ...] = field(default=())


def sections(text: str, marker: str) -> list[tuple[str, list[str]]]:
    """The script's output split at `marker:name` lines, in order (a name may repeat)."""
    found: list[tuple[str, list[str]]] = []
    prefix = marker + ":"
    for line in text.splitlines():
        if line.startswith(prefix):
            found.append((line[len(prefix):], []))
        elif found:
            found[-1][1].append(line)
    for _, lines in found:
        while lines and not lines[-1].strip():
            lines.pop()
    return found


def _int(value: str, default: int = 0) -> int:
    try:
        return int(value.strip())
    except (ValueError, AttributeError):
        return default


def _float(value: str, default: float = 0.0) -> float:
    try:
        return float(value.strip().rstrip("%"))
    except (ValueError, AttributeError):
        return default


def parse_units(lines: list[str]) -> list[Unit]:
    """`systemctl show -p Id,...` blocks, one unit each, de-duplicated by Id (aliases)."""
    units: dict[str, Unit] = {}
    for block in re.split(r"\n\s*\n", "\n".join(lines)):
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        name = props.get("Id", "")
        if not name or props.get("LoadState") in (None, "not-found", "masked"):
            continue
        units.setdefault(name, Unit(name, props.get("ActiveState", ""), props.get("SubState", ""),
                                    _int(props.get("MainPID", "0")),
                                    _int(props.get("NRestarts", "0")),
                                    props.get("LoadState", ""), props.get("UnitFileState", "")))
    return sorted(units.values(), key=lambda u: u.name)


def parse_scheduler(lines: list[str]) -> dict[str, Any]:
    """The scheduler timer's state (None when there is none) and the cron file naming it."""
    props = dict(line.split("=", 1) for line in lines if "=" in line)
    timer = None
    if props.get("LoadState") == "loaded":
        timer = {"unit": props.get("Id", ""), "active": props.get("ActiveState", ""),
                 "enabled": props.get("UnitFileState", "")}
    return {"timer": timer, "cron": props.get("cron") or None}


def parse_load(lines: list[str]) -> dict[str, Any]:
    """/proc/loadavg and nproc: the three loads, the CPU count, the 5-minute load per core."""
    fields = lines[0].split() if lines else []
    cpus = _int(lines[1], 1) if len(lines) > 1 else 1
    one, five, fifteen = (_float(f) for f in (fields + ["0"] * 3)[:3])
    return {"one": one, "five": five, "fifteen": fifteen, "cpus": max(cpus, 1),
            "per_core": round(five / max(cpus, 1), 2)}


def parse_memory(lines: list[str]) -> dict[str, Any]:
    """/proc/meminfo's totals in KiB, and MemAvailable as a percentage of MemTotal."""
    kb = {k.strip(): _int(v.split()[0]) for k, v in (line.split(":", 1) for line in lines
                                                    if ":" in line) if v.split()}
    total = kb.get("MemTotal", 0)
    available = kb.get("MemAvailable", 0)
    return {"total_kb": total, "available_kb": available,
            "available_percent": round(100.0 * available / total, 1) if total else None,
            "swap_total_kb": kb.get("SwapTotal", 0), "swap_free_kb": kb.get("SwapFree", 0)}


def parse_processes(lines: list[str]) -> list[Process]:
    """`ps -eo pid=,user=,pmem=,pcpu=,rss=,comm=` lines."""
    found = []
    for line in lines:
        parts = line.split(None, 5)
        if len(parts) == 6 and parts[0].isdigit():
            found.append(Process(int(parts[0]), parts[1], _float(parts[2]), _float(parts[3]),
                                 _int(parts[4]), parts[5].strip()))
    return found


def parse_df(lines: list[str]) -> list[Disk]:
    """`df -PT` or `df -PTi`: real file systems only (pseudo ones and runtime files left out)."""
    found: dict[str, Disk] = {}
    for line in lines:
        parts = line.split()
        if len(parts) < 7 or not parts[2].isdigit():
            continue
        source, kind, size, used, _, percent = parts[:6]
        mount = " ".join(parts[6:])
        if (kind in PSEUDO_TYPES or mount in _RUNTIME_FILES
                or any(mount == p or mount.startswith(p + "/") for p in _PSEUDO_MOUNTS)):
            continue
        pct = _float(percent, -1.0)
        if pct < 0:  # `-`: no inodes to count (some file systems)
            continue
        found[mount] = Disk(mount, source, kind, _int(size), _int(used), pct)
    return list(found.values())


def parse_listening(lines: list[str]) -> list[dict[str, str]]:
    """`ss -ltnp`: each listening address with the process holding it, when shown."""
    found = []
    for line in lines:
        parts = line.split()
        if len(parts) < 5 or parts[0] != "LISTEN":
            continue
        process = re.search(r'\(\("([^"]+)",pid=(\d+)', line)
        found.append({"address": parts[3],
                      "process": f"{process.group(1)}[{process.group(2)}]" if process else ""})
    return found


def parse_kv(lines: list[str], sep: str = "=") -> dict[str, str]:
    """`key=value` (or `key:value`) lines; the first separator splits."""
    return {k.strip(): v.strip() for k, v in (line.split(sep, 1) for line in lines if sep in line)}


def parse_redis(lines: list[str]) -> dict[str, Any]:
    """PING, LLEN and INFO memory/stats lines: answering, queue length, memory, hit ratio."""
    pairs = parse_kv([line for line in lines if line.startswith(("ping=", "llen="))])
    info = parse_kv([line for line in lines if not line.startswith(("ping=", "llen="))], ":")
    ping = pairs.get("ping", "")
    installed = ping != "redis-cli not installed"
    hits, misses = _int(info.get("keyspace_hits", "0")), _int(info.get("keyspace_misses", "0"))
    llen = pairs.get("llen", "")
    return {"installed": installed, "answering": ping == "PONG",
            "error": "" if ping == "PONG" or not installed else (ping or "no answer"),
            "queue_length": int(llen) if llen.isdigit() else None,
            "used_memory": _int(info.get("used_memory", "0")),
            "maxmemory": _int(info.get("maxmemory", "0")),
            "evicted_keys": _int(info.get("evicted_keys", "0")),
            "hits": hits, "misses": misses,
            "hit_ratio": round(hits / (hits + misses), 3) if hits + misses else None}


def parse_app(lines: list[str]) -> dict[str, Any]:
    """Maintenance mode, and the release `app_path` points at when it is a symlink."""
    kv = parse_kv(lines)
    resolved = kv.get("resolved", "")
    release = resolved.rstrip("/").rsplit("/", 1)[-1] if kv.get("link") and resolved else None
    return {"maintenance": kv.get("maintenance") == "on", "release": release,
            "release_path": resolved or None}


def parse_failed_jobs(lines: list[str]) -> dict[str, Any]:
    """`artisan queue:failed` output and its exit code: the count, or why there is none."""
    code = _int(lines[-1].partition("=")[2], 1) if lines and lines[-1].startswith("exit=") else 1
    body = [line for line in lines[:-1]] if lines and lines[-1].startswith("exit=") else lines
    if code != 0:
        reason = "timed out" if code == 124 else (" ".join(body[-2:]).strip()[:300]
                                                  or f"exit {code}")
        return {"count": None, "error": reason}
    if any("No failed jobs" in line for line in body):
        return {"count": 0, "error": ""}
    return {"count": sum(1 for line in body if _FAILED_JOB.match(line)), "error": ""}


def parse_log(kind: str, path: str, lines: list[str], *, tail: int) -> LogTail:
    """A log's scanned lines: errors among them, and the last `tail` lines."""
    errors = sum(1 for line in lines if ERROR_LINE.search(line))
    return LogTail(kind, path, len(lines), errors, tuple(lines[-tail:] if tail else ()))


def parse_snapshot(text: str, marker: str, *, tail: int = 20) -> dict[str, Any]:
    """The whole script output as the snapshot dict `triage` reports (JSON-ready)."""
    snap: dict[str, Any] = {"units": [], "logs": [], "complete": False}
    for name, lines in sections(text, marker):
        if name == "units":
            snap["units"] = [asdict(u) | {"expected": u.expected} for u in parse_units(lines)]
        elif name == "scheduler":
            snap["scheduler"] = parse_scheduler(lines)
        elif name == "load":
            snap["load"] = parse_load(lines)
        elif name == "memory":
            snap["memory"] = parse_memory(lines)
        elif name in ("top_memory", "top_cpu"):
            snap[name] = [asdict(p) for p in parse_processes(lines)]
        elif name in ("disk", "inodes"):
            snap[name] = [asdict(d) for d in parse_df(lines)]
        elif name == "listening":
            snap["listening"] = parse_listening(lines)
        elif name == "redis":
            snap["redis"] = parse_redis(lines)
        elif name == "app":
            snap["app"] = parse_app(lines)
        elif name == "failed_jobs":
            snap["failed_jobs"] = parse_failed_jobs(lines)
        elif name.startswith("log:"):
            _, kind, path = name.split(":", 2)
            snap["logs"].append(asdict(parse_log(kind, path, lines, tail=tail)))
        elif name == "end":
            snap["complete"] = True
    return snap
