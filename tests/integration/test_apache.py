"""The Apache host (apache1: Apache 2.4 + mod_php 8.2, no php-fpm) driven as a user does.

Reload refuses a broken configuration (`apache2ctl configtest`), block-ip answers 403 to
the blocked client only, reset-opcache reloads Apache gracefully (the opcache lives in
its processes), php-settings reads what mod_php loads, app-unresponsive brings a stopped
Apache back. Each: `--check` first (the exact commands, nothing changed), then for real,
then again with the same run id (`ok`). The host is left as found.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import ALL_LAB_HOSTS, APACHE_HOSTS, LAB_INVENTORY, infra_host

pytestmark = pytest.mark.lab
INV = str(LAB_INVENTORY)
HOST = "apache1"
UNIT = "apache2.service"
BLOCKLIST = "/etc/apache2/conf-available/remediations-blocklist.conf"
ENABLED = "/etc/apache2/conf-enabled/remediations-blocklist.conf"
BROKEN = "/etc/apache2/conf-enabled/zz-remediations-test-broken.conf"
PHP_VALUE = "/etc/apache2/conf-enabled/zz-remediations-test-php.conf"
PUBLIC = "/var/www/app/public"
MARKERS = "/run/lock/remediations.runs"


def url(path: str = "/up") -> str:
    return f"http://127.0.0.1:{ALL_LAB_HOSTS[HOST].http_port}{path}"


def http_status(path: str = "/up") -> int:
    """Through the published port: Apache sees the docker bridge gateway as the client."""
    try:
        with urllib.request.urlopen(url(path), timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def status_inside() -> int:
    """From inside the container: Apache sees 127.0.0.1."""
    return int(infra_host(HOST).check_output(
        "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1/up"))


def settles(fn: Any, expected: int, timeout: float = 10.0) -> int:
    """A graceful reload replaces children as they finish: poll for the expected answer."""
    deadline = time.monotonic() + timeout
    got = fn()
    while got != expected and time.monotonic() < deadline:
        time.sleep(0.2)
        got = fn()
    return int(got)


def gateway() -> str:
    out = subprocess.run(["docker", "inspect", APACHE_HOSTS[HOST]], capture_output=True,
                         text=True, check=True).stdout
    networks = json.loads(out)[0]["NetworkSettings"]["Networks"]
    return str(next(n["Gateway"] for n in networks.values() if n.get("Gateway")))


def apache_pids() -> tuple[int, set[int]]:
    host = infra_host(HOST)
    main = int(host.check_output(f"systemctl show -p MainPID --value {UNIT}"))
    return main, {int(p) for p in host.check_output(f"pgrep -P {main} || true").split()}


def graceful_restarts() -> int:
    """How many graceful restarts Apache has logged: children come and go by themselves
    (prefork keeps spare servers), a reload is what this counts."""
    out = infra_host(HOST).check_output(
        "grep -c 'AH00171: Graceful restart requested' /var/log/apache2/error.log || true")
    return int(out or 0)


def task(cli: Any, *args: str, run_id: str | None = None, check: bool = False,
         code: int = 0) -> dict[str, Any]:
    argv = [*args, "-i", INV, "-l", HOST, "--json"]
    argv += ["--run-id", run_id] if run_id else []
    argv += ["--check"] if check else []
    res = cli(*argv, timeout=400)
    assert res.code == code, res.stdout + res.stderr
    return res.by_host()[HOST]  # type: ignore[no-any-return]


@pytest.fixture
def apache_restored(apache: Any) -> Iterator[Any]:
    """Leave the blocklist, the test files and Apache as the test found them."""
    saved = apache.file(BLOCKLIST).content_string if apache.file(BLOCKLIST).exists else None
    linked = apache.file(ENABLED).exists
    yield apache
    apache.run(f"rm -f {BROKEN} {PHP_VALUE} {BLOCKLIST}.remediations.tmp")
    if saved is None:
        apache.run(f"rm -f {BLOCKLIST}")
    else:
        apache.run(f"cat > {BLOCKLIST} <<'EOF'\n{saved}EOF")
    if not linked:
        apache.run(f"rm -f {ENABLED}")
    apache.run(f"systemctl is-active -q {UNIT} || systemctl start {UNIT}")
    assert apache.run(f"apache2ctl configtest && systemctl reload {UNIT}").rc == 0
    assert settles(http_status, 200) == 200


# -- reload -------------------------------------------------------------------------------

def test_reload_refuses_a_broken_configuration_then_reloads_once_fixed(
        cli: Any, apache_restored: Any) -> None:
    host = apache_restored
    host.check_output(f"printf 'BogusDirective on\\n' > {BROKEN}")
    before, reloads = apache_pids(), graceful_restarts()
    r = task(cli, "reload", "--service", "apache2", code=2)
    assert r["status"] == "failed"
    assert r["message"] == ("config test `apache2ctl configtest` failed: apache2.service not "
                            "reloaded; it keeps running its current configuration")
    assert "BogusDirective" in r["evidence"] and r["commands"] == ["apache2ctl configtest"]
    # nothing reloaded, still serving
    assert (apache_pids()[0], graceful_restarts(), http_status()) == (before[0], reloads, 200)

    host.check_output(f"rm -f {BROKEN}")
    rid = f"apache-{uuid.uuid4().hex[:8]}"
    checked = task(cli, "reload", "--service", "apache2", run_id=rid, check=True)
    assert checked["message"] == ("would reload apache2.service (config test "
                                  "`apache2ctl configtest` passed)")
    assert graceful_restarts() == reloads
    first = task(cli, "reload", "--service", "apache2", run_id=rid)
    assert first["status"] == "changed", first["message"]
    assert first["commands"] == checked["commands"]
    assert first["commands"][:2] == ["apache2ctl configtest", f"systemctl reload {UNIT}"]
    assert host.file(f"{MARKERS}/{rid}/reload-{UNIT}").exists
    # graceful: the same parent; the old children leave as they finish (a busy one later)
    assert settles(lambda: int(not apache_pids()[1] & before[1]), 1) == 1
    assert apache_pids()[0] == before[0]
    assert graceful_restarts() == reloads + 1 and settles(http_status, 200) == 200
    again = task(cli, "reload", "--service", "apache2", run_id=rid)
    assert again["status"] == "ok" and again["commands"] == []
    assert graceful_restarts() == reloads + 1
    assert "already reloaded by this run" in again["message"]


# -- block-ip / unblock-ip ------------------------------------------------------------------

def test_blocked_client_gets_403_until_unblocked(cli: Any, apache_restored: Any) -> None:
    host = apache_restored
    client = gateway()  # what Apache sees for requests to the published port
    assert http_status() == 200
    checked = task(cli, "block-ip", client, check=True)
    assert checked["status"] == "changed" and checked["check"]
    assert checked["commands"][1:] == ["a2enconf -q remediations-blocklist",
                                       "apache2ctl configtest", f"systemctl reload {UNIT}"]
    assert not host.file(ENABLED).exists and http_status() == 200

    first = task(cli, "block-ip", client)
    assert first["status"] == "changed", (first["message"], first.get("evidence"))
    assert first["commands"] == checked["commands"]
    assert f"<If \"-R '{client}'\">" in host.file(BLOCKLIST).content_string
    assert host.file(ENABLED).is_symlink
    assert settles(http_status, 403) == 403
    assert status_inside() == 200  # only that client is denied
    assert first["data"]["http_status"] == 200  # the remediation's own check, from inside
    again = task(cli, "block-ip", client)
    assert again["status"] == "ok" and again["commands"] == [] and "already blocked" in \
        again["message"]
    assert host.file(BLOCKLIST).content_string.count("-R '") == 1

    gone = task(cli, "unblock-ip", client)
    assert gone["status"] == "changed"
    assert gone["commands"][1:] == ["apache2ctl configtest", f"systemctl reload {UNIT}"]
    assert settles(http_status, 200) == 200
    still = task(cli, "unblock-ip", client)
    assert still["status"] == "ok" and still["commands"] == []


def test_a_failing_configtest_restores_the_blocklist_and_reloads_nothing(
        cli: Any, apache_restored: Any) -> None:
    host = apache_restored
    host.check_output(f"printf 'BogusDirective on\\n' > {BROKEN}")
    before, reloads = apache_pids(), graceful_restarts()
    r = task(cli, "block-ip", "203.0.113.7", code=2)
    assert r["status"] == "failed" and r["message"] == "`apache2ctl configtest` failed"
    assert "BogusDirective" in r["evidence"]
    assert not host.file(BLOCKLIST).exists or "203.0.113.7" not in host.file(
        BLOCKLIST).content_string
    assert "Apache keeps its current configuration" in r["evidence"]
    assert (apache_pids()[0], graceful_restarts(), http_status()) == (before[0], reloads, 200)


# -- opcache, php settings ------------------------------------------------------------------

PROBE_PHP = ("<?php $s = opcache_get_status(false); header('Content-Type: application/json'); "
             "echo json_encode(['start' => $s['opcache_statistics']['start_time'], "
             "'scripts' => $s['opcache_statistics']['num_cached_scripts'], 'ini' => ["
             "'upload_max_filesize' => ini_get('upload_max_filesize'), "
             "'post_max_size' => ini_get('post_max_size'), "
             "'memory_limit' => ini_get('memory_limit'), "
             "'max_execution_time' => ini_get('max_execution_time')]]);")


@pytest.fixture
def probe(apache_restored: Any) -> Iterator[str]:
    """A PHP page Apache serves, saying its opcache state and its settings (removed after)."""
    path = f"{PUBLIC}/remediations-probe.php"
    apache_restored.check_output(f"printf '%s' {shlex.quote(PROBE_PHP)} > {path}")
    yield url("/remediations-probe.php")
    apache_restored.check_output(f"rm -f {path}")


def served(probe_url: str) -> dict[str, Any]:
    with urllib.request.urlopen(probe_url, timeout=10) as resp:
        return json.loads(resp.read())  # type: ignore[no-any-return]


def test_reset_opcache_reloads_apache_gracefully_once_per_run(cli: Any, probe: str) -> None:
    urllib.request.urlopen(url(), timeout=10).read()
    before = served(probe)
    assert before["scripts"] > 0
    pids, reloads = apache_pids(), graceful_restarts()
    rid = f"apache-{uuid.uuid4().hex[:8]}"
    checked = task(cli, "reset-opcache", run_id=rid, check=True)
    assert checked["status"] == "changed" and checked["commands"][:2] == [
        "apache2ctl configtest", f"systemctl reload {UNIT}"]
    assert graceful_restarts() == reloads and served(probe)["start"] == before["start"]

    time.sleep(1.1)  # opcache's start_time has one-second resolution
    first = task(cli, "reset-opcache", run_id=rid)
    assert first["status"] == "changed", first["message"]
    assert first["commands"] == checked["commands"]
    assert first["data"]["sapi"] == "apache2handler" and "children replaced" in first["message"]
    after = served(probe)
    assert after["start"] > before["start"] and after["scripts"] < before["scripts"]
    reloaded = apache_pids()
    assert reloaded[0] == pids[0] and not reloaded[1] & pids[1]
    assert graceful_restarts() == reloads + 1
    again = task(cli, "reset-opcache", run_id=rid)
    assert again["status"] == "ok" and "already reloaded by this run" in again["message"]
    assert graceful_restarts() == reloads + 1 and served(probe)["start"] == after["start"]


def test_php_settings_are_what_mod_php_serves(cli: Any, probe: str) -> None:
    r = task(cli, "php-settings")
    assert r["status"] == "ok" and r["commands"] == []
    assert r["data"]["apache"] == served(probe)["ini"]
    assert r["data"]["php_ini"] == "/etc/php/8.2/apache2/php.ini"
    # A vhost-level php_value wins over php.ini, for Apache and for the fact alike.
    host = infra_host(HOST)
    host.check_output(f"printf 'php_value upload_max_filesize 48M\\n' > {PHP_VALUE} && "
                      f"apache2ctl configtest && systemctl reload {UNIT}")
    assert settles(lambda: 1 if served(probe)["ini"]["upload_max_filesize"] == "48M" else 0,
                   1) == 1
    again = task(cli, "php-settings")
    assert again["data"]["apache"] == served(probe)["ini"]
    assert again["data"]["apache_overrides"] == {"upload_max_filesize": "48M"}
    low = task(cli, "php-settings", "--at-least", "upload_max_filesize=64M", code=2)
    assert low["message"] == "mod_php in apache2.service: upload_max_filesize=48M < 64M"


# -- status, app-unresponsive ---------------------------------------------------------------

def test_app_unresponsive_starts_a_stopped_apache(cli: Any, apache_restored: Any) -> None:
    host = apache_restored
    host.check_output(f"systemctl stop {UNIT}")
    assert http_status() == 0
    status = task(cli, "status", code=2)
    assert status["message"] == "1 of 3 not active: apache2.service (inactive)"
    rid = f"apache-{uuid.uuid4().hex[:8]}"
    checked = task(cli, "runbook", "app-unresponsive", run_id=rid, check=True)
    assert checked["status"] == "changed"
    assert checked["commands"] == [f"systemctl start {UNIT}"]
    assert not host.service("apache2").is_running

    first = task(cli, "runbook", "app-unresponsive", run_id=rid)
    assert first["status"] == "changed", first["message"]
    assert first["commands"] == checked["commands"]
    steps = {s["remediation"]: s for s in first["data"]["steps"]}
    assert list(steps) == ["services status", "apache2 running", "redis-server running",
                           "workers running", "verify"]
    assert steps["services status"]["status"] == "failed"  # what it saw
    assert steps["apache2 running"]["status"] == "changed"
    assert steps["verify"]["status"] == "ok"
    assert host.service("apache2").is_running and http_status() == 200
    again = task(cli, "runbook", "app-unresponsive", run_id=rid)
    assert again["status"] == "ok" and again["commands"] == []
    assert {s["status"] for s in again["data"]["steps"]} == {"ok"}


def test_memory_exhaustion_restarts_apache_as_the_php_runtime(cli: Any,
                                                              apache_restored: Any) -> None:
    pid = apache_pids()[0]
    rid = f"apache-{uuid.uuid4().hex[:8]}"
    checked = task(cli, "runbook", "memory-exhaustion", run_id=rid, check=True)
    assert checked["commands"] == [f"systemctl restart {UNIT}"] and apache_pids()[0] == pid
    first = task(cli, "runbook", "memory-exhaustion", run_id=rid)
    assert first["status"] == "changed" and first["commands"] == checked["commands"]
    assert [s["remediation"] for s in first["data"]["steps"]] == ["apache2 restarted", "verify"]
    restarted = apache_pids()[0]
    assert restarted != pid and http_status() == 200
    again = task(cli, "runbook", "memory-exhaustion", run_id=rid)
    assert again["status"] == "ok" and apache_pids()[0] == restarted
