"""Pure decisions: a snapshot and thresholds in, findings out (worst first)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

CRITICAL = "critical"
WARNING = "warning"
_RANK = {CRITICAL: 0, WARNING: 1}

Finding = dict[str, str]


def finding(severity: str, what: str, detail: str) -> Finding:
    """One finding: `{"severity": "critical"|"warning", "what": ..., "detail": ...}`."""
    return {"severity": severity, "what": what, "detail": detail}


def ordered(findings: Iterable[Finding]) -> list[Finding]:
    """Critical findings first, then warnings, each group in the order found."""
    return sorted(findings, key=lambda f: _RANK.get(f["severity"], 2))


def _fill(rows: Sequence[Mapping[str, Any]], what: str, crit: float, warn: float) -> list[Finding]:
    found = []
    for d in rows:
        pct = float(d["percent"])
        severity = CRITICAL if pct >= crit else WARNING if pct >= warn else ""
        if severity:
            found.append(finding(severity, f"{what} {d['mount']}",
                                 f"{pct:g}% used ({d['type']}, {d['source']})"))
    return found


def judge_host(snap: Mapping[str, Any], th: Mapping[str, float]) -> list[Finding]:
    """Findings about what a shell host's snapshot shows (units, disk, load, memory, logs...)."""
    found: list[Finding] = []
    for u in snap.get("units", ()):
        if u.get("expected") and u["active"] != "active":
            found.append(finding(CRITICAL, f"unit {u['name']}",
                                 f"{u['active']} ({u['sub']}), restarts {u['restarts']}"))
    found += _fill(snap.get("disk", ()), "disk", th["disk_critical"], th["disk_warning"])
    found += _fill(snap.get("inodes", ()), "inodes", th["inodes_critical"], th["inodes_warning"])
    load = snap.get("load")
    if load and load["per_core"] > th["load_per_core"]:
        found.append(finding(WARNING, "load", f"{load['five']:g} over 5 min on {load['cpus']} "
                             f"core(s): {load['per_core']:g} per core"))
    mem = snap.get("memory")
    if mem and mem.get("available_percent") is not None \
            and mem["available_percent"] < th["memory_available_percent"]:
        found.append(finding(WARNING, "memory", f"{mem['available_percent']:g}% available "
                             f"({mem['available_kb'] // 1024} MiB)"))
    found += judge_redis(snap.get("redis"), th, expected=_redis_expected(snap))
    failed = snap.get("failed_jobs")
    if failed and failed.get("count") is not None and failed["count"] > th["failed_jobs"]:
        found.append(finding(WARNING, "failed jobs", f"{failed['count']} failed job(s) "
                             "(artisan queue:failed)"))
    app = snap.get("app")
    if app and app.get("maintenance"):
        found.append(finding(WARNING, "maintenance", "the app is in maintenance mode "
                             "(storage/framework/down)"))
    sched = snap.get("scheduler") or {}
    timer = sched.get("timer")
    if timer and timer.get("enabled") == "enabled" and timer.get("active") != "active":
        found.append(finding(WARNING, "scheduler", f"{timer['unit']} {timer['active']}"))
    found += judge_logs(snap.get("logs", ()), th)
    found += judge_health(snap.get("health"))
    found += judge_database(snap.get("database"), th)
    return ordered(found)


def _redis_expected(snap: Mapping[str, Any]) -> bool:
    return any(u["name"].startswith("redis") and u.get("expected")
               for u in snap.get("units", ())) or bool(snap.get("redis_remote"))


def judge_redis(redis: Mapping[str, Any] | None, th: Mapping[str, float], *,
                expected: bool) -> list[Finding]:
    """Redis not answering (when it should), a long default queue, a poor hit ratio."""
    if not redis or not redis.get("installed"):
        return []
    found = []
    if not redis.get("answering"):
        if expected:
            found.append(finding(CRITICAL, "redis", f"not answering: {redis.get('error')}"))
        return found
    length = redis.get("queue_length")
    if length is not None and length > th["queue_length"]:
        found.append(finding(WARNING, "queue", f"{length} job(s) waiting in the default queue "
                             f"(threshold {th['queue_length']:g})"))
    lookups = redis["hits"] + redis["misses"]
    if redis.get("hit_ratio") is not None and lookups > th["redis_min_lookups"] \
            and redis["hit_ratio"] < th["redis_hit_ratio"]:
        found.append(finding(WARNING, "redis hit ratio", f"{redis['hit_ratio']:g} over "
                             f"{lookups} lookups"))
    return found


