"""Keep secrets out of results, logs and JSON."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from remediations.core.result import Diff, Result

MASK = "********"
# key=value / key: value forms that commonly carry secrets in command lines and logs.
_INLINE = re.compile(
    r"(?i)\b((?:[a-z_]*_)?(?:password|passwd|secret|token|api[_-]?key|auth)\b\s*[=:]\s*)"
    r"(\"[^\"]*\"|'[^']*'|\S+)"
)
_CLI = re.compile(r"(?i)(\s(?:-a|--pass(?:word)?|--token|--requirepass)\s+)(\S+)")
_MIN_SECRET_LEN = 4  # shorter values would mask ordinary words


class Redactor:
    """Replaces known secret values, and `password=...` style pairs, with a mask."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = {s for s in secrets if isinstance(s, str) and len(s) >= _MIN_SECRET_LEN}
        # Longest first so a secret that contains another is masked whole.
        self._values = sorted(values, key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self._values:
            if secret in value:
                value = value.replace(secret, MASK)
        value = _INLINE.sub(lambda m: m.group(1) + MASK, value)
        return _CLI.sub(lambda m: m.group(1) + MASK, value)

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.value(v) for v in value)
        return value

    def result(self, result: Result) -> Result:
        diff = result.diff
        if diff is not None:
            diff = Diff(self.text(diff.before), self.text(diff.after))
        return result.replace(
            message=self.text(result.message),
            commands=tuple(self.text(c) for c in result.commands),
            evidence=self.text(result.evidence),
            diff=diff,
            data=self.value(dict(result.data)),
        )
