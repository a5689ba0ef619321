"""Release switch: facts parsed, decisions made, exact commands built, failures named.

The host is a RecordingConnection answering the inspection command with scripted facts;
the health URL is a real HTTP server on 127.0.0.1 answering what each test asks.
"""

from __future__ import annotations

import http.server
import json
import shlex
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from remediations.connections.recording import RecordingConnection
from remediations.core.errors import InvalidInput
from remediations.core.result import Status
from remediations.release.facts import (
    describe_bad,
    parse_inspection,
    release_facts,
    release_history,
    releases_root,
    version_key,
)
from remediations.release.symlink import (
    Plan,
    actions,
    marker_name,
    plan_release,
    plan_steps,
    release_current,
)
from remediations.run.target import RunContext, Target
from tests.unit.helpers import host

ROOT = "/srv/app"
RUN = RunContext("r1", datetime(2026, 11, 23, 10, 0, tzinfo=UTC), user="ops@ctl")
MARKS = "/run/lock/remediations.runs/r1"
ART = ["runuser", "-u", "www-data", "--", "php"]
# queue:restart before the reload: the cache hooks and it run in one PHP process.
HOOKS = ("config:cache", "route:cache", "view:cache", "queue:restart", "php-fpm:reload")
INSPECT = r"(?s)^sh -c .*readlink"
# What the runtime probe (remediations.laravel.runtime) answers on a php-fpm + nginx host.
RUNTIME = r"(?s)^sh -c .*list-unit-files"
FPM_NGINX = "systemd\tyes\nunit\tphp8.2-fpm.service\tenabled\nunit\tnginx.service\tenabled\n"
WHEN = datetime(2026, 11, 23, 10, 5, tzinfo=UTC)


@dataclass
class Answer:
    status: int = 200
    body: str = '{"status":"ok","version":"1.2.2"}'


