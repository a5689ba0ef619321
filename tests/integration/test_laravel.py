"""The Laravel tasks on the lab's real app: caches, storage link and permissions, PHP, Octane.

Each task runs as a user types it (`invoke TASK --json`): `--check` first (exact
commands, nothing changed), then for real (the effect checked with testinfra), then
again with the same run id (`ok`, nothing touched). Hosts are left as found.
"""

from __future__ import annotations

import json
import shlex
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import LAB_HOSTS, LAB_INVENTORY, infra_host, inventory_text

pytestmark = pytest.mark.lab
INV = str(LAB_INVENTORY)
APP = "/srv/app/current"
RELEASE = "/srv/app/releases/v1.2.3"
STORAGE = "/srv/app/shared/storage"
REDIS = "redis-cli -a lab-redis-s3cret --no-auth-warning -n 1"
CACHE_FILES = ("config.php", "routes-v7.php", "events.php")


def art(*args: str) -> str:
    return " ".join(["runuser", "-u", "www-data", "--", "php", f"{APP}/artisan", *args])


def task(cli: Any, name: str, *args: str, limit: str = "web", connection: str = "ssh",
         run_id: str | None = None, check: bool = False) -> dict[str, dict[str, Any]]:
    argv = [name, *args, "-i", INV, "-l", limit, "--json", "--connection", connection]
    if run_id:
        argv += ["--run-id", run_id]
    if check:
        argv.append("--check")
    res = cli(*argv)
    assert res.code in (0, 2), res.stdout + res.stderr
    return res.by_host()  # type: ignore[no-any-return]


def statuses(results: dict[str, dict[str, Any]]) -> set[str]:
    return {r["status"] for r in results.values()}


def artisan(host: Any, *args: str) -> None:
    host.check_output(art(*args))


def clear_everything(host: Any) -> None:
    for command in ("optimize:clear", "view:clear", "event:clear"):
        artisan(host, command)


@pytest.fixture
def lab_hosts(lab: Any) -> Iterator[dict[str, Any]]:
    hosts = {name: infra_host(name) for name in ("web1", "web2")}
    yield hosts
    for host in hosts.values():
        clear_everything(host)


# -- caches ---------------------------------------------------------------------------------

@pytest.mark.parametrize("connection", ["ssh", "docker"])
def test_clear_caches_reports_what_existed_then_ok(cli: Any, lab_hosts: dict[str, Any],
                                                   connection: str) -> None:
    for host in lab_hosts.values():
        for command in ("config:cache", "route:cache", "event:cache", "view:cache", "queue:restart"):
            artisan(host, command)
    rid = f"test-{uuid.uuid4().hex[:8]}"

    checked = task(cli, "clear-caches", connection=connection, check=True, run_id=rid)
    for r in checked.values():
        assert r["status"] == "changed" and r["check"]
        assert r["commands"][:5] == [art(f"{k}:clear") for k in ("config", "route", "event",
                                                                  "view", "cache")]
        assert len(r["commands"]) == 7  # + the once-per-run markers of view and cache
    for host in lab_hosts.values():  # nothing touched
        assert all(host.file(f"{RELEASE}/bootstrap/cache/{f}").exists for f in CACHE_FILES)
        assert host.check_output(f"{REDIS} DBSIZE") != "0"

    first = task(cli, "clear-caches", connection=connection, run_id=rid)
    for name, r in first.items():
        assert r["status"] == "changed", r["message"]
        assert set(r["data"]["present"]) == {"cache", "config", "route", "view", "event"}
        assert r["data"]["present"]["config"] == "bootstrap/cache/config.php"
        assert r["message"].startswith("cleared config (bootstrap/cache/config.php), route")
        host = lab_hosts[name]
        assert not any(host.file(f"{RELEASE}/bootstrap/cache/{f}").exists for f in CACHE_FILES)
        assert host.check_output(f"find {STORAGE}/framework/views -name '*.php' | wc -l") == "0"
        assert host.check_output(f"{REDIS} DBSIZE") == "0"
        assert host.file(f"{RELEASE}/bootstrap/cache/services.php").exists  # not a cache we clear
        assert r["commands"] == checked[name]["commands"]  # check mode was exact
        assert host.file(f"/run/lock/remediations.runs/{rid}/caches_cleared.view").exists

    again = task(cli, "clear-caches", connection=connection, run_id=rid)
    assert statuses(again) == {"ok"}
    assert all(r["commands"] == [] for r in again.values())


