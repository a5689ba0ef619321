"""Every numeric argument of the public API: a hostile value is `InvalidInput` before any host is reached.

The parameters are found by introspection (`remediations._EXPORTS` and `RUNBOOKS`), so a
new exported function with an `int`/`float` parameter fails `test_every_numeric_parameter_
has_a_case` until it is added to `CASES` below. Each case calls the function with valid
arguments on a target whose every way out is a tripwire: the connection, the Docker engine
and the Kubernetes API raise `Contacted` (a `BaseException`, so no `except Exception` in
the library can swallow it). With valid values each case reaches the tripwire; with one
hostile value it must raise `InvalidInput` naming that parameter, and nothing was sent.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
import shlex
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import remediations
from remediations.connections.cluster import Cluster
from remediations.connections.pod import KubeConnection
from remediations.connections.recording import RecordingConnection
from remediations.core.errors import InvalidInput
from remediations.inventory import Host
from remediations.run.target import RunContext, Target
from remediations.runbooks.catalogue import RUNBOOKS

START = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)
NUMERIC = re.compile(r"\b(int|float)\b")

# Exported callables with numeric parameters that are not checked here, and why.
NOT_HERE = {
    "RunOptions": "the run layer's options (run/runner.py), validated by their owners",
    "rollback": "forks and timeout go to RunOptions (run layer)",
    "rollback_hosts": "forks and timeout go to RunOptions (run layer)",
}


class Contacted(BaseException):  # not Exception: no `except Exception` may swallow it
    """Something tried to reach the host, its Docker engine or its cluster."""


class TripwireConnection(RecordingConnection):
    """Records the command, then refuses it: nothing past validation may run."""

    def _execute(self, argv: tuple[str, ...], timeout: float | None,
                 command: str) -> tuple[int, str, str]:
        self.commands.append(argv)
        raise Contacted(shlex.join(argv))


class TripwireApi:
    """A Kubernetes API object (`AppsV1Api`, `CoreV1Api`) whose every method is a tripwire."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, method: str) -> Any:
        self.calls.append(method)
        raise Contacted(method)


# -- targets ---------------------------------------------------------------------------------

HOSTVARS = {"health_url": "http://127.0.0.1:9/up", "app_path": "/srv/app/current",
            "php_fpm_service": "php8.2-fpm"}
DOCKERVARS = {"ansible_connection": "local", "compose_project_dir": "/srv/lab/compose",
              "compose_project": "remlab", "app_service": "backend", **HOSTVARS}


@dataclasses.dataclass
class Tripwires:
    """Every way out of one case, and what went through each."""

    conn: TripwireConnection
    apis: tuple[TripwireApi, TripwireApi]
    engines: list[str]

    def sent(self) -> list[str]:
        return [*map(shlex.join, self.conn.commands), *self.apis[0].calls, *self.apis[1].calls,
                *self.engines]


@pytest.fixture
def wires(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], tuple[Target, Tripwires]]]:
    """`wires(kind)`: a target of that kind ("host", "docker", "kube") and its tripwires."""
    from remediations.docker import engine as docker_engine

    engines: list[str] = []

    def no_engine(t: Target, *args: Any) -> Any:
        engines.append(t.name)
        raise Contacted(f"Docker engine of {t.name}")

    monkeypatch.setattr(docker_engine, "_local", no_engine)
    monkeypatch.setattr(docker_engine, "_over_ssh", no_engine)

    def build(kind: str) -> tuple[Target, Tripwires]:
        conn = TripwireConnection("web1")
        apis = (TripwireApi(), TripwireApi())
        run = RunContext("r1", START)
        if kind == "kube":
            host = Host("web", {"ansible_connection": "kubernetes"})
            cluster = Cluster(apis[0], apis[1], deployment="web")
            return Target(host, KubeConnection(host, cluster=cluster), run), Tripwires(conn, apis, engines)
        hostvars = DOCKERVARS if kind == "docker" else HOSTVARS
        return Target(Host("web1", dict(hostvars)), conn, run), Tripwires(conn, apis, engines)

    yield build


