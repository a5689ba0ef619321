"""A `systemctl` stand-in on PATH, so the scripts sent to hosts run for real in `sh`.

`FakeUnit(tmp, [show_before, show_after, ...])` answers the n-th `systemctl show` with
the n-th text (the last one repeats) and records every other subcommand; `run(argv)`
runs a command (the guard's `sh -c` script, a plain `systemctl show`) against it, as a
RecordingConnection reply.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from remediations.connections.base import CommandResult

_SYSTEMCTL = """#!/bin/sh
d=$(dirname "$0")
case $1 in
  show)
    n=$(cat "$d/shown" 2>/dev/null || echo 0)
    f="$d/show.$n"; [ -e "$f" ] || f="$d/show.last"
    cat "$f"; echo $((n + 1)) > "$d/shown" ;;
  *)
    echo "$*" >> "$d/log"
    exit "$(cat "$d/exit.$1" 2>/dev/null || echo 0)" ;;
esac
"""


class FakeUnit:
    def __init__(self, tmp: Path, shows: Sequence[str], *, fails: dict[str, int] | None = None) -> None:
        self.dir = tmp / "bin"
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "systemctl").write_text(_SYSTEMCTL)
        (self.dir / "systemctl").chmod(0o755)
        for i, text in enumerate(shows):
            (self.dir / f"show.{i}").write_text(text.rstrip("\n") + "\n")
        (self.dir / "show.last").write_text(shows[-1].rstrip("\n") + "\n")
        for sub, code in (fails or {}).items():
            (self.dir / f"exit.{sub}").write_text(str(code))

    def run(self, argv: Sequence[str]) -> CommandResult:
        env = {**os.environ, "PATH": f"{self.dir}{os.pathsep}{os.environ['PATH']}"}
        done = subprocess.run(list(argv), env=env, capture_output=True, text=True, timeout=10,
                              check=False)
        return CommandResult(" ".join(argv), done.returncode, done.stdout, done.stderr)

    @property
    def actions(self) -> list[str]:
        """Every non-`show` systemctl call, in order ("restart nginx.service", ...)."""
        log = self.dir / "log"
        return log.read_text().splitlines() if log.exists() else []

    @property
    def reads(self) -> int:
        shown = self.dir / "shown"
        return int(shown.read_text()) if shown.exists() else 0