def test_clear_caches_fails_with_php_s_words_when_the_app_does_not_boot(
        cli: Any, lab_hosts: dict[str, Any]) -> None:
    host = lab_hosts["web1"]
    broken = f"{RELEASE}/bootstrap/cache/config.php"
    host.run(f"printf '<?php return [' > {broken}")  # a cached config PHP cannot parse
    try:
        r = task(cli, "clear-caches", "--kinds", "route", limit="web1")["web1"]
    finally:
        host.run(f"rm -f {broken}")
    assert r["status"] == "failed" and "printed no answer" in r["message"], r
    assert "PHP Parse error" in r["evidence"] and "config.php" in r["evidence"]


def test_clear_only_the_kinds_asked_for(cli: Any, lab_hosts: dict[str, Any]) -> None:
    host = lab_hosts["web1"]
    artisan(host, "config:cache")
    artisan(host, "route:cache")
    r = task(cli, "clear-caches", "--kinds", "route", limit="web1")["web1"]
    assert r["status"] == "changed" and r["commands"] == [art("route:clear")]
    assert host.file(f"{RELEASE}/bootstrap/cache/config.php").exists
    assert not host.file(f"{RELEASE}/bootstrap/cache/routes-v7.php").exists


def test_rebuild_caches_then_ok_then_only_what_went_stale(cli: Any, lab_hosts: dict[str, Any]) -> None:
    for host in lab_hosts.values():
        clear_everything(host)
    built = [art(f"{k}:cache") for k in ("config", "route", "event", "view")]

    checked = task(cli, "rebuild-caches", check=True)
    assert all(r["commands"] == built for r in checked.values())
    assert not any(h.file(f"{RELEASE}/bootstrap/cache/config.php").exists for h in lab_hosts.values())

    first = task(cli, "rebuild-caches")
    for name, r in first.items():
        assert r["status"] == "changed" and r["commands"] == built, r["message"]
        host = lab_hosts[name]
        for f in CACHE_FILES:
            assert host.file(f"{RELEASE}/bootstrap/cache/{f}").user == "www-data"
        welcome = host.check_output(
            f"php -r 'echo sha1(\"v2\".realpath(\"{RELEASE}/resources/views/welcome.blade.php\"));'")
        assert host.file(f"{STORAGE}/framework/views/{welcome}.php").exists

    assert statuses(task(cli, "rebuild-caches")) == {"ok"}

    host = lab_hosts["web1"]
    host.check_output(f"touch {RELEASE}/routes/web.php")
    stale = task(cli, "rebuild-caches", limit="web1")["web1"]
    assert stale["commands"] == [art("route:cache")]
    assert stale["data"]["stale"] == {"route": "routes/web.php is newer than the cache"}
    assert statuses(task(cli, "rebuild-caches", limit="web1")) == {"ok"}


# -- storage link and permissions ---------------------------------------------------------

LINK = f"{APP}/public/storage"


@pytest.fixture
def no_storage_link(lab: Any) -> Iterator[Any]:
    host = infra_host("web1")
    existed = host.file(LINK).exists
    host.check_output(f"rm -f {LINK}")
    yield host
    if not existed:
        host.check_output(f"rm -f {LINK}")


def test_storage_link_created_then_ok_and_a_wrong_link_replaced(cli: Any, no_storage_link: Any) -> None:
    host = no_storage_link
    checked = task(cli, "storage-link", limit="web1", check=True)["web1"]
    assert checked["commands"] == [f"php {APP}/artisan storage:link"]
    assert not host.file(LINK).exists

    first = task(cli, "storage-link", limit="web1")["web1"]
    assert first["status"] == "changed", first["message"]
    assert host.file(LINK).is_symlink and host.file(LINK).linked_to == f"{STORAGE}/app/public"
    assert statuses(task(cli, "storage-link", limit="web1")) == {"ok"}

    host.check_output(f"ln -sfn /srv/app/releases/v1.2.2/nothing {LINK}")
    fixed = task(cli, "storage-link", limit="web1")["web1"]
    assert fixed["commands"] == [f"php {APP}/artisan storage:link --force"]
    assert host.file(LINK).linked_to == f"{STORAGE}/app/public"

    host.check_output(f"rm -f {LINK} && mkdir {LINK} && touch {LINK}/keep.txt")
    try:
        refused = task(cli, "storage-link", limit="web1")["web1"]
        assert refused["status"] == "failed" and "not a link" in refused["message"]
        assert host.file(f"{LINK}/keep.txt").exists
    finally:
        host.check_output(f"rm -rf {LINK}")


