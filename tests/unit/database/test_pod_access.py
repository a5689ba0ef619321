"""A Kubernetes host whose Deployment runs the database: the client exec'd in its pod.

The exact `sh -c` lines (the image's credentials read from the container's environment,
never argv; the SQL one quoted argument), the engine required, check mode's exact ids.
"""

from __future__ import annotations

import shlex
from typing import Any

import pytest

from remediations.connections.recording import RecordingConnection
from remediations.core.errors import InvalidInput
from remediations.core.result import Status
from remediations.database.access import open_access
from remediations.database.migrations import artisan
from remediations.database.queries import long_queries_stopped
from remediations.database.sql import mysql_statements
from remediations.database.status import database_status
from tests.unit.database.fixtures import MYSQL, PG, target

K8S = {"ansible_connection": "kubernetes", "deployment": "db", "container": "db",
       "ansible_user": "www-data", "db_password": "lab-s3cret"}
PSQL = ("--no-psqlrc --no-align --tuples-only '--field-separator=\t' --set=ON_ERROR_STOP=1")
MYSQL_LOGIN = ('c=mariadb; command -v mariadb >/dev/null 2>&1 || c=mysql; '
               'p="$MARIADB_ROOT_PASSWORD"; [ -n "$p" ] || p="$MYSQL_ROOT_PASSWORD"; '
               'MYSQL_PWD="$p" exec "$c" -uroot '
               "--batch --skip-column-names -e ")


def pod(*, check: bool = False, **hostvars: Any) -> tuple[RecordingConnection, Any]:
    mysql = hostvars.get("db_engine") in ("mysql", "mariadb")
    conn = RecordingConnection("db").on(r"@@main", stdout=MYSQL if mysql else PG)
    return conn, target(conn, check=check, **{**K8S, **hostvars})


def no_secret(conn: RecordingConnection) -> None:
    assert all("s3cret" not in a for argv in conn.commands for a in argv)


def test_mysql_in_the_pod_as_root_with_the_images_password_and_no_pgbouncer() -> None:
    conn, t = pod(db_engine="mariadb")
    r = database_status(t, older_than=60)
    assert r.status is Status.OK and r.message.startswith("mysql 10.11.19: 3/151 connections")
    (argv,) = conn.commands                    # one exec: no units to read, nothing else
    assert argv[:2] == ("sh", "-c") and len(argv) == 3
    sql = "; ".join(mysql_statements(60))
    assert argv[2] == MYSQL_LOGIN + shlex.quote(sql)
    assert shlex.split(argv[2])[-1] == sql     # the SQL is one argument, quoted
    assert r.data["pgbouncer"] is None
    assert r.data["reached"] == "mysql in a pod of deployment db (exec; no PgBouncer)"
    no_secret(conn)


def test_postgresql_in_the_pod_over_the_socket_as_the_images_user() -> None:
    conn, t = pod(db_engine="postgresql")
    r = database_status(t, older_than=60)
    assert r.status is Status.OK and r.data["pgbouncer"] is None, r.message
    (argv,) = conn.commands
    line = argv[2]
    head = ('PGPASSWORD="$POSTGRES_PASSWORD" exec psql -U "${POSTGRES_USER:-postgres}" '
            '-d "${POSTGRES_DB:-${POSTGRES_USER:-postgres}}" ' + PSQL + " -c ")
    assert argv[:2] == ("sh", "-c") and line.startswith(head), line
    assert " -h " not in line and "127.0.0.1" not in line      # the local socket
    words = shlex.split(line)
    assert words[words.index("-c") + 1] == "SELECT '@@main'"
    no_secret(conn)


def test_exact_argv_for_one_statement_on_each_engine() -> None:
    _, t = pod(db_engine="postgresql", db_name="app")
    assert open_access(t).argv("SELECT 'a b'; DROP") == [
        "sh", "-c", 'PGPASSWORD="$POSTGRES_PASSWORD" exec psql -U "${POSTGRES_USER:-postgres}" '
        "-d app " + PSQL + " -c 'SELECT '\"'\"'a b'\"'\"'; DROP'"]
    _, t = pod(db_engine="mysql")
    assert open_access(t).argv("KILL QUERY 238", "KILL QUERY 239") == [
        "sh", "-c", MYSQL_LOGIN + "'KILL QUERY 238; KILL QUERY 239'"]


def test_the_engine_is_required_on_kubernetes_and_nothing_runs_without_it() -> None:
    conn, t = pod()
    with pytest.raises(InvalidInput, match=r"set db_engine .* or pass --engine"):
        database_status(t)
    assert conn.commands == []
    assert open_access(t, "postgres").engine == "postgresql"      # --engine is enough


@pytest.mark.parametrize("hostvars", [{"db_engine": "oracle"},
                                      {"db_engine": "postgresql", "db_name": "app; DROP"}])
def test_bad_values_are_refused_before_any_exec(hostvars: dict[str, str]) -> None:
    conn, t = pod(**hostvars)
    with pytest.raises(InvalidInput):
        database_status(t)
    assert conn.commands == []


def test_check_mode_lists_the_exact_ids_and_touches_nothing() -> None:
    conn, t = pod(check=True, db_engine="mysql")
    r = long_queries_stopped(t, older_than=60)
    assert r.status is Status.CHANGED and r.check, r.message
    assert [s["id"] for s in r.data["targets"]] == [238, 239]
    assert r.data["sql"] == "KILL QUERY 238; KILL QUERY 239"
    assert r.message.startswith("would cancel 2 queries running > 60s with "
                                "`KILL QUERY 238; KILL QUERY 239`: id 238, app, 612s: "
                                "SELECT SLEEP(600); id 239, reporting, 100s")
    assert r.commands == (shlex.join(["sh", "-c", MYSQL_LOGIN
                                      + "'KILL QUERY 238; KILL QUERY 239'"]),)
    assert not conn.commands_matching("KILL")
    assert len(conn.commands) == 1                              # the read only


def test_migrations_in_an_app_pod_run_artisan_as_the_containers_user() -> None:
    t = target(ansible_connection="kubernetes", deployment="web", ansible_user="www-data",
               app_user="www-data", app_path="/var/www/html")
    assert artisan(t, "migrate:status") == ["php", "/var/www/html/artisan", "migrate:status"]
    assert artisan(target(), "migrate:status")[:4] == ["runuser", "-u", "www-data", "--"]
