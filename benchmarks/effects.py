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

__all__ = ["config_cached", "current_release", "health_problem", "nginx_pids",
           "restart_problem", "service_started_at", "unchanged_problem", "unmentioned"]


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


def health_problem(urls: Mapping[str, str], timeout: float = 5) -> str:
    """"" when every host's health URL answers 200 from here, else which do not."""
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    def status(url: str) -> int | None:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp:
                return int(resp.status)
        except (OSError, ValueError):
            return None

    with ThreadPoolExecutor(max_workers=16) as pool:
        got = dict(zip(urls, pool.map(status, urls.values()), strict=True))
    bad = sorted(h for h, code in got.items() if code != 200)
    return f"/up did not answer 200 on {', '.join(bad)}" if bad else ""


def unmentioned(output: str, names: Mapping[str, str]) -> list[str]:
    """The hosts neither named (`bench3`) nor addressed (`127.0.0.1:20003`) in `output`."""
    import re

    return sorted(h for h, address in names.items()
                  if not re.search(rf"(?<![\w-]){re.escape(h)}(?![\w-])", output)
                  and address not in output)


def service_started_at(project: str, service: str) -> str:
    """When the compose service's container last started (docker's State.StartedAt)."""
    import subprocess

    ids = subprocess.run(["docker", "ps", "-q", "--filter",
                          f"label=com.docker.compose.project={project}", "--filter",
                          f"label=com.docker.compose.service={service}"],
                         capture_output=True, text=True, timeout=60, check=False).stdout.split()
    if not ids:
        return ""
    return subprocess.run(["docker", "inspect", "-f", "{{.State.StartedAt}}", ids[0]],
                          capture_output=True, text=True, timeout=60,
                          check=False).stdout.strip()