@pytest.fixture
def health() -> Iterator[tuple[str, Answer]]:
    answer = Answer()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = answer.body.encode()
            self.send_response(answer.status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/up", answer
    server.shutdown()


def target(conn: RecordingConnection, *, check: bool = False, url: str = "http://127.0.0.1:9/up",
           **hostvars: Any) -> Target:
    hv = {"app_path": f"{ROOT}/current", "app_user": "www-data", "ansible_user": "root",
          "php_fpm_service": "php8.2-fpm", "health_url": url, **hostvars}
    run = RunContext(RUN.run_id, RUN.started_at, check=check, user=RUN.user)
    conn.on(RUNTIME, stdout=FPM_NGINX)
    return Target(host("web1", **hv), conn, run)


def inspection(current: str | None = "v1.2.3", releases: tuple[str, ...] = ("v1.2.2", "v1.2.3",
               "v1.2.4"), *, bad: dict[str, str] | None = None,
               marks: dict[str, str] | None = None, unit: str = "") -> str:
    """What the inspection command prints on a host in that state."""
    lines = ["root\tdeploy:deploy"]
    if current is not None:
        lines.append(f"link\tdeploy:deploy\treleases/{current}")
    lines += [f"release\t{r}" for r in releases]
    lines += [f"bad\t{r}\t{mark}" for r, mark in (bad or {}).items()]
    lines += [f"marker\t{name}\t{content}" for name, content in (marks or {}).items()]
    if unit:
        lines += ["unit", f"Id=php8.2-fpm.service\nLoadState=loaded\nActiveState={unit}\n"
                  f"SubState=running\nMainPID=34"]
    return "\n".join(lines) + "\n"


def done_marks(release: str, *done: str, switched_from: str = "v1.2.3") -> dict[str, str]:
    return {marker_name(RUN, release, a): (switched_from if a == "switch" else "") for a in done}


# -- where the releases are ---------------------------------------------------------------

@pytest.mark.parametrize("hostvars,root", [
    ({"app_path": "/srv/app/current"}, "/srv/app"),
    ({"app_path": "/var/www/shop/current/"}, "/var/www/shop"),
    ({"app_path": "/srv/app/current", "deploy_path": "/opt/deploy//shop/"}, "/opt/deploy/shop"),
])
def test_releases_root_from_deploy_path_or_app_path(hostvars: dict[str, Any], root: str) -> None:
    assert releases_root(target(RecordingConnection(), **hostvars)) == root


@pytest.mark.parametrize("hostvars,names", [
    ({"app_path": "/srv/app/public"}, "deploy_path"),
    ({"app_path": None}, "deploy_path"),
    ({"deploy_path": "srv/app"}, "deploy_path"),
    ({"deploy_path": "/srv/../etc"}, "deploy_path"),
    ({"deploy_path": "/"}, "deploy_path"),
])
def test_releases_root_refused_names_the_var_to_set(hostvars: dict[str, Any], names: str) -> None:
    conn = RecordingConnection()
    with pytest.raises(InvalidInput, match=names):
        release_facts(target(conn, **hostvars))
    assert conn.commands == []


# -- facts --------------------------------------------------------------------------------

def test_facts_are_version_sorted_with_current_and_bad_marks() -> None:
    mark = json.dumps({"release": "v1.2.9", "by": "ann@ctl", "at": "2026-11-23T09:00:00+00:00",
                       "run_id": "r0", "reason": "500 on /up", "replaced_by": "v1.2.10"})
    text = inspection("v1.2.10", ("v1.2.9", "v1.2.10", "v1.10.0", "v1.2.2", "bad name", "-x"),
                      bad={"v1.2.9": mark})
    facts = parse_inspection(ROOT, text).facts
    assert facts.available == ("v1.2.2", "v1.2.9", "v1.2.10", "v1.10.0")
    assert facts.current == "v1.2.10"
    assert facts.bad == {"v1.2.9": "marked bad by ann@ctl at 2026-11-23T09:00:00+00:00 "
                                   "(run r0): 500 on /up"}
    assert facts.to_dict() == {"root": ROOT, "current": "v1.2.10", "available": [
        "v1.2.2", "v1.2.9", "v1.2.10", "v1.10.0"], "bad": dict(facts.bad)}


@pytest.mark.parametrize("link,current", [
    ("releases/v1.2.3", "v1.2.3"), ("/srv/app/releases/v1.2.3", "v1.2.3"),
    ("releases/v1.2.3/", "v1.2.3"), ("releases/v9", None), ("/elsewhere/v1.2.3", None),
])
def test_current_is_a_release_only_when_it_points_at_one(link: str, current: str | None) -> None:
    text = f"root\tdeploy:deploy\nlink\tdeploy:deploy\t{link}\nrelease\tv1.2.3\n"
    assert parse_inspection(ROOT, text).facts.current == current


def test_no_current_link_and_the_owner_falls_back_to_the_root() -> None:
    ins = parse_inspection(ROOT, "root\tdeploy:www-data\nrelease\tv1.2.2\n")
    assert ins.facts.current is None and ins.link is None and ins.owner == "deploy:www-data"


def test_facts_are_one_read_only_command_and_work_in_check_mode() -> None:
    conn = RecordingConnection().on(INSPECT, stdout=inspection())
    facts = release_facts(target(conn, check=True))
    assert facts.current == "v1.2.3"
    assert len(conn.commands) == 1
    argv = conn.commands[0]
    assert argv[:2] == ("sh", "-c") and argv[3:] == ("_", ROOT, MARKS)
    for word in ("mv ", "ln ", "rm ", "chown", ">"):
        assert word not in argv[2].replace("2>/dev/null", ""), word


def test_describe_bad_keeps_text_it_cannot_parse() -> None:
    assert describe_bad("oops") == "marked bad: oops"
    assert version_key("v1.2.10") > version_key("v1.2.9")


def test_history_oldest_first_and_unreadable_lines_kept() -> None:
    lines = [json.dumps({"from": "v1.2.3", "to": "v1.2.2"}), "garbage",
             json.dumps({"from": "v1.2.2", "to": "v1.2.3"})]
    conn = RecordingConnection().on(r"^cat -- /srv/app/\.remediations-releases\.jsonl$",
                                    stdout="\n".join(lines) + "\n")
    assert release_history(target(conn)) == [{"from": "v1.2.3", "to": "v1.2.2"},
                                              {"unreadable": "garbage"},
                                              {"from": "v1.2.2", "to": "v1.2.3"}]
    assert release_history(target(RecordingConnection().on("^cat", exit_code=1))) == []


# -- decisions ----------------------------------------------------------------------------

def plan(current: str | None, marks: dict[str, str] | None = None, *,
         maintenance: bool = False, release: str = "v1.2.2") -> Plan:
    return plan_release(parse_inspection(ROOT, inspection(current, marks=marks)), release, RUN,
                        maintenance=maintenance)


def test_fresh_switch_runs_everything_in_order() -> None:
    p = plan("v1.2.3")
    assert p.fresh and p.from_release == "v1.2.3"
    assert p.todo == ("switch", *HOOKS, "record")
    assert plan("v1.2.3", maintenance=True).todo == ("down", "switch", *HOOKS, "up", "record")


def test_already_there_and_not_switched_by_this_run_does_nothing() -> None:
    p = plan("v1.2.2")
    assert p.todo == () and p.done == ()


def test_resume_runs_only_what_is_left_and_keeps_where_it_came_from() -> None:
    p = plan("v1.2.2", done_marks("v1.2.2", "switch", "config:cache"))
    assert not p.fresh and p.resumed
    assert p.todo == ("route:cache", "view:cache", "queue:restart", "php-fpm:reload", "record")
    assert p.done == ("switch", "config:cache")
    assert p.from_release == "v1.2.3"


def test_resume_of_a_finished_switch_is_nothing_to_do() -> None:
    p = plan("v1.2.2", done_marks("v1.2.2", *actions(False)))
    assert p.todo == () and p.done == actions(False)


def test_resume_brings_up_an_app_the_first_attempt_took_down() -> None:
    p = plan("v1.2.2", done_marks("v1.2.2", "down", "switch"), maintenance=False)
    assert p.todo == (*HOOKS, "up", "record")


def test_markers_of_an_undone_switch_do_not_count() -> None:
    # This run switched to v1.2.2 earlier, then back: switching to it again starts afresh.
    p = plan("v1.2.3", done_marks("v1.2.2", *actions(False)))
    assert p.fresh and p.todo == actions(False)


def test_switching_away_from_a_release_this_run_left_down_brings_the_app_up() -> None:
    p = plan("v1.2.4", done_marks("v1.2.4", "down", "switch"), release="v1.2.3")
    assert p.todo == actions(True)


# -- commands -----------------------------------------------------------------------------

def scripts(t: Target, p: Plan, **kw: Any) -> tuple[list[list[str]], dict[str, Any]]:
    steps, entry = plan_steps(t, ROOT, p, owner="deploy:deploy", unit="php8.2-fpm.service",
                              reason="500s on checkout", when=WHEN, **kw)
    return [list(s.argv) for s in steps], entry


def test_switch_is_a_rename_over_current_keeping_the_owner() -> None:
    (switch, _), _ = scripts(target(RecordingConnection()), plan("v1.2.3"))
    body = switch[2]
    assert switch[:2] == ["sh", "-c"] and len(switch) == 3
    ln = "h switch ln -sfn releases/v1.2.2 /srv/app/.current.r1"
    chown = "h switch chown -h deploy:deploy /srv/app/.current.r1"
    mv = "h switch mv -T /srv/app/.current.r1 /srv/app/current"
    assert body.index(ln) < body.index(chown) < body.index(mv)
    assert f'printf "%s\\n" v1.2.3 > {MARKS}/release-v1.2.2-switch' in body
    assert f"rm -f -- {MARKS}/release-failed {MARKS}/release-v1.2.2-*" in body


def group(body: str) -> list[str]:
    """The words of the script's `a` line (the hooks run in one PHP process)."""
    lexer = shlex.shlex(body[body.index("; a ") + 2:], posix=True, punctuation_chars=";")
    lexer.whitespace_split = True
    return list(iter(lambda: next(lexer, ";"), ";"))


def test_hooks_run_in_the_new_release_as_the_app_user_in_one_php_process() -> None:
    (act, _), _ = scripts(target(RecordingConnection()), plan("v1.2.3"))
    body = act[2]
    words = group(body)
    names = ("config:cache", "route:cache", "view:cache", "queue:restart")
    sep = words.index("--")
    assert words[1:sep] == [f"{n}={MARKS}/release-v1.2.2-{n.replace(':', '-')}" for n in names]
    argv = words[sep + 1:]
    assert argv[:7] == [*ART, "-r", argv[6]] and argv[7:10] == ["--", "/srv/app/releases/v1.2.2",
                                                                 "views"]
    assert "$kernel->call(" in argv[6] and "isExpired" in argv[6]  # the probe's rule for views
    assert [(k["name"], k["command"], k["views"]) for k in json.loads(argv[10])] == [
        (n, n, n == "view:cache") for n in names]
    reload = shlex.join(["h", "php-fpm:reload", "systemctl", "reload", "php8.2-fpm.service"])
    assert body.index(shlex.join(words)) < body.index(
        f"{reload}; : > {MARKS}/release-v1.2.2-php-fpm-reload")
    assert body.index("h switch mv -T") < body.index(shlex.join(words))


def test_fresh_caches_are_marked_fresh_and_not_rebuilt() -> None:
    (act, record), entry = scripts(target(RecordingConnection()), plan("v1.2.3"),
                                   fresh={"config:cache": "fresh", "route:cache": "fresh"})
    body = act[2]
    assert f"echo '== config:cache'; echo fresh > {MARKS}/release-v1.2.2-config-cache" in body
    assert [k["name"] for k in json.loads(group(body)[-1])] == ["view:cache", "queue:restart"]
    assert entry["hooks"] == ["view:cache", "queue:restart", "php-fpm:reload"]
    assert entry["fresh"] == ["config:cache", "route:cache"]
    assert json.loads(record[7]) == entry


def test_maintenance_goes_down_with_the_old_release_and_up_with_the_new() -> None:
    (act, _), _ = scripts(target(RecordingConnection()), plan("v1.2.3", maintenance=True))
    down = shlex.join(["h", "down", *ART, "/srv/app/releases/v1.2.3/artisan", "down"])
    assert act[2].index(down) < act[2].index("h switch mv -T")
    assert act[2].endswith(shlex.join(["h", "up", *ART, "/srv/app/releases/v1.2.2/artisan",
                                       "up"]) + f"; : > {MARKS}/release-v1.2.2-up")


def test_artisan_through_sudo_for_a_deploy_login() -> None:
    t = target(RecordingConnection(), ansible_user="deploy")
    (act, _), _ = scripts(t, plan("v1.2.3"))
    assert group(act[2])[6:12] == ["sudo", "-n", "-u", "www-data", "--", "php"]


def test_record_marks_the_old_release_bad_lifts_the_new_and_appends_history() -> None:
    (_, record), entry = scripts(target(RecordingConnection()), plan("v1.2.3"))
    assert record[:2] == ["sh", "-c"] and record[3] == "_"
    bad_path, bad, lifted, line, history, marker = record[4:]
    assert bad_path == "/srv/app/releases/v1.2.3/.remediations-bad"
    assert json.loads(bad) == {"release": "v1.2.3", "by": "ops@ctl",
                               "at": "2026-11-23T10:05:00+00:00", "run_id": "r1",
                               "reason": "500s on checkout", "replaced_by": "v1.2.2"}
    assert describe_bad(bad) == ("marked bad by ops@ctl at 2026-11-23T10:05:00+00:00 (run r1): "
                                 "500s on checkout")
    assert lifted == "/srv/app/releases/v1.2.2/.remediations-bad"
    assert json.loads(line) == entry == {
        "host": "web1", "from": "v1.2.3", "to": "v1.2.2", "who": "ops@ctl",
        "when": "2026-11-23T10:05:00+00:00", "run_id": "r1", "reason": "500s on checkout",
        "hooks": list(HOOKS), "fresh": [], "resumed": False}
    assert history == "/srv/app/.remediations-releases.jsonl"
    assert marker == f"{MARKS}/release-v1.2.2-record"


def test_resume_commands_skip_the_switch_and_the_hooks_done() -> None:
    p = plan("v1.2.2", done_marks("v1.2.2", "switch", "config:cache", "route:cache"))
    (hooks, record), entry = scripts(target(RecordingConnection()), p)
    assert "h switch" not in hooks[2] and "config:cache=" not in hooks[2]
    assert [k["name"] for k in json.loads(group(hooks[2])[-1])] == ["view:cache", "queue:restart"]
    assert entry["resumed"] is True and entry["hooks"] == list(HOOKS)
    assert record[4] == "/srv/app/releases/v1.2.3/.remediations-bad"


# -- release_current ------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,hostvars", [
    ({"release": "v1.2.2; reboot"}, {}),
    ({"release": "../v1"}, {}),
    ({"release": "v1.2.2", "reason": ""}, {}),
    ({"release": "v1.2.2", "reason": "two\nlines"}, {}),
    ({"release": "v1.2.2", "health_timeout": 0}, {}),
    ({"release": "v1.2.2"}, {"health_url": None}),
    ({"release": "v1.2.2"}, {"php_fpm_service": "php-fpm; reboot"}),
    ({"release": "v1.2.2"}, {"app_path": "/srv/app/public"}),
    ({"release": "v1.2.2"}, {"release_hooks": ["migrate --force"]}),
])
def test_bad_input_touches_nothing(kwargs: dict[str, Any], hostvars: dict[str, Any]) -> None:
    conn = RecordingConnection()
    with pytest.raises(InvalidInput):
        release_current(target(conn, **hostvars), **kwargs)
    assert conn.commands == []


