"""caches_cleared: read, cleared and read back by one PHP process in one round trip.

The `sh` part of the script runs for real against a stand-in `php` (fake_caches.py); the
PHP part runs against the real framework in the lab (tests/integration/test_laravel.py).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

from remediations.connections.base import CommandResult
from remediations.connections.recording import RecordingConnection
from remediations.core.result import Status
from remediations.laravel import caches_on_host
from remediations.laravel.app import caches_argv, caches_cleared
from remediations.laravel.caches_on_host import present_caches
from remediations.run.runner import run
from remediations.run.target import RunContext, Target
from tests.unit.helpers import host as make_host
from tests.unit.helpers import inventory
from tests.unit.laravel.fake_caches import FakeApp

APP = "/srv/app/current"
HOSTVARS = {"app_path": APP, "app_user": "www-data", "ansible_user": "www-data"}
ALL = {"config": "bootstrap/cache/config.php", "route": None, "event": None, "view": 3, "cache": 4}
CLEAR_ALL = [f"php {APP}/artisan config:clear", f"php {APP}/artisan view:clear",
             f"php {APP}/artisan cache:clear"]


def host(tmp: Path, facts: dict[str, Any], **app: Any) -> tuple[RecordingConnection, FakeApp]:
    """A connection whose lock is free and whose app holds `facts`."""
    fake = FakeApp(tmp, facts, **app)
    conn = RecordingConnection("web1").on("mkdir /run/lock/remediations.lock", stdout="ACQUIRED\n")
    conn.on("echo FREE", stdout="FREE\n")
    conn.on("rm -rf", stdout="")  # the lock's release: nothing to run here
    conn.on(r"^sh -c", reply=fake.run)
    return conn, fake


def run_on(conn: RecordingConnection, tmp: Path, ctx: RunContext, **kw: Any) -> Any:
    (result,) = run(functools.partial(caches_cleared, **kw), list(inventory(tmp, {"web1": HOSTVARS})),
                    run=ctx, connect=lambda host, timeout=None: conn)
    return result


def kinds(conn: RecordingConnection) -> list[str]:
    names = {"laravel-caches": "caches", "remediations-cleared": "caches", "echo FREE": "peek",
             "mkdir /run/lock/remediations.lock": "lock", "rm -rf": "unlock"}
    return [next((k for p, k in names.items() if p in line), line) for line in conn.command_lines]


def marks(result: Any) -> list[str]:
    return [c.rsplit("/", 1)[-1] for c in result.commands if "mkdir" in c]


def test_clearing_costs_one_round_trip_and_one_php_process(tmp_path: Path) -> None:
    conn, app = host(tmp_path, ALL)
    result = run_on(conn, tmp_path, RunContext.new())
    assert result.status is Status.CHANGED, (result.message, result.evidence)
    assert list(result.commands[:3]) == CLEAR_ALL  # config first, then the runtime caches
    assert marks(result) == ["caches_cleared.cache", "caches_cleared.view"]
    assert result.data["present"] == {"config": "bootstrap/cache/config.php",
                                      "view": "3 compiled view(s)", "cache": "4 item(s) in the store"}
    assert result.data["cleared"] == ["config", "view", "cache"]
    assert result.data["compiled_views_after"] == 0
    assert result.message.startswith("cleared config (bootstrap/cache/config.php), view (3 compiled")
    assert result.message.endswith("config gone, 0 compiled view(s) now")
    assert app.facts == {"config": None, "route": None, "event": None, "view": 0, "cache": 0}
    assert app.marked() == ["caches_cleared.cache", "caches_cleared.view"]
    assert [r[0] for r in app.php_runs] == ["clear"]
    assert kinds(conn) == ["lock", "caches", "unlock"] and conn.round_trips == 1


def test_runtime_caches_are_cleared_once_per_run(tmp_path: Path) -> None:
    conn, app = host(tmp_path, ALL)
    ctx = RunContext.new()
    run_on(conn, tmp_path, ctx)
    app.state.write_text(json.dumps({"facts": {**ALL, "config": None}}))  # traffic refilled them
    again = run_on(conn, tmp_path, ctx)
    assert again.status is Status.OK, again.message
    assert again.message == "already cleared by this run: cache, view"
    assert app.php_runs[-1] == ["clear", ["cache", "config", "route", "view", "event"],
                                ["cache", "view"]]
    assert app.facts["view"] == 3 and app.facts["cache"] == 4  # not cleared a second time
    # a new run clears them again
    assert run_on(conn, tmp_path, RunContext.new()).status is Status.CHANGED


def test_check_mode_plans_exactly_what_the_real_run_reports_and_touches_nothing(
        tmp_path: Path) -> None:
    conn, app = host(tmp_path, ALL)
    ctx = RunContext.new()
    checked = run_on(conn, tmp_path, RunContext(ctx.run_id, ctx.started_at, check=True))
    assert checked.status is Status.CHANGED and checked.check
    assert checked.message.startswith("would clear config (bootstrap/cache/config.php)")
    assert app.facts == ALL and app.marked() == [] and [r[0] for r in app.php_runs] == ["read"]
    assert kinds(conn) == ["caches"]  # one read, no lock taken
    done = run_on(conn, tmp_path, ctx)
    assert done.commands == checked.commands


def test_nothing_present_is_ok_in_one_round_trip(tmp_path: Path) -> None:
    conn, app = host(tmp_path, {"config": None, "route": None, "event": None, "view": 0, "cache": 0})
    result = run_on(conn, tmp_path, RunContext.new())
    assert result.status is Status.OK and result.commands == ()
    assert result.message == "no caches present (cache, config, route, view, event)"
    assert kinds(conn) == ["lock", "caches", "unlock"] and app.marked() == []


def test_only_the_kinds_asked_for_are_read_and_cleared(tmp_path: Path) -> None:
    conn, app = host(tmp_path, {**ALL, "route": "bootstrap/cache/routes-v7.php"})
    result = run_on(conn, tmp_path, RunContext.new(), kinds=("route",))
    assert result.commands == (f"php {APP}/artisan route:clear",)
    assert app.facts["config"] == "bootstrap/cache/config.php" and app.facts["cache"] == 4
    assert app.php_runs[-1][1] == ["route"]


def test_a_failing_clear_fails_naming_it_with_its_output_and_records_nothing(tmp_path: Path) -> None:
    conn, app = host(tmp_path, ALL, fail="view")
    result = run_on(conn, tmp_path, RunContext.new())
    assert result.status is Status.FAILED
    assert result.message == f"`php {APP}/artisan view:clear` failed"
    assert "view:clear went wrong" in result.evidence
    assert app.facts["config"] is None and app.facts["cache"] == 4  # stopped at the failure
    assert app.marked() == []
    # The batch stopped before the lock's release: the runner releases it after.
    assert kinds(conn) == ["lock", "caches", "unlock"] and conn.round_trips == 2


def test_an_app_that_does_not_boot_fails_with_php_s_words(tmp_path: Path) -> None:
    conn, app = host(tmp_path, ALL, boots=False)
    result = run_on(conn, tmp_path, RunContext.new())
    assert result.status is Status.FAILED
    assert "printed no answer (exit 255)" in result.message
    assert "PHP Fatal error" in result.evidence and app.marked() == []


def test_a_marker_that_cannot_be_written_fails_its_step(tmp_path: Path) -> None:
    conn, app = host(tmp_path, ALL)
    app.marks.write_text("a file where the markers' directory goes")
    result = run_on(conn, tmp_path, RunContext.new(), kinds=("view",))
    assert result.status is Status.FAILED
    assert result.message.startswith("`sh -c 'mkdir") and "caches_cleared.view" in result.message
    assert "remediations-mark-failed:view" in result.evidence


def test_without_the_runner_s_lock_the_script_goes_in_one_command(tmp_path: Path) -> None:
    conn, app = host(tmp_path, ALL)
    t = Target(make_host("web1", **HOSTVARS), conn, RunContext.new())
    result = caches_cleared(t)
    assert result.status is Status.CHANGED and kinds(conn) == ["caches"]
    assert app.marked() == ["caches_cleared.cache", "caches_cleared.view"]


def test_the_script_runs_php_as_the_app_user_and_markers_as_the_connection_user() -> None:
    ctx = RunContext("r1", RunContext.new().started_at)
    t = Target(make_host("web1", app_path=APP, app_user="www-data", ansible_user="root"),
               RecordingConnection(), ctx)
    argv = caches_argv(t, ("config", "cache"), act=True)
    assert argv[:2] == ["sh", "-c"] and argv[3] == "_"
    assert argv[4:6] == ["/run/lock/remediations.runs/r1/caches_cleared.cache",
                         "/run/lock/remediations.runs/r1/caches_cleared.view"]
    assert argv[6:12] == ["runuser", "-u", "www-data", "--", "php", "-r"]
    assert argv[13:] == ["--", APP, "clear", "config,cache"]


@pytest.mark.parametrize("facts,kinds_,expected", [
    ({"config": None, "route": None, "event": None, "view": 0, "cache": 0}, ("cache", "config"), {}),
    ({"config": "bootstrap/cache/config.php", "route": "bootstrap/cache/routes-v7.php"},
     ("config", "route"),
     {"config": "bootstrap/cache/config.php", "route": "bootstrap/cache/routes-v7.php"}),
    ({"view": 3, "cache": 2}, ("view", "cache"),
     {"view": "3 compiled view(s)", "cache": "2 item(s) in the store"}),
    ({"cache": None}, ("cache",), {"cache": "store contents unknown"}),  # a driver that cannot count
    ({"event": "bootstrap/cache/events.php"}, ("config",), {}),  # only what was asked for
])
def test_present_caches(facts: dict[str, Any], kinds_: tuple[str, ...],
                        expected: dict[str, str]) -> None:
    assert present_caches(facts, kinds_) == expected


@pytest.mark.parametrize("stdout", ["", "PHP Warning: x\n", "[1, 2]\n", '{"cleared": []}\n'])
def test_output_without_the_json_is_no_answer(stdout: str) -> None:
    assert caches_on_host.parse(CommandResult("x", 0, stdout)) is None


def test_the_json_is_its_last_line_after_warnings_and_marks() -> None:
    out = ("Deprecated: something\nremediations-cleared:view\n"
           '{"before": {"view": 2}, "cleared": ["view"], "failed": null, "after": {"view": 0}, '
           '"skipped": [], "fresh": true}\n')
    trip = caches_on_host.parse(CommandResult("x", 0, out))
    assert trip is not None and trip.cleared == ("view",) and trip.after == {"view": 0}
    assert trip.fresh and trip.failed is None
