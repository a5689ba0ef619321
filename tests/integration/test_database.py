"""The database tasks against real servers: PostgreSQL + PgBouncer and MariaDB on lab host db1,
MariaDB in the compose stack.

A real long query (`pg_sleep(600)` / `SLEEP(600)` as user app) runs next to a session that
must survive; the tasks run as a user types them (`python -m invoke ... --json`) and the
servers are asked directly (docker exec) what is still running. migrate-rollback rolls the
app on db1 back one step on each connection and migrates it again afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import lab.manage as _lab
from tests.integration.conftest import LAB_INVENTORY, ROOT, CliRun, wait_for

pytestmark = pytest.mark.lab

DB1 = next((h.container for h in getattr(_lab, "ALL_HOSTS", ()) if h.name == "db1"), "rem-db1")
DOCKER_INVENTORY = ROOT / "inventories" / "lab-docker.yml"
ARTISAN = ["runuser", "-u", "www-data", "--", "php", "/srv/app/current/artisan"]


def docker(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout,
                          check=check)


def running(container: str) -> bool:
    res = docker("inspect", "-f", "{{.State.Running}}", container, check=False)
    return res.returncode == 0 and res.stdout.strip() == "true"


def compose_db() -> str:
    res = docker("ps", "-q", "--filter", "label=com.docker.compose.project=remlab",
                 "--filter", "label=com.docker.compose.service=db", "--format", "{{.Names}}",
                 check=False)
    return res.stdout.split()[0] if res.stdout.split() else ""


@pytest.fixture(scope="module")
def db1(lab: Any) -> str:
    """db1, brought up with the rest of the lab (never skipped: a lab that is not up fails)."""
    assert running(DB1), f"lab host db1 ({DB1}) is not running after lab.up"
    return DB1


@pytest.fixture(scope="module")
def compose_stack() -> None:
    """The compose stack in its declared state, every service healthy (lab/stack.py)."""
    from lab import stack

    stack.reset(lambda line: print(line, file=sys.stderr))


@pytest.fixture
def cli(tmp_path: Path) -> Callable[..., CliRun]:
    """`python -m invoke TASK ... --json` from the repository root, as a user types it."""
    env = {**os.environ, "REMEDIATIONS_STATE_DIR": str(tmp_path / "state")}

    def invoke(*args: str, timeout: float = 180) -> CliRun:
        proc = subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=timeout, check=False)
        return CliRun(proc.returncode, proc.stdout, proc.stderr)

    return invoke


@dataclass(frozen=True)
class Server:
    """One database server in the lab, and how to ask it things directly."""

    name: str
    container: str
    inventory: Path
    host: str
    engine: tuple[str, ...]     # --engine ..., when the inventory's default is another
    client: str                 # shell command running SQL as user app: "$0" is the SQL
    admin: list[str]            # argv prefix running SQL as the superuser (one value a line)
    sleep: str                  # SELECT that sleeps 600 s, `{tag}` in it

    def sql(self, statement: str, *, check: bool = True) -> list[str]:
        res = docker("exec", self.container, *self.admin, statement, check=check)
        return [line for line in res.stdout.splitlines() if line.strip()]

    def start(self, statement: str) -> None:
        docker("exec", "-d", self.container, "sh", "-c", self.client, statement)

    def args(self, *more: str) -> list[str]:
        return [*more, "-i", str(self.inventory), "-l", self.host, *self.engine, "--json"]


PG_ACTIVE = ("SELECT pid FROM pg_stat_activity WHERE state = 'active' "
             "AND query LIKE '%{tag}%' AND pid <> pg_backend_pid()")
PG_ANY = "SELECT pid FROM pg_stat_activity WHERE query LIKE '%{tag}%' AND pid <> pg_backend_pid()"
MY_IDLE = "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'app' AND COMMAND = 'Sleep'"
MY_ACTIVE = ("SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND = 'Query' "
             "AND INFO LIKE '%{tag}%' AND ID <> CONNECTION_ID()")


def servers() -> list[Any]:
    pg = Server("db1-postgresql", DB1, LAB_INVENTORY, "db1", (),
                'PGPASSWORD=lab-pg-s3cret exec psql -h 127.0.0.1 -U app -d app -c "$0"',
                ["runuser", "-u", "postgres", "--", "psql", "-X", "-At", "-d", "app", "-c"],
                "SELECT pg_sleep(600), '{tag}'")
    my = Server("db1-mysql", DB1, LAB_INVENTORY, "db1", ("--engine", "mysql"),
                'MYSQL_PWD=lab-mysql-s3cret exec mariadb -u app app -e "$0"',
                ["mariadb", "--batch", "--skip-column-names", "-e"],
                "SELECT SLEEP(600), '{tag}'")
    compose = Server("compose-mariadb", "", DOCKER_INVENTORY, "dockerhost-local", (),
                     'MYSQL_PWD=lab-db-s3cret exec mariadb -u app app -e "$0"',
                     ["mariadb", "--batch", "--skip-column-names", "-e"],
                     "SELECT SLEEP(600), '{tag}'")
    return [pytest.param(s, id=s.name) for s in (pg, my, compose)]


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Server:
    s: Server = request.param
    if s.name.startswith("compose"):
        request.getfixturevalue("compose_stack")
        container = compose_db()
        assert container, "the compose stack's db is not running after stack.reset"
        return Server(s.name, container, s.inventory, s.host, s.engine, s.client, s.admin,
                      s.sleep)
    request.getfixturevalue("db1")
    return s


@dataclass
class Sessions:
    long_id: int
    other_id: int
    tag: str


@pytest.fixture
def sessions(server: Server) -> Iterator[Sessions]:
    """A query sleeping 600 s as user app, and a session of app that must survive."""
    tag = f"remtest-{uuid.uuid4().hex[:8]}"
    postgres = server.name.endswith("postgresql")
    active = PG_ACTIVE if postgres else MY_ACTIVE
    other_tag = f"{tag}-other"
    if postgres:  # an idle session whose last query names it
        docker("exec", "-d", server.container, "sh", "-c",
               f"(echo \"SELECT '{other_tag}';\"; sleep 600) | PGPASSWORD=lab-pg-s3cret "
               "psql -h 127.0.0.1 -U app -d app")
        wait_for("the idle session", lambda: server.sql(PG_ANY.format(tag=other_tag)), timeout=30)
        (other_id,) = server.sql(PG_ANY.format(tag=other_tag))
    else:         # an idle session: the one of user app that was not there before
        before = set(server.sql(MY_IDLE))
        password = "lab-db-s3cret" if server.name.startswith("compose") else "lab-mysql-s3cret"
        docker("exec", "-d", server.container, "sh", "-c",
               f"(echo 'SELECT 1;'; sleep 600) | MYSQL_PWD={password} mariadb -u app app")
        wait_for("the idle session", lambda: set(server.sql(MY_IDLE)) - before, timeout=30)
        (other_id,) = set(server.sql(MY_IDLE)) - before
    server.start(server.sleep.format(tag=tag))
    wait_for("the long query to run", lambda: server.sql(active.format(tag=tag)), timeout=30)
    (long_id,) = server.sql(active.format(tag=tag))
    time.sleep(3)  # older than --older-than 2
    yield Sessions(int(long_id), int(other_id), tag)
    for ident in (long_id, other_id):  # whatever the test left running
        server.sql(f"SELECT pg_terminate_backend({ident})" if postgres else f"KILL {ident}",
                   check=False)


def result(run: CliRun, host: str) -> dict[str, Any]:
    assert run.code in (0, 2), (run.code, run.stdout, run.stderr)
    return run.by_host()[host]


@pytest.mark.parametrize("server", servers(), indirect=True)
def test_long_queries_found_and_stopped(server: Server, sessions: Sessions,
                                        cli: Callable[..., CliRun]) -> None:
    postgres = server.name.endswith("postgresql")
    active = (PG_ACTIVE if postgres else MY_ACTIVE).format(tag=sessions.tag)

    status = result(cli(*server.args("db-status", "--older-than", "2")), server.host)
    assert status["status"] == "ok", status
    listed = {q["id"]: q for q in status["data"]["long_queries"]}
    assert sessions.long_id in listed, status["data"]
    assert listed[sessions.long_id]["user"] == "app" and listed[sessions.long_id]["seconds"] >= 2
    assert sessions.tag in listed[sessions.long_id]["query"]

    refused = cli(*server.args("stop-long-queries", "--older-than", "2"))
    assert refused.code == 1 and "--yes" in refused.events()[0]["message"]
    assert server.sql(active) == [str(sessions.long_id)]

    check = result(cli(*server.args("stop-long-queries", "--older-than", "2", "--check")),
                   server.host)
    assert check["status"] == "changed" and check["check"], check
    assert f"{sessions.long_id}, app, " in check["message"]
    assert [t["id"] for t in check["data"]["targets"]] == [sessions.long_id]
    assert str(sessions.long_id) in check["data"]["sql"] and check["commands"]
    assert server.sql(active) == [str(sessions.long_id)]        # check mode touched nothing

    done = result(cli(*server.args("stop-long-queries", "--older-than", "2", "--yes")),
                  server.host)
    assert done["status"] == "changed", done
    assert server.sql(active) == []
    if postgres:                                                # the other session untouched
        assert server.sql(PG_ANY.format(tag=f"{sessions.tag}-other")) == [str(sessions.other_id)]
    else:
        assert str(sessions.other_id) in server.sql(MY_IDLE)

    again = result(cli(*server.args("stop-long-queries", "--older-than", "2", "--yes")),
                   server.host)
    assert again["status"] == "ok", again
    assert all(t["id"] != sessions.long_id for t in again["data"]["targets"])


def test_db_status_reports_pgbouncer_and_no_replication(db1: str,
                                                        cli: Callable[..., CliRun]) -> None:
    r = result(cli("db-status", "-i", str(LAB_INVENTORY), "-l", "db1", "--json"), "db1")
    assert r["status"] == "ok" and r["message"].startswith("postgresql 15.")
    assert r["data"]["replication"] is None
    pools = r["data"]["pgbouncer"]["pools"]
    assert {(p["database"], p["pool_mode"]) for p in pools} >= {("app", "session")}
    assert r["data"]["connections"]["max"] >= r["data"]["connections"]["in_use"] > 0
    my = result(cli("db-status", "-i", str(LAB_INVENTORY), "-l", "db1", "--engine", "mysql",
                    "--json"), "db1")
    assert my["status"] == "ok" and my["data"]["engine"] == "mysql"
    assert my["data"]["replication"] is None and my["data"]["pgbouncer"] is None


# -- migrations ------------------------------------------------------------------------------

def migrate_status(container: str, connection: str | None) -> dict[str, bool]:
    which = [f"--database={connection}"] if connection else []
    res = docker("exec", container, *ARTISAN, "migrate:status", *which, "--no-ansi")
    rows = [line.split("|") for line in res.stdout.splitlines() if line.startswith("| ")]
    return {r[2].strip(): r[1].strip() == "Yes" for r in rows if r[1].strip() in ("Yes", "No")}


@pytest.mark.parametrize("connection", [None, "mysql"])
def test_migrate_rollback_one_step(db1: str, connection: str | None,
                                   cli: Callable[..., CliRun]) -> None:
    which = ["--database", connection] if connection else []
    before = migrate_status(db1, connection)
    assert before and all(before.values()), before
    last = sorted(before)[-1]
    args = ["migrate-rollback", "--steps", "1", *which, "-i", str(LAB_INVENTORY), "-l", "db1",
            "--json"]
    run_id = f"dbtest-{uuid.uuid4().hex[:8]}"
    try:
        refused = cli(*args)
        assert refused.code == 1 and migrate_status(db1, connection) == before

        check = result(cli(*args, "--check"), "db1")
        assert check["status"] == "changed" and "--pretend" in check["message"], check
        assert "drop table" in check["data"]["pretend"] and last in check["message"]
        assert migrate_status(db1, connection) == before

        done = result(cli(*args, "--yes", "--run-id", run_id), "db1")
        assert done["status"] == "changed", done
        after = migrate_status(db1, connection)
        assert after == {**before, last: False}

        again = result(cli(*args, "--yes", "--run-id", run_id), "db1")
        assert again["status"] == "ok" and "already rolled back 1 step(s)" in again["message"]
        assert migrate_status(db1, connection) == after
    finally:
        docker("exec", db1, *ARTISAN, "migrate", "--force", "--no-interaction",
               *([f"--database={connection}"] if connection else []), timeout=120)
    assert migrate_status(db1, connection) == before


@pytest.mark.parametrize("connection", [None, "mysql"])
def test_db_check_on_each_connection(db1: str, connection: str | None,
                                     cli: Callable[..., CliRun]) -> None:
    which = ["--database", connection] if connection else []
    r = result(cli("db-check", *which, "-i", str(LAB_INVENTORY), "-l", "db1", "--json"), "db1")
    assert r["status"] == "ok" and r["data"]["migrated"], r
    assert r["data"]["ran"] >= 2
    if connection:
        assert r["data"]["connection"] == connection and "(connection mysql)" in r["message"]
