"""The framing of a batch: several commands in one `sh -c` script, each one's output told apart.

Pure functions over text; `connections.batch.run_batch` sends the script.
"""

from __future__ import annotations

import re
import secrets
import shlex
from collections.abc import Callable, Sequence

from remediations.core.commands import CommandResult, check_argv

# After each command the script prints RS <nonce>:<exit code> RS on stdout and on stderr.
# The nonce is new for every batch, so a command's own output cannot forge a frame.
_RS = "\x1e"


def script(argvs: Sequence[tuple[str, ...]], nonce: str) -> list[str]:
    """The `sh -c` argv that runs `argvs` in order, framing each one's output."""
    frame = f"printf '{_RS}{nonce}:%d{_RS}' $r"
    parts = [f"{_inline(argv)}; r=$?; {frame}; {frame} >&2; [ $r -eq 0 ] || exit $r"
             for argv in argvs]
    return ["sh", "-c", "\n".join(parts)]


def _inline(argv: tuple[str, ...]) -> str:
    """A command of the batch; `sh -c SCRIPT` runs as a subshell, `( SCRIPT )`, not a new sh.

    The same semantics (its own variables, `exit` ends only it, no positional
    arguments), one process start less on the host per script.
    """
    if len(argv) == 3 and argv[:2] == ("sh", "-c"):
        return f"(\n{argv[2]}\n)"
    return shlex.join(argv)


def split(argvs: Sequence[tuple[str, ...]], nonce: str, exit_code: int, stdout: str,
          stderr: str, duration: float) -> list[CommandResult]:
    """Each command's result from the framed output of a batch: only those that ran."""
    frame = re.compile(f"{_RS}{re.escape(nonce)}:(-?\\d+){_RS}")
    out = frame.split(stdout)
    err = frame.split(stderr)
    codes = [int(c) for c in out[1::2]]
    outs, errs = out[0::2], err[0::2]
    results = [CommandResult(shlex.join(argvs[i]), code, outs[i], _at(errs, i))
               for i, code in enumerate(codes[:len(argvs)])]
    stopped = bool(codes) and codes[-1] != 0
    if len(results) < len(argvs) and not stopped and exit_code != 0:
        # The shell itself ended mid-command (killed, or sh missing): that command failed.
        i = len(results)
        results.append(CommandResult(shlex.join(argvs[i]), exit_code, outs[i], _at(errs, i)))
    if results:
        last = results[-1]
        results[-1] = CommandResult(last.command, last.exit_code, last.stdout, last.stderr,
                                    duration)
    return results


def _at(items: Sequence[str], i: int) -> str:
    return items[i] if i < len(items) else ""


def run_framed(argvs: Sequence[Sequence[str]],
               send: Callable[[list[str]], CommandResult]) -> list[CommandResult]:
    """Run `argvs` through `send` (which runs one argv remotely, unchecked) as one batch."""
    items = [check_argv(a) for a in argvs]
    if not items:
        return []
    if len(items) == 1:
        return [send(list(items[0]))]
    nonce = secrets.token_hex(6)
    res = send(script(items, nonce))
    return split(items, nonce, res.exit_code, res.stdout, res.stderr, res.duration)