# -- one valid call per exported callable with numeric parameters ----------------------------

Call = Callable[[Target, dict[str, Any]], Any]


def _r(name: str) -> Any:
    return getattr(remediations, name)


def _memory(t: Target, kw: dict[str, Any]) -> Any:
    threshold = {"max_percent": 50.0} if "max_percent" in kw else {"max_bytes": 2**30}
    return _r("container_restarted_above_memory")(
        t, "backend", **{**threshold, "timeout": 60.0, "stop_timeout": 10, **kw})


# name: (target kind, call with the numeric arguments valid unless overridden by `kw`)
CASES: dict[str, tuple[str, Call]] = {
    "git_at_release": ("host", lambda t, kw: _r("git_at_release")(
        t, "v1.2.2", **{"health_timeout": 30.0, **kw})),
    "compose_service_scaled": ("docker", lambda t, kw: _r("compose_service_scaled")(
        t, "worker", **{"replicas": 2, "timeout": 60.0, **kw})),
    "env_setting_temporary": ("host", lambda t, kw: _r("env_setting_temporary")(
        t, name="APP_DEBUG", value="true", **{"minutes": 15.0, **kw})),
    "failed_jobs_listed": ("host", lambda t, kw: _r("failed_jobs_listed")(t, **{"limit": 50, **kw})),
    "horizon_continued": ("host", lambda t, kw: _r("horizon_continued")(t, **{"timeout": 30.0, **kw})),
    "horizon_paused": ("host", lambda t, kw: _r("horizon_paused")(t, **{"timeout": 30.0, **kw})),
    "horizon_terminated": ("host", lambda t, kw: _r("horizon_terminated")(
        t, **{"timeout": 90.0, **kw})),
    "queue_restart_verified": ("host", lambda t, kw: _r("queue_restart_verified")(
        t.conn, [], **{"timeout": 5.0, "interval": 1.0, **kw})),
    "queue_worker_processes_job": ("host", lambda t, kw: _r("queue_worker_processes_job")(
        t, **{"timeout": 60.0, **kw})),
    "Cluster": ("none", lambda t, kw: Cluster(None, None, deployment="web",
                                              **{"connect_timeout": 5.0, **kw})),
    "connect": ("none", lambda t, kw: _r("connect")(t.host, **{"timeout": 30.0, **kw})),
    "load_inventory": ("none", lambda t, kw: _r("load_inventory")(
        "web1,", **{"cache_ttl": 60.0, **kw})),
    "at_release": ("host", lambda t, kw: _r("at_release")(t, "v1.2.2", **{"timeout": 60.0, **kw})),
    "compose_at_release": ("docker", lambda t, kw: _r("compose_at_release")(
        t, "v1.2.2", **{"timeout": 60.0, **kw})),
    "compose_service_at_tag": ("docker", lambda t, kw: _r("compose_service_at_tag")(
        t, "backend", "v1.2.2", **{"timeout": 60.0, **kw})),
    "compose_service_restarted": ("docker", lambda t, kw: _r("compose_service_restarted")(
        t, "backend", **{"timeout": 60.0, **kw})),
    "compose_services_started": ("docker", lambda t, kw: _r("compose_services_started")(
        t, ["backend"], **{"timeout": 60.0, **kw})),
    "compose_stack_restarted": ("docker", lambda t, kw: _r("compose_stack_restarted")(
        t, **{"timeout": 60.0, **kw})),
    "container_logs_cleared": ("docker", lambda t, kw: _r("container_logs_cleared")(
        t, "backend", **{"keep_lines": 10, **kw})),
    "container_restarted_above_memory": ("docker", _memory),
    "database_reachable": ("host", lambda t, kw: _r("database_reachable")(
        t, **{"timeout": 30.0, **kw})),
    "database_status": ("host", lambda t, kw: _r("database_status")(
        t, **{"older_than": 60.0, **kw})),
    "long_queries_stopped": ("host", lambda t, kw: _r("long_queries_stopped")(
        t, **{"older_than": 60.0, "verify_timeout": 5.0, **kw})),
    "migrations_rolled_back": ("host", lambda t, kw: _r("migrations_rolled_back")(
        t, **{"steps": 1, "timeout": 60.0, **kw})),
    "deployment_at_release": ("kube", lambda t, kw: _r("deployment_at_release")(
        t, "v1.2.2", **{"timeout": 60.0, **kw})),
    "deployment_restarted": ("kube", lambda t, kw: _r("deployment_restarted")(
        t, **{"timeout": 60.0, **kw})),
    "deployment_rolled_back": ("kube", lambda t, kw: _r("deployment_rolled_back")(
        t, **{"to_revision": 2, "timeout": 60.0, **kw})),
    "deployment_scaled": ("kube", lambda t, kw: _r("deployment_scaled")(
        t, **{"replicas": 3, "timeout": 60.0, **kw})),
    "disk_usage": ("host", lambda t, kw: _r("disk_usage")(t, "/", **{"max_percent": 80, **kw})),
    "engine": ("docker", lambda t, kw: _r("engine")(t, **{"timeout": 30, **kw})),
    "evidence_preserved": ("host", lambda t, kw: _r("evidence_preserved")(
        t, **{"max_fetch_bytes": 2**20, **kw})),
    "http_ok": ("host", lambda t, kw: _r("http_ok")(
        t, from_host=True, **{"expect": (200,), "timeout": 5.0, "retries": 2, "interval": 0.5,
                              **kw})),
    "image_set": ("kube", lambda t, kw: _r("image_set")(
        t, "registry.example/shop/app:v1.2.3", **{"timeout": 60.0, **kw})),
    "large_logs": ("host", lambda t, kw: _r("large_logs")(t, "/var/log",
                                                          **{"min_size_mb": 50, **kw})),
    "log_truncated": ("host", lambda t, kw: _r("log_truncated")(
        t, "/var/log/app.log", **{"keep_lines": 100, "min_size": 2**20, **kw})),
    "maintenance_on": ("host", lambda t, kw: _r("maintenance_on")(t, **{"retry": 60, **kw})),
    "old_files_removed": ("host", lambda t, kw: _r("old_files_removed")(
        t, "/var/backups/app", **{"days": 7, "keep_last": 3, **kw})),
    "opcache_reset": ("host", lambda t, kw: _r("opcache_reset")(
        t, **{"verify_timeout": 15.0, **kw})),
    "programs_running": ("host", lambda t, kw: _r("programs_running")(
        t, **{"timeout": 30.0, **kw})),
    "queue_drained": ("host", lambda t, kw: _r("queue_drained")(
        t, **{"timeout": 30.0, "interval": 1.0, "db": 1, **kw})),
    "triage": ("host", lambda t, kw: _r("triage")(t, **{"lines": 20, **kw})),
    "queue_length": ("host", lambda t, kw: _r("queue_length")(
        t, **{"max_length": 1000, "db": 1, **kw})),
    "queue_restarted": ("host", lambda t, kw: _r("queue_restarted")(t, **{"timeout": 30.0, **kw})),
    "redis_keys_deleted": ("host", lambda t, kw: _r("redis_keys_deleted")(
        t, pattern="laravel:throttle:*", **{"count": 100, "db": 1, "max_keys": 1000, **kw})),
    "redis_pong": ("host", lambda t, kw: _r("redis_pong")(t, **{"db": 1, **kw})),
    "release_current": ("host", lambda t, kw: _r("release_current")(
        t, "v1.2.2", **{"health_timeout": 30.0, **kw})),
    "rollout_complete": ("kube", lambda t, kw: _r("rollout_complete")(t, **{"timeout": 60.0, **kw})),
    "service_running": ("host", lambda t, kw: _r("service_running")(
        t, "nginx", **{"verify_timeout": 10.0, **kw})),
    "workers_restarted": ("host", lambda t, kw: _r("workers_restarted")(
        t, **{"timeout": 30.0, **kw})),
    "workers_scaled": ("host", lambda t, kw: _r("workers_scaled")(
        t, **{"numprocs": 4, "timeout": 30.0, **kw})),
    "RUNBOOKS[queue-backlog]": ("host", lambda t, kw: RUNBOOKS["queue-backlog"](
        t, **{"drain_timeout": 60.0, **kw})),
    "RUNBOOKS[disk-full]": ("host", lambda t, kw: RUNBOOKS["disk-full"](
        t, **{"max_percent": 80, "keep_lines": 1000, "backup_days": 7, **kw})),
    "RUNBOOKS[db-connection]": ("host", lambda t, kw: RUNBOOKS["db-connection"](
        t, **{"stop_queries_older_than": 300.0, **kw})),
    "RUNBOOKS[slow-response]": ("host", lambda t, kw: RUNBOOKS["slow-response"](
        t, **{"stop_queries_older_than": 300.0, **kw})),
}


