"""Invoke tasks for the database: its status, long queries stopped, migrations rolled back."""

from __future__ import annotations

import functools
from typing import Any

from invoke.collection import Collection

from remediations.cli.options import (
    Common,
    fail,
    make_task,
    reporter_for,
    run_remediation,
    validated,
)
from remediations.cli.values import DAY, Range


def _engine(opts: Common, engine: str) -> str | None:
    from remediations.database.access import engine_name

    return validated(opts, engine_name, engine) if engine else None


def db_status(c: Any, opts: Common, engine: str = "", older_than: float = 60.0) -> None:
    """Show the database's version, connections, queries running > --older-than s, PgBouncer pools, replication."""
    from remediations.database.status import database_status

    fn = functools.partial(database_status, engine=_engine(opts, engine), older_than=older_than)
    run_remediation(opts, fn, name="database_status", lock=False)


def stop_long_queries(c: Any, opts: Common, older_than: float = 0.0, terminate: bool = False,
                      engine: str = "", users: str = "") -> None:
    """Cancel (with --terminate: kill) client queries running longer than --older-than seconds."""
    from remediations.database.queries import long_queries_stopped, user_names

    if not older_than:
        raise fail(reporter_for(opts), "--older-than is required, e.g. --older-than 300")
    wanted = validated(opts, user_names, users) if users else None
    fn = functools.partial(long_queries_stopped, older_than=older_than, terminate=terminate,
                           engine=_engine(opts, engine), users=wanted)
    what = "killing the sessions of" if terminate else "cancelling"
    run_remediation(opts, fn, name="long_queries_stopped",
                    confirm=(f"stop-long-queries means {what} the queries running longer than "
                             f"{older_than:g}s", "list the sessions and the exact SQL"))


def migrate_rollback(c: Any, opts: Common, steps: int = 0, database: str = "") -> None:
    """Roll back the app's last --steps migrations (artisan migrate:rollback), once per run."""
    from remediations.database.migrations import migrations_rolled_back
    from remediations.host.health import connection_name

    if not steps:
        raise fail(reporter_for(opts), "--steps is required, e.g. --steps 1")
    which = validated(opts, connection_name, database) if database else None
    fn = functools.partial(migrations_rolled_back, steps=steps, connection=which)
    run_remediation(opts, fn, name="migrations_rolled_back",
                    confirm=(f"migrate-rollback undoes the last {steps} migration(s), dropping "
                             "what they created", "see the SQL (--pretend) it would run"))


def register(ns: Collection) -> None:
    """Add this area's tasks to `ns`."""
    engine = ("engine", "", "postgresql or mysql (mysql covers MariaDB); default: inventory "
                        "db_engine, else the database unit the host runs (required on Kubernetes)")
    ns.add_task(make_task(db_status, name="db-status", params=(
        engine,
        ("older_than", 60.0, "list queries running longer than this many seconds",
         Range(0, DAY, low_open=True)),
    )))
    ns.add_task(make_task(stop_long_queries, name="stop-long-queries", params=(
        ("older_than", 0.0, "stop client queries running longer than this many seconds "
                            "(required)", Range(0, DAY, low_open=True, unset=0.0)),
        ("terminate", False, "end the whole session (pg_terminate_backend / KILL) instead of "
                             "cancelling the query"),
        engine,
        ("users", "", "only these database users, comma-separated, e.g. app,reporting"),
    ), yes="confirm cancelling (with --terminate: killing) those queries (not needed with "
           "--check)"))
    ns.add_task(make_task(migrate_rollback, name="migrate-rollback", params=(
        ("steps", 0, "how many migrations to roll back (1-100, required)",
         Range(1, 100, unset=0)),
        ("database", "", "the Laravel connection (artisan --database), e.g. mysql; "
                         "default: the app's default connection"),
    ), yes="confirm rolling the migrations back (not needed with --check)"))
