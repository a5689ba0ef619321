"""The scheduler on the lab: laravel-scheduler.timer paused and resumed, overlap locks released."""

from __future__ import annotations

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
    rid = ["--run-id", f"test-{uuid.uuid4().hex[:8]}"]
    checked = task(cli, "pause-scheduler", "--check")
    for r in checked.values():
        assert r["status"] == "changed"
        assert r["commands"] == [f"systemctl stop {TIMER}", f"touch {MARKER}"]
    assert all(h.service(TIMER).is_running for h in scheduler.values())

    paused = task(cli, "pause-scheduler", *rid)
    assert {r["status"] for r in paused.values()} == {"changed"}
    for host in scheduler.values():
        assert not host.service(TIMER).is_running
        assert host.service(TIMER).is_enabled      # a reboot ends a forgotten pause
        assert host.file(MARKER).exists
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
