"""The compose stack's `db` (MariaDB) is restarted only with --allow-database-restart --yes.

On dockerhost-local with the conftest's compose (v2) only: the refusal happens before any
host is reached, so the ssh host and compose v1 would show nothing more, and each db restart
interrupts whoever else uses the lab's database.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.docker.conftest import ComposeUnderTest
from tests.integration.docker.test_compose import containers, one, project_args, rid

pytestmark = pytest.mark.lab
HOST = "dockerhost-local"
FLAG = "pass allow_database_restart=True (--allow-database-restart) to do it"


def db() -> dict[str, Any]:
    """`docker inspect` of the db container, read independently of the library."""
    found = containers("db", all=True)
    assert len(found) == 1, found
    return found[0].attrs  # type: ignore[no-any-return]


def error(res: Any) -> str:
    """The one error event a refused task prints with --json."""
    (event,) = [json.loads(line) for line in res.stdout.splitlines() if line.strip()]
    assert event["event"] == "error", event
    return str(event["message"])


def test_db_is_refused_without_the_flag_and_untouched(dcli: Any) -> None:
    before = db()
    for task, args, says in (
        ("compose-restart", ("--service", "db"), "refusing to restart compose service db"),
        ("compose-restart", ("--service", "db", "--check"), "refusing to restart compose service db"),
        ("compose-stop", ("--services", "worker,db"), "refusing to stop compose service db"),
        ("compose-restart-stack", (), "refusing to restart the compose project, whose `down` "
                                      "stops db"),
    ):
        res = dcli(task, HOST, *args)
        assert res.code == 1, (task, res.stdout, res.stderr)
        message = error(res)
        assert message.startswith(says) and FLAG in message, message
    # With the flag, --yes (or --check) is needed too.
    res = dcli("compose-restart", HOST, "--service", "db", "--allow-database-restart")
    assert res.code == 1 and "re-run with --yes, or --check to" in error(res)
    after = db()
    assert (after["Id"], after["State"]["StartedAt"]) == (before["Id"], before["State"]["StartedAt"])
    assert after["State"]["Running"] is True


def test_check_mode_with_the_flag_is_exact_and_touches_nothing(dcli: Any,
                                                               compose: ComposeUnderTest) -> None:
    before = db()
    res = dcli("compose-restart", HOST, "--service", "db", "--allow-database-restart", "--check")
    assert res.code == 0, res.stderr
    r = one(res, HOST)
    assert r["status"] == "changed" and r["check"] is True, r
    assert r["commands"] == [f"{project_args(compose)} restart db"], r
    assert r["message"].startswith("would restart db with ") and compose.label.search(r["message"])
    assert db()["State"]["StartedAt"] == before["State"]["StartedAt"]


def test_db_restarted_once_per_run_with_the_flag_and_yes(dcli: Any,
                                                         compose: ComposeUnderTest) -> None:
    before = db()
    run_id = rid()
    flag = ("--allow-database-restart", "--yes", "--run-id", run_id)
    first = dcli("compose-restart", HOST, "--service", "db", *flag)
    assert first.code == 0, first.stderr
    r = one(first, HOST)
    assert r["status"] == "changed", r
    assert r["commands"] == [f"{project_args(compose)} restart db"]
    assert r["message"].startswith("restarted db with "), r["message"]
    after = db()
    assert after["Id"] == before["Id"]
    assert after["State"]["StartedAt"] > before["State"]["StartedAt"]
    assert after["State"]["Health"]["Status"] == "healthy"

    again = dcli("compose-restart", HOST, "--service", "db", *flag)
    assert again.code == 0, again.stderr
    r2 = one(again, HOST)
    assert r2["status"] == "ok" and "already restarted by this run" in r2["message"], r2
    assert r2["commands"] == []
    assert db()["State"]["StartedAt"] == after["State"]["StartedAt"]   # restarted once


def test_restart_if_memory_of_db_needs_the_flag_and_check_touches_nothing(dcli: Any) -> None:
    before = db()
    name = before["Name"].lstrip("/")
    over = ("--max-mb", "1")                          # the db is always above 1 MiB
    res = dcli("restart-if-memory", HOST, "--container", "db", *over)
    assert res.code == 1, (res.stdout, res.stderr)    # by name: before the host is reached
    message = error(res)
    assert message.startswith("refusing to restart container db (a database: ") and \
        FLAG in message, message
    # By its container name only the compose label tells: the host refuses before acting.
    res = dcli("restart-if-memory", HOST, "--container", name, *over)
    assert res.code == 2, (res.stdout, res.stderr)
    r = one(res, HOST)
    assert r["status"] == "failed" and r["commands"] == [], r
    assert f"refusing to restart container {name} (a database: " in r["message"], r
    assert FLAG in r["message"], r
    assert db()["State"]["StartedAt"] == before["State"]["StartedAt"]

    res = dcli("restart-if-memory", HOST, "--container", "db", *over,
               "--allow-database-restart", "--check")
    assert res.code == 0, res.stderr
    r = one(res, HOST)
    assert r["status"] == "changed" and r["check"] is True, r
    assert r["commands"] == [f"docker container restart -t 10 {before['Id']}"], r
    after = db()
    assert (after["Id"], after["State"]["StartedAt"]) == (before["Id"], before["State"]["StartedAt"])
    assert after["State"]["Running"] is True