def _public_callables() -> Iterator[tuple[str, Callable[..., Any]]]:
    for name in sorted(remediations._EXPORTS):
        obj = getattr(remediations, name)
        if inspect.isclass(obj) and (issubclass(obj, BaseException) or dataclasses.is_dataclass(obj)):
            continue  # errors and data classes hold values; they do not act on hosts
        if callable(obj) and name not in NOT_HERE:
            yield name, obj
    for name, runbook in sorted(RUNBOOKS.items()):
        yield f"RUNBOOKS[{name}]", runbook


def numeric_parameters() -> list[tuple[str, str]]:
    """(callable, parameter) for every `int`/`float` (optional or in a collection) parameter."""
    found = []
    for name, obj in _public_callables():
        for param in inspect.signature(obj).parameters.values():
            if NUMERIC.search(str(param.annotation)):
                found.append((name, param.name))
    return found


PARAMETERS = numeric_parameters()


def test_every_numeric_parameter_has_a_case() -> None:
    assert {name for name, _ in PARAMETERS} == set(CASES)
    assert len(PARAMETERS) >= 50, PARAMETERS  # the introspection still sees the API


@pytest.mark.parametrize("name", sorted(CASES))
def test_valid_numbers_pass_validation(wires: Any, name: str) -> None:
    """The baseline: with valid numbers each case gets as far as the host (or, for the two
    that reach nothing, returns), so a refusal below is the hostile value's doing."""
    kind, call = CASES[name]
    t, trip = wires(kind)
    if kind == "none":
        call(t, {})
        assert trip.sent() == []
    else:
        with pytest.raises(Contacted):
            call(t, {})
        assert trip.sent()


