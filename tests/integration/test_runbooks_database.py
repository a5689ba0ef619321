"""The runbooks that go to the database (db-connection, slow-response) on lab host db1.

A real long query (`SELECT pg_sleep(600)` as the app's user) runs on db1's PostgreSQL; the
runbook reads it (database status), cancels it only when asked with --yes, and a second
run with the same run id is `ok`. Web hosts, which name no database, skip those steps.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import LAB_INVENTORY, wait_for

pytestmark = pytest.mark.lab
INV = str(LAB_INVENTORY)
DB1 = "rem-db1"
SLEEP = "select pg_sleep(600) /* runbook-test */"
PIDS = ("select pid from pg_stat_activity where usename = 'app' "
        "and query = 'select pg_sleep(600) /* runbook-test */'")


def psql(sql: str) -> str:
    out = subprocess.run(["docker", "exec", DB1, "runuser", "-u", "postgres", "--", "psql",
                          "-Atc", sql], capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.strip()


@pytest.fixture
def long_query(lab: Any) -> Iterator[int]:
    """The app's user running a 10-minute query; cancelled afterwards whatever happened."""
    subprocess.run(["docker", "exec", "-d", DB1, "sh", "-c",
                    f'PGPASSWORD=lab-pg-s3cret exec psql -h 127.0.0.1 -U app -d app -c "{SLEEP}"'],
                   check=True, timeout=60)
    wait_for("the long query", lambda: psql(PIDS) != "", timeout=30)
    pid = int(psql(PIDS).split()[0])
    time.sleep(2.5)  # older than the 2 s the runbook is given
    yield pid
    psql(f"select pg_terminate_backend(pid) from ({PIDS}) q")


def steps(res: Any, host: str) -> dict[str, dict[str, Any]]:
    return {s["remediation"]: s for s in res.by_host()[host]["data"]["steps"]}


def test_db_connection_reads_then_stops_long_queries(cli: Any, long_query: int) -> None:
    rid = f"rb-db-{uuid.uuid4().hex[:8]}"
    base = ("runbook", "db-connection", "-i", INV, "-l", "db1", "--json",
            "--stop-queries-older-than", "2")

    refused = cli(*base)
    assert refused.code == 1 and "--yes" in refused.stdout + refused.stderr
    assert psql(PIDS) == str(long_query)

    check = cli(*base, "--check")
    assert check.code == 0, check.stdout + check.stderr
    seen = steps(check, "db1")
    status = seen["database status"]
    assert status["status"] == "ok"
    assert long_query in [q["id"] for q in status["data"]["long_queries"]]
    planned = seen["queries over 2s stopped"]
    assert planned["status"] == "changed" and f"pid {long_query}" in planned["message"]
    assert psql(PIDS) == str(long_query), "check mode touched the query"

    run = cli(*base, "--yes", "--run-id", rid)
    assert run.code == 0, run.stdout + run.stderr
    done = steps(run, "db1")
    assert done["database reachable"]["status"] == "ok"
    assert done["queries over 2s stopped"]["status"] == "changed", done
    assert done["verify"]["status"] == "ok"
    assert run.by_host()["db1"]["status"] == "changed"
    wait_for("the query cancelled", lambda: psql(PIDS) == "", timeout=10)

    again = cli(*base, "--yes", "--run-id", rid)
    assert again.code == 0, again.stdout + again.stderr
    assert again.by_host()["db1"]["status"] == "ok", again.stdout
    assert steps(again, "db1")["queries over 2s stopped"]["status"] == "ok"


def test_slow_response_lists_the_query_in_check_mode(cli: Any, long_query: int) -> None:
    res = cli("runbook", "slow-response", "-i", INV, "-l", "db1", "--json", "--check",
              "--stop-queries-older-than", "2")
    assert res.code == 0, res.stdout + res.stderr
    seen = steps(res, "db1")
    assert long_query in [q["id"] for q in seen["database status"]["data"]["long_queries"]]
    assert f"pid {long_query}" in seen["queries over 2s stopped"]["message"]
    assert psql(PIDS) == str(long_query)


def test_web_hosts_name_no_database_and_skip_those_steps(cli: Any) -> None:
    res = cli("runbook", "db-connection", "-i", INV, "-l", "web1", "--json")
    assert res.code == 0, res.stdout + res.stderr
    assert steps(res, "web1")["database status"]["status"] == "skipped"
