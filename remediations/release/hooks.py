"""A switch's artisan hooks: which caches are already fresh, and one PHP process for the rest.

A release that was active before (the common rollback) still has its caches: its own
`bootstrap/cache` (config.php, routes-v7.php) and its compiled views. A cache hook is run
only when its cache is missing or older than what it derives from: the rule of
`remediations.laravel.app.stale_caches` (config against config/*.php and the resolved .env,
routes against routes/*.php, views by Laravel's own `isExpired`). Config and routes are
judged from file times read before acting (`find`); views where only the framework can
tell, in the process that runs the hooks, before it runs them.

The cache hooks and the workers' restart (`queue:restart` or `horizon:terminate`) that run
go in ONE PHP process (`release-artisan.php` appended to the Laravel probe): each is the
framework's own command called in-process, in the switch's order, as `artisan optimize`
does; each still gets its marker, and a failing one still stops the switch with its output.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence

from remediations.core.scripts import script
from remediations.laravel.app import CacheFiles, cache_files_argv, parse_find_mtimes, stale_caches
from remediations.laravel.php import PROBE, as_app_user
from remediations.laravel.runtime import HORIZON_TERMINATE, QUEUE_RESTART
from remediations.release.switching import CACHE_HOOKS, marker_key
from remediations.run import markers
from remediations.run.target import Target

__all__ = ["FRESH", "IN_PROCESS", "fresh_caches", "fresh_in_output", "group_line", "sources_argv"]

# Hooks run in-process, each by its own artisan command name.
IN_PROCESS = (*CACHE_HOOKS, QUEUE_RESTART, HORIZON_TERMINATE)
FRESH = "fresh"  # a marker's content (and a hook's state) when its cache needed no rebuild
_KIND = {"config:cache": "config", "route:cache": "route", "view:cache": "view"}
_ARTISAN = script("release-artisan.php")


def sources_argv(release_dir: str) -> list[str]:
    """`find` of the release's cache files and of what they derive from, with mtimes."""
    return cache_files_argv(release_dir)


def fresh_caches(release_dir: str, find_output: str, todo: Sequence[str]) -> dict[str, str]:
    """The file-judged cache hooks of `todo` (config:cache, route:cache) whose cache is
    fresh, each with why; the others are stale and run."""
    files: CacheFiles = parse_find_mtimes(release_dir, find_output)
    kinds = [_KIND[h] for h in ("config:cache", "route:cache") if h in todo]
    stale = stale_caches(files, None, kinds)
    return {f"{k}:cache": f"bootstrap/cache newer than every {k} source" for k in kinds
            if k not in stale}


def group_line(t: Target, release: str, release_dir: str, names: Sequence[str]) -> str:
    """The `a` line running the in-process hooks `names` (in order) in one PHP process."""
    spec = [{"name": n, "command": n, "views": n == "view:cache"} for n in names]
    sections = ["views"] if "view:cache" in names else []
    argv = as_app_user(t, ["php", "-r", f"{PROBE}\n{_ARTISAN}", "--", release_dir, *sections,
                           json.dumps(spec, separators=(",", ":"))])
    pairs = [f"{n}={markers.path(t.run, marker_key(release, n))}" for n in names]
    return shlex.join(["a", *pairs, "--", *argv])


def fresh_in_output(stdout: str) -> tuple[str, ...]:
    """The hooks an action script reported fresh (not run)."""
    return tuple(line.split(" ", 1)[1] for line in stdout.splitlines()
                 if line.startswith("@@fresh "))
