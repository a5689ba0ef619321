"""migrations_rolled_back: status parsed, check mode --pretend, verification, once per run."""

from __future__ import annotations

from typing import Any

import pytest

from remediations.connections.recording import RecordingConnection
from remediations.core.errors import InvalidInput
from remediations.core.result import Status
from remediations.database.migrations import (
    Migration,
    migrations_rolled_back,
    parse_migrate_status,
    rolled_back_by,
)
from remediations.host.health import database_reachable
from tests.unit.database.fixtures import target

TABLE = """+------+--------------------------------------------+-------+
| Ran? | Migration                                  | Batch |
+------+--------------------------------------------+-------+
| Yes  | 2019_08_19_000000_create_failed_jobs_table | 1     |
| Yes  | 2024_01_01_000000_create_lab_notes_table   | 1     |
| Yes  | 2024_02_01_000000_add_tags_to_notes        | 2     |
| No   | 2024_03_01_000000_create_audits_table      |       |
+------+--------------------------------------------+-------+
"""
AFTER = TABLE.replace("| Yes  | 2024_02_01_000000_add_tags_to_notes        | 2     |",
                      "| No   | 2024_02_01_000000_add_tags_to_notes        |       |")
DOTS = """
  Migration name .............................................. Batch / Status
  2014_10_12_000000_create_users_table ............................... [1] Ran
  2019_12_14_000001_create_personal_access_tokens_table .............. [2] Ran
  2024_01_01_000000_create_notes_table ................................ Pending
"""
PRETEND = ("Rolling back: 2024_02_01_000000_add_tags_to_notes\n"
           'AddTagsToNotes: alter table "notes" drop column "tags"\n')
ARTISAN = "runuser -u www-data -- php /srv/app/current/artisan"


@pytest.mark.parametrize("text,expected", [
    (TABLE, [Migration("2019_08_19_000000_create_failed_jobs_table", True, 1),
             Migration("2024_01_01_000000_create_lab_notes_table", True, 1),
             Migration("2024_02_01_000000_add_tags_to_notes", True, 2),
             Migration("2024_03_01_000000_create_audits_table", False, None)]),
    (DOTS, [Migration("2014_10_12_000000_create_users_table", True, 1),
            Migration("2019_12_14_000001_create_personal_access_tokens_table", True, 2),
            Migration("2024_01_01_000000_create_notes_table", False, None)]),
    ("Migration table not found.\n", []),
])
def test_parse_migrate_status(text: str, expected: list[Migration]) -> None:
    assert parse_migrate_status(text) == expected


@pytest.mark.parametrize("steps,expected", [
    (1, ["2024_02_01_000000_add_tags_to_notes"]),
    (2, ["2024_02_01_000000_add_tags_to_notes", "2024_01_01_000000_create_lab_notes_table"]),
    (9, ["2024_02_01_000000_add_tags_to_notes", "2024_01_01_000000_create_lab_notes_table",
         "2019_08_19_000000_create_failed_jobs_table"]),
])
def test_what_a_rollback_of_n_steps_undoes(steps: int, expected: list[str]) -> None:
    assert [m.name for m in rolled_back_by(parse_migrate_status(TABLE), steps)] == expected


def conn(status: str = TABLE, after: str = AFTER, marked: bool = False) -> RecordingConnection:
    c = RecordingConnection("db1")
    c.on(r"^test -e", exit_code=0 if marked else 1)
    c.on(r"migrate:rollback --pretend", stdout=PRETEND)
    c.on(r"migrate:status", stdout=status, times=1)
    c.on(r"migrate:status", stdout=after)
    return c


def hostvars(**kw: Any) -> dict[str, Any]:
    return {"app_path": "/srv/app/current", "app_user": "www-data", **kw}


