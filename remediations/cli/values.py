"""The values options accept, checked before a task's body runs (`refused`).

A numeric option declares a `Range`, a string option a `Text` (`Text()` when it
declares nothing); the shared options' own syntax (--serial, --max-fail-percentage,
--run-id, --connection) is checked here too. Every refusal is one line naming the
option, with the value quoted by `shown`: ASCII only, so printing it never fails.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# The longest value any option takes: longer is a mistake (or an attack), not a value.
MAX_TEXT = 4096
# The longest wait any option takes, in seconds (`remediations.core.validate.MAX_SECONDS`).
DAY = 86400.0
# The largest batch --serial takes: more hosts than any inventory holds.
MAX_SERIAL = 1_000_000


@dataclass(frozen=True, slots=True)
class Range:
    """The numbers a numeric option accepts: `low` to `high` (above `low` with `low_open`).

    `unset` is the option's default when that means "not given" (`--db -1`); it is
    accepted too. NaN and the infinities never are.
    """

    low: float
    high: float
    low_open: bool = False
    unset: float | None = None

    @property
    def span(self) -> str:
        """`from 1 to 1000`, `more than 0 and at most 86400`: as `validate.number` says it."""
        return (f"more than {self.low:g} and at most {self.high:g}" if self.low_open
                else f"from {self.low:g} to {self.high:g}")

    def problem(self, flag: str, value: float, *, whole: bool) -> str:
        """Why `value` is refused for --`flag`; empty when it is accepted."""
        from remediations.core import validate
        from remediations.core.errors import InvalidInput

        if self.unset is not None and value == self.unset:
            return ""
        if isinstance(value, float) and not math.isfinite(value):
            return f"--{flag} must be a finite number {self.span}, got {value}"
        try:
            validate.number(value, f"--{flag}", low=self.low, high=self.high, whole=whole,
                            low_open=self.low_open)
        except InvalidInput as exc:
            return str(exc)
        return ""


@dataclass(frozen=True, slots=True)
class Text:
    """What a string option accepts: one line of printable characters, at most MAX_TEXT.

    A leading '-' (an option given as a value, `--service -h`) is refused unless
    `dash`: a JSON value `-1` or a redis key may start with one. With `path` (a file
    here: the audit log) a '..' component is refused too. What else a value must be
    is the task's own check (a unit name, a URL, ...).
    """

    dash: bool = False
    path: bool = False

    def problem(self, flag: str, value: str) -> str:
        """Why `value` is refused for --`flag`; empty when it is accepted."""
        if len(value) > MAX_TEXT:
            return f"--{flag} is too long: {len(value)} characters, at most {MAX_TEXT}"
        if any("\ud800" <= c <= "\udfff" for c in value):
            return f"--{flag} is not valid UTF-8: {shown(value)}"
        if not all(c.isprintable() or unicodedata.category(c) == "Zs" for c in value):
            return (f"--{flag} must be one line of printable characters (no NUL, line break "
                    f"or other control character): {shown(value)}")
        if value.startswith("-") and not self.dash:
            return f"--{flag} may not start with '-' (an option given as its value?): {shown(value)}"
        if self.path and ".." in value.replace("\\", "/").split("/"):
            return f"--{flag} may not contain a '..' component: {shown(value)}"
        return ""


def shown(value: str, width: int = 60) -> str:
    """`value` quoted for a one-line message: ASCII only, control characters escaped, cut short.

    Printing it never fails, whatever the terminal's encoding (a non-UTF-8 argument
    reaches Python as lone surrogates, which `print` cannot encode).
    """
    if len(value) <= width:
        return ascii(value)
    return f"{value[:width]!a}... ({len(value)} characters)"


@dataclass(frozen=True, slots=True)
class BadNumber:
    """A numeric option given something that is not a number; reported by the task."""

    flag: str
    raw: str
    whole: bool

    @property
    def message(self) -> str:
        what = "a whole number" if self.whole else "a number"
        return f"--{self.flag} must be {what}, got {shown(self.raw)}"


def refused(values: list[tuple[str, Any]], accepts: dict[str, Range | Text]) -> str:
    """The error line of the first option value a task refuses; empty when none is refused.

    Every option, the task's own and the shared ones, is checked here, before the task's
    body runs: so before an inventory is read, a host contacted or a record written.
    A number must lie in its option's Range; a string passes its Text (Text() when the
    option declares none), then the shared options' own syntax (--serial, --run-id...).
    """
    for name, value in values:
        flag = name.replace("_", "-")
        accepted = accepts.get(name)
        problem = ""
        if isinstance(value, BadNumber):
            problem = value.message
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, (int, float)):
            if isinstance(accepted, Range):
                problem = accepted.problem(flag, value, whole=isinstance(value, int))
            elif isinstance(value, float) and not math.isfinite(value):
                problem = f"--{flag} must be a finite number, got {value}"
        elif isinstance(value, str):
            text = accepted if isinstance(accepted, Text) else Text()
            problem = text.problem(flag, value) or (
                _SHARED_SYNTAX[name](value) if value and name in _SHARED_SYNTAX else "")
        if problem:
            return problem
    return ""


def _serial_syntax(text: str) -> str:
    for part in (p.strip() for p in text.split(",")):
        number = part.removesuffix("%")
        if not part or (_DECIMAL.fullmatch(number) and (
                0 < float(number) <= 100 if part.endswith("%") else
                number.isdigit() and 1 <= int(number) <= MAX_SERIAL)):
            continue
        return (f"--serial must be a positive number (at most {MAX_SERIAL}) or percentage, "
                f"or a list of them such as '1,50%', got {shown(text)}")
    return ""


def _percentage_syntax(text: str) -> str:
    number = text.strip().removesuffix("%")
    if _DECIMAL.fullmatch(number) and float(number) <= 100:
        return ""
    return f"--max-fail-percentage must be a number from 0 to 100, got {shown(text)}"


def _run_id_syntax(text: str) -> str:
    from remediations.core import validate
    from remediations.core.errors import InvalidInput

    try:
        validate.run_id(text)
    except InvalidInput:
        return (f"--run-id must be letters, digits, '.', '_' and '-' (at most 64, starting "
                f"with a letter or digit), got {shown(text)}")
    return ""


def _connection_syntax(text: str) -> str:
    from remediations.inventory.conventions import normalize_connection

    if normalize_connection(text) is None:
        return (f"unsupported connection {shown(text)} "
                "(ssh, docker, local or kubernetes, or an Ansible name of one)")
    return ""


# A plain decimal number, as typed: ASCII digits, at most one point.
_DECIMAL = re.compile(r"[0-9]{1,20}(\.[0-9]{0,20})?|\.[0-9]{1,20}")
_SHARED_SYNTAX: dict[str, Callable[[str], str]] = {
    "serial": _serial_syntax,
    "max_fail_percentage": _percentage_syntax,
    "run_id": _run_id_syntax,
    "connection": _connection_syntax,
}