def judge_logs(logs: Iterable[Mapping[str, Any]], th: Mapping[str, float]) -> list[Finding]:
    """Logs with more error lines than allowed among their last lines."""
    return [finding(WARNING, f"{log['kind']} log", f"{log['errors']} error line(s) in the last "
                    f"{log['scanned']} of {log['path']}")
            for log in logs if log["errors"] > th["log_errors"]]


def judge_health(health: Mapping[str, Any] | None) -> list[Finding]:
    """The health URL not answering 2xx."""
    if not health:
        return []
    status = int(health.get("status") or 0)
    if 200 <= status < 300:
        return []
    why = f"HTTP {status}" if status else (health.get("error") or "no answer")
    return [finding(CRITICAL, "health", f"{health['url']}: {why} "
                    f"after {health.get('latency_ms', 0):g} ms")]


def judge_database(db: Mapping[str, Any] | None, th: Mapping[str, float]) -> list[Finding]:
    """Database connections near max, queries older than the threshold, a failed check."""
    if not db:
        return []
    if db.get("error"):
        return [finding(WARNING, "database", f"status not read: {db['error']}")]
    found = []
    conns = db.get("connections") or {}
    in_use, most = conns.get("in_use"), conns.get("max")
    if isinstance(in_use, (int, float)) and isinstance(most, (int, float)) and most > 0 \
            and 100.0 * in_use / most > th["db_connections_percent"]:
        found.append(finding(WARNING, "database connections",
                             f"{in_use} of {most} in use ({100.0 * in_use / most:.0f}%)"))
    for q in db.get("long_queries") or ():
        seconds = q.get("seconds")
        if isinstance(seconds, (int, float)) and seconds <= th["db_query_seconds"]:
            continue  # listed, but not older than this run's threshold
        ran = f"{seconds:.0f}s" if isinstance(seconds, (int, float)) else "long"
        found.append(finding(WARNING, "long query", f"pid {q.get('pid', q.get('id'))} user "
                             f"{q.get('user')} running {ran}: {str(q.get('query', ''))[:120]}"))
    return found


def judge_compose(snap: Mapping[str, Any], th: Mapping[str, float]) -> list[Finding]:
    """Services not running or unhealthy, restart loops, log errors, the engine host's disk."""
    found: list[Finding] = []
    for name, s in (snap.get("services") or {}).items():
        if s["state"] != "running" or s.get("health") not in (None, "healthy"):
            found.append(finding(CRITICAL, f"service {name}", f"{s['state']}"
                                 + (f" ({s['health']})" if s.get("health") else "")))
        elif s.get("restarts", 0) > th["pod_restarts"]:
            found.append(finding(WARNING, f"service {name}", f"restarted {s['restarts']} times"))
    found += _fill(snap.get("disk", ()), "disk", th["disk_critical"], th["disk_warning"])
    found += _fill(snap.get("inodes", ()), "inodes", th["inodes_critical"], th["inodes_warning"])
    found += judge_logs(snap.get("logs", ()), th)
    found += judge_health(snap.get("health"))
    return ordered(found)


def judge_kube(snap: Mapping[str, Any], th: Mapping[str, float]) -> list[Finding]:
    """Replicas not ready, pods not ready or restarting, warning events, log errors."""
    found: list[Finding] = []
    rep = snap.get("replicas") or {}
    want, ready = int(rep.get("desired") or 0), int(rep.get("ready") or 0)
    if want and ready == 0:
        found.append(finding(CRITICAL, "deployment", f"0 of {want} replicas ready"))
    elif ready < want:
        found.append(finding(WARNING, "deployment", f"{ready} of {want} replicas ready"))
    for p in snap.get("pods", ()):
        if not p["ready"]:
            found.append(finding(WARNING, f"pod {p['name']}", f"{p['phase']}, not ready"
                                 + (f": {p['reason']}" if p.get("reason") else "")))
        if p["restarts"] > th["pod_restarts"]:
            found.append(finding(WARNING, f"pod {p['name']}", f"restarted {p['restarts']} times"))
    warnings = [e for e in snap.get("events", ()) if e.get("type") == "Warning"]
    if warnings:
        last = warnings[-1]
        found.append(finding(WARNING, "events", f"{len(warnings)} warning event(s); last: "
                             f"{last.get('reason')} {last.get('message', '')[:160]}"))
    found += judge_logs(snap.get("logs", ()), th)
    found += judge_health(snap.get("health"))
    return ordered(found)
