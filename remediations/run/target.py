"""What a remediation receives: the host, its connection, and the run it belongs to."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from remediations.core.result import Diff, Result, Status
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
        """The host's variable `key` (`{{ var }}` references resolved), else `default`."""
        return self.host.var(key, default)

    def result(self, remediation: str, status: Status, message: str, *,
               commands: Sequence[str] = (), diff: Diff | None = None, evidence: str = "",
               data: Mapping[str, Any] | None = None) -> Result:
        """This host's result of `remediation` in this run (its check mode recorded).

        `t.result("service_running", Status.FAILED, "unit nginx.service not found")`.
        """
        return Result(self.name, remediation, status, message, tuple(commands), diff, evidence,
                      check=self.check, data=dict(data or {}))
