"""How SQL reaches the database: the engine chosen, the exact commands, no secret in any argv."""

from __future__ import annotations

import shlex
from typing import Any

import pytest

from remediations.connections.recording import RecordingConnection
from remediations.core.errors import InvalidInput
from remediations.core.result import Status
from remediations.database.access import (
    Access,
    Units,
    engine_name,
    open_access,
    parse_units,
)
from remediations.database.status import database_status
from remediations.docker.facts import ContainerFact
from tests.unit.database.fixtures import (
    MYSQL,
    PG,
    PGBOUNCER,
    UNITS_BOTH,
    UNITS_NONE,
    UNITS_PG,
    target,
)


@pytest.mark.parametrize("text,expected", [
    (UNITS_PG, Units(postgresql=True, pgbouncer=True)),
    (UNITS_BOTH, Units(postgresql=True, mysql=True)),
    (UNITS_NONE, Units()),
])
def test_parse_units(text: str, expected: Units) -> None:
    assert parse_units(text) == expected


@pytest.mark.parametrize("value,expected", [("postgres", "postgresql"), ("PgSQL", "postgresql"),
                                            ("mariadb", "mysql"), ("mysql", "mysql")])
def test_engine_names(value: str, expected: str) -> None:
    assert engine_name(value) == expected


@pytest.mark.parametrize("value", ["oracle", "", "-e", None])
def test_bad_engine_names(value: Any) -> None:
    with pytest.raises(InvalidInput):
        engine_name(value)


def test_local_postgresql_as_the_postgres_user_with_pgbouncer() -> None:
    conn = RecordingConnection("db1").on(r"^systemctl show", stdout=UNITS_PG)
    access = open_access(target(conn, db_name="app"))
    assert (access.kind, access.database, access.pgbouncer_port) == ("peer", "app", 6432)
    assert access.argv("SELECT 1") == [
        "runuser", "-u", "postgres", "--", "psql", "--no-psqlrc", "--no-align", "--tuples-only",
        "--field-separator=\t", "--set=ON_ERROR_STOP=1", "-d", "app", "-c", "SELECT 1"]
    assert access.pgbouncer_argv("SHOW POOLS") == [
        "runuser", "-u", "postgres", "--", "psql", "--no-psqlrc", "--no-align",
        "--field-separator=\t", "--pset=footer=off", "-h", "/var/run/postgresql", "-p", "6432",
        "-U", "postgres", "pgbouncer", "-c", "SHOW POOLS"]
    assert conn.command_lines == [
        "systemctl show -p Id,LoadState postgresql.service mariadb.service mysql.service "
        "pgbouncer.service"]


def test_local_mysql_over_the_socket_picks_mariadb_or_mysql_on_the_host() -> None:
    conn = RecordingConnection("db1").on(r"^systemctl show", stdout=UNITS_BOTH)
    access = open_access(target(conn), "mariadb")
    argv = access.argv("SELECT 1", "SELECT 2")
    assert argv[:2] == ["sh", "-c"]
    assert argv[2] == ('c=mariadb; command -v mariadb >/dev/null 2>&1 || c=mysql; exec "$c" '
                       "--batch --skip-column-names -e 'SELECT 1; SELECT 2'")


def test_both_engines_and_nothing_said_is_refused() -> None:
    conn = RecordingConnection("db1").on(r"^systemctl show", stdout=UNITS_BOTH)
    with pytest.raises(InvalidInput, match="both postgresql and mariadb"):
        open_access(target(conn))
    assert open_access(target(conn, db_engine="mysql")).engine == "mysql"


def test_no_engine_at_all_is_refused() -> None:
    conn = RecordingConnection("db1").on(r"^systemctl show", stdout=UNITS_NONE)
    with pytest.raises(InvalidInput, match="no postgresql, mariadb or mysql unit"):
        open_access(target(conn))


@pytest.mark.parametrize("engine,client,env", [("postgresql", "psql", "PGPASSWORD"),
                                               ("mysql", '"$c"', "MYSQL_PWD")])