def test_missing_release_fails_having_only_looked() -> None:
    conn = RecordingConnection().on(INSPECT, stdout=inspection())
    res = release_current(target(conn), "v9.9.9")
    assert res.status is Status.FAILED
    assert res.message == "release v9.9.9 is not on web1 (it has v1.2.2, v1.2.3, v1.2.4)"
    assert res.commands == () and conn.round_trips == 1


def test_check_mode_lists_the_exact_commands_and_runs_none(health: tuple[str, Answer]) -> None:
    conn = RecordingConnection().on(INSPECT, stdout=inspection())
    t = target(conn, check=True, url=health[0])
    res = release_current(t, "v1.2.2", reason="500s on checkout")
    assert res.status is Status.CHANGED and res.check
    assert res.message == "would switch /srv/app/current from v1.2.3 to v1.2.2"
    act, _ = (shlex.split(c) for c in res.commands)
    expected, _ = scripts(t, plan("v1.2.3"))
    assert act == expected[0]
    assert conn.round_trips == 1  # the inspection, the runtime probe, the caches' file times
    assert res.data["hooks"] == dict.fromkeys(actions(False), "not run")


def test_switch_then_verified(health: tuple[str, Answer]) -> None:
    url, _ = health
    conn = (RecordingConnection()
            .on(r"(?s)readlink.*systemctl show", stdout=inspection("v1.2.2", unit="active"))
            .on(INSPECT, stdout=inspection()))
    res = release_current(target(conn, url=url), "v1.2.2")
    assert res.status is Status.CHANGED, res.message
    assert res.message.startswith("switched /srv/app/current from v1.2.3 to v1.2.2; ")
    assert "version 1.2.2" in res.message and "php8.2-fpm.service active" in res.message
    assert res.data["hooks"] == dict.fromkeys(actions(False), "done")
    assert res.data["from"] == "v1.2.3" and res.data["to"] == "v1.2.2"
    assert res.data["history"]["hooks"] == list(HOOKS)
    run = [c for c in conn.command_lines if "readlink" not in c and "list-unit-files" not in c
           and not c.startswith("find ")]
    assert run == list(res.commands) and len(run) == 2
    # read (with the lock); switch and hooks; record and read back (with the lock's release)
    assert conn.round_trips == 3
    assert conn.command_lines[-2].startswith("sh -c 'set -e; b=$1")