def test_check_mode_runs_pretend_and_changes_nothing() -> None:
    c = conn()
    r = migrations_rolled_back(target(c, check=True, **hostvars()), steps=1, connection="mysql")
    assert r.status is Status.CHANGED
    assert r.message.startswith("would roll back 2024_02_01_000000_add_tags_to_notes; --pretend:")
    assert 'alter table "notes" drop column "tags"' in r.message and r.data["pretend"]
    assert r.commands == (f"{ARTISAN} migrate:rollback --step=1 --force --database=mysql "
                          "--no-ansi --no-interaction",)
    rollbacks = c.commands_matching("migrate:rollback")
    assert [a[6:] for a in rollbacks] == [("migrate:rollback", "--pretend", "--step=1", "--force",
                                           "--database=mysql", "--no-ansi", "--no-interaction")]
    assert not c.commands_matching("mkdir")


def test_rollback_is_verified_with_migrate_status_and_recorded_for_the_run() -> None:
    c = conn()
    r = migrations_rolled_back(target(c, run_id="run-7", **hostvars()), steps=1)
    assert r.status is Status.CHANGED, r.message
    assert r.message == ("rolled back 1 migration(s) on connection default: "
                         "2024_02_01_000000_add_tags_to_notes; migrate:status shows "
                         "2024_02_01_000000_add_tags_to_notes not run")
    assert c.command_lines[:2] == [
        f"{ARTISAN} migrate:status --no-ansi --no-interaction",
        "test -e /run/lock/remediations.runs/run-7/migrate-rollback-default"]
    assert c.command_lines[2] == (f"{ARTISAN} migrate:rollback --step=1 --force --no-ansi "
                                  "--no-interaction")
    assert "run-7/migrate-rollback-default" in c.command_lines[3]
    assert c.round_trips == 2


def test_the_same_run_again_is_ok() -> None:
    c = conn(marked=True)
    r = migrations_rolled_back(target(c, **hostvars()), steps=1, connection="mysql")
    assert r.status is Status.OK
    assert r.message == "already rolled back 1 step(s) in this run (connection mysql)"
    assert not c.commands_matching("migrate:rollback")


def test_nothing_ran_is_ok() -> None:
    c = conn(status=TABLE.replace("| Yes ", "| No  "))
    r = migrations_rolled_back(target(c, **hostvars()), steps=3)
    assert r.status is Status.OK and "nothing to roll back" in r.message
    assert not c.commands_matching("migrate:rollback")


def test_a_rollback_that_did_not_take_fails() -> None:
    c = conn(after=TABLE)
    r = migrations_rolled_back(target(c, **hostvars()), steps=1)
    assert r.status is Status.FAILED
    assert "still ran: 2024_02_01_000000_add_tags_to_notes" in r.message


def test_an_unreadable_status_fails() -> None:
    c = RecordingConnection("db1").on(r"migrate:status", exit_code=1, stderr="SQLSTATE[08006]")
    r = migrations_rolled_back(target(c, **hostvars()), steps=1)
    assert r.status is Status.FAILED and "SQLSTATE" in r.evidence


@pytest.mark.parametrize("kw", [{"steps": 0}, {"steps": 101}, {"steps": 1.5},
                                {"steps": 1, "connection": "--seed"},
                                {"steps": 1, "connection": "a b"}])
def test_bad_input_touches_nothing(kw: dict[str, Any]) -> None:
    c = RecordingConnection("db1")
    with pytest.raises(InvalidInput):
        migrations_rolled_back(target(c, **hostvars()), **kw)
    assert c.commands == []


def test_database_reachable_through_a_named_connection() -> None:
    c = RecordingConnection("db1").on(r"migrate:status", stdout=TABLE)
    r = database_reachable(target(c, **hostvars()), connection="mysql")
    assert r.status is Status.OK
    assert r.message == "database reachable (connection mysql): 3 migration(s) ran, 1 pending"
    assert c.command_lines == [f"{ARTISAN} migrate:status --database=mysql --no-ansi "
                               "--no-interaction"]
    with pytest.raises(InvalidInput):
        database_reachable(target(c, **hostvars()), connection="x;y")