def test_a_remote_database_uses_the_app_env_and_no_secret_reaches_argv(
        engine: str, client: str, env: str) -> None:
    conn = (RecordingConnection("web1").on(r"^systemctl show", stdout=UNITS_NONE)
            .on(r"@@main", stdout=PG if engine == "postgresql" else MYSQL))
    t = target(conn, db_host="10.0.0.5", db_engine=engine, app_path="/srv/app/current",
               db_password="lab-pg-s3cret")
    r = database_status(t)
    assert r.status is Status.OK, r.message
    (_, sql) = conn.commands
    assert sql[:2] == ("sh", "-c")
    assert sql[2].startswith("set -a; . /srv/app/current/.env; set +a; ")
    assert f'{env}="$DB_PASSWORD" exec {client} -h "$DB_HOST"' in sql[2]
    assert all("s3cret" not in a for argv in conn.commands for a in argv)
    assert r.data["reached"] == f"{engine} at the app's DB_HOST"


def test_a_bad_db_name_is_refused_before_any_sql() -> None:
    conn = RecordingConnection("db1").on(r"^systemctl show", stdout=UNITS_PG)
    with pytest.raises(InvalidInput, match="db_name"):
        open_access(target(conn, db_name="app; DROP"))


class FakeEngine:
    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.execs: list[tuple[str, list[str]]] = []
        self.closed = False

    def containers(self, *labels: str) -> list[ContainerFact]:
        assert "com.docker.compose.service=db" in labels
        assert "com.docker.compose.project=remlab" in labels
        return [ContainerFact("abc", "remlab-db-1", "mariadb", "sha", "running")]

    def exec(self, ref: str, argv: list[str]) -> tuple[int, str]:
        self.execs.append((ref, argv))
        return 0, self.answer

    def close(self) -> None:
        self.closed = True


def test_a_compose_host_runs_mariadb_in_the_db_service(monkeypatch: pytest.MonkeyPatch) -> None:
    eng = FakeEngine(MYSQL)
    monkeypatch.setattr("remediations.docker.engine.engine", lambda t: eng)
    t = target(compose_project_dir="/srv/compose", compose_project="remlab", db_service="db",
               ansible_connection="local")
    r = database_status(t, older_than=60)
    assert r.status is Status.OK and r.message.startswith("mysql 10.11.19: 3/151 connections")
    ((ref, argv),) = eng.execs
    assert ref == "remlab-db-1" and argv[:4] == ["mariadb", "--batch", "--skip-column-names", "-e"]
    assert r.commands[0].startswith("docker exec remlab-db-1 mariadb --batch")
    assert eng.closed and r.data["reached"] == "service db (remlab-db-1)"


def test_status_reads_everything_in_one_round_trip_after_the_units() -> None:
    conn = (RecordingConnection("db1").on(r"^systemctl show", stdout=UNITS_PG)
            .on(r"@@main", stdout=PG).on(r"pgbouncer -c", stdout=PGBOUNCER))
    r = database_status(target(conn, db_engine="postgresql", pgbouncer_port=6432), older_than=60)
    assert r.status is Status.OK
    assert conn.round_trips == 2
    assert r.message == ("postgresql 15.20: 4/100 connections, 1 query running > 60s "
                         "(pid 2116, app, 612s), pgbouncer: 2 pool(s)")
    assert r.data["long_queries"] == [{"id": 2116, "user": "app", "db": "app", "state": "active",
                                       "seconds": 612, "query": "SELECT pg_sleep(600)",
                                       "blocked_by": []}]
    assert r.data["replication"] is None and len(r.data["pgbouncer"]["pools"]) == 2
    psql = shlex.split(r.commands[0])
    assert psql.count("-c") == 8 and "SELECT '@@sessions'" in psql


def test_status_fails_when_the_database_does_not_answer() -> None:
    conn = (RecordingConnection("db1").on(r"^systemctl show", stdout=UNITS_PG)
            .on(r"@@main", exit_code=2, stderr="psql: error: connection to server on socket "
                                                "\"/var/run/postgresql/.s.PGSQL.5432\" failed"))
    r = database_status(target(conn))
    assert r.status is Status.FAILED and r.message == "postgresql not reachable (local postgresql (peer))"
    assert "s.PGSQL.5432" in r.evidence


def test_an_older_mysql_without_show_replica_status_still_reports() -> None:
    conn = (RecordingConnection("db1").on(r"^systemctl show", stdout=UNITS_BOTH)
            .on(r"@@main", stdout=MYSQL, exit_code=1, stderr="ERROR 1064 (42000) at line 1"))
    r = database_status(target(conn, db_engine="mysql"))
    assert r.status is Status.OK and r.data["replication"] is None


def test_older_than_is_validated() -> None:
    with pytest.raises(InvalidInput):
        database_status(target(), older_than=float("nan"))
    assert isinstance(Access("mysql", "socket", RecordingConnection()).argv("SELECT 1"), list)
