"""Per-pod state on a Deployment: every Ready pod, pinned one by one, or a refusal (run.per_pod)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import pytest

from remediations.connections.pod import KubeConnection
from remediations.core.result import Status
from remediations.laravel.app import caches_cleared
from remediations.laravel.fpm_process import parse_processes
from remediations.laravel.maintenance import maintenance_on
from remediations.laravel.php import opcache_reset
from remediations.run import per_pod
from remediations.run.runner import RunOptions, run
from remediations.run.target import RunContext, Target
from tests.unit.connections.test_cluster import Pod
from tests.unit.helpers import host
from tests.unit.kubernetes.test_fake import FakeCluster, World, deployment

HOST = host("web", ansible_connection="kubernetes", ansible_user="www-data",
            app_user="www-data", app_path="/var/www/html")


class Pods(FakeCluster):
    """The fake cluster with one filesystem per pod (`tests.unit...Pod`), exec'd by pod name."""

    def __init__(self, world: World | None = None) -> None:
        super().__init__(world)
        self.fs: dict[str, Pod] = {}

    def exec_in_pod(self, pod: str, container: str | None, argv: Sequence[str],
                    timeout: float | None) -> tuple[int | None, str, str]:
        self.execs.append((pod, container, tuple(argv)))
        return self.fs.setdefault(pod, Pod())(tuple(argv))


def names(c: FakeCluster) -> list[str]:
    return [p["metadata"]["name"] for p in c.world.pods]


def go(c: FakeCluster, fn: Any, ctx: RunContext) -> Any:
    report = run(fn, [HOST], run=ctx, options=RunOptions(timeout=30),
                 connect=lambda h, timeout=None: KubeConnection(h, cluster=c))
    (res,) = list(report)
    return res


def test_per_pod_names_are_listed_in_one_place() -> None:
    assert {"caches_cleared", "caches_rebuilt", "maintenance_on", "maintenance_off",
            "opcache_reset", "storage_link_present"} <= per_pod.PER_POD
    assert per_pod.is_per_pod(functools.partial(caches_cleared, kinds=("config",)))
    assert not per_pod.is_per_pod(lambda t: None, "queue_restarted")


def test_caches_cleared_in_every_pod_then_ok_and_check_mode_plans_each_pod() -> None:
    c = Pods()
    fn = functools.partial(caches_cleared, kinds=("config", "route"))
    check = go(c, fn, RunContext.new(check=True))
    assert check.status is Status.CHANGED and check.check
    assert all(not p.artisan for p in c.fs.values()) and len(c.fs) == 3   # planned, not run
    ctx = RunContext.new()
    first = go(c, fn, ctx)
    assert first.status is Status.CHANGED, first
    assert {p: fs.artisan for p, fs in c.fs.items()} == {
        p: ["config:clear", "route:clear"] for p in names(c)}
    assert first.commands == check.commands                                # check mode exact
    assert first.commands[0] == f"[{names(c)[0]}] php /var/www/html/artisan config:clear"
    assert set(first.data["pods"]) == set(names(c))
    assert all(v["status"] == "changed" for v in first.data["pods"].values())
    assert go(c, fn, ctx).status is Status.OK


def test_changed_when_one_pod_differs_and_the_message_names_each_pod() -> None:
    c = Pods()
    a, b, _ = names(c)
    c.fs[a] = Pod()
    c.fs[a].files.clear()                               # this pod's caches are already gone
    res = go(c, functools.partial(caches_cleared, kinds=("config", "route")), RunContext.new())
    assert res.status is Status.CHANGED
    assert res.data["pods"][a]["status"] == "ok" and res.data["pods"][b]["status"] == "changed"
    assert f"{a}: no caches present" in res.message


@pytest.mark.parametrize("check", [False, True])
def test_refused_touching_nothing_when_a_pod_is_not_ready(check: bool) -> None:
    c = Pods()
    pod = c.world.pods[1]
    ready = next(x for x in pod["status"]["conditions"] if x["type"] == "Ready")
    ready.update(status="False", reason="ContainersNotReady", message="readiness probe failed")
    res = go(c, functools.partial(caches_cleared, kinds=("config",)), RunContext.new(check=check))
    assert res.status is Status.FAILED
    assert res.message.startswith("refused, nothing done: 2 of 3 pod(s) of deployment web Ready")
    assert f"{pod['metadata']['name']}: Running, not Ready (readiness probe failed)" in res.message
    assert not c.execs                                   # not a single command in any pod
    assert res.data["state"] == "untouched"