def test_already_there_is_ok_after_a_health_check_only(health: tuple[str, Answer]) -> None:
    conn = RecordingConnection().on(INSPECT, stdout=inspection("v1.2.2", unit="active"))
    res = release_current(target(conn, url=health[0]), "v1.2.2")
    assert res.status is Status.OK and res.commands == ()
    assert res.message.startswith("already at v1.2.2; ")
    assert not conn.commands_matching(r"mv -T|set -e; b=|h switch|a config:cache=")


def test_wrong_version_served_fails_with_the_answer(health: tuple[str, Answer]) -> None:
    url, answer = health
    answer.status, answer.body = 500, "<html><style>b{}</style><h1>500</h1> Server Error</html>"
    conn = (RecordingConnection()
            .on(r"^sh -c 'journalctl", stdout="[2026-11-23] production.ERROR: Class not found")
            .on(INSPECT, stdout=inspection("v1.2.4", unit="active")))
    res = release_current(target(conn, url=url), "v1.2.4", health_timeout=0.01)
    assert res.status is Status.FAILED
    assert res.message == f"already at v1.2.4, but {url}: HTTP 500"
    assert f"{url} answered:\n500 Server Error" in res.evidence
    assert "production.ERROR: Class not found" in res.evidence


def test_failed_hook_is_named_with_its_output_and_what_did_not_run(
        health: tuple[str, Answer]) -> None:
    after = inspection("v1.2.2", marks=done_marks("v1.2.2", "switch", "config:cache"))
    conn = (RecordingConnection()
            .on(r"a config:cache=", exit_code=1, stderr="Unable to write routes-v7.php")
            .on(rf"^cat -- {MARKS}/release-failed$",
                stdout="route:cache\nIn Filesystem.php: Unable to write routes-v7.php\n")
            .on(INSPECT, stdout=inspection(), times=1)
            .on(INSPECT, stdout=after))
    res = release_current(target(conn, url=health[0]), "v1.2.2")
    assert res.status is Status.FAILED
    assert res.message == ("route:cache failed on web1 after switching to v1.2.2; not run: "
                           "view:cache, queue:restart, php-fpm:reload, record; run again with "
                           "run id r1 to finish")
    assert res.evidence == "route:cache printed:\nIn Filesystem.php: Unable to write routes-v7.php"
    assert res.data["hooks"] == {"switch": "done", "config:cache": "done", "route:cache": "failed",
                                 "view:cache": "not run", "php-fpm:reload": "not run",
                                 "queue:restart": "not run", "record": "not run"}
    assert not any(".remediations-releases.jsonl" in c for c in conn.command_lines)


