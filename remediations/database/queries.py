"""`long_queries_stopped`: no client query runs longer than N seconds (cancelled, or killed).

Inspect (the sessions running longer than N), decide (`plan_stop`: a pure function that
never picks the checking session, replication or background sessions, superusers or
the servers' own users), act (one client call: `pg_cancel_backend` / `KILL QUERY`, or
with `terminate` `pg_terminate_backend` / `KILL`), verify (read again, for a few
seconds, until none of those sessions still runs that query).
"""

from __future__ import annotations

import re
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from remediations.connections.base import CommandResult
from remediations.core import validate
from remediations.core.errors import InvalidInput
from remediations.core.result import Result, Status, Step
from remediations.database.access import Access, open_access
from remediations.database.facts import DbFacts, Session, parse_mysql, parse_postgresql
from remediations.database.sql import sessions_sql_mysql, sessions_sql_postgresql
from remediations.database.status import read_facts
from remediations.run.contract import Probe, Verification, apply
from remediations.run.target import Target

__all__ = ["Plan", "long_queries_stopped", "plan_stop", "stop_sql"]

# The servers' own users and threads: never stopped, whatever their age.
INTERNAL_USERS = frozenset({
    "system user", "event_scheduler", "unauthenticated user", "root", "mysql.session",
    "mysql.sys", "mysql.infoschema", "mariadb.sys", "rdsadmin", "rdsrepladmin",
    "postgres", "cloudsqladmin", "cloudsqlagent", "azure_superuser", "azuresu", "pgbouncer",
})
# MySQL commands of replication and server threads (COMMAND in the processlist).
SERVER_COMMANDS = frozenset({"Binlog Dump", "Binlog Dump GTID", "Daemon", "Connect",
                             "Slave_IO", "Slave_SQL", "Slave_worker", "Killed",
                             "Register Slave", "Delayed insert"})
QUERY_COMMANDS = frozenset({"Query", "Execute"})  # what KILL QUERY stops
_USER = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
VERIFY_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Plan:
    """The sessions to stop, and the ones left alone with the reason."""

    targets: tuple[Session, ...]
    spared: tuple[tuple[Session, str], ...] = ()


def user_names(values: Collection[str] | None) -> tuple[str, ...] | None:
    """Database user names for the `users` filter (letters, digits, `_ . @ -`)."""
    if values is None:
        return None
    if isinstance(values, str):
        values = [v for v in values.split(",") if v.strip()]
    names = tuple(v.strip() for v in values)
    bad = [v for v in names if not _USER.fullmatch(v)]
    if bad or not names:
        raise InvalidInput(f"not valid database user names: {bad or values!r}")
    return names


def spare_reason(s: Session, facts: DbFacts, *, terminate: bool) -> str:
    """Why `s` must be left alone (empty when it may be stopped)."""
    if s.id == facts.own_id:
        return "the session running this check"
    if s.superuser:
        return "a superuser's session"
    if not s.user or s.user in INTERNAL_USERS:
        return "the server's own user"
    if facts.engine == "postgresql":
        if s.kind != "client backend":
            return f"a {s.kind or 'background'} process, not a client"
        if s.state != "active" and not (terminate and s.state.startswith("idle in transaction")):
            return f"{s.state or 'not running a query'}: nothing to cancel"
    else:
        if s.kind in SERVER_COMMANDS:
            return f"a {s.kind} thread (replication or the server's own)"
        if not terminate and s.kind not in QUERY_COMMANDS:
            return f"{s.kind}: no query to cancel"
    return ""


def plan_stop(facts: DbFacts, *, older_than: float, terminate: bool = False,
              users: Sequence[str] | None = None) -> Plan:
    """The sessions older than `older_than` to stop: never this one, replication, system or superusers."""
    targets: list[Session] = []
    spared: list[tuple[Session, str]] = []
    for s in facts.sessions:
        if s.seconds < older_than:
            continue
        reason = spare_reason(s, facts, terminate=terminate)
        if not reason and users is not None and s.user not in users:
            reason = f"user {s.user} is not in --users"
        if reason:
            spared.append((s, reason))
        else:
            targets.append(s)
    return Plan(tuple(targets), tuple(spared))


def stop_sql(engine: str, ids: Sequence[int], *, terminate: bool) -> str:
    """The one SQL text that cancels (or terminates) these sessions."""
    ids = [int(i) for i in ids]
    if engine == "postgresql":
        fn = "pg_terminate_backend" if terminate else "pg_cancel_backend"
        return f"SELECT pid, {fn}(pid) FROM unnest(ARRAY[{', '.join(map(str, ids))}]::int[]) AS pid"
    verb = "KILL" if terminate else "KILL QUERY"
    return "; ".join(f"{verb} {i}" for i in ids)


