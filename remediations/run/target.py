"""What a remediation receives: the host, its connection, and the run it belongs to."""

from __future__ import annotations

import getpass
import secrets
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from remediations.connections.base import Connection
    from remediations.inventory import Host


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, unique run id such as `20261123T104501Z-3f9a1c`."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(3)}"


def who() -> str:
    """`user@controller`, as recorded in locks and the audit log."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


@dataclass(frozen=True, slots=True)
class RunContext:
    """One run: its id, when it began (restarts after this count as done), and its modes."""

    run_id: str
    started_at: datetime
    check: bool = False
    diff: bool = False
    user: str = field(default_factory=who)

    @classmethod
    def new(cls, *, check: bool = False, diff: bool = False) -> RunContext:
        now = datetime.now(UTC)
        return cls(new_run_id(now), now, check=check, diff=diff)


@dataclass(frozen=True, slots=True)
class Target:
    """A host with its connection, inside a run."""

    host: Host
    conn: Connection
    run: RunContext

    @property
    def name(self) -> str:
        return self.host.name

    @property
    def check(self) -> bool:
        return self.run.check

    def var(self, key: str, default: Any = None) -> Any:
        return self.host.vars.get(key, default)