def test_failure_before_the_switch_brings_the_app_back_up(health: tuple[str, Answer]) -> None:
    after = inspection("v1.2.3", marks=done_marks("v1.2.2", "down"))
    conn = (RecordingConnection()
            .on(r"h switch mv", exit_code=1)
            .on(rf"^cat -- {MARKS}/release-failed$", stdout="switch\nmv: cannot move\n")
            .on(INSPECT, stdout=inspection(), times=1)
            .on(INSPECT, stdout=after))
    res = release_current(target(conn, url=health[0]), "v1.2.2", maintenance=True)
    assert res.status is Status.FAILED
    assert res.message.startswith("switch failed on web1; not run: config:cache")
    assert res.message.endswith("; the app is out of maintenance mode again")
    assert conn.commands[-1] == (*ART, "/srv/app/releases/v1.2.3/artisan", "up")


def test_hooks_follow_the_runtime_with_user_hooks(health: tuple[str, Answer]) -> None:
    """Apache + mod_php with Horizon: no php-fpm reload; Apache reloaded, Horizon terminated."""
    apache = ("systemd\tyes\nunit\tapache2.service\tenabled\n"
              "mod_php\t/etc/apache2/mods-enabled/php8.2.load\n"
              "proc\t71\twww-data\t/srv/app/releases/v1.2.3\tphp artisan horizon\n"
              "horizon_rc\t0\nhorizon\tHorizon is running.\n")
    conn = RecordingConnection().on(RUNTIME, stdout=apache).on(INSPECT, stdout=inspection())
    t = target(conn, check=True, url=health[0], php_fpm_service=None,
               release_hooks=["cache:prune-stale-tags"])
    res = release_current(t, "v1.2.2")
    assert res.status is Status.CHANGED, res.message
    names = ("config:cache", "route:cache", "view:cache", "horizon:terminate", "apache2:reload",
             "artisan:cache:prune-stale-tags")
    assert res.data["hooks"] == dict.fromkeys(("switch", *names, "record"), "not run")
    assert res.data["runtime"]["horizon"] and res.data["runtime"]["php_fpm"] is None
    hooks = res.commands[0]
    assert "systemctl reload php" not in hooks
    assert "apachectl configtest && systemctl reload apache2.service" in hooks
    assert [k["name"] for k in json.loads(group(shlex.split(hooks)[2])[-1])] == [
        "config:cache", "route:cache", "view:cache", "horizon:terminate"]
    assert shlex.join(["h", "artisan:cache:prune-stale-tags", *ART,
                       "/srv/app/releases/v1.2.2/artisan", "cache:prune-stale-tags"]) in hooks
    assert res.data["history"]["hooks"] == list(names)


