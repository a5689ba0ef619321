"""A switch's cache hooks: freshness judged by the caches' rule, the in-process hooks' script.

The `a` function of the switch script is run for real by `sh`, with a stand-in for the PHP
process printing what release-artisan.php prints.
"""

from __future__ import annotations

import shlex
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from remediations.release.hooks import fresh_caches, fresh_in_output
from remediations.release.switching import action_script
from remediations.release.symlink import workers_first
from remediations.run import markers
from remediations.run.target import RunContext, Target
from tests.unit.helpers import host

REL = "/srv/app/releases/v1.2.2"


def find_output(**mtimes: float) -> str:
    """What `find -printf '%T@ %p'` prints for files of the release, by path relative to it."""
    return "".join(f"{m} {REL}/{p.replace('__', '/').replace('_dot_', '.')}\n"
                   for p, m in mtimes.items())


@pytest.mark.parametrize("files,fresh", [
    # caches newer than every source: nothing rebuilt
    ({"bootstrap__cache__config.php": 20, "bootstrap__cache__routes-v7.php": 20,
      "config__app.php": 10, "_dot_env": 10, "routes__web.php": 10},
     ["config:cache", "route:cache"]),
    # the shared .env changed after the config was cached: config rebuilt
    ({"bootstrap__cache__config.php": 20, "bootstrap__cache__routes-v7.php": 20,
      "config__app.php": 10, "_dot_env": 30, "routes__web.php": 10}, ["route:cache"]),
    # a release never cached (never active here): both built
    ({"config__app.php": 10, "routes__web.php": 10}, []),
    # a route file newer than the route cache
    ({"bootstrap__cache__config.php": 20, "bootstrap__cache__routes-v7.php": 20,
      "config__app.php": 10, "routes__api.php": 25}, ["config:cache"]),
])
def test_cache_hooks_run_only_for_a_missing_or_older_cache(files: dict[str, float],
                                                           fresh: list[str]) -> None:
    todo = ("switch", "config:cache", "route:cache", "view:cache", "queue:restart")
    assert list(fresh_caches(REL, find_output(**files), todo)) == fresh


def test_a_hook_already_done_is_not_judged_again() -> None:
    out = find_output(**{"bootstrap__cache__config.php": 20, "config__app.php": 10})
    assert fresh_caches(REL, out, ("route:cache", "record")) == {}


def test_workers_restart_moves_next_to_the_cache_hooks() -> None:
    hooks = [("php-fpm:reload", ["r"]), ("octane:reload", ["o"]), ("queue:restart", ["q"]),
             ("artisan:x", ["x"])]
    assert [h for h, _ in workers_first(hooks)] == ["queue:restart", "php-fpm:reload",
                                                   "octane:reload", "artisan:x"]


def _run_group(tmp_path: Path, php: str) -> tuple[subprocess.CompletedProcess[str], Target]:
    run = RunContext(f"unit-{tmp_path.name[-20:]}", datetime(2026, 11, 23, tzinfo=UTC))
    t = Target(host("web1"), None, run)  # type: ignore[arg-type]
    names = ("config:cache", "view:cache", "queue:restart")
    pairs = [f"{n}={markers.path(run, 'release-v1.2.2-' + n.replace(':', '-'))}" for n in names]
    line = shlex.join(["a", *pairs, "--", "sh", "-c", php])
    argv = action_script(t, [line, "echo after"])
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False), t


def _marks(t: Target) -> dict[str, str]:
    folder = Path(markers.path(t.run, "x")).parent
    found = {p.name: p.read_text() for p in folder.iterdir()} if folder.exists() else {}
    for p in folder.iterdir() if folder.exists() else ():
        p.unlink()
    if folder.exists():
        folder.rmdir()
    return found


def test_one_process_marks_each_hook_done_or_fresh(tmp_path: Path) -> None:
    res, t = _run_group(tmp_path, "echo '{\"views\":{}}'; echo '== config:cache'; "
                                  "echo 'Configuration cached successfully.'; "
                                  "echo '@@done config:cache'; echo '== view:cache'; "
                                  "echo '@@fresh view:cache'; echo '== queue:restart'; "
                                  "echo '@@done queue:restart'")
    marks = _marks(t)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == ["== config:cache", "Configuration cached successfully.",
                                       "== view:cache", "@@fresh view:cache", "== queue:restart",
                                       "after"]
    assert fresh_in_output(res.stdout) == ("view:cache",)
    assert marks == {"release-v1.2.2-config-cache": "", "release-v1.2.2-view-cache": "fresh\n",
                     "release-v1.2.2-queue-restart": ""}


def test_a_failing_hook_stops_the_script_naming_it_with_its_output(tmp_path: Path) -> None:
    res, t = _run_group(tmp_path, "echo '== config:cache'; echo '@@done config:cache'; "
                                  "echo '== view:cache'; echo 'View [x] not found.'; "
                                  "echo '@@fail view:cache'; exit 3")
    marks = _marks(t)
    assert res.returncode == 3 and "after" not in res.stdout
    assert res.stderr == "View [x] not found.\n"
    assert marks == {"release-v1.2.2-config-cache": "",
                     "release-failed": "view:cache\nView [x] not found.\n"}


def test_an_app_that_cannot_boot_fails_the_first_hook_with_what_php_said(tmp_path: Path) -> None:
    res, t = _run_group(tmp_path, "echo 'PHP Fatal error: Class \"X\" not found'; exit 255")
    marks = _marks(t)
    assert res.returncode == 255
    assert marks == {"release-failed": "config:cache\nPHP Fatal error: Class \"X\" not found\n"}
