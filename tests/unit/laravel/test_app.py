"""Facts in, commands out: artisan as the app user, caches, storage link and permissions."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from remediations.connections.recording import RecordingConnection
from remediations.core.errors import InvalidInput
from remediations.core.result import Status
from remediations.laravel.app import (
    CacheFiles,
    artisan_argv,
    caches_cleared,
    caches_rebuilt,
    offenders_argv,
    parse_find_mtimes,
    parse_offenders,
    permission_checks,
    stale_caches,
    storage_link_present,
    storage_permissions,
)
from remediations.run.target import RunContext, Target
from tests.unit.helpers import host

APP = "/srv/app/current"
RUN_START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
ARTISAN = ["runuser", "-u", "www-data", "--", "php", f"{APP}/artisan"]


def target(conn: RecordingConnection, *, check: bool = False, **hostvars: Any) -> Target:
    hv = {"app_path": APP, "app_user": "www-data", "ansible_user": "root", **hostvars}
    return Target(host("web1", **hv), conn, RunContext("r1", RUN_START, check=check))


def art(*args: str) -> str:
    return " ".join([*ARTISAN, *args])


# -- artisan as the app user ------------------------------------------------------------

@pytest.mark.parametrize("hostvars,prefix", [
    ({"ansible_user": "root"}, ["runuser", "-u", "www-data", "--"]),
    ({"ansible_user": "deploy", "ansible_become": True}, ["runuser", "-u", "www-data", "--"]),
    ({"ansible_user": "www-data"}, []),
    ({"ansible_user": "deploy"}, ["sudo", "-n", "-u", "www-data", "--"]),
    ({"ansible_user": "root", "app_user": "app"}, ["runuser", "-u", "app", "--"]),
])
def test_artisan_runs_as_the_app_user(hostvars: dict[str, Any], prefix: list[str]) -> None:
    t = target(RecordingConnection(), **hostvars)
    assert artisan_argv(t, "queue:restart") == [*prefix, "php", f"{APP}/artisan", "queue:restart"]


def test_artisan_env_goes_through_env_after_the_user_switch() -> None:
    argv = artisan_argv(target(RecordingConnection()), "down", env={"MAINTENANCE_MESSAGE": "a b; c"})
    assert argv == ["runuser", "-u", "www-data", "--", "env", "MAINTENANCE_MESSAGE=a b; c", "php",
                    f"{APP}/artisan", "down"]


@pytest.mark.parametrize("hostvars", [
    {"app_path": "srv/app"}, {"app_path": "/srv/app/../../etc"}, {"app_path": "/srv/app;reboot"},
    {"app_path": "/srv/$(id)"}, {"app_path": "/"}, {"app_path": None}, {"app_user": "www data"},
    {"app_user": "-rf"},
])
def test_bad_app_facts_are_refused_before_anything_runs(hostvars: dict[str, Any]) -> None:
    conn = RecordingConnection()
    with pytest.raises(InvalidInput):
        caches_cleared(target(conn, **hostvars))
    assert conn.commands == []


# -- caches_cleared (the rest: test_caches.py) ------------------------------------------------

def test_parse_find_mtimes() -> None:
    text = (f"1763891000.5000000000 {APP}/bootstrap/cache/config.php\n"
            f"1763891001.0000000000 {APP}/config//app.php\ngarbage\n")
    parsed = parse_find_mtimes(APP, text)
    assert parsed.cache_file("config") == f"{APP}/bootstrap/cache/config.php"
    assert parsed.cache_file("route") is None
    assert parsed.newest_source("config") == (f"{APP}/config/app.php", 1763891001.0)


def test_cache_kinds_are_validated() -> None:
    with pytest.raises(InvalidInput):
        caches_cleared(target(RecordingConnection()), kinds=("config", "sessions"))


# -- caches_rebuilt -------------------------------------------------------------------------

def sources(**mtimes: float) -> CacheFiles:
    names = {"config_php": "bootstrap/cache/config.php", "routes": "bootstrap/cache/routes-v7.php",
             "events": "bootstrap/cache/events.php", "app_config": "config/app.php",
             "env": ".env", "web": "routes/web.php", "provider": "app/Providers/EventServiceProvider.php"}
    return CacheFiles(APP, {f"{APP}/{names[k]}": v for k, v in mtimes.items()})


FRESH = {"config_php": 200.0, "routes": 200.0, "events": 200.0, "app_config": 100.0, "env": 100.0,
         "web": 100.0, "provider": 100.0}


@pytest.mark.parametrize("facts,views,expected", [
    (sources(**FRESH), {"count": 2, "stale": []}, {}),
    (sources(**{**FRESH, "env": 300.0}), None, {"config": ".env is newer than the cache"}),
    (sources(**{**FRESH, "web": 200.0}), None, {"route": "routes/web.php is newer than the cache"}),
    (sources(**{k: v for k, v in FRESH.items() if k != "events"}), None, {"event": "not cached"}),
    (sources(**FRESH), {"count": 2, "stale": ["/x/welcome.blade.php"]},
     {"view": "1 of 2 view(s) not compiled"}),
])
def test_stale_caches(facts: CacheFiles, views: dict[str, Any] | None,
                      expected: dict[str, str]) -> None:
    kinds = ("config", "route", "event", "view") if views is not None else ("config", "route", "event")
    assert stale_caches(facts, views, kinds) == expected


def test_rebuild_only_what_is_stale_config_first() -> None:
    conn = RecordingConnection("web1")
    listing = "\n".join(f"{v} {APP}/{p}" for p, v in (
        ("bootstrap/cache/routes-v7.php", 200.0), ("routes/web.php", 100.0),
        ("config/app.php", 100.0), ("app/Providers/EventServiceProvider.php", 100.0)))
    conn.on(r"^find -L", stdout=listing)
    conn.on(r"php -r", stdout=json.dumps({"views": {"count": 1, "stale": ["/v/welcome.blade.php"]}}))
    result = caches_rebuilt(target(conn, check=True))
    assert result.commands == (art("config:cache"), art("event:cache"), art("view:cache"))
    assert result.data["stale"] == {"config": "not cached", "event": "not cached",
                                    "view": "1 of 1 view(s) not compiled"}


# -- storage link ---------------------------------------------------------------------------

LINK, TARGET = f"{APP}/public/storage", "/srv/app/shared/storage/app/public"


def link_host(stat: str | None, resolved: str) -> RecordingConnection:
    conn = RecordingConnection("web1")
    conn.on(r"^stat ", stdout=stat or "", exit_code=0 if stat else 1)
    conn.on(r"readlink -e", stdout=resolved)
    return conn


@pytest.mark.parametrize("stat,resolved,commands", [
    (None, f"\n{TARGET}\n", ("php /srv/app/current/artisan storage:link",)),
    (f"symbolic link|10|777|root|root|1|'{LINK}' -> '/old/storage/app/public'", f"\n{TARGET}\n",
     ("php /srv/app/current/artisan storage:link --force",)),
    (f"symbolic link|10|777|root|root|1|'{LINK}' -> '{TARGET}'", f"{TARGET}\n{TARGET}\n", ()),
])
def test_storage_link_plan(stat: str | None, resolved: str, commands: tuple[str, ...]) -> None:
    result = storage_link_present(target(link_host(stat, resolved), check=True))
    assert result.commands == commands
    assert result.status is (Status.CHANGED if commands else Status.OK)


def test_a_real_directory_in_the_way_is_refused_not_deleted() -> None:
    conn = link_host("directory|4096|755|deploy|deploy|1|'/srv/app/current/public/storage'",
                     f"{LINK}\n{TARGET}\n")
    result = storage_link_present(target(conn))
    assert result.status is Status.FAILED and "not a link" in result.message
    assert not conn.commands_matching(r"artisan|rm ")


# -- storage permissions ---------------------------------------------------------------------

def test_one_find_reports_every_category() -> None:
    checks = permission_checks("/s/app/public", "www-data", "www-data")
    argv = offenders_argv(["/s", "/b"], checks)
    assert argv[:3] == ["find", "/s", "/b"] and argv.count(",") == 4
    assert [c[0] for c in checks] == ["owner", "dir", "file", "public dir", "public file"]
    text = "owner\troot:root 644 /s/logs/x.log\ndir\twww-data:www-data 777 /s/framework\n"
    assert parse_offenders(text) == {"owner": ["root:root 644 /s/logs/x.log"],
                                     "dir": ["www-data:www-data 777 /s/framework"]}


def test_glob_characters_in_paths_are_quoted_for_find() -> None:
    checks = permission_checks("/s/a[1]/public", "www-data", "www-data")
    assert "/s/a\\[1\\]/public/*" in checks[1][2]


def test_fixes_only_the_categories_found_on_real_paths() -> None:
    conn = RecordingConnection("web1")
    conn.on(r"readlink -e", stdout="/srv/app/shared/storage\n/srv/app/releases/v1/bootstrap/cache\n"
                                   "/srv/app/shared/storage/app/public\n")
    conn.on(r"^find .* -printf", stdout="owner\troot:root 644 /srv/app/shared/storage/logs/a.log\n"
                                        "public dir\twww-data:www-data 755 /srv/app/shared/storage/app/public\n")
    result = storage_permissions(target(conn, check=True))
    assert result.status is Status.CHANGED
    roots = "/srv/app/shared/storage /srv/app/releases/v1/bootstrap/cache"
    assert result.commands == (
        f"find {roots} '(' '!' -user www-data -o '!' -group www-data ')' -exec chown -h "
        "www-data:www-data '{}' +",
        f"find {roots} '(' -path /srv/app/shared/storage/app/public -o -path "
        "'/srv/app/shared/storage/app/public/*' ')' -type d '(' '!' -perm -0775 -o -perm /0002 ')' "
        "-exec chmod ug+rwx,o+rx,o-w '{}' +",
    )
    assert result.data["wrong"]["owner"]["count"] == 1
    assert "1 not owned by www-data:www-data (e.g. root:root 644" in result.message
    assert not conn.commands_matching(r"-exec")


def test_all_good_is_ok() -> None:
    conn = RecordingConnection("web1").on(r"readlink -e", stdout="/s\n/b\n/s/app/public\n")
    result = storage_permissions(target(conn))
    assert result.status is Status.OK and result.commands == ()
