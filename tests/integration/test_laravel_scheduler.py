"""The scheduler on the lab: laravel-scheduler.timer paused and resumed, overlap locks released;
a cron line next to the timer found as a double trigger, and paused and restored with it; the
redis-down runbook pausing the scheduler while redis is down."""

from __future__ import annotations

import json
import shlex
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import LAB_INVENTORY, infra_host

pytestmark = pytest.mark.lab
INV = str(LAB_INVENTORY)
APP = "/srv/app/current"
TIMER = "laravel-scheduler.timer"
MARKER = f"/run/lock/remediations.paused.{TIMER}"
HEARTBEAT = "/srv/app/shared/storage/app/schedule-heartbeat"
REDIS = "redis-cli -a lab-redis-s3cret --no-auth-warning -n 1"
# Holds the overlap lock of every withoutOverlapping task, as a tick killed mid-task leaves it.
LOCK_PHP = (
    "require '/srv/app/current/vendor/autoload.php'; "
    "$app = require '/srv/app/current/bootstrap/app.php'; "
    "$app->make(Illuminate\\Contracts\\Console\\Kernel::class)->bootstrap(); "
    "foreach ($app->make(Illuminate\\Console\\Scheduling\\Schedule::class)->events() as $e) "
    "{ if ($e->withoutOverlapping) { $e->mutex->create($e); } }")


def task(cli: Any, *args: str, limit: str = "web") -> dict[str, dict[str, Any]]:
    res = cli(*args, "-i", INV, "-l", limit, "--json")
    assert res.code == 0, res.stdout + res.stderr
    return res.by_host()  # type: ignore[no-any-return]


@pytest.fixture
def scheduler(lab: Any) -> Iterator[dict[str, Any]]:
    hosts = {name: infra_host(name) for name in ("web1", "web2")}
    yield hosts
    for host in hosts.values():
        host.run(f"systemctl enable --now {TIMER} && rm -f {MARKER}")


def test_pause_then_resume_the_scheduler(cli: Any, scheduler: dict[str, Any]) -> None:
    run = f"test-{uuid.uuid4().hex[:8]}"
    rid = ["--run-id", run]
    checked = task(cli, "pause-scheduler", "--check", *rid)
    for r in checked.values():
        assert r["status"] == "changed"
        assert r["commands"] == [f"systemctl stop {TIMER}", f"sh -c 'echo {run} > {MARKER}'"]
    assert all(h.service(TIMER).is_running for h in scheduler.values())

    paused = task(cli, "pause-scheduler", *rid)
    assert {r["status"] for r in paused.values()} == {"changed"}
    for host in scheduler.values():
        assert not host.service(TIMER).is_running
        assert host.service(TIMER).is_enabled      # a reboot ends a forgotten pause
        assert host.file(MARKER).content_string.strip() == run  # the run that paused it
    assert {r["status"] for r in task(cli, "pause-scheduler", *rid).values()} == {"ok"}

    resumed = task(cli, "resume-scheduler", *rid)
    for r in resumed.values():
        assert r["status"] == "changed" and r["commands"] == [f"systemctl start {TIMER}",
                                                              f"rm -f {MARKER}"]
        assert "next tick" in r["message"]
    for host in scheduler.values():
        assert host.service(TIMER).is_running and not host.file(MARKER).exists
    again = task(cli, "resume-scheduler", *rid)
    assert {r["status"] for r in again.values()} == {"ok"}


def heartbeat(host: Any) -> str:
    return str(host.check_output(f"cat {HEARTBEAT} 2>/dev/null || true"))


def test_a_paused_scheduler_does_not_tick_and_ticks_again_once_resumed(
        cli: Any, scheduler: dict[str, Any]) -> None:
    host = scheduler["web1"]
    task(cli, "pause-scheduler", limit="web1")
    beat = heartbeat(host)
    time.sleep(62 - time.time() % 60)  # past the next minute, when a tick was due
    assert heartbeat(host) == beat
    task(cli, "resume-scheduler", limit="web1")
    deadline = time.monotonic() + 75
    while heartbeat(host) == beat and time.monotonic() < deadline:
        time.sleep(1)
    assert heartbeat(host) != beat


def test_a_timer_disabled_by_design_is_not_resumed(cli: Any, scheduler: dict[str, Any]) -> None:
    host = scheduler["web2"]
    host.check_output(f"systemctl disable --now {TIMER}")
    r = task(cli, "resume-scheduler", limit="web2")["web2"]
    assert r["status"] == "skipped" and "disabled on this host" in r["message"]
    assert not host.service(TIMER).is_running


def test_clear_schedule_cache_releases_a_stuck_overlap_lock(cli: Any, scheduler: dict[str, Any]) -> None:
    for host in scheduler.values():
        host.check_output(f"runuser -u www-data -- php -r {shlex.quote(LOCK_PHP)}")
        assert host.check_output(f"{REDIS} --scan --pattern 'lab_cache:framework/schedule-*'")
    clear = "runuser -u www-data -- php /srv/app/current/artisan schedule:clear-cache"

    checked = task(cli, "clear-schedule-cache", "--check")
    for r in checked.values():
        assert r["status"] == "changed" and r["commands"] == [clear]
        (lock,) = r["data"]["locks"]
        assert "queue:prune-failed" in lock["command"]
    for host in scheduler.values():
        assert host.check_output(f"{REDIS} --scan --pattern 'lab_cache:framework/schedule-*'")

    first = task(cli, "clear-schedule-cache")
    assert {r["status"] for r in first.values()} == {"changed"}
    for host in scheduler.values():
        assert host.check_output(f"{REDIS} --scan --pattern 'lab_cache:framework/schedule-*'") == ""
    assert {r["status"] for r in task(cli, "clear-schedule-cache").values()} == {"ok"}