def test_unreadable_runtime_fails_before_switching(health: tuple[str, Answer]) -> None:
    conn = RecordingConnection().on(RUNTIME, exit_code=1, stderr="boom")
    conn.on(INSPECT, stdout=inspection())
    res = release_current(target(conn, url=health[0]), "v1.2.2")
    assert res.status is Status.FAILED and "no hook can be chosen" in res.message
    assert res.commands == () and not conn.commands_matching("mv -T")


def test_caches_found_fresh_are_reported_and_recorded_as_such(
        health: tuple[str, Answer]) -> None:
    """config and routes fresh by file times, views by the PHP process: none rebuilt."""
    rel = "/srv/app/releases/v1.2.2"
    times = "".join(f"{m} {rel}/{p}\n" for p, m in (
        ("bootstrap/cache/config.php", 20), ("bootstrap/cache/routes-v7.php", 20),
        ("config/app.php", 10), (".env", 10), ("routes/web.php", 10)))
    conn = (RecordingConnection()
            .on(r"(?s)readlink.*systemctl show", stdout=inspection("v1.2.2", unit="active"))
            .on(INSPECT, stdout=inspection())
            .on(r"^find -L", stdout=times, exit_code=1)
            .on(r"a view:cache=", stdout="== view:cache\n@@fresh view:cache\n"
                                         "== queue:restart\n"))
    res = release_current(target(conn, url=health[0]), "v1.2.2")
    assert res.status is Status.CHANGED, res.message
    assert res.data["hooks"] == {"switch": "done", "config:cache": "fresh",
                                 "route:cache": "fresh", "view:cache": "fresh",
                                 "queue:restart": "done", "php-fpm:reload": "done",
                                 "record": "done"}
    recorded = json.loads(shlex.split(res.commands[1])[7])
    assert recorded["hooks"] == ["queue:restart", "php-fpm:reload"]
    assert recorded["fresh"] == ["config:cache", "route:cache", "view:cache"]
    assert [k["name"] for k in json.loads(group(shlex.split(res.commands[0])[2])[-1])] == [
        "view:cache", "queue:restart"]
