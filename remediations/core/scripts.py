"""The scripts the library sends to hosts, kept as files in `remediations/scripts/`.

Each file begins with a header comment (what the script does, its arguments, its exit
codes), then one empty line, then the script. Hosts receive the script only, exactly as
it stands in the file, without its final newline: `script("lock-peek.sh")`.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from remediations.core.errors import RemediationError

_COMMENT = {".lua": "--"}  # every other kind (sh, perl, php) comments with `#`


class ScriptMissing(RemediationError):
    """A script of `remediations/scripts/` is missing or malformed (a broken install)."""


def comment_prefix(name: str) -> str:
    """What starts a line of the header in the script `name`."""
    return next((p for ext, p in _COMMENT.items() if name.endswith(ext)), "#")


def split_header(name: str, text: str) -> tuple[str, str]:
    """The header comment of a script file and the script itself (what hosts receive)."""
    prefix = comment_prefix(name)
    head, sep, body = text.partition("\n\n")
    if not sep or not head or not all(line.startswith(prefix) for line in head.split("\n")):
        raise ScriptMissing(f"script {name}: no header comment followed by an empty line")
    if not body.endswith("\n") or not body.strip():
        raise ScriptMissing(f"script {name}: empty, or no newline at its end")
    return head, body[:-1]


@cache
def script(name: str) -> str:
    """The text of `remediations/scripts/<name>` as hosts receive it (read once, then cached)."""
    try:
        text = (files("remediations") / "scripts" / name).read_text(encoding="utf-8")
    except OSError as e:
        raise ScriptMissing(f"script {name} is not in remediations/scripts: {e}") from None
    return split_header(name, text)[1]
