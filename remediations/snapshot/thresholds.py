"""What `triage` calls wrong: default thresholds, overridden by the inventory and by Python."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from remediations.core.errors import InvalidInput

# name -> (default, lowest, highest, what it means). Every value is a finite number.
_SPEC: dict[str, tuple[float, float, float, str]] = {
    "disk_critical": (90.0, 0.0, 100.0, "a file system this % full is critical"),
    "disk_warning": (80.0, 0.0, 100.0, "a file system this % full is a warning"),
    "inodes_critical": (90.0, 0.0, 100.0, "inodes this % used are critical"),
    "inodes_warning": (80.0, 0.0, 100.0, "inodes this % used are a warning"),
    "load_per_core": (2.0, 0.0, 1e6, "a 5-minute load per core above this is a warning"),
    "memory_available_percent": (10.0, 0.0, 100.0, "MemAvailable below this % is a warning"),
    "queue_length": (1000.0, 0.0, 1e12, "more jobs waiting in the default queue is a warning"),
    "failed_jobs": (0.0, 0.0, 1e12, "more failed jobs is a warning"),
    "log_errors": (0.0, 0.0, 1e9, "more ERROR lines in a log's last `log_window` lines is a warning"),
    "log_window": (200.0, 1.0, 100_000.0, "how many of a log's last lines are searched for errors"),
    # Off by default: a queue worker polling empty queues counts as misses, so a redis that
    # holds queues shows a ratio near 0 while perfectly healthy. Set it for a cache redis.
    "redis_hit_ratio": (0.0, 0.0, 1.0, "a redis hit ratio below this is a warning (0: off)"),
    "redis_min_lookups": (1000.0, 0.0, 1e15, "the hit ratio is judged only above this many hits + misses"),
    "db_connections_percent": (80.0, 0.0, 100.0, "database connections above this % of max: warning"),
    "db_query_seconds": (60.0, 0.0, 86400.0, "a query running longer than this is a warning"),
    "pod_restarts": (5.0, 0.0, 1e9, "a pod or container restarted more often is a warning"),
    "health_timeout": (5.0, 0.1, 300.0, "seconds the health URL may take to answer"),
}
WHOLE = frozenset({"log_window"})

DEFAULTS: Mapping[str, float] = {k: v[0] for k, v in _SPEC.items()}


def describe() -> dict[str, str]:
    """Each threshold's name -> its default and what it means, for help and the README."""
    return {k: f"{v[0]:g}: {v[3]}" for k, v in _SPEC.items()}


def _checked(name: str, value: object, where: str) -> float:
    if name not in _SPEC:
        raise InvalidInput(f"{where}: unknown triage threshold {name!r} "
                           f"(known: {', '.join(sorted(_SPEC))})")
    _, low, high, _ = _SPEC[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                value = None
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise InvalidInput(f"{where}: triage threshold {name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        raise InvalidInput(f"{where}: triage threshold {name} must be a finite number from "
                           f"{low:g} to {high:g}, got {value!r}")
    if name in WHOLE and number != int(number):
        raise InvalidInput(f"{where}: triage threshold {name} must be a whole number, got {value!r}")
    return number


def thresholds(inventory: object = None, given: Mapping[str, Any] | None = None, *,
               host: str = "") -> dict[str, float]:
    """The defaults, then the inventory's `triage_thresholds`, then `given`: each validated.

    `thresholds({"disk_warning": 70}, {"queue_length": 10})` -> the full dict of floats.
    """
    merged = dict(DEFAULTS)
    for where, source in ((f"{host}: inventory triage_thresholds", inventory),
                          ("thresholds", given)):
        if source is None:
            continue
        if not isinstance(source, Mapping):
            raise InvalidInput(f"{where} must be a mapping of name to number, got {source!r}")
        for name, value in source.items():
            merged[str(name)] = _checked(str(name), value, where)
    return merged
