"""Health checks: several health paths against a local HTTP server, and the database check."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from remediations.connections.recording import RecordingConnection
from remediations.core.errors import InvalidInput
from remediations.core.result import Status
from remediations.host.health import HEALTH_PATHS, database_reachable, health_path, http_ok
from remediations.run.target import RunContext, Target
from tests.unit.helpers import host

ROUTES: dict[str, tuple[int, Any]] = {}


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, body = ROUTES.get(self.path, (404, "not found"))
        data = (json.dumps(body) if not isinstance(body, str) else body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    ROUTES.clear()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def target(conn: Any = None, **hostvars: Any) -> Target:
    return Target(host("web1", **hostvars), conn or RecordingConnection(),
                  RunContext("r1", datetime(2026, 11, 23, tzinfo=UTC)))


def test_http_ok_without_paths_keeps_its_behaviour(server: str) -> None:
    ROUTES["/up"] = (200, {"status": "ok", "version": "1.2.3"})
    r = http_ok(target(health_url=f"{server}/up"), json_field="status", json_value="ok")
    assert r.status is Status.OK and r.data["version"] == "1.2.3"
    assert http_ok(target(), f"{server}/nope").status is Status.FAILED


def test_paths_ok_when_every_exposed_path_is_healthy(server: str) -> None:
    ROUTES.update({"/up": (200, {"status": "ok", "version": "1.2.3"}), "/health": (204, ""),
                   "/api/health/ready": (200, {"status": "ok"})})
    r = http_ok(target(health_url=f"{server}/up?x=1"), paths=HEALTH_PATHS)
    assert r.status is Status.OK, r.message
    assert r.data["paths"]["/api/health/live"] == {"http_status": 404, "healthy": False,
                                                   "exposed": False}
    assert r.data["paths"]["/health"]["healthy"] and r.data["version"] == "1.2.3"
    assert "/api/health/live: not exposed (404)" in r.message


def test_paths_fail_when_an_exposed_path_is_unhealthy(server: str) -> None:
    ROUTES.update({"/up": (200, {"status": "ok"}), "/api/health/ready": (503, "redis down")})
    r = http_ok(target(), server, paths=["/up", "/api/health/ready"])
    assert r.status is Status.FAILED
    assert "/api/health/ready: HTTP 503" in r.message and "redis down" in r.evidence


def test_paths_fail_when_none_is_exposed(server: str) -> None:
    r = http_ok(target(), server, paths=["/up", "/health"])
    assert r.status is Status.FAILED and "no health path answered" in r.message


def test_paths_apply_the_json_field_to_each(server: str) -> None:
    ROUTES.update({"/up": (200, {"status": "ok"}), "/health": (200, {"status": "degraded"})})
    r = http_ok(target(), server, paths=["/up", "/health"], json_field="status", json_value="ok")
    assert r.status is Status.FAILED and "/health: status is 'degraded'" in r.message


@pytest.mark.parametrize("value", ["up", "/a b", "http://x/up", "", "/x\n"])
def test_bad_health_paths_are_refused(value: str) -> None:
    with pytest.raises(InvalidInput):
        health_path(value)


STATUS = """+------+--------------------------------------------+-------+
| Ran? | Migration                                  | Batch |
+------+--------------------------------------------+-------+
| Yes  | 2019_08_19_000000_create_failed_jobs_table | 1     |
| Yes  | 2020_01_01_000000_create_users             | 1     |
| No   | 2026_11_01_000000_add_index                |       |
+------+--------------------------------------------+-------+
"""


def test_database_reachable_runs_migrate_status_as_the_app_user() -> None:
    conn = RecordingConnection().on(r"migrate:status", stdout=STATUS)
    r = database_reachable(target(conn, app_path="/srv/app/current", app_user="www-data"))
    assert r.status is Status.OK
    assert r.message == "database reachable: 2 migration(s) ran, 1 pending"
    assert (r.data["ran"], r.data["pending"], r.data["migrated"]) == (2, 1, True)
    assert conn.commands == [("runuser", "-u", "www-data", "--", "php",
                              "/srv/app/current/artisan", "migrate:status", "--no-ansi",
                              "--no-interaction")]


@pytest.mark.parametrize(("login", "prefix"), [
    ("www-data", ()),                                    # a container run as the app user
    ("root", ("runuser", "-u", "www-data", "--")),
    ("deploy", ("sudo", "-n", "-u", "www-data", "--")),
])
def test_database_reachable_wraps_artisan_only_when_another_user_runs_it(
        login: str, prefix: tuple[str, ...]) -> None:
    conn = RecordingConnection().on(r"migrate:status", stdout=STATUS)
    database_reachable(target(conn, app_path="/srv/app", app_user="www-data", ansible_user=login))
    assert conn.commands == [(*prefix, "php", "/srv/app/artisan", "migrate:status", "--no-ansi",
                              "--no-interaction")]


def test_database_without_migrations_table_is_reachable() -> None:
    conn = RecordingConnection().on(r"migrate:status", exit_code=1,
                                    stdout="Migration table not found.\n")
    r = database_reachable(target(conn))
    assert r.status is Status.OK and r.data["migrated"] is False


def test_database_down_fails_with_the_error_as_evidence() -> None:
    conn = RecordingConnection().on(
        r"migrate:status", exit_code=1,
        stderr="In Connection.php line 712:\n  SQLSTATE[HY000] [2002] Connection refused\n")
    r = database_reachable(target(conn))
    assert r.status is Status.FAILED and "exited 1" in r.message
    assert "Connection refused" in r.evidence


@pytest.mark.parametrize("hostvars", [dict(app_user="www-data; reboot"), dict(app_path="srv/app"),
                                      dict(app_path="/srv/../etc")])
def test_database_check_validates_inventory_values(hostvars: dict[str, Any]) -> None:
    conn = RecordingConnection()
    with pytest.raises(InvalidInput):
        database_reachable(target(conn, **hostvars))
    assert conn.commands == []