BREAK = (f"install -o root -g root -m 0200 /dev/null {STORAGE}/logs/root.log",
         f"chmod 0777 {STORAGE}/framework/sessions",
         f"chmod 0755 {STORAGE}/app/public",
         f"install -o www-data -g www-data -m 0600 /dev/null {STORAGE}/app/public/upload.txt",
         f"chmod 0000 {STORAGE}/framework/testing",
         f"chown root {RELEASE}/bootstrap/cache/services.php")


def modes(host: Any) -> str:
    return str(host.check_output(
        f"find {STORAGE} {RELEASE}/bootstrap/cache -printf '%u:%g %m %p\\n' | sort"))


@pytest.fixture
def broken_storage(lab: Any) -> Iterator[dict[str, Any]]:
    hosts = {name: infra_host(name) for name in ("web1", "web2")}
    pristine = {name: modes(h) for name, h in hosts.items()}
    for host in hosts.values():
        host.check_output(" && ".join(BREAK))
    yield hosts
    for name, host in hosts.items():
        host.check_output(f"rm -f {STORAGE}/logs/root.log {STORAGE}/app/public/upload.txt")
        host.check_output(f"chmod 0775 {STORAGE}/framework/sessions {STORAGE}/app/public "
                          f"{STORAGE}/framework/testing && chown www-data "
                          f"{RELEASE}/bootstrap/cache/services.php")
        assert modes(host) == pristine[name]


@pytest.mark.parametrize("connection", ["ssh", "docker"])
def test_fix_storage_permissions_then_ok(cli: Any, broken_storage: dict[str, Any],
                                         connection: str) -> None:
    before = {name: modes(h) for name, h in broken_storage.items()}
    checked = task(cli, "fix-storage-permissions", connection=connection, check=True)
    for r in checked.values():
        assert r["status"] == "changed" and len(r["commands"]) == 5
        assert r["commands"][0] == (
            f"find {STORAGE} {RELEASE}/bootstrap/cache '(' '!' -user www-data -o '!' -group "
            "www-data ')' -exec chown -h www-data:www-data '{}' +")
        assert {k: v["count"] for k, v in r["data"]["wrong"].items()} == {
            "owner": 2, "dir": 2, "file": 1, "public dir": 1, "public file": 1}
    assert {name: modes(h) for name, h in broken_storage.items()} == before

    first = task(cli, "fix-storage-permissions", connection=connection)
    for name, r in first.items():
        assert r["status"] == "changed", r["message"]
        assert "2 not owned by www-data:www-data" in r["message"]
        host = broken_storage[name]
        root_log = host.file(f"{STORAGE}/logs/root.log")
        assert (root_log.user, root_log.group, root_log.mode) == ("www-data", "www-data", 0o600)
        assert host.file(f"{STORAGE}/framework/sessions").mode == 0o775
        assert host.file(f"{STORAGE}/framework/testing").mode == 0o755
        assert host.file(f"{STORAGE}/app/public").mode == 0o775
        assert host.file(f"{STORAGE}/app/public/upload.txt").mode == 0o644
        assert host.file(f"{RELEASE}/bootstrap/cache/services.php").user == "www-data"
        assert host.run(f"find {STORAGE} -not -user www-data").stdout == ""

    again = task(cli, "fix-storage-permissions", connection=connection)
    assert statuses(again) == {"ok"} and all(r["commands"] == [] for r in again.values())


# -- PHP ------------------------------------------------------------------------------------

POOL_OVERRIDE = "/etc/php/8.2/fpm/pool.d/zz-remediations-test.conf"


@pytest.fixture
def pool_override(lab: Any) -> Iterator[Any]:
    host = infra_host("web1")
    host.check_output(f"printf '[www]\\nphp_admin_value[memory_limit] = 256M\\n' > {POOL_OVERRIDE}")
    yield host
    host.check_output(f"rm -f {POOL_OVERRIDE}")