def _sessions_statements(engine: str, older_than: float) -> list[str]:
    if engine == "postgresql":
        return ["SELECT '@@sessions'", sessions_sql_postgresql(f"{older_than:.3f}")]
    return ["SELECT '@@sessions'", sessions_sql_mysql(older_than)]


def _still_running(engine: str, text: str, targets: Sequence[Session],
                   older_than: float) -> list[Session]:
    parse = parse_postgresql if engine == "postgresql" else parse_mysql
    now = {(s.id, s.started): s for s in parse(text, older_than=older_than).sessions}
    return [now[(s.id, s.started)] for s in targets if (s.id, s.started) in now]


def _judge(access: Access, targets: Sequence[Session], older_than: float, verb: str,
           wait: float) -> Probe:
    statements = _sessions_statements(access.engine, older_than)

    def judge(answer: CommandResult) -> Verification:
        deadline = time.monotonic() + wait
        while True:
            if answer.failed and "@@sessions" not in answer.stdout:
                return Verification(False, "could not read the sessions back",
                                    answer.tail(10))
            left = _still_running(access.engine, answer.stdout, targets, older_than)
            if not left:
                ids = ", ".join(str(s.id) for s in targets)
                return Verification(True, f"{ids}: no longer running "
                                          f"{'it' if len(targets) == 1 else 'them'}")
            if time.monotonic() >= deadline:
                return Verification(False, f"still running after {wait:g}s: "
                                           + "; ".join(_line(access.engine, s) for s in left),
                                    data={"still_running": [s.to_dict() for s in left]})
            time.sleep(0.5)
            answer = access.run(*statements)

    return Probe(access.argv(*statements), judge)


def _line(engine: str, s: Session) -> str:
    return f"{s.describe(engine)}: {s.query or '(no query text)'}"


def long_queries_stopped(t: Target, *, older_than: float, engine: str | None = None,
                         terminate: bool = False, users: Collection[str] | None = None,
                         verify_timeout: float = VERIFY_SECONDS) -> Result:
    """Leave no client query running longer than `older_than` seconds: cancel them (or terminate).

    Never the checking session, replication or background sessions, superusers or the
    server's own users; `users` limits it to those database users. Check mode lists the
    ids, users, query heads and the exact SQL. Example:
    `long_queries_stopped(t, older_than=300, users=["app"])`.
    """
    older_than = validate.seconds(older_than, "older_than")
    verify_timeout = validate.seconds(verify_timeout, "verify_timeout", high=600)
    wanted = user_names(users)
    access = open_access(t, engine)
    try:
        return _stop(t, access, older_than, terminate, wanted, verify_timeout)
    finally:
        access.close()


def _stop(t: Target, access: Access, older_than: float, terminate: bool,
          users: tuple[str, ...] | None, verify_timeout: float) -> Result:
    name = "long_queries_stopped"
    read = read_facts(access, older_than)
    if read.facts is None:
        return t.result(name, Status.FAILED, f"{access.engine} not reachable ({access.where})",
                        commands=read.commands, evidence=read.evidence)
    plan = plan_stop(read.facts, older_than=older_than, terminate=terminate, users=users)
    data = {"engine": access.engine, "older_than": older_than, "terminate": terminate,
            "targets": [s.to_dict() for s in plan.targets],
            "spared": [{**s.to_dict(), "why": why} for s, why in plan.spared]}
    spared = f" ({len(plan.spared)} left alone: " + "; ".join(
        f"{s.describe(access.engine)}: {why}" for s, why in plan.spared) + ")" if plan.spared else ""
    if not plan.targets:
        return t.result(name, Status.OK, f"no query running longer than {older_than:g}s"
                        + spared, data=data)
    verb, done = ("terminate", "terminated") if terminate else ("cancel", "cancelled")
    sql = stop_sql(access.engine, [s.id for s in plan.targets], terminate=terminate)
    data["sql"] = sql
    listing = "; ".join(_line(access.engine, s) for s in plan.targets)
    count = _queries(len(plan.targets))
    step = Step(access.argv(sql), f"{verb} {count}")
    acting = Target(t.host, access.conn, t.run)
    return apply(acting, name, [step],
                 verify=_judge(access, plan.targets, older_than, verb, verify_timeout),
                 ok_message="", action=f"{verb} {count} running > {older_than:g}s with `{sql}`: "
                 f"{listing}{spared}", done=f"{done} {count}: {listing}", data=data)


def _queries(n: int) -> str:
    return f"{n} quer{'y' if n == 1 else 'ies'}"