def test_refused_when_a_pod_is_missing_or_terminating() -> None:
    c = Pods(World(deployment(replicas=2)))
    c.world.pods[0]["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    res = go(c, maintenance_on, RunContext.new())
    assert res.status is Status.FAILED and "being deleted (Terminating)" in res.message
    assert not c.execs


def test_a_pod_set_that_changes_between_pods_stops_and_says_what_was_done() -> None:
    c = Pods()
    first = names(c)[0]
    seen: list[str] = []

    def fn(t: Target) -> Any:
        seen.append(t.conn.run(["test", "-e", "/x"], check=False).command)
        if len(seen) == 1:                                # a scale-out while acting in pod 1
            c.world.dep["spec"]["replicas"] = 4
        return t.result("caches_cleared", Status.CHANGED, "cleared")

    fn.__name__ = "caches_cleared"
    res = go(c, fn, RunContext.new())
    assert res.status is Status.FAILED
    assert "changed while acting" in res.message and f"done in {first} only" in res.message
    assert list(res.data["pods"]) == [first]


def test_a_per_pod_remediation_inside_another_runs_in_the_pinned_pod_only() -> None:
    c = Pods()
    conn = KubeConnection(HOST, cluster=c)
    t = Target(HOST, conn, RunContext.new())
    pod = names(c)[2]
    with conn.pinned(pod):
        res = per_pod.call(functools.partial(caches_cleared, kinds=("config",)), t)
    assert res.status is Status.CHANGED and {e[0] for e in c.execs} == {pod}


def test_other_remediations_run_once_per_deployment() -> None:
    c = Pods()

    def queue_restarted(t: Target) -> Any:
        t.conn.run(["php", "artisan", "queue:restart"], check=False)
        return t.result("queue_restarted", Status.CHANGED, "sent")

    go(c, queue_restarted, RunContext.new())
    assert len([e for e in c.execs if e[2][-1] == "queue:restart"]) == 1


# -- opcache in a pod: php-fpm without systemd ---------------------------------------------------

PS = "M 7\nW 30 7\nW 31 7\nM 99\nW 100 99\n"


def test_fpm_processes_are_read_from_proc_lines() -> None:
    found = parse_processes(PS + "garbage\nW x 7\n")
    assert found.master == 7 and found.workers == frozenset({30, 31})
    assert parse_processes("").master == 0


class Fpm:
    """php-fpm in one pod: USR2 replaces the workers."""

    def __init__(self) -> None:
        self.workers = [30, 31]
        self.markers: set[str] = set()
        self.signals: list[tuple[str, ...]] = []

    def __call__(self, argv: tuple[str, ...]) -> tuple[int, str, str]:
        if argv[:2] == ("sh", "-c") and "/proc/" in argv[2]:
            return 0, "M 7\n" + "".join(f"W {w} 7\n" for w in self.workers), ""
        if argv[:2] == ("sh", "-c") and "kill -USR2" in argv[2]:
            self.signals.append(argv)
            self.workers = [w + 10 for w in self.workers]
            return 0, "", ""
        if argv[:2] == ("test", "-e"):
            return (0 if argv[2] in self.markers else 1), "", ""
        if argv[0] == "sh" and "mkdir" in argv[2]:
            self.markers.add(argv[-1])
            return 0, "", ""
        raise AssertionError(argv)


def test_opcache_reset_signals_php_fpm_in_every_pod_once_per_run() -> None:
    c = Pods()
    fpm = {p: Fpm() for p in names(c)}
    c.fs = fpm  # type: ignore[assignment]
    ctx, check_ctx = RunContext.new(), RunContext.new(check=True)
    check = go(c, opcache_reset, check_ctx)
    assert check.status is Status.CHANGED and not any(f.signals for f in fpm.values())
    first = go(c, opcache_reset, ctx)
    assert first.status is Status.CHANGED, first
    assert all(f.signals == [("sh", "-c", 'kill -USR2 "$1"', "_", "7")] for f in fpm.values())
    assert "workers replaced (2 -> 2), master 7" in first.message
    assert [x.replace(ctx.run_id, "RUN") for x in first.commands] == [
        x.replace(check_ctx.run_id, "RUN") for x in check.commands]          # check mode exact
    again = go(c, opcache_reset, ctx)
    assert again.status is Status.OK and "already reloaded by this run" in again.message
