"""What a database says about itself, parsed into small types: version, connections, sessions.

One client call per engine reads it all: several statements, each section opened by a
`@@name` line (`SELECT '@@sessions'`) that `split_sections` cuts on. psql prints
unaligned, tab-separated, without headers (`-A -t -F TAB`); mariadb `--batch
--skip-column-names` (tabs and line breaks inside a value escaped as `\\t`, `\\n`).
Query texts are cut to their head and masked (`query_head`) before they leave here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from remediations.core.redact import MASK, Redactor

HEAD = 120
# Literals after PASSWORD / IDENTIFIED BY (ALTER USER, CREATE ROLE, SET PASSWORD ...).
_SQL_SECRET = re.compile(r"(?i)\b(password|identified\s+(?:by|with\s+\S+\s+by))(\s*(?:=\s*)?)"
                         r"('(?:[^']|'')*'|\"[^\"]*\"|\S+)")
_VERSION = re.compile(r"^\s*([0-9][0-9.]*[0-9A-Za-z.+~-]*)")


@dataclass(frozen=True, slots=True)
class Session:
    """One session (PostgreSQL backend, MySQL thread) running something, and for how long.

    `kind` is PostgreSQL's backend_type or MySQL's COMMAND; `started` identifies the
    query it runs (PostgreSQL's query_start; MySQL's has none: its query text).
    """

    id: int
    user: str
    db: str
    state: str
    seconds: int
    query: str
    kind: str = "client backend"
    superuser: bool = False
    blocked_by: tuple[int, ...] = ()
    started: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "user": self.user, "db": self.db, "state": self.state,
                "seconds": self.seconds, "query": self.query, "blocked_by": list(self.blocked_by)}

    def describe(self, engine: str) -> str:
        """`pid 1234, app, 612s` / `id 57, app, 612s`."""
        return f"{'pid' if engine == 'postgresql' else 'id'} {self.id}, {self.user}, {self.seconds}s"


@dataclass(frozen=True, slots=True)
class Connections:
    """How many connections are in use, of how many allowed."""

    in_use: int
    max: int
    by_state: Mapping[str, int] | None = None   # PostgreSQL: pg_stat_activity by state
    max_used: int | None = None                 # MySQL: Max_used_connections

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"in_use": self.in_use, "max": self.max}
        if self.by_state is not None:
            found["by_state"] = dict(self.by_state)
        if self.max_used is not None:
            found["max_used"] = self.max_used
        return found


@dataclass(frozen=True, slots=True)
class Replication:
    """This server's part in replication, and how far behind a replica is."""

    role: str                     # primary, replica
    lag_seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "lag_seconds": self.lag_seconds}


@dataclass(frozen=True, slots=True)
class PgBouncer:
    """PgBouncer's admin console: SHOW POOLS and SHOW STATS, one dict per row."""

    pools: tuple[Mapping[str, str], ...] = ()
    stats: tuple[Mapping[str, str], ...] = ()
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"pools": [dict(p) for p in self.pools],
                                 "stats": [dict(s) for s in self.stats]}
        if self.error:
            found["error"] = self.error
        return found


@dataclass(frozen=True, slots=True)
class DbFacts:
    """One read of a database: who it is, its connections and the sessions running long."""

    engine: str
    version: str
    connections: Connections
    sessions: tuple[Session, ...]
    own_id: int
    older_than: float
    slow_queries: Mapping[str, Any] = field(default_factory=dict)
    replication: Replication | None = None
    pgbouncer: PgBouncer | None = None
    superusers: frozenset[str] = frozenset()

    def to_dict(self) -> dict[str, Any]:
        return {"engine": self.engine, "version": self.version,
                "connections": self.connections.to_dict(),
                "long_queries": [s.to_dict() for s in self.sessions if s.id != self.own_id],
                "slow_queries": dict(self.slow_queries),
                "replication": None if self.replication is None else self.replication.to_dict(),
                "pgbouncer": None if self.pgbouncer is None else self.pgbouncer.to_dict()}


def query_head(text: str, width: int = HEAD) -> str:
    """The start of a query, one line, secrets masked: what results may show of it."""
    flat = " ".join(text.replace("\\n", " ").replace("\\t", " ").split())
    flat = _SQL_SECRET.sub(lambda m: m.group(1) + m.group(2) + MASK, flat)
    flat = Redactor().text(flat)
    return flat if len(flat) <= width else flat[:width - 3] + "..."


def split_sections(text: str) -> dict[str, list[list[str]]]:
    """Rows (tab-separated fields) under each `@@name` line; lines before the first are dropped."""
    sections: dict[str, list[list[str]]] = {}
    current: list[list[str]] | None = None
    for line in text.splitlines():
        if line.startswith("@@") and line[2:].strip().isidentifier():
            current = sections.setdefault(line[2:].strip(), [])
        elif current is not None and line.strip():
            current.append(line.split("\t"))
    return sections


def _int(value: str, default: int = 0) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return default


def _float(value: str) -> float | None:
    try:
        return round(float(value), 3)
    except (TypeError, ValueError):
        return None