CRON_FILE = "/etc/cron.d/remediations-test-scheduler"
CRON_LINE = "* * * * * www-data cd /srv/app/current && php artisan schedule:run >> /dev/null 2>&1"


@pytest.fixture
def cron_too(scheduler: dict[str, Any]) -> Iterator[Any]:
    """web1 with a Forge-style cron line next to its timer (the lab hosts have no cron
    daemon: the line is only read, and nothing runs it)."""
    host = scheduler["web1"]
    host.check_output(f"printf '# added by a test\\n%s\\n' {shlex.quote(CRON_LINE)} > {CRON_FILE}")
    yield host
    host.run(f"rm -f {CRON_FILE}")


def test_a_cron_line_next_to_the_timer_is_a_double_trigger_paused_and_restored_with_it(
        cli: Any, cron_too: Any) -> None:
    res = cli("scheduler-status", "-i", INV, "-l", "web", "--json")
    assert res.code == 2, res.stdout + res.stderr   # web1's fact failed
    status = res.by_host()
    assert status["web1"]["status"] == "failed" and "triggered twice" in status["web1"]["message"]
    assert status["web1"]["data"]["doubled"] == {
        "/srv/app/current": ["timer laravel-scheduler.timer",
                             f"cron line 2 of {CRON_FILE}"]}
    assert [t["expression"] for t in status["web1"]["data"]["schedule"]] == ["* * * * *", "0 0 * * *"]
    assert status["web2"]["status"] == "ok" and status["web2"]["data"]["active"] == 1
    (listing,) = [e for e in map(json.loads, res.stdout.splitlines()) if e.get("event") == "list"]
    assert "web1, web2" in listing["items"]["/srv/app/current"]   # one app, two hosts

    run = f"test-{uuid.uuid4().hex[:8]}"
    checked = task(cli, "pause-scheduler", "--check", "--run-id", run, limit="web1")["web1"]
    assert checked["status"] == "changed" and checked["diff"] is not None
    assert f"#remediations-paused:{run}: {CRON_LINE}" in checked["diff"]["after"]
    assert cron_too.file(CRON_FILE).content_string.endswith(CRON_LINE + "\n")
    assert cron_too.service(TIMER).is_running
    paused = task(cli, "pause-scheduler", "--run-id", run, limit="web1")["web1"]
    assert paused["status"] == "changed" and paused["commands"] == checked["commands"]
    assert cron_too.file(CRON_FILE).content_string == (
        f"# added by a test\n#remediations-paused:{run}: {CRON_LINE}\n")
    assert not cron_too.service(TIMER).is_running
    assert task(cli, "pause-scheduler", "--run-id", run, limit="web1")["web1"]["status"] == "ok"

    resumed = task(cli, "resume-scheduler", "--run-id", run, limit="web1")["web1"]
    assert resumed["status"] == "changed", resumed["message"]
    assert cron_too.file(CRON_FILE).content_string == f"# added by a test\n{CRON_LINE}\n"
    assert cron_too.service(TIMER).is_running
    assert task(cli, "resume-scheduler", "--run-id", run, limit="web1")["web1"]["status"] == "ok"


def test_redis_down_pauses_the_scheduler_and_resumes_what_it_paused(
        cli: Any, scheduler: dict[str, Any]) -> None:
    host = scheduler["web1"]
    time.sleep(max(0.0, 2 - time.time() % 60))  # right after a tick: its Wants= would start redis
    if time.time() % 60 > 40:
        time.sleep(62 - time.time() % 60)
    host.check_output("systemctl stop redis-server")
    run = f"test-{uuid.uuid4().hex[:8]}"
    args = ("runbook", "redis-down", "-i", INV, "-l", "web1", "--json", "--run-id", run)
    res = cli(*args)
    assert res.code == 0, res.stdout + res.stderr
    r = res.by_host()["web1"]
    steps = {s["remediation"]: s for s in r["data"]["steps"]}
    assert steps["redis ping"]["status"] == "failed"
    assert steps["scheduler paused"]["status"] == "changed"
    assert steps["scheduler paused"]["commands"][0] == f"systemctl stop {TIMER}"
    assert steps["redis running"]["status"] == "changed"
    assert steps["redis answers"]["status"] == "ok"
    assert steps["scheduler resumed"]["status"] == "changed"
    assert steps["scheduler resumed"]["commands"][0] == f"systemctl start {TIMER}"
    assert host.check_output(f"{REDIS} PING") == "PONG"
    assert host.service(TIMER).is_running and not host.file(MARKER).exists
    again = cli(*args).by_host()["web1"]
    assert again["status"] == "ok", again["message"]


def test_redis_down_leaves_a_pause_of_another_run(cli: Any, scheduler: dict[str, Any]) -> None:
    task(cli, "pause-scheduler", "--run-id", f"ops-{uuid.uuid4().hex[:6]}", limit="web1")
    res = cli("runbook", "redis-down", "-i", INV, "-l", "web1", "--json")
    steps = {s["remediation"]: s for s in res.by_host()["web1"]["data"]["steps"]}
    assert steps["scheduler resumed"]["status"] == "ok"
    assert "nothing paused by run" in steps["scheduler resumed"]["message"]
    assert not scheduler["web1"].service(TIMER).is_running
