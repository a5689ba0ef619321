"""The seed runbooks on the lab: break something real, run the runbook, check it healed.

Each runbook runs over ssh and over docker exec; a second run with the same run id is `ok`.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import LAB_HOSTS, LAB_INVENTORY, WEB_HOSTS, infra_host

pytestmark = pytest.mark.lab
INV = str(LAB_INVENTORY)
APP = "/srv/app/current"
LOG = "/srv/app/shared/storage/logs/laravel.log"
REDIS = "REDISCLI_AUTH=lab-redis-s3cret redis-cli"


@pytest.fixture(params=["ssh", "docker"])
def connection(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def runbook(cli: Any, name: str, connection: str, *extra: str, run_id: str | None = None,
            host: str = "web1") -> Any:
    rid = run_id or f"rb-{uuid.uuid4().hex[:8]}"
    res = cli("runbook", name, "-i", INV, "-l", host, "--connection", connection, "--json",
              "--run-id", rid, *extra, timeout=400)
    return res, rid


def steps(res: Any, host: str = "web1") -> dict[str, dict[str, Any]]:
    return {s["remediation"]: s for s in res.by_host()[host]["data"]["steps"]}


def http_status(host: str = "web1") -> int:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(LAB_HOSTS[host].health_url, timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def test_app_unresponsive_brings_up_back(cli: Any, connection: str) -> None:
    web1 = infra_host("web1")
    web1.run("systemctl stop php8.2-fpm")
    assert http_status() == 502
    res, rid = runbook(cli, "app-unresponsive", connection)
    assert res.code == 0, res.stdout + res.stderr
    result = res.by_host()["web1"]
    assert result["status"] == "changed"
    taken = steps(res)
    assert taken["services status"]["status"] == "failed"          # what it saw
    assert taken["php8.2-fpm running"]["status"] == "changed"        # what it did
    assert taken["php8.2-fpm running"]["commands"] == ["systemctl start php8.2-fpm.service"]
    assert taken["verify"]["status"] == "ok"
    assert web1.service("php8.2-fpm").is_running and http_status() == 200

    again, _ = runbook(cli, "app-unresponsive", connection, run_id=rid)
    assert again.code == 0 and again.by_host()["web1"]["status"] == "ok"
    assert {s["status"] for s in steps(again).values()} == {"ok"}


def test_app_unresponsive_check_mode_touches_nothing(cli: Any) -> None:
    web1 = infra_host("web1")
    web1.run("systemctl stop php8.2-fpm")
    try:
        res, _ = runbook(cli, "app-unresponsive", "ssh", "--check")
        assert res.by_host()["web1"]["status"] == "changed"
        assert "systemctl start php8.2-fpm.service" in res.by_host()["web1"]["commands"]
        assert not web1.service("php8.2-fpm").is_running
    finally:
        web1.run("systemctl start php8.2-fpm")


@pytest.fixture
def workers_stopped_with_backlog() -> Iterator[Any]:
    web1 = infra_host("web1")
    web1.check_output("supervisorctl stop 'laravel-worker:*'")
    web1.check_output(f"cd {APP} && runuser -u www-data -- php artisan lab:enqueue 500")
    assert int(web1.check_output(f"{REDIS} LLEN queues:default")) == 500
    yield web1
    web1.run("supervisorctl start 'laravel-worker:*'")


def worker_pids(web1: Any) -> set[int]:
    out = web1.check_output("supervisorctl status 'laravel-worker:*'")
    return {int(p) for p in re.findall(r"RUNNING\s+pid (\d+)", out)}


def test_queue_backlog_drains_the_queue(cli: Any, connection: str,
                                        workers_stopped_with_backlog: Any) -> None:
    web1 = workers_stopped_with_backlog
    res, rid = runbook(cli, "queue-backlog", connection)
    assert res.code == 0, res.stdout + res.stderr
    taken = steps(res)
    assert taken["queue length"]["data"]["length"] == 500
    assert taken["workers running"]["status"] == "changed"
    assert taken["queue restarted"]["status"] == "changed"
    assert taken["verify"]["status"] == "ok"
    assert int(web1.check_output(f"{REDIS} LLEN queues:default")) == 0
    pids = worker_pids(web1)
    assert len(pids) == 2

    again, _ = runbook(cli, "queue-backlog", connection, run_id=rid)
    assert again.code == 0 and again.by_host()["web1"]["status"] == "ok", again.stdout
    assert worker_pids(web1) == pids


@pytest.fixture
def big_log_being_written() -> Iterator[Any]:
    web1 = infra_host("web1")
    # ~200 MB of numbered lines, then a writer that keeps the file open (O_APPEND) and appends.
    web1.check_output(f"seq -f 'original log line %09.0f ........................' 1 3600000 > {LOG}"
                      f" && chown www-data:www-data {LOG}")
    web1.check_output(
        f"nohup sh -c 'exec >>{LOG}; i=0; while :; do echo \"writer line $i\"; i=$((i+1)); "
        f"sleep 0.005; done' >/dev/null 2>&1 & echo $! > /tmp/writer.pid")
    time.sleep(0.5)
    yield web1
    web1.run("kill $(cat /tmp/writer.pid); rm -f /tmp/writer.pid")
    web1.run(f": > {LOG}")


def numbers(text: str, prefix: str) -> list[int]:
    return [int(m) for m in re.findall(rf"^{prefix} (\d+)", text, re.M)]


def test_disk_full_truncates_the_log_keeping_its_tail(cli: Any, connection: str,
                                                      big_log_being_written: Any) -> None:
    web1 = big_log_being_written
    used_before = int(web1.check_output("df -P -B1 /srv/app | awk 'NR==2 {print $3}'"))
    res, rid = runbook(cli, "disk-full", connection, "--yes", "--keep-lines", "1000",
                       "--max-percent", "99")
    assert res.code == 0, res.stdout + res.stderr
    assert steps(res)["laravel.log truncated"]["status"] == "changed"
    time.sleep(1)
    text = web1.check_output(f"cat {LOG}")
    originals = numbers(text, "original log line")
    written = numbers(text, "writer line")
    # the tail of the original content is kept intact, up to its very last line
    assert originals and originals[-1] == 3600000
    assert originals == list(range(originals[0], 3600001))
    # the writer kept writing into the same file, and no line of its is missing
    assert written == list(range(written[0], written[-1] + 1))
    assert len(originals) + written.index(written[-1]) + 1 >= 1000
    later = numbers(web1.check_output(f"cat {LOG}"), "writer line")
    time.sleep(0.5)
    assert numbers(web1.check_output(f"cat {LOG}"), "writer line")[-1] > later[0]
    used_after = int(web1.check_output("df -P -B1 /srv/app | awk 'NR==2 {print $3}'"))
    assert used_before - used_after > 150 * 1024 * 1024
    again, _ = runbook(cli, "disk-full", connection, "--yes", "--max-percent", "99",
                       run_id=rid)
    assert again.code == 0 and again.by_host()["web1"]["status"] == "ok", again.stdout


@pytest.fixture
def unblock_after() -> Iterator[None]:
    yield
    for name in WEB_HOSTS:
        infra_host(name).run("rm -f /etc/nginx/conf.d/blocked.conf && systemctl reload nginx")


# The lab app throttles /throttled (`throttle:5,1`) and /limited (the named limiter
# `burst`, keyed by address). A client on 127.0.0.2 (curl --interface, inside the host)
# leaves the keys Laravel really writes: hashed, in the cache connection, with `:timer`.
CLIENT = "127.0.0.2"
CACHE = f"{REDIS} -n 1"
FORGET_LIMITS = (f"{CACHE} --scan --pattern '*lab_cache:*' "
                 "| xargs -r env REDISCLI_AUTH=lab-redis-s3cret redis-cli -n 1 del")


def throttled_by(web: Any, client: str = CLIENT) -> int:
    """Hit both throttled routes from `client` until each answers 429; the keys it left."""
    codes = [web.check_output(f"curl -s -o /dev/null -w '%{{http_code}}' --interface {client} "
                              f"http://127.0.0.1{path}") for path in ("/throttled", "/limited")
             for _ in range(7)]
    assert codes.count("429") >= 4, codes
    return len(web.check_output(f"{CACHE} --scan --pattern '*lab_cache:*'").split())


def test_rate_limit_breach_blocks_and_clears_the_throttle_keys_laravel_wrote(
        cli: Any, connection: str, unblock_after: None) -> None:
    web1 = infra_host("web1")
    web1.check_output(FORGET_LIMITS)
    other = throttled_by(web1, "127.0.0.3")  # another client's limits must stay
    assert throttled_by(web1) == 2 * other == 8  # two keys + two timers per client
    res, rid = runbook(cli, "rate-limit-breach", connection, "--ip", CLIENT)
    assert res.code == 0, res.stdout + res.stderr
    cleared = steps(res)["rate-limit keys deleted"]
    assert cleared["status"] == "changed" and len(cleared["data"]["keys"]) == 2, cleared
    assert {k["via"] for k in cleared["data"]["keys"]} == {"throttle (any domain)", "limiter burst"}
    assert web1.file("/etc/nginx/conf.d/blocked.conf").contains(f"deny {CLIENT};")
    assert len(web1.check_output(f"{CACHE} --scan --pattern '*lab_cache:*'").split()) == other
    assert web1.check_output("curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.3 "
                             "http://127.0.0.1/throttled") == "429"   # still limited
    again, _ = runbook(cli, "rate-limit-breach", connection, "--ip", CLIENT, run_id=rid)
    assert again.by_host()["web1"]["status"] == "ok", again.stdout
    assert web1.check_output(f"grep -c 'deny {CLIENT};' /etc/nginx/conf.d/blocked.conf") == "1"


def test_clear_rate_limits_check_mode_is_exact_then_changed_then_ok(cli: Any) -> None:
    web1 = infra_host("web1")
    web1.check_output(FORGET_LIMITS)
    throttled_by(web1)
    base = ("clear-rate-limits", CLIENT, "-i", INV, "-l", "web1", "--json")
    check = cli(*base, "--check")
    (planned,) = check.by_host().values()
    assert planned["status"] == "changed" and len(planned["data"]["keys"]) == 2, check.stdout
    assert len(web1.check_output(f"{CACHE} --scan --pattern '*lab_cache:*'").split()) == 4
    first = cli(*base, "--run-id", f"rl-{uuid.uuid4().hex[:6]}")
    assert first.by_host()["web1"]["status"] == "changed", first.stdout
    assert first.by_host()["web1"]["commands"] == planned["commands"]
    assert web1.check_output(f"{CACHE} --scan --pattern '*lab_cache:*'") == ""
    again = cli(*base)
    assert again.by_host()["web1"]["status"] == "ok", again.stdout
    assert web1.check_output(f"curl -s -o /dev/null -w '%{{http_code}}' --interface {CLIENT} "
                             "http://127.0.0.1/throttled") == "200"   # served again


def test_security_contain_blocks_and_preserves_evidence(cli: Any, connection: str,
                                                        unblock_after: None) -> None:
    web1 = infra_host("web1")
    res, rid = runbook(cli, "security-contain", connection, "--ip", "198.51.100.0/24")
    assert res.code == 0, res.stdout + res.stderr
    archive = steps(res)["evidence preserved"]["data"]["archive"]
    assert web1.file(archive).exists and rid in archive
    assert web1.file("/etc/nginx/conf.d/blocked.conf").contains("deny 198.51.100.0/24;")
    again, _ = runbook(cli, "security-contain", connection, "--ip", "198.51.100.0/24", run_id=rid)
    assert again.by_host()["web1"]["status"] == "ok", again.stdout


@pytest.mark.parametrize("name", ["slow-response", "memory-exhaustion", "cache-issues",
                                  "file-upload"])
def test_service_runbooks_change_then_ok(cli: Any, connection: str, name: str) -> None:
    res, rid = runbook(cli, name, connection)
    assert res.code == 0, res.stdout + res.stderr
    assert steps(res)["verify"]["status"] == "ok"
    assert http_status() == 200
    again, _ = runbook(cli, name, connection, run_id=rid)
    assert again.code == 0 and again.by_host()["web1"]["status"] == "ok", again.stdout


@pytest.fixture
def scheduler_paused() -> Iterator[None]:
    """The lab's laravel-scheduler.timer ticks every minute, and its service Wants= redis:
    a tick between stopping redis and the runbook's read would start redis again. Pause
    it, as an operator does during a Redis outage."""
    web1 = infra_host("web1")
    web1.check_output("systemctl stop laravel-scheduler.timer")
    yield
    web1.check_output("systemctl start laravel-scheduler.timer")


def test_redis_down_starts_redis(cli: Any, connection: str, scheduler_paused: None) -> None:
    web1 = infra_host("web1")
    stop = web1.run("systemctl stop redis-server && systemctl is-active redis-server")
    assert stop.stdout.strip() == "inactive", (stop.rc, stop.stdout, stop.stderr)
    res, rid = runbook(cli, "redis-down", connection)
    assert res.code == 0, res.stdout + res.stderr
    started = steps(res)["redis running"]
    assert started["status"] == "changed", started
    assert web1.check_output(f"{REDIS} PING") == "PONG"
    again, _ = runbook(cli, "redis-down", connection, run_id=rid)
    assert again.by_host()["web1"]["status"] == "ok", again.stdout


def test_db_connection_diagnoses_without_restarting(cli: Any, connection: str) -> None:
    res, _ = runbook(cli, "db-connection", connection)
    assert res.code == 0, res.stdout + res.stderr
    assert steps(res)["database reachable"]["status"] == "ok"
    assert res.by_host()["web1"]["status"] == "ok"
