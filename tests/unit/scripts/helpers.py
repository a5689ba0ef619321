"""The scripts of remediations/scripts/, and each one's text as the library sends it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import remediations
from remediations.core.runs import RunContext
from remediations.core.scripts import script, split_header

DIR = Path(remediations.__file__).parent / "scripts"
NAMES = sorted(p.name for p in DIR.iterdir() if p.is_file())
SHELL = [n for n in NAMES if n.endswith(".sh")]
RUN = RunContext("20261123T100000Z-abc123", datetime(2026, 11, 23, 10, 0, tzinfo=UTC),
                 user="ops@ctl")
LOCK = "/run/lock/it's a lock"  # a quote and a space: every value travels quoted


def sent(name: str) -> str:
    """What a host receives for `name`: templates filled in as the library fills them."""
    from remediations.host import systemd_guard
    from remediations.host.systemd import show_argv
    from remediations.run import locks

    filled = {
        "lock-acquire.sh": lambda: locks.acquire_argv(RUN, LOCK)[2],
        "lock-peek.sh": lambda: locks.peek_argv(LOCK)[2],
        "lock-release.sh": lambda: locks.release_argv(RUN, LOCK)[2],
        "systemd-guard.sh": lambda: systemd_guard.script(
            "nginx.service", show_argv("nginx.service"), restart=True,
            run_started=RUN.started_at)[2],
    }
    return filled[name]() if name in filled else script(name)


def checked_text(name: str) -> str:
    """The file as a linter should see it: its header (with its directives), then `sent`."""
    head, _ = split_header(name, (DIR / name).read_text(encoding="utf-8"))
    return f"{head}\n\n{sent(name)}\n"
