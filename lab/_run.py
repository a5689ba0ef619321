"""Process helpers shared by the lab modules: one way to run a command and fail loudly."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

Log = Callable[[str], None]

REPO_ROOT = Path(__file__).resolve().parent.parent
# Repo-root .lab/ is gitignored: keys, logs and other per-machine state live there.
STATE_DIR = REPO_ROOT / ".lab"


class LabError(RuntimeError):
    """The lab could not be brought to the asked-for state; the message says what to do."""


def quiet(_: str) -> None:
    """Default progress callback: say nothing."""


def tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def run(
    args: Sequence[str],
    *,
    check: bool = True,
    timeout: float | None = 120,
    env: Mapping[str, str] | None = None,
    input_text: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command (never through a shell) and capture its output.

    With ``check`` a non-zero exit raises LabError carrying the tail of stderr/stdout,
    so callers never have to re-read logs to learn why a step failed.
    """
    full_env = {**os.environ, **env} if env else None
    try:
        proc = subprocess.run(
            list(args),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=full_env,
            input=input_text,
            check=False,
        )
    except FileNotFoundError as exc:
        raise LabError(f"{args[0]} is not installed (run lab.manage.ensure_engine())") from exc
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"timed out after {timeout}s: {' '.join(args)}") from exc
    if check and proc.returncode != 0:
        raise LabError(
            f"command failed (exit {proc.returncode}): {' '.join(args)}\n"
            f"{tail(proc.stderr or proc.stdout)}"
        )
    return proc


def stream(
    args: Sequence[str],
    log: Log,
    *,
    keep: Callable[[str], bool],
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> None:
    """Run a long command, forwarding the lines ``keep`` selects to ``log``.

    The full output is kept in memory only to explain a failure.
    """
    full_env = {**os.environ, **env} if env else None
    lines: list[str] = []
    with subprocess.Popen(
        list(args),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env=full_env,
        cwd=cwd,
    ) as proc:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip()
            lines.append(line)
            if keep(line):
                log(line)
        code = proc.wait()
    if code != 0:
        raise LabError(f"command failed (exit {code}): {' '.join(args)}\n" + "\n".join(lines[-40:]))


def container_spec(args: Sequence[str], *mounted: Path) -> str:
    """A container's settings as a short label: its `docker run` arguments and the content of
    the files it bind-mounts (a key regenerated at the same path is a new container: a bind
    mount keeps the file it was given, not the path)."""
    digest = hashlib.sha256("\0".join(args).encode())
    for path in mounted:
        digest.update(b"\0" + (path.read_bytes() if path.is_file() else b""))
    return digest.hexdigest()[:16]