# Outside every bound: the highest is 2**62 bytes; every lowest is at least 0.
HOSTILE = st.one_of(
    st.sampled_from([math.nan, -math.nan, math.inf, -math.inf, True, False, -1, -1.5, 2**63,
                     -(2**63), 10**400, -(10**400), 1e300, "5", b"5", 1j]),
    st.integers(max_value=-1),
    st.integers(min_value=2**63),
    st.floats(max_value=-1e-3),
    st.floats(min_value=1e19),
    st.floats(allow_nan=True).filter(math.isnan),
)


@pytest.mark.parametrize(("name", "param"), PARAMETERS, ids=[f"{n}-{p}" for n, p in PARAMETERS])
@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=HOSTILE)
def test_hostile_number_is_refused_before_any_host(wires: Any, name: str, param: str,
                                                   value: object) -> None:
    kind, call = CASES[name]
    t, trip = wires(kind)
    given_value = (200, value) if param == "expect" else value
    with pytest.raises(InvalidInput, match=rf"^{re.escape(param)} must be") as refused:
        call(t, {param: given_value})
    assert "\n" not in str(refused.value)
    assert trip.sent() == []


@pytest.mark.parametrize(("name", "kw", "message"), [
    ("http_ok", {"expect": ()}, "expect must be a collection of HTTP status codes, got ()"),
    ("http_ok", {"expect": "200"}, "expect must be a collection of HTTP status codes"),
    ("http_ok", {"expect": (200, 99)}, "expect must be from 100 to 599, got 99"),
    ("http_ok", {"expect": (600,)}, "expect must be from 100 to 599, got 600"),
    ("http_ok", {"interval": 0}, "interval must be more than 0 and at most 86400, got 0"),
    ("workers_scaled", {"numprocs": 0}, "numprocs must be from 1 to 64, got 0"),
    ("workers_scaled", {"numprocs": 65}, "numprocs must be from 1 to 64, got 65"),
    ("deployment_scaled", {"replicas": 10_001}, "replicas must be from 0 to 10000, got 10001"),
    ("deployment_scaled", {"replicas": 2.5}, "replicas must be a whole number, got 2.5"),
    ("log_truncated", {"keep_lines": 0}, "keep_lines must be from 1 to 1e+08, got 0"),
    ("disk_usage", {"max_percent": 0}, "max_percent must be more than 0 and at most 100, got 0"),
    ("disk_usage", {"max_percent": 100.5}, "max_percent must be more than 0 and at most 100"),
    ("maintenance_on", {"retry": 0}, "retry must be from 1 to 86400, got 0"),
    ("old_files_removed", {"days": 36501}, "days must be from 0 to 36500, got 36501"),
    ("redis_pong", {"db": 1025}, "db must be from 0 to 1024, got 1025"),
    ("redis_keys_deleted", {"count": 0}, "count must be from 1 to 100000, got 0"),
    ("compose_stack_restarted", {"timeout": 0}, "timeout must be more than 0 and at most 86400"),
    ("container_restarted_above_memory", {"max_bytes": 0}, "max_bytes must be from 1 to"),
    ("Cluster", {"connect_timeout": 86401}, "connect_timeout must be more than 0 and at most"),
])
def test_edge_values_are_refused_with_an_actionable_message(wires: Any, name: str,
                                                            kw: dict[str, Any], message: str) -> None:
    kind, call = CASES[name]
    t, trip = wires(kind)
    with pytest.raises(InvalidInput) as refused:
        call(t, kw)
    assert str(refused.value).startswith(message)
    assert trip.sent() == []


@pytest.mark.parametrize(("name", "kw"), [
    ("container_logs_cleared", {"keep_lines": 0}),         # 0: the log emptied
    ("deployment_rolled_back", {"to_revision": 0}),        # 0: the previous revision (kubectl)
    ("deployment_scaled", {"replicas": 0}),
    ("deployment_scaled", {"replicas": 3.0}),              # a whole float is a whole number
    ("old_files_removed", {"days": 0, "keep_last": 0}),
    ("disk_usage", {"max_percent": 100}),
    ("http_ok", {"expect": [200, 204, 599], "retries": 0}),
    ("connect", {"timeout": None}),
    ("redis_pong", {"db": None}),
    ("redis_pong", {"db": 1024}),
    ("queue_length", {"max_length": None, "db": 0}),
    ("log_truncated", {"min_size": None}),
    ("RUNBOOKS[disk-full]", {"backup_days": None}),
])
def test_boundary_values_are_accepted(wires: Any, name: str, kw: dict[str, Any]) -> None:
    kind, call = CASES[name]
    t, _ = wires(kind)
    if kind == "none":
        call(t, kw)
        return
    with pytest.raises(Contacted):
        call(t, kw)
