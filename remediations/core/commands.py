"""The two ways a command line is built: argument lists, quoted `sh -c`; and a command's result.

Every command the library sends is an argument list (`check_argv` refuses anything else);
the rare pipe is built by `sh`, which quotes every argument. `CommandResult` is defined in
`command_result` (below `errors`) and imported from here.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from remediations.core.command_result import CommandResult
from remediations.core.errors import InvalidInput

__all__ = ["CommandResult", "check_argv", "sh"]


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
