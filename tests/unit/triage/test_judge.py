"""Each threshold of `triage`, decided on a snapshot with no host: findings, worst first."""

from __future__ import annotations

from typing import Any

import pytest

from remediations.core.errors import InvalidInput
from remediations.snapshot.judge import judge_compose, judge_host, judge_kube, ordered
from remediations.snapshot.parse import parse_snapshot
from remediations.snapshot.thresholds import DEFAULTS, thresholds
from tests.unit.triage.sample import MARK, output, unit


def findings(th: dict[str, float] | None = None, **faults: Any) -> list[tuple[str, str]]:
    snap = parse_snapshot(output(**faults), MARK)
    return [(f["severity"], f["what"]) for f in judge_host(snap, th or dict(DEFAULTS))]


def test_a_healthy_host_has_no_findings() -> None:
    assert findings() == []


@pytest.mark.parametrize("faults,expected", [
    ({"units": unit("nginx.service", "inactive", "dead")}, [("critical", "unit nginx.service")]),
    ({"units": unit("php8.2-fpm.service", "failed", "failed", restarts=5)},
     [("critical", "unit php8.2-fpm.service")]),
    ({"units": unit("apache2.service", "inactive", "dead", "disabled")}, []),
    ({"disk_pct": 90}, [("critical", "disk /")]),
    ({"disk_pct": 89}, [("warning", "disk /")]),
    ({"disk_pct": 80}, [("warning", "disk /")]),
    ({"disk_pct": 79}, []),
    ({"scratch_pct": 100}, [("critical", "disk /mnt/scratch")]),
    ({"inode_pct": 95}, [("critical", "inodes /")]),
    ({"inode_pct": 85}, [("warning", "inodes /")]),
    ({"load": "9.0 4.2 1.0 1/1 1", "cpus": 2}, [("warning", "load")]),
    ({"load": "9.0 4.0 1.0 1/1 1", "cpus": 2}, []),               # 2.0 per core: not above
    ({"available_kb": 2_000_000}, [("warning", "memory")]),       # 8.1%
    ({"available_kb": 2_500_000}, []),                            # 10.1%
    ({"llen": "1001"}, [("warning", "queue")]),
    ({"llen": "1000"}, []),
    ({"failed": "  2026-11-23 10:00:00 5 ...... redis@default App\\Jobs\\Ping\nexit=0"},
     [("warning", "failed jobs")]),
    ({"ping": "Could not connect to Redis at 127.0.0.1:6379: Connection refused",
      "llen": "Could not connect"}, [("critical", "redis")]),
    ({"app_log": "[2026-12-06 10:00:00] production.ERROR: boom"}, [("warning", "app log")]),
    ({"hits": 1, "misses": 9000}, []),    # the hit ratio is off by default (queue polling)
    ({"maintenance": "on"}, [("warning", "maintenance")]),
    ({"timer": "inactive"}, [("warning", "scheduler")]),
])
def test_each_threshold(faults: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert findings(**faults) == expected


@pytest.mark.parametrize("hits,misses,expected", [
    (400, 700, [("warning", "redis hit ratio")]),   # 0.36 over 1100
    (400, 500, []),                                  # only 900 lookups
    (600, 500, []),                                  # 0.55
])
def test_the_hit_ratio_when_the_inventory_sets_it(hits: int, misses: int,
                                                  expected: list[tuple[str, str]]) -> None:
    th = {**DEFAULTS, "redis_hit_ratio": 0.5}
    assert findings(th, hits=hits, misses=misses) == expected


def test_redis_down_is_not_a_finding_where_no_redis_is_expected() -> None:
    faults = {"units": unit("nginx.service"), "ping": "Could not connect", "llen": "x"}
    assert findings(**faults) == []


def test_critical_first_then_warnings_in_order_found() -> None:
    got = findings(disk_pct=85, llen="5000", units=unit("nginx.service", "inactive", "dead")
                   + "\n" + unit("redis-server.service"))
    assert got == [("critical", "unit nginx.service"), ("warning", "disk /"),
                   ("warning", "queue")]
    assert ordered([{"severity": "warning", "what": "a", "detail": ""},
                    {"severity": "critical", "what": "b", "detail": ""}])[0]["what"] == "b"


def test_thresholds_move_the_line() -> None:
    th = thresholds({"disk_warning": 20}, {"queue_length": 0})
    assert findings(th, llen="1") == [("warning", "disk /"), ("warning", "queue")]


def test_health_not_2xx_is_critical() -> None:
    snap = parse_snapshot(output(), MARK) | {"health": {"url": "http://x/up", "status": 503,
                                                        "error": "", "latency_ms": 12.0}}
    (f,) = judge_host(snap, DEFAULTS)
    assert f["severity"] == "critical" and "HTTP 503" in f["detail"]
    snap["health"] = {"url": "http://x/up", "status": 0, "error": "ConnectionRefusedError",
                      "latency_ms": 1.0}
    assert "ConnectionRefusedError" in judge_host(snap, DEFAULTS)[0]["detail"]
    snap["health"]["status"] = 204
    assert judge_host(snap, DEFAULTS) == []


@pytest.mark.parametrize("db,expected", [
    ({"connections": {"in_use": 81, "max": 100}, "long_queries": []},
     [("warning", "database connections")]),
    ({"connections": {"in_use": 80, "max": 100}, "long_queries": []}, []),
    ({"connections": {"in_use": 2, "max": 100},
      "long_queries": [{"id": 4242, "user": "app", "seconds": 75, "query": "select pg_sleep(600)"}]},
     [("warning", "long query")]),
    ({"connections": {"in_use": 2, "max": 100},
      "long_queries": [{"id": 1, "user": "app", "seconds": 30, "query": "select 1"}]}, []),
    ({"error": "remediations.database is not installed"}, [("warning", "database")]),
])
def test_database(db: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    snap = parse_snapshot(output(), MARK) | {"database": db}
    got = judge_host(snap, DEFAULTS)
    assert [(f["severity"], f["what"]) for f in got] == expected
    if expected == [("warning", "long query")]:
        assert got[0]["detail"].startswith("pid 4242 user app running 75s")


def test_compose() -> None:
    snap = {"services": {"backend": {"state": "running", "health": "unhealthy", "restarts": 0},
                         "worker": {"state": "exited", "health": None, "restarts": 0},
                         "redis": {"state": "running", "health": "healthy", "restarts": 9},
                         "db": {"state": "running", "health": None, "restarts": 0}},
            "logs": [{"kind": "backend", "path": "remlab-backend-1", "scanned": 200, "errors": 3}]}
    got = [(f["severity"], f["what"]) for f in judge_compose(snap, DEFAULTS)]
    assert got == [("critical", "service backend"), ("critical", "service worker"),
                   ("warning", "service redis"), ("warning", "backend log")]


def test_kube() -> None:
    snap = {"replicas": {"desired": 3, "ready": 2},
            "pods": [{"name": "web-1", "phase": "Running", "ready": True, "restarts": 0},
                     {"name": "web-2", "phase": "Pending", "ready": False, "restarts": 6,
                      "reason": "ImagePullBackOff"}],
            "events": [{"type": "Warning", "reason": "BackOff", "message": "Back-off pulling"}]}
    got = [(f["severity"], f["what"]) for f in judge_kube(snap, DEFAULTS)]
    assert got == [("warning", "deployment"), ("warning", "pod web-2"), ("warning", "pod web-2"),
                   ("warning", "events")]
    snap["replicas"]["ready"] = 0
    assert judge_kube(snap, DEFAULTS)[0]["severity"] == "critical"


# -- thresholds ------------------------------------------------------------------------------

def test_threshold_defaults_and_precedence() -> None:
    th = thresholds({"queue_length": "50", "disk_warning": 70}, {"queue_length": 10})
    assert th["queue_length"] == 10 and th["disk_warning"] == 70 and th["disk_critical"] == 90
    assert thresholds() == dict(DEFAULTS)


@pytest.mark.parametrize("given", [
    {"disk_warning": float("nan")}, {"disk_warning": float("inf")}, {"disk_warning": "nan"},
    {"disk_warning": True}, {"disk_warning": "lots"}, {"disk_warning": None},
    {"disk_warning": 101}, {"queue_length": -1}, {"log_window": 2.5}, {"no_such": 1},
    {"redis_hit_ratio": 1.5},
])
def test_invalid_thresholds_are_refused(given: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        thresholds(None, given)
    with pytest.raises(InvalidInput, match="web1: inventory triage_thresholds"):
        thresholds(given, None, host="web1")


def test_thresholds_must_be_a_mapping() -> None:
    with pytest.raises(InvalidInput, match="mapping"):
        thresholds(["disk_warning", 1])
