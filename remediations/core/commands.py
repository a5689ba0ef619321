"""A command's result, and the two ways a command line is built: argument lists, quoted `sh -c`.

Every command the library sends is an argument list (`check_argv` refuses anything else);
the rare pipe is built by `sh`, which quotes every argument.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from remediations.core.errors import InvalidInput


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



def sh(template: str, *args: object) -> list[str]:
    """Build `sh -c` argv for the rare pipe, quoting every argument.

    `sh("tail -n %s %s | wc -l", 5, path)` -> `["sh", "-c", "tail -n 5 '/p a/th' | wc -l"]`.
    """
    return ["sh", "-c", template % tuple(shlex.quote(str(a)) for a in args)]


def check_argv(argv: Sequence[str]) -> tuple[str, ...]:
    """Refuse a shell string where an argument list is required."""
    if isinstance(argv, (str, bytes)):
        raise InvalidInput(f"commands are argument lists, not strings: {argv!r}")
    items = tuple(argv)
    if not items or not all(isinstance(a, str) for a in items):
        raise InvalidInput(f"argv must be a non-empty list of strings: {argv!r}")
    if any("\0" in a for a in items):
        raise InvalidInput("argv may not contain NUL bytes")
    return items