def test_php_settings_per_sapi_as_fpm_really_has_them(cli: Any, pool_override: Any) -> None:
    r = task(cli, "php-settings", limit="web1")["web1"]
    assert r["status"] == "ok" and r["commands"] == []
    data = r["data"]
    assert data["fpm"] == {"upload_max_filesize": "2M", "post_max_size": "8M",
                           "memory_limit": "256M", "max_execution_time": "30"}
    assert data["fpm_ini"]["memory_limit"] == "128M"   # php.ini alone would have misled
    assert data["cli"] == {"upload_max_filesize": "2M", "post_max_size": "8M",
                           "memory_limit": "-1", "max_execution_time": "0"}
    # the same as FPM's own phpinfo() and the CLI's ini_get()
    assert "memory_limit => 128M" in pool_override.check_output("php-fpm8.2 -i")
    assert pool_override.check_output("php -r 'echo ini_get(\"memory_limit\");'") == "-1"

    low = cli("php-settings", "-i", INV, "-l", "web1", "--json", "--at-least",
              "upload_max_filesize=64M,memory_limit=256M")
    assert low.code == 2
    assert low.by_host()["web1"]["message"] == "FPM pool www: upload_max_filesize=2M < 64M"


PROBE_PHP = ("<?php $s = opcache_get_status(false); header('Content-Type: application/json'); "
             "echo json_encode(['start' => $s['opcache_statistics']['start_time'], "
             "'scripts' => $s['opcache_statistics']['num_cached_scripts']]);")


@pytest.fixture
def opcache_probe(lab: Any) -> Iterator[str]:
    host = infra_host("web1")
    path = f"{APP}/public/opcache-probe.php"
    host.check_output(f"printf '%s' {shlex.quote(PROBE_PHP)} > {path}")
    yield f"http://127.0.0.1:{LAB_HOSTS['web1'].http_port}/opcache-probe.php"
    host.check_output(f"rm -f {path}")


def opcache(url: str) -> dict[str, int]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())  # type: ignore[no-any-return]


def fpm_workers(host: Any) -> str:
    return str(host.check_output("pgrep -P $(systemctl show -p MainPID --value php8.2-fpm) | sort"))


def test_reset_opcache_empties_it_once_per_run(cli: Any, opcache_probe: str) -> None:
    import time

    host = infra_host("web1")
    urllib.request.urlopen(LAB_HOSTS["web1"].health_url, timeout=10).read()
    before = opcache(opcache_probe)
    assert before["scripts"] > 0
    workers = fpm_workers(host)

    checked = task(cli, "reset-opcache", limit="web1", check=True)["web1"]
    assert checked["commands"][0] == "systemctl reload php8.2-fpm.service"
    assert fpm_workers(host) == workers

    time.sleep(1.1)  # opcache's start_time has one-second resolution
    rid = f"test-{uuid.uuid4().hex[:8]}"
    first = task(cli, "reset-opcache", limit="web1", run_id=rid)["web1"]
    assert first["status"] == "changed", first["message"]
    after = opcache(opcache_probe)
    assert after["start"] > before["start"] and after["scripts"] < before["scripts"]
    assert host.service("php8.2-fpm").is_running

    reloaded = fpm_workers(host)
    again = task(cli, "reset-opcache", limit="web1", run_id=rid)["web1"]
    assert again["status"] == "ok" and "already reloaded by this run" in again["message"]
    assert fpm_workers(host) == reloaded


def test_reload_octane_is_skipped_without_octane(cli: Any, lab: Any) -> None:
    results = task(cli, "reload-octane")
    assert statuses(results) == {"skipped"}
    assert all("Octane is not installed" in r["message"] and r["commands"] == []
               for r in results.values())


def test_clear_caches_as_a_sudoer_runs_artisan_as_the_app_user(cli: Any, lab_hosts: dict[str, Any],
                                                               tmp_path: Any) -> None:
    """Log in as `deploy`, sudo to root (ansible_become), runuser to www-data for artisan."""
    host = lab_hosts["web1"]
    artisan(host, "config:cache")
    inv = tmp_path / "become.yml"
    inv.write_text(inventory_text().replace(
        "ansible_user: root", "ansible_user: deploy\n    ansible_become: true"))
    res = cli("clear-caches", "--kinds", "config", "-i", str(inv), "-l", "web1", "--json")
    assert res.code == 0, res.stdout + res.stderr
    r = res.by_host()["web1"]
    assert r["status"] == "changed" and r["commands"] == [art("config:clear")]
    assert not host.file(f"{RELEASE}/bootstrap/cache/config.php").exists