def short_version(text: str) -> str:
    """`15.5` of `15.5 (Debian 15.5-0+deb12u1)`, `10.11.6` of `10.11.6-MariaDB-0+deb12u1`."""
    m = _VERSION.match(text)
    return m.group(1).split("-")[0] if m else text.strip()


def parse_postgresql(text: str, *, older_than: float) -> DbFacts:
    """The sections of `sql.postgresql_statements`' output (psql, unaligned, tuples only)."""
    sec = split_sections(text)
    main = (sec.get("main") or [[""] * 5])[0] + [""] * 5
    by_state = {row[0] or "unknown": _int(row[1]) for row in sec.get("states", []) if len(row) >= 2}
    sessions = []
    for row in sec.get("sessions", []):
        if len(row) < 10:
            continue
        sessions.append(Session(
            id=_int(row[0]), user=row[1], db=row[2], state=row[3], kind=row[4],
            seconds=_int(row[5]), superuser=row[6] == "t",
            blocked_by=tuple(_int(p) for p in row[7].split(",") if p.strip()),
            started=row[8], query=query_head("\t".join(row[9:]))))
    repl = (sec.get("replication") or [["f", "", "0", ""]])[0] + ["", "", "", ""]
    replication: Replication | None = None
    if repl[0] == "t":
        replication = Replication("replica", _float(repl[1]))
    elif _int(repl[2]) > 0:
        replication = Replication("primary", _float(repl[3]))
    running = [s for s in sessions if s.kind == "client backend" and s.id != _int(main[3])]
    return DbFacts(
        engine="postgresql", version=short_version(main[0]),
        connections=Connections(_int(main[2]), _int(main[1]), by_state),
        sessions=tuple(sessions), own_id=_int(main[3], -1), older_than=older_than,
        slow_queries={"count": len(running), "source": f"pg_stat_activity: sessions not idle "
                      f"whose query started more than {older_than:g}s ago"},
        replication=replication)


def parse_mysql(text: str, *, older_than: float) -> DbFacts:
    """The sections of `sql.mysql_statements`' output (`mariadb --batch --skip-column-names`)."""
    sec = split_sections(text)
    main = (sec.get("main") or [[""] * 3])[0] + [""] * 3
    status = {row[0]: row[1] for row in sec.get("status", []) if len(row) >= 2}
    supers = frozenset(_grantee_user(row[0]) for row in sec.get("super", []) if row)
    sessions = []
    for row in sec.get("sessions", []):
        if len(row) < 7:
            continue
        user = row[1]
        sessions.append(Session(
            id=_int(row[0]), user=user, db="" if row[2] == "NULL" else row[2], kind=row[3],
            seconds=_int(row[4]), state="" if row[5] == "NULL" else row[5],
            query=query_head("\t".join(row[6:]) if row[6] != "NULL" else ""),
            superuser=user in supers, started="\t".join(row[6:])))
    return DbFacts(
        engine="mysql", version=short_version(main[0]),
        connections=Connections(_int(status.get("Threads_connected", "0")), _int(main[1]),
                                max_used=_int(status.get("Max_used_connections", "0"))),
        sessions=tuple(sessions), own_id=_int(main[2], -1), older_than=older_than,
        slow_queries={"count": _int(status.get("Slow_queries", "0")),
                      "source": "Slow_queries status counter (queries slower than "
                                "long_query_time since the server started)"},
        replication=_mysql_replication(status, sec.get("replica", [])),
        superusers=supers)


def _grantee_user(grantee: str) -> str:
    """`root` of `'root'@'localhost'`."""
    user = grantee.rsplit("@", 1)[0]
    return user.strip("'`\"")


def _mysql_replication(status: Mapping[str, str],
                       replica: Sequence[Sequence[str]]) -> Replication | None:
    """A replica when SHOW REPLICA STATUS has a row, a primary with replicas connected, else None."""
    fields = {}
    for row in replica:
        key, sep, value = "\t".join(row).partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    if fields:
        lag = fields.get("Seconds_Behind_Master", fields.get("Seconds_Behind_Source", ""))
        return Replication("replica", _float(lag))
    if _int(status.get("Slaves_connected", "0")) > 0:
        return Replication("primary")
    return None


def parse_pgbouncer(text: str, *, error: str = "") -> PgBouncer:
    """`SHOW POOLS` and `SHOW STATS` as psql prints them with headers (`-A -F TAB`)."""
    tables: list[list[Mapping[str, str]]] = []
    kinds: list[str] = []
    header: list[str] = []
    for line in text.splitlines():
        cells = line.split("\t")
        if cells[0] == "database" and len(cells) > 1:
            header = cells
            kinds.append("pools" if "cl_active" in cells else "stats")
            tables.append([])
        elif header and len(cells) == len(header):
            tables[-1].append(dict(zip(header, cells, strict=True)))
    found = {k: tuple(rows) for k, rows in zip(kinds, tables, strict=True)}
    return PgBouncer(found.get("pools", ()), found.get("stats", ()), error)
