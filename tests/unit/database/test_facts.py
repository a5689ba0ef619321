"""The parsers: real psql / mariadb / PgBouncer outputs in, small frozen types out."""

from __future__ import annotations

import pytest

from remediations.core.redact import MASK
from remediations.database.facts import (
    Replication,
    parse_mysql,
    parse_pgbouncer,
    parse_postgresql,
    query_head,
    short_version,
    split_sections,
)
from remediations.database.status import summary
from tests.unit.database.fixtures import MYSQL, PG, PG_BUSY, PGBOUNCER


def test_postgresql_facts() -> None:
    f = parse_postgresql(PG, older_than=60)
    assert (f.engine, f.version, f.own_id) == ("postgresql", "15.20", 2124)
    assert f.connections.to_dict() == {"in_use": 4, "max": 100,
                                       "by_state": {"active": 2, "idle": 2}}
    (s,) = f.sessions
    assert (s.id, s.user, s.db, s.state, s.seconds, s.query) == (
        2116, "app", "app", "active", 612, "SELECT pg_sleep(600)")
    assert s.started == "1796564753.456514" and s.blocked_by == () and not s.superuser
    assert f.replication is None and f.pgbouncer is None
    assert f.slow_queries["count"] == 1 and "pg_stat_activity" in f.slow_queries["source"]
    assert summary(f) == ("postgresql 15.20: 4/100 connections, 1 query running > 60s "
                          "(pid 2116, app, 612s)")


def test_postgresql_busy_server_blockers_superusers_and_a_primary() -> None:
    f = parse_postgresql(PG_BUSY, older_than=60)
    by_id = {s.id: s for s in f.sessions}
    assert by_id[2116].blocked_by == (2117,) and by_id[2120].blocked_by == (2116, 2117)
    assert by_id[2118].superuser and by_id[2119].kind == "walsender"
    assert MASK in by_id[2120].query and "hunter22secret" not in by_id[2120].query
    assert f.replication == Replication("primary", 0.25)
    assert f.connections.by_state == {"active": 5, "idle in transaction": 1, "idle": 3}
    listed = [q["id"] for q in f.to_dict()["long_queries"]]
    assert 2124 not in listed and listed[0] == 2116  # its own session is not a long query


@pytest.mark.parametrize("row,expected", [
    ("t\t3.5\t0\t", Replication("replica", 3.5)),
    ("t\t\t0\t", Replication("replica", None)),      # no transaction replayed yet
    ("f\t\t2\t", Replication("primary", None)),
    ("f\t\t0\t", None),                              # no replication at all: not invented
])
def test_postgresql_replication(row: str, expected: Replication | None) -> None:
    text = PG.replace("@@replication\nf\t\t0\t\n", f"@@replication\n{row}\n")
    assert parse_postgresql(text, older_than=60).replication == expected


def test_mysql_facts() -> None:
    f = parse_mysql(MYSQL, older_than=60)
    assert (f.engine, f.version, f.own_id) == ("mysql", "10.11.19", 40)
    assert f.connections.to_dict() == {"in_use": 3, "max": 151, "max_used": 3}
    assert f.superusers == {"mysql", "root"}
    by_id = {s.id: s for s in f.sessions}
    assert (by_id[238].user, by_id[238].kind, by_id[238].seconds, by_id[238].query) == (
        "app", "Query", 612, "SELECT SLEEP(600)")
    assert by_id[41].superuser and not by_id[238].superuser
    assert by_id[239].query == "SELECT a, b FROM t WHERE x = 1"   # escaped \t \n flattened
    assert f.slow_queries["count"] == 2 and "Slow_queries" in f.slow_queries["source"]
    assert f.replication is None
    assert summary(f).startswith("mysql 10.11.19: 3/151 connections, 6 queries running > 60s "
                                 "(id 238, app, 612s and 5 more)")


def test_mysql_replica() -> None:
    text = MYSQL + ("*************************** 1. row ***************************\n"
                    "                Slave_IO_State: Waiting for master to send event\n"
                    "         Seconds_Behind_Master: 12\n")
    assert parse_mysql(text, older_than=1).replication == Replication("replica", 12.0)
    primary = MYSQL.replace("Slaves_connected\t0", "Slaves_connected\t2")
    assert parse_mysql(primary, older_than=1).replication == Replication("primary", None)


def test_pgbouncer_pools_and_stats() -> None:
    b = parse_pgbouncer(PGBOUNCER)
    assert [(p["database"], p["user"], p["pool_mode"]) for p in b.pools] == [
        ("app", "app", "session"), ("pgbouncer", "pgbouncer", "statement")]
    assert b.stats[0]["database"] == "app" and b.stats[0]["total_query_count"] == "144"
    assert parse_pgbouncer("", error="connection refused").to_dict() == {
        "pools": [], "stats": [], "error": "connection refused"}


@pytest.mark.parametrize("text,expected", [
    ("SELECT  1\n FROM\tt", "SELECT 1 FROM t"),
    ("ALTER USER app PASSWORD 'x y'", f"ALTER USER app PASSWORD {MASK}"),
    ("SET PASSWORD FOR app = PASSWORD('abc')", f"SET PASSWORD {MASK} app = PASSWORD{MASK}"),
    ("CREATE USER u IDENTIFIED BY 's3cret'", f"CREATE USER u IDENTIFIED BY {MASK}"),
    ("x" * 200, "x" * 117 + "..."),
])
def test_query_head(text: str, expected: str) -> None:
    assert query_head(text) == expected


@pytest.mark.parametrize("raw,expected", [
    ("15.20 (Debian 15.20-0+deb12u1)", "15.20"),
    ("10.11.19-MariaDB-0+deb12u1", "10.11.19"),
    ("8.0.36", "8.0.36"),
    ("16beta1", "16beta1"),
])
def test_short_version(raw: str, expected: str) -> None:
    assert short_version(raw) == expected


def test_sections_ignore_what_comes_before_the_first_marker() -> None:
    assert split_sections("warning: x\n@@a\n1\t2\n\n@@b\n") == {"a": [["1", "2"]], "b": []}
