"""What one command on one host returned.

Below `errors` (`CommandFailed` carries one), so that every other module of `core`
may import both.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CommandResult:
    """The outcome of one command on one host."""

    command: str
    exit_code: int
    stdout: str = ""
    stderr: str = ""
    duration: float = 0.0

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0

    @property
    def failed(self) -> bool:
        return self.exit_code != 0

    def tail(self, lines: int = 20) -> str:
        """The last lines of stdout and stderr, for evidence."""
        out = "\n".join(self.stdout.rstrip().splitlines()[-lines:])
        err = "\n".join(self.stderr.rstrip().splitlines()[-lines:])
        return "\n".join(p for p in (out, err) if p)
