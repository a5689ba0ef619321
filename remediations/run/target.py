"""What a remediation receives: the host, its connection, and the run it belongs to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from remediations.core.runs import RunContext

__all__ = ["RunContext", "Target"]

if TYPE_CHECKING:
    from remediations.connections.base import Connection
    from remediations.inventory import Host


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
