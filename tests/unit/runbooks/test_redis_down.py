"""The redis-down runbook: the scheduler paused while redis is down, and resumed by the run that paused it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from remediations.connections.recording import RecordingConnection
from remediations.core.result import Result, Status
from remediations.run.target import RunContext, Target
from remediations.runbooks.catalogue import redis_down
from tests.unit.helpers import host


def target() -> Target:
    # redis' unit is discovered (redis-server on Debian, redis on RHEL)
    conn = RecordingConnection().on(r"list-unit-files", stdout="redis-server.service enabled enabled\n")
    return Target(host("web1"), conn, RunContext("r1", datetime.now(UTC)))


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every remediation the runbook calls, faked: redis answers after it is started."""
    import remediations.host.redis as redis
    import remediations.host.supervisor as supervisor
    import remediations.host.systemd as systemd
    import remediations.laravel.scheduler as scheduler

    seen: list[str] = []
    state = {"up": False}

    def fake(name: str, status: Any = Status.CHANGED) -> Any:
        def fn(t: Target, **kwargs: Any) -> Result:
            seen.append(name + (f" {kwargs}" if kwargs else ""))
            if name == "redis_pong":
                return Result(t.name, name, Status.OK if state["up"] else Status.FAILED, "")
            if name == "service_running":
                changed = not state["up"]
                state["up"] = True
                return Result(t.name, name, Status.CHANGED if changed else Status.OK, "")
            return Result(t.name, name, status, "")
        return fn

    monkeypatch.setattr(redis, "redis_pong", fake("redis_pong"))
    monkeypatch.setattr(systemd, "service_running", fake("service_running"))
    monkeypatch.setattr(supervisor, "workers_restarted", fake("workers_restarted"))
    monkeypatch.setattr(scheduler, "scheduler_paused", fake("scheduler_paused"))
    monkeypatch.setattr(scheduler, "scheduler_resumed", fake("scheduler_resumed"))
    seen.append("up" if state["up"] else "down")
    return seen


def test_redis_down_pauses_then_resumes_what_this_run_paused(calls: list[str]) -> None:
    r = redis_down(target())
    assert r.status is Status.CHANGED
    assert calls == ["down", "redis_pong", "scheduler_paused", "service_running {'unit': 'redis-server.service'}",
                     "workers_restarted", "redis_pong", "scheduler_resumed {'this_run': True}",
                     "redis_pong"]
    steps = {s["remediation"]: s["status"] for s in r.data["steps"]}
    assert steps["scheduler paused"] == "changed" and steps["redis answers"] == "ok"


def test_redis_up_leaves_the_scheduler_alone_but_still_resumes_this_runs_pause(
        calls: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import remediations.host.redis as redis

    monkeypatch.setattr(redis, "redis_pong", lambda t, **kw: Result(t.name, "redis_pong", Status.OK, ""))
    r = redis_down(target())
    steps = {s["remediation"]: s["status"] for s in r.data["steps"]}
    assert steps["scheduler paused"] == "skipped" and steps["workers restarted"] == "skipped"
    assert "scheduler_resumed {'this_run': True}" in calls
