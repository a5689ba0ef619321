"""What a run left on the bench hosts, read from this machine through each container's root.

`/proc/<init pid>/root` is the container's filesystem as its processes see it, so the
nginx master PID (`/run/nginx.pid`), the current release link and the config cache can be
read for 100 hosts in milliseconds, without a command on the hosts that would disturb
the next timed run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["config_cached", "current_release", "nginx_pids", "restart_problem",
           "unchanged_problem"]


def _root(pid: int) -> Path:
    return Path(f"/proc/{pid}/root")


def nginx_pids(init_pids: Mapping[str, int]) -> dict[str, int | None]:
    """Host -> the PID of its nginx master (as the container numbers it), None when down."""
    pids: dict[str, int | None] = {}
    for host, pid in init_pids.items():
        try:
            pids[host] = int((_root(pid) / "run/nginx.pid").read_text().strip())
        except (OSError, ValueError):
            pids[host] = None
    return pids


def current_release(init_pids: Mapping[str, int]) -> dict[str, str]:
    """Host -> where /srv/app/current points (`releases/v1.2.3`), "" when missing."""
    out: dict[str, str] = {}
    for host, pid in init_pids.items():
        try:
            out[host] = os.readlink(_root(pid) / "srv/app/current")
        except OSError:
            out[host] = ""
    return out


def config_cached(init_pids: Mapping[str, int]) -> dict[str, bool]:
    """Host -> whether the current release has a config cache (bootstrap/cache/config.php)."""
    out: dict[str, bool] = {}
    for host, pid in init_pids.items():
        link = current_release({host: pid})[host]
        out[host] = bool(link) and (_root(pid) / "srv/app" / link
                                    / "bootstrap/cache/config.php").exists()
    return out


def restart_problem(before: Mapping[str, int | None], after: Mapping[str, int | None]) -> str:
    """"" when every host's nginx runs under a new master PID, else which hosts do not."""
    down = sorted(h for h, pid in after.items() if pid is None)
    same = sorted(h for h, pid in after.items() if pid is not None and pid == before.get(h))
    parts = [f"nginx down on {', '.join(down)}" if down else "",
             f"nginx not restarted on {', '.join(same)}" if same else ""]
    return "; ".join(p for p in parts if p)


def unchanged_problem(before: Mapping[str, int | None], after: Mapping[str, int | None]) -> str:
    """"" when every host's nginx runs under the same master PID as before, else where not."""
    moved = sorted(h for h, pid in after.items() if pid is None or pid != before.get(h))
    return f"nginx down or restarted on {', '.join(moved)}" if moved else ""
