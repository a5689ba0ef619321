"""`database_status`: a fact remediation reporting what the database says about itself."""

from __future__ import annotations

from dataclasses import dataclass, replace

from remediations.core import validate
from remediations.core.result import Result, Status
from remediations.database.access import Access, open_access
from remediations.database.facts import DbFacts, parse_mysql, parse_pgbouncer, parse_postgresql
from remediations.database.sql import mysql_statements, postgresql_statements
from remediations.run.target import Target

__all__ = ["Read", "database_status", "read_facts", "summary"]


@dataclass(frozen=True, slots=True)
class Read:
    """One read of the facts: them (None when the database did not answer), the command, why not."""

    facts: DbFacts | None
    commands: tuple[str, ...]
    evidence: str = ""


def statements(engine: str, older_than: float) -> list[str]:
    return (postgresql_statements(older_than) if engine == "postgresql"
            else mysql_statements(older_than))


def read_facts(access: Access, older_than: float) -> Read:
    """Read the facts in one round trip (PgBouncer's console in the same one, when there is one)."""
    stmts = statements(access.engine, older_than)
    pgb = access.pgbouncer_argv("SHOW POOLS", "SHOW STATS")
    if pgb is not None:
        ran = access.run_with([pgb], *stmts)
        res = ran[0]
    else:
        ran = [access.run(*stmts)]
        res = ran[0]
    commands = tuple(r.command for r in ran)
    if access.engine == "postgresql":
        if res.failed:
            return Read(None, commands, res.tail(15) or f"psql exited {res.exit_code}")
        facts = parse_postgresql(res.stdout, older_than=older_than)
        if pgb is not None and len(ran) > 1:
            bouncer = ran[1]
            facts = replace(facts, pgbouncer=parse_pgbouncer(
                bouncer.stdout, error="" if bouncer.succeeded else bouncer.tail(3)))
        return Read(facts, commands)
    # The replica statement comes last: a server without SHOW REPLICA STATUS fails only it.
    if res.failed and "@@replica" not in res.stdout:
        return Read(None, commands, res.tail(15) or f"mariadb exited {res.exit_code}")
    return Read(parse_mysql(res.stdout, older_than=older_than), commands)


def summary(facts: DbFacts) -> str:
    """`postgresql 15.5: 7/100 connections, 1 query running > 60s (pid 1234, app, 612s)`."""
    conns = facts.connections
    long = [s for s in facts.sessions if s.id != facts.own_id]
    text = f"{facts.engine} {facts.version}: {conns.in_use}/{conns.max} connections"
    if long:
        first = long[0].describe(facts.engine)
        more = f" and {len(long) - 1} more" if len(long) > 1 else ""
        text += (f", {len(long)} quer{'y' if len(long) == 1 else 'ies'} running > "
                 f"{facts.older_than:g}s ({first}{more})")
    else:
        text += f", no query running > {facts.older_than:g}s"
    if facts.replication is not None:
        lag = facts.replication.lag_seconds
        text += f", {facts.replication.role}" + (f" (lag {lag:g}s)" if lag is not None else "")
    if facts.pgbouncer is not None and not facts.pgbouncer.error:
        text += f", pgbouncer: {len(facts.pgbouncer.pools)} pool(s)"
    return text


def database_status(t: Target, *, engine: str | None = None, older_than: float = 60.0) -> Result:
    """Report the database's version, connections, long queries, PgBouncer and replication; changes nothing.

    `failed` when the database cannot be reached. Example: `database_status(t, older_than=30)`.
    """
    older_than = validate.seconds(older_than, "older_than")
    access = open_access(t, engine)
    try:
        read = read_facts(access, older_than)
    finally:
        access.close()
    if read.facts is None:
        return t.result("database_status", Status.FAILED,
                        f"{access.engine} not reachable ({access.where})", commands=read.commands,
                        evidence=read.evidence, data={"engine": access.engine})
    return t.result("database_status", Status.OK, summary(read.facts), commands=read.commands,
                    data={**read.facts.to_dict(), "reached": access.where})
