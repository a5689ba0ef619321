"""long_queries_stopped: the pure decision, the exact SQL, check mode, verification, the no-op."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from remediations.connections.recording import RecordingConnection
from remediations.core.errors import InvalidInput
from remediations.core.result import Status
from remediations.database.facts import DbFacts, Session, parse_mysql, parse_postgresql
from remediations.database.queries import long_queries_stopped, plan_stop, stop_sql, user_names
from tests.unit.database.fixtures import MYSQL, PG, PG_BUSY, UNITS_BOTH, UNITS_PG, target

EMPTY_PG = PG.replace("2116\tapp\tapp\tactive\tclient backend\t612\tf\t\t1796564753.456514\t"
                      "SELECT pg_sleep(600)\n", "")


def ids(facts: DbFacts, **kw: Any) -> list[int]:
    return [s.id for s in plan_stop(facts, older_than=kw.pop("older_than", 60), **kw).targets]


def spared(facts: DbFacts, **kw: Any) -> dict[int, str]:
    return {s.id: why for s, why in plan_stop(facts, older_than=60, **kw).spared}


def test_postgresql_decision_never_touches_itself_replication_or_superusers() -> None:
    f = parse_postgresql(PG_BUSY, older_than=60)
    assert ids(f) == [2116, 2120]
    why = spared(f)
    assert why[2124] == "the session running this check"
    assert why[2118] == "a superuser's session"
    assert why[2119] == "a walsender process, not a client"
    assert why[2117] == "idle in transaction: nothing to cancel"
    assert ids(f, terminate=True) == [2116, 2117, 2120]          # a session can be ended
    assert ids(f, users=["reporting"]) == [2120]
    assert spared(f, users=["reporting"])[2116] == "user app is not in --users"
    assert ids(f, older_than=400) == [2116]


def test_mysql_decision_never_touches_system_threads_replication_or_superusers() -> None:
    f = parse_mysql(MYSQL, older_than=0)
    assert ids(f) == [238, 239]
    why = spared(f)
    assert why[5] == why[6] == "the server's own user"          # system user, event_scheduler
    assert why[7] == "a Binlog Dump thread (replication or the server's own)"
    assert why[41] == "a superuser's session"                    # 'mysql'@'localhost' has SUPER
    assert 40 not in why                                         # itself: younger than 60s
    assert spared(replace(f, sessions=(replace(f.sessions[-1], seconds=99),)))[40] == \
        "the session running this check"


@pytest.mark.parametrize("own_kind", ["Sleep", "Connect", "Killed"])
def test_mysql_only_queries_are_cancelled(own_kind: str) -> None:
    s = Session(9, "app", "app", "", 100, "", kind=own_kind)
    f = DbFacts("mysql", "10.11", parse_mysql(MYSQL, older_than=1).connections, (s,), 1, 60)
    assert ids(f) == []


@pytest.mark.parametrize("engine,terminate,expected", [
    ("postgresql", False, "SELECT pid, pg_cancel_backend(pid) FROM unnest(ARRAY[1, 2]::int[]) AS pid"),
    ("postgresql", True, "SELECT pid, pg_terminate_backend(pid) FROM unnest(ARRAY[1, 2]::int[]) AS pid"),
    ("mysql", False, "KILL QUERY 1; KILL QUERY 2"),
    ("mysql", True, "KILL 1; KILL 2"),
])
def test_stop_sql(engine: str, terminate: bool, expected: str) -> None:
    assert stop_sql(engine, [1, 2], terminate=terminate) == expected


def pg_conn(after: str = EMPTY_PG) -> RecordingConnection:
    return (RecordingConnection("db1").on(r"^systemctl show", stdout=UNITS_PG)
            .on(r"@@main", stdout=PG)
            .on(r"@@sessions", stdout=after.split("@@replication")[0][after.index("@@sessions"):]))


def test_check_mode_lists_the_ids_and_the_exact_sql_and_touches_nothing() -> None:
    conn = pg_conn()
    r = long_queries_stopped(target(conn, check=True, db_name="app"), older_than=60)
    assert r.status is Status.CHANGED and r.check
    assert r.message == ("would cancel 1 query running > 60s with `SELECT pid, pg_cancel_backend(pid) "
                         "FROM unnest(ARRAY[2116]::int[]) AS pid`: pid 2116, app, 612s: "
                         "SELECT pg_sleep(600)")
    assert r.commands == ("runuser -u postgres -- psql --no-psqlrc --no-align --tuples-only "
                          "'--field-separator=\t' --set=ON_ERROR_STOP=1 -d app -c 'SELECT pid, "
                          "pg_cancel_backend(pid) FROM unnest(ARRAY[2116]::int[]) AS pid'",)
    assert r.data["targets"][0]["id"] == 2116
    assert not conn.commands_matching("pg_cancel_backend|pg_terminate_backend")


def test_cancel_is_verified_by_reading_the_sessions_again() -> None:
    conn = pg_conn()
    r = long_queries_stopped(target(conn), older_than=60)
    assert r.status is Status.CHANGED, r.message
    assert r.message == ("cancelled 1 query: pid 2116, app, 612s: SELECT pg_sleep(600); "
                         "2116: no longer running it")
    assert len(conn.commands_matching("pg_cancel_backend")) == 1
    assert conn.round_trips == 3          # units; facts + pgbouncer; cancel + read back


def test_a_query_that_survives_fails_with_what_still_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.sleep", lambda s: None)
    conn = pg_conn(after=PG)
    r = long_queries_stopped(target(conn), older_than=60, verify_timeout=0.01)
    assert r.status is Status.FAILED
    assert "still running after 0.01s: pid 2116, app, 612s: SELECT pg_sleep(600)" in r.message


def test_terminate_on_mysql_kills_the_sessions_of_one_user() -> None:
    after = MYSQL.replace("238\tapp\tapp\tQuery\t612\tUser sleep\tSELECT SLEEP(600)\n", "")
    conn = (RecordingConnection("db1").on(r"^systemctl show", stdout=UNITS_BOTH)
            .on(r"@@main", stdout=MYSQL).on(r"@@sessions", stdout=after[after.index("@@sessions"):]))
    r = long_queries_stopped(target(conn, db_engine="mysql"), older_than=60, terminate=True,
                             users=["app"])
    assert r.status is Status.CHANGED, r.message
    (kill,) = conn.commands_matching(r"KILL")
    assert kill[2].endswith("-e 'KILL 238'")
    assert [s["id"] for s in r.data["targets"]] == [238]


def test_nothing_older_than_n_is_ok() -> None:
    conn = (RecordingConnection("db1").on(r"^systemctl show", stdout=UNITS_PG)
            .on(r"@@main", stdout=EMPTY_PG))
    r = long_queries_stopped(target(conn), older_than=60)
    assert r.status is Status.OK and r.message == "no query running longer than 60s"
    assert not conn.commands_matching("pg_cancel_backend")


def test_only_protected_sessions_is_ok_and_says_why() -> None:
    conn = (RecordingConnection("db1").on(r"^systemctl show", stdout=UNITS_PG)
            .on(r"@@main", stdout=PG_BUSY))
    r = long_queries_stopped(target(conn), older_than=60, users=["nobody"])
    assert r.status is Status.OK
    assert "pid 2118, postgres, 400s: a superuser's session" in r.message


@pytest.mark.parametrize("kw", [{"older_than": 0}, {"older_than": -1},
                                {"older_than": float("inf")},
                                {"older_than": 5, "users": ["app; DROP"]},
                                {"older_than": 5, "engine": "oracle"}])
def test_bad_input_touches_nothing(kw: dict[str, Any]) -> None:
    conn = RecordingConnection("db1")
    with pytest.raises(InvalidInput):
        long_queries_stopped(target(conn), **kw)
    assert conn.commands == []


def test_user_names() -> None:
    assert user_names("app, reporting") == ("app", "reporting")
    assert user_names(None) is None
    with pytest.raises(InvalidInput):
        user_names([])
