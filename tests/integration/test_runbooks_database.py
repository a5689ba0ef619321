"""The runbooks that go to the database (db-connection, slow-response) on lab host db1.

A real long query (`pg_sleep(600)` / `SLEEP(600)` as the app's user) runs on db1's
PostgreSQL, then on its MariaDB (an inventory naming `db_engine: mysql`); the
runbook reads it (database status), cancels it only when asked with --yes, and a second
run with the same run id is `ok`. Web hosts, which name no database, skip those steps.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from tests.integration.conftest import DB_HOSTS, LAB_INVENTORY, inventory_text, wait_for

pytestmark = pytest.mark.lab
INV = str(LAB_INVENTORY)
DB1 = DB_HOSTS["db1"]  # rem-db1 (another name in a lab slot)
TAG = "runbook-test"


@dataclass(frozen=True)
class Engine:
    """One of db1's servers: how the app's user starts a long query, how root lists it."""

    name: str
    start: str      # shell line run as the app's user: a 10-minute query tagged TAG
    ids: list[str]  # argv printing the ids of the tagged query still running
    stop: str       # SQL ending it, whatever happened


ENGINES = {
    "postgresql": Engine(
        "postgresql",
        f'PGPASSWORD=lab-pg-s3cret exec psql -h 127.0.0.1 -U app -d app '
        f'-c "select pg_sleep(600) /* {TAG} */"',
        ["runuser", "-u", "postgres", "--", "psql", "-Atc",
         f"select pid from pg_stat_activity where usename = 'app' "
         f"and query = 'select pg_sleep(600) /* {TAG} */'"],
        f"select pg_terminate_backend(pid) from pg_stat_activity "
        f"where query = 'select pg_sleep(600) /* {TAG} */'"),
    "mysql": Engine(
        "mysql",
        # mariadb strips comments before sending: the tag is a value
        f"MYSQL_PWD=lab-mysql-s3cret exec mariadb -u app app -e \"select sleep(600), '{TAG}'\"",
        ["mariadb", "--batch", "--skip-column-names", "-e",
         f"select ID from information_schema.PROCESSLIST where USER = 'app' "
         f"and COMMAND = 'Query' and INFO like '%{TAG}%' and ID <> CONNECTION_ID()"],
        ""),
}


def running(engine: Engine) -> str:
    out = subprocess.run(["docker", "exec", DB1, *engine.ids], capture_output=True, text=True,
                         timeout=60, check=True)
    return out.stdout.strip()


@pytest.fixture(scope="module")
def mysql_inventory(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The lab inventory with db1's database named as its MariaDB (`db_engine: mysql`)."""
    data = yaml.safe_load(inventory_text())
    data["all"]["children"]["db"]["hosts"]["db1"]["db_engine"] = "mysql"
    path = tmp_path_factory.mktemp("runbooks-mysql") / "lab.yml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


@pytest.fixture(params=sorted(ENGINES))
def long_query(request: pytest.FixtureRequest, lab: Any) -> Iterator[tuple[Engine, int]]:
    """The app's user running a 10-minute query; ended afterwards whatever happened."""
    engine = ENGINES[request.param]
    subprocess.run(["docker", "exec", "-d", DB1, "sh", "-c", engine.start], check=True,
                   timeout=60)
    wait_for("the long query", lambda: running(engine) != "", timeout=30)
    qid = int(running(engine).split()[0])
    time.sleep(2.5)  # older than the 2 s the runbook is given
    yield engine, qid
    for left in running(engine).split():
        kill = (["runuser", "-u", "postgres", "--", "psql", "-Atc", engine.stop]
                if engine.name == "postgresql" else ["mariadb", "-e", f"KILL {int(left)}"])
        subprocess.run(["docker", "exec", DB1, *kill], capture_output=True, timeout=60)


def inventory(engine: Engine, request: pytest.FixtureRequest) -> str:
    return INV if engine.name == "postgresql" else str(request.getfixturevalue("mysql_inventory"))


def steps(res: Any, host: str) -> dict[str, dict[str, Any]]:
    return {s["remediation"]: s for s in res.by_host()[host]["data"]["steps"]}


def test_db_connection_reads_then_stops_long_queries(cli: Any, long_query: tuple[Engine, int],
                                                     request: pytest.FixtureRequest) -> None:
    engine, qid = long_query
    label = "pid" if engine.name == "postgresql" else "id"
    rid = f"rb-db-{uuid.uuid4().hex[:8]}"
    base = ("runbook", "db-connection", "-i", inventory(engine, request), "-l", "db1", "--json",
            "--stop-queries-older-than", "2")

    refused = cli(*base)
    assert refused.code == 1 and "--yes" in refused.stdout + refused.stderr
    assert running(engine) == str(qid)

    check = cli(*base, "--check")
    assert check.code == 0, check.stdout + check.stderr
    seen = steps(check, "db1")
    status = seen["database status"]
    assert status["status"] == "ok" and status["data"]["engine"] == engine.name
    assert qid in [q["id"] for q in status["data"]["long_queries"]]
    planned = seen["queries over 2s stopped"]
    assert planned["status"] == "changed" and f"{label} {qid}" in planned["message"], planned
    assert running(engine) == str(qid), "check mode touched the query"

    run = cli(*base, "--yes", "--run-id", rid)
    assert run.code == 0, run.stdout + run.stderr
    done = steps(run, "db1")
    assert done["database reachable"]["status"] == "ok"
    assert done["queries over 2s stopped"]["status"] == "changed", done
    assert done["verify"]["status"] == "ok"
    assert run.by_host()["db1"]["status"] == "changed"
    wait_for("the query cancelled", lambda: running(engine) == "", timeout=10)

    again = cli(*base, "--yes", "--run-id", rid)
    assert again.code == 0, again.stdout + again.stderr
    assert again.by_host()["db1"]["status"] == "ok", again.stdout
    assert steps(again, "db1")["queries over 2s stopped"]["status"] == "ok"


def test_slow_response_lists_the_query_in_check_mode(cli: Any, long_query: tuple[Engine, int],
                                                     request: pytest.FixtureRequest) -> None:
    engine, qid = long_query
    res = cli("runbook", "slow-response", "-i", inventory(engine, request), "-l", "db1",
              "--json", "--check", "--stop-queries-older-than", "2")
    assert res.code == 0, res.stdout + res.stderr
    seen = steps(res, "db1")
    assert qid in [q["id"] for q in seen["database status"]["data"]["long_queries"]]
    assert f" {qid}" in seen["queries over 2s stopped"]["message"]
    assert running(engine) == str(qid)


def test_web_hosts_name_no_database_and_skip_those_steps(cli: Any) -> None:
    res = cli("runbook", "db-connection", "-i", INV, "-l", "web1", "--json")
    assert res.code == 0, res.stdout + res.stderr
    assert steps(res, "web1")["database status"]["status"] == "skipped"
