"""The git release kind: facts parsed, decisions made, exact commands built, failures named.

The host is a RecordingConnection answering the inspection (and the runtime probe) with
scripted facts; the health URL is a real HTTP server on 127.0.0.1. The inspection script
itself runs against real repositories in test_git_worktree.py.
"""

from __future__ import annotations

import json
import shlex
from datetime import UTC, datetime
from typing import Any

import pytest

from remediations.connections.recording import RecordingConnection
from remediations.core.errors import InvalidInput
from remediations.core.result import Status
from remediations.release.facts import release_facts, release_history
from remediations.release.git import Plan, actions, git_at_release, plan_release, plan_steps
from remediations.release.git_facts import GitFacts, is_commit, parse_git
from remediations.release.kinds import at_release, release_state, target_kind
from remediations.release.switching import marker_name
from remediations.run.target import RunContext, Target
from tests.unit.helpers import host
from tests.unit.release import test_symlink
from tests.unit.release.test_symlink import Answer

health = test_symlink.health  # the local /up server, as the symlink tests use it

APP = "/var/www/app"
RUN = RunContext("r1", datetime(2026, 11, 23, 10, 0, tzinfo=UTC), user="ops@ctl")
MARKS = "/run/lock/remediations.runs/r1"
ART = ["runuser", "-u", "www-data", "--", "php", f"{APP}/artisan"]
OWNER = ["runuser", "-u", "forge", "--"]
WHEN = datetime(2026, 11, 23, 10, 5, tzinfo=UTC)
INSPECT = r"^sh -c 'a=\$1 r=\$2 d=\$3"
PROBE = r"^sh -c 'app=\$1; shift"
HEAD_123, C_122, C_124 = "3" * 40, "2" * 40, "4" * 40
APACHE = "systemd\tyes\nunit\tapache2.service\tenabled\nmod_php\t/etc/apache2/mods-enabled/php8.2.load\n"
HOOKS = ("config:cache", "route:cache", "view:cache", "apache2:reload", "queue:restart")
APACHE_RELOAD = ["sh", "-c", "apachectl configtest && systemctl reload apache2.service"]


def target(conn: RecordingConnection, *, check: bool = False, url: str = "http://127.0.0.1:9/up",
           **hostvars: Any) -> Target:
    hv = {"app_path": APP, "app_user": "www-data", "ansible_user": "root", "release_kind": "git",
          "health_url": url, **hostvars}
    run = RunContext(RUN.run_id, RUN.started_at, check=check, user=RUN.user)
    return Target(host("apache1", **hv), conn, run)


def inspection(head: str = HEAD_123, head_tags: tuple[str, ...] = ("v1.2.3",), *,
               release: str | None = C_122, tag: bool = True, release_tags: tuple[str, ...] = (
                   "v1.2.2",), lock: str = "changed", dirty: tuple[str, ...] = (),
               marks: dict[str, str] | None = None, bad: dict[str, str] | None = None) -> str:
    """What the inspection script prints for a work tree in that state."""
    lines = ["owner\tforge:forge", f"head\t{head}", *(f"tag\t{t}" for t in head_tags),
             *(f"dirty\t{d}" for d in dirty), f"release\t{release or '-'}"]
    if release:
        lines += ["is-tag\tyes"] if tag else []
        lines += [f"release-tag\t{t}" for t in release_tags] + [f"lock\t{lock}"]
    lines += [f"tags\t{t}" for t in ("v1.2.4", "v1.2.3", "v1.2.2")]
    lines += [f"bad\t{r}\t{m}" for r, m in (bad or {}).items()]
    lines += [f"marker\t{n}\t{c}" for n, c in (marks or {}).items()]
    return "\n".join(lines) + "\n"


def done_marks(release: str, *done: str, content: str = "v1.2.3 composer") -> dict[str, str]:
    return {marker_name(RUN, release, a): (content if a == "switch" else "") for a in done}


def facts(release: str = "v1.2.2", **kw: Any) -> GitFacts:
    return parse_git(APP, release, inspection(**kw))


# -- kind and facts -----------------------------------------------------------------------

@pytest.mark.parametrize("hostvars,kind", [
    ({"release_kind": "git"}, "git"),
    ({"release_kind": "git", "compose_project_dir": "/srv/c"}, "git"),
    ({"release_kind": "symlink", "compose_project_dir": "/srv/c"}, "systemd"),
    ({"compose_project_dir": "/srv/c"}, "compose"),
    ({}, "systemd"),
    ({"release_kind": "git", "ansible_connection": "kubernetes"}, "kubernetes"),
])
def test_kind_is_decided_from_the_inventory_alone(hostvars: dict[str, Any], kind: str) -> None:
    assert target_kind(host("h1", **hostvars)) == kind


def test_an_unknown_release_kind_is_refused() -> None:
    with pytest.raises(InvalidInput, match="release_kind must be one of git, symlink"):
        target_kind(host("h1", release_kind="rsync"))


def test_facts_parsed_current_is_the_highest_tag_at_head() -> None:
    f = parse_git(APP, "v1.2.2", inspection(head_tags=("v1.2.3", "v1.2.10", "v1.2.3-rc1"),
                                            bad={"v1.2.4": '{"by": "ann", "reason": "500s"}'}))
    assert f.user == "forge" and f.current == "v1.2.10" and f.tags == ("v1.2.2", "v1.2.3", "v1.2.4")
    assert f.release_commit == C_122 and f.release_is_tag and f.lock_changed and not f.at_release
    assert f.version == "v1.2.2" and f.why_not() == "" and f.refusal() == ""
    assert f.bad == {"v1.2.4": "marked bad by ann at ? (run ?): 500s"}
    assert f.facts().to_dict() == {"root": APP, "current": "v1.2.10",
                                   "available": ["v1.2.2", "v1.2.3", "v1.2.4"],
                                   "bad": dict(f.bad)}


def test_an_untagged_head_is_its_commit_and_an_untagged_commit_has_no_version() -> None:
    f = parse_git(APP, "2222222", inspection(head_tags=(), tag=False, release_tags=()))
    assert f.current == HEAD_123 and f.version is None and f.why_not() == ""
    assert is_commit("2222222") and not is_commit("v1.2.2") and not is_commit("abc12")


@pytest.mark.parametrize("text,why", [
    (inspection(release=None), "no tag or commit v1.2.2 in /var/www/app (newest tags: v1.2.2"),
    (inspection(tag=False), "v1.2.2 is not a tag or a commit in /var/www/app (a branch?)"),
    ("error\t/var/www/app is not a git work tree (no /var/www/app/.git folder)\n",
     "/var/www/app is not a git work tree"),
    ("", "could not read the git work tree at /var/www/app"),
])
def test_why_the_release_cannot_be_checked_out(text: str, why: str) -> None:
    assert parse_git(APP, "v1.2.2", text).why_not().startswith(why)


def test_tracked_changes_are_listed_in_the_refusal() -> None:
    f = facts(dirty=(" M config/app.php", "D  routes/web.php"))
    assert f.refusal() == ("/var/www/app has local changes to tracked files ( M config/app.php; "
                           "D  routes/web.php): commit or discard them first (a rollback never "
                           "stashes or discards them)")


def test_release_state_reads_once_and_reports_a_dirty_tree_as_blocked() -> None:
    conn = RecordingConnection().on(INSPECT, stdout=inspection(dirty=(" M app.php",)))
    state = release_state(target(conn, check=True), "v1.2.2")
    assert state.kind == "git" and state.has_release and state.current == "v1.2.3"
    assert "local changes to tracked files ( M app.php)" in state.blocked
    assert state.available == ("v1.2.2", "v1.2.3", "v1.2.4")
    assert len(conn.commands) == 1
    argv = conn.commands[0]
    assert argv[3:] == ("_", APP, "v1.2.2", MARKS)
    missing = release_state(target(RecordingConnection().on(INSPECT, stdout=inspection(
        release=None)), check=True), "v9.9.9")
    assert not missing.has_release and "no tag or commit v9.9.9" in missing.detail


def test_release_facts_and_history_of_a_git_host() -> None:
    line = json.dumps({"kind": "git", "from": "v1.2.3", "to": "v1.2.2"})
    conn = (RecordingConnection().on(INSPECT, stdout=inspection(release=HEAD_123))
            .on(rf"^cat -- {APP}/\.git/\.remediations-releases\.jsonl$", stdout=line + "\n"))
    t = target(conn)
    assert release_facts(t).current == "v1.2.3"
    assert conn.commands[0][4:6] == (APP, "HEAD")
    assert release_history(t) == [json.loads(line)]


# -- decisions ----------------------------------------------------------------------------

def plan(marks: dict[str, str] | None = None, *, maintenance: bool = False, at: bool = False,
         lock: str = "changed") -> Plan:
    head, tags = (C_122, ("v1.2.2",)) if at else (HEAD_123, ("v1.2.3",))
    return plan_release(facts(head=head, head_tags=tags, marks=marks, lock=lock), RUN,
                        maintenance=maintenance, hooks=HOOKS[3:])


def test_fresh_switch_with_composer_only_when_the_lock_changed() -> None:
    p = plan()
    assert p.fresh and p.from_release == "v1.2.3" and p.composer
    assert p.todo == ("switch", "composer:install", *HOOKS, "record")
    assert plan(lock="same").todo == ("switch", *HOOKS, "record")
    assert plan(maintenance=True).todo == ("down", "switch", "composer:install", *HOOKS, "up",
                                           "record")


def test_already_at_the_release_and_not_switched_by_this_run_does_nothing() -> None:
    p = plan(at=True, lock="same")
    assert p.todo == () and p.done == () and not p.composer


def test_resume_keeps_composer_and_where_it_came_from_from_the_switch_marker() -> None:
    p = plan(done_marks("v1.2.2", "switch"), at=True, lock="same")
    assert not p.fresh and p.composer and p.from_release == "v1.2.3"
    assert p.todo == ("composer:install", *HOOKS, "record") and p.done == ("switch",)
    finished = plan(done_marks("v1.2.2", *actions(False, True, HOOKS[3:])), at=True)
    assert finished.todo == ()


def test_resume_brings_up_an_app_the_first_attempt_took_down() -> None:
    p = plan(done_marks("v1.2.2", "down", "switch", content="v1.2.3"), at=True)
    assert p.todo == (*HOOKS, "up", "record")


# -- commands -----------------------------------------------------------------------------

def scripts(t: Target, p: Plan, f: GitFacts | None = None) -> tuple[list[list[str]], dict[str, Any]]:
    hooks = [("apache2:reload", APACHE_RELOAD), ("queue:restart", [*ART, "queue:restart"])]
    steps, entry = plan_steps(t, f or facts(), p, hooks, reason="500s on checkout", when=WHEN)
    return [list(s.argv) for s in steps], entry


def test_checkout_detached_as_the_repo_owner_then_composer_caches_and_hooks() -> None:
    (switch, rest, _), _ = scripts(target(RecordingConnection()), plan())
    checkout = shlex.join(["h", "switch", *OWNER, "git", "-C", APP, "checkout", "--detach",
                           "v1.2.2"])
    assert checkout in switch[2]
    assert f"printf \"%s\\n\" 'v1.2.3 composer' > {MARKS}/release-v1.2.2-switch" in switch[2]
    assert f"rm -f -- {MARKS}/release-failed {MARKS}/release-v1.2.2-*" in switch[2]
    expected = [
        ("composer:install", [*OWNER, "composer", "install", "--no-dev", "--no-interaction",
                              "--prefer-dist", "--optimize-autoloader", f"--working-dir={APP}"]),
        ("config:cache", [*ART, "config:cache"]), ("route:cache", [*ART, "route:cache"]),
        ("view:cache", [*ART, "view:cache"]), ("apache2:reload", APACHE_RELOAD),
        ("queue:restart", [*ART, "queue:restart"]),
    ]
    at = [rest[2].index(f"{shlex.join(['h', name, *argv])}; : > {MARKS}/release-v1.2.2-"
                        f"{name.replace(':', '-')}") for name, argv in expected]
    assert at == sorted(at)


def test_owner_is_used_as_is_when_we_are_it() -> None:
    (switch, _, _), _ = scripts(target(RecordingConnection(), ansible_user="forge"), plan())
    assert "h switch git -C /var/www/app checkout --detach v1.2.2" in switch[2]


def test_maintenance_goes_down_before_the_checkout_and_up_after_the_hooks() -> None:
    (switch, rest, _), _ = scripts(target(RecordingConnection()), plan(maintenance=True))
    assert switch[2].index(shlex.join(["h", "down", *ART, "down"])) < switch[2].index("h switch")
    assert rest[2].endswith(shlex.join(["h", "up", *ART, "up"]) + f"; : > {MARKS}/release-v1.2.2-up")


def test_record_marks_the_release_left_bad_and_appends_history_inside_git() -> None:
    (_, _, record), entry = scripts(target(RecordingConnection()), plan())
    bad_path, bad, lifted, line, history, marker = record[4:]
    assert bad_path == f"{APP}/.git/.remediations-bad-v1.2.3"
    assert json.loads(bad)["replaced_by"] == "v1.2.2" and json.loads(bad)["by"] == "ops@ctl"
    assert lifted == f"{APP}/.git/.remediations-bad-v1.2.2"
    assert json.loads(line) == entry == {
        "host": "apache1", "kind": "git", "from": "v1.2.3", "to": "v1.2.2", "commit": C_122,
        "who": "ops@ctl", "when": "2026-11-23T10:05:00+00:00", "run_id": "r1",
        "reason": "500s on checkout", "hooks": ["composer:install", *HOOKS], "composer": True,
        "resumed": False}
    assert history == f"{APP}/.git/.remediations-releases.jsonl"
    assert marker == f"{MARKS}/release-v1.2.2-record"


# -- git_at_release -------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,hostvars", [
    ({"release": "v1.2.2; reboot"}, {}),
    ({"release": "-x"}, {}),
    ({"release": "v1.2.2", "reason": "two\nlines"}, {}),
    ({"release": "v1.2.2"}, {"health_url": None}),
    ({"release": "v1.2.2"}, {"app_path": "relative/app"}),
])
def test_bad_input_touches_nothing(kwargs: dict[str, Any], hostvars: dict[str, Any]) -> None:
    conn = RecordingConnection()
    with pytest.raises(InvalidInput):
        git_at_release(target(conn, **hostvars), **kwargs)
    assert conn.commands == []


def test_a_dirty_work_tree_is_refused_having_only_looked() -> None:
    conn = RecordingConnection().on(INSPECT, stdout=inspection(dirty=(" M config/app.php",)))
    res = git_at_release(target(conn), "v1.2.2")
    assert res.status is Status.FAILED and res.commands == ()
    assert res.message.startswith("apache1: /var/www/app has local changes to tracked files "
                                  "( M config/app.php)")
    assert res.message.endswith("; nothing was changed")
    assert len(conn.commands) == 1


def test_check_mode_lists_the_exact_commands_and_runs_none(health: tuple[str, Answer]) -> None:
    conn = RecordingConnection().on(INSPECT, stdout=inspection()).on(PROBE, stdout=APACHE)
    t = target(conn, check=True, url=health[0])
    res = git_at_release(t, "v1.2.2", reason="500s on checkout")
    assert res.status is Status.CHANGED and res.check
    assert res.message == ("would check out /var/www/app from v1.2.3 to v1.2.2 (composer.lock "
                           "changed: composer install)")
    expected, _ = scripts(t, plan())
    assert [shlex.split(c) for c in res.commands][:2] == expected[:2]
    assert len(conn.commands) == 2  # the inspection and the runtime probe
    assert res.data["hooks"] == dict.fromkeys(("switch", "composer:install", *HOOKS, "record"),
                                              "not run")
    assert res.data["runtime"]["mod_php"] is True


def test_switch_then_verified_by_head_and_version(health: tuple[str, Answer]) -> None:
    conn = (RecordingConnection().on(PROBE, stdout=APACHE)
            .on(INSPECT, stdout=inspection(), times=1)
            .on(INSPECT, stdout=inspection(head=C_122, head_tags=("v1.2.2",), lock="same")))
    res = git_at_release(target(conn, url=health[0]), "v1.2.2")
    assert res.status is Status.CHANGED, res.message
    assert res.message.startswith("checked out /var/www/app from v1.2.3 to v1.2.2 (composer.lock "
                                  "changed: composer install); ")
    assert "version 1.2.2" in res.message and f"HEAD {C_122[:12]}" in res.message
    assert res.data["hooks"] == dict.fromkeys(("switch", "composer:install", *HOOKS, "record"),
                                              "done")
    ran = [c for c in conn.command_lines if not c.startswith(("sh -c 'a=", "sh -c 'app="))]
    assert ran == list(res.commands) and len(ran) == 3


def test_already_at_the_release_is_ok_after_a_health_check_only(health: tuple[str, Answer]) -> None:
    conn = (RecordingConnection().on(PROBE, stdout=APACHE)
            .on(INSPECT, stdout=inspection(head=C_122, head_tags=("v1.2.2",), lock="same")))
    res = git_at_release(target(conn, url=health[0]), "v1.2.2")
    assert res.status is Status.OK and res.commands == ()
    assert res.message.startswith("already at v1.2.2; ")


def test_head_elsewhere_after_the_switch_fails(health: tuple[str, Answer]) -> None:
    conn = (RecordingConnection().on(PROBE, stdout=APACHE).on(INSPECT, stdout=inspection()))
    res = git_at_release(target(conn, url=health[0]), "v1.2.2", health_timeout=0.01)
    assert res.status is Status.FAILED
    assert "but HEAD is at v1.2.3, not v1.2.2 (222222222222)" in res.message


def test_a_broken_release_fails_with_the_answer(health: tuple[str, Answer]) -> None:
    url, answer = health
    answer.status, answer.body = 500, "<html><h1>500</h1> Server Error</html>"
    conn = (RecordingConnection().on(PROBE, stdout=APACHE)
            .on(r"^sh -c 'git -c safe", stdout="HEAD 4444444 (tag: v1.2.4) broken")
            .on(INSPECT, stdout=inspection(release=C_124, release_tags=("v1.2.4",)), times=1)
            .on(INSPECT, stdout=inspection(head=C_124, head_tags=("v1.2.4",), release=C_124,
                                           release_tags=("v1.2.4",))))
    res = git_at_release(target(conn, url=url), "v1.2.4", health_timeout=0.01)
    assert res.status is Status.FAILED
    assert res.message.endswith(f"but {url}: HTTP 500")
    assert f"{url} answered:\n500 Server Error" in res.evidence
    assert "HEAD 4444444 (tag: v1.2.4) broken" in res.evidence


def test_failed_composer_is_named_with_its_output_and_what_did_not_run(
        health: tuple[str, Answer]) -> None:
    after = inspection(head=C_122, head_tags=("v1.2.2",), lock="same",
                       marks=done_marks("v1.2.2", "switch"))
    conn = (RecordingConnection().on(PROBE, stdout=APACHE)
            .on(r"h composer:install", exit_code=1)
            .on(rf"^cat -- {MARKS}/release-failed$",
                stdout="composer:install\nYour lock file does not contain a compatible set\n")
            .on(INSPECT, stdout=inspection(), times=1)
            .on(INSPECT, stdout=after))
    res = git_at_release(target(conn, url=health[0]), "v1.2.2")
    assert res.status is Status.FAILED
    assert res.message == ("composer:install failed on apache1 after checking out v1.2.2; not "
                           "run: config:cache, route:cache, view:cache, apache2:reload, "
                           "queue:restart, record; run again with run id r1 to finish")
    assert res.evidence == ("composer:install printed:\nYour lock file does not contain a "
                            "compatible set")
    assert res.data["hooks"]["switch"] == "done"
    assert res.data["hooks"]["composer:install"] == "failed"


def test_failure_before_the_checkout_brings_the_app_back_up(health: tuple[str, Answer]) -> None:
    conn = (RecordingConnection().on(PROBE, stdout=APACHE)
            .on(r"h switch", exit_code=1)
            .on(rf"^cat -- {MARKS}/release-failed$", stdout="switch\nerror: untracked files\n")
            .on(INSPECT, stdout=inspection(), times=1)
            .on(INSPECT, stdout=inspection(marks=done_marks("v1.2.2", "down"))))
    res = git_at_release(target(conn, url=health[0]), "v1.2.2", maintenance=True)
    assert res.status is Status.FAILED
    assert res.message.startswith("switch failed on apache1; not run: composer:install")
    assert res.message.endswith("; the app is out of maintenance mode again")
    assert conn.commands[-1] == (*ART, "up")


def test_at_release_dispatches_a_git_host(health: tuple[str, Answer]) -> None:
    conn = (RecordingConnection().on(PROBE, stdout=APACHE)
            .on(INSPECT, stdout=inspection(head=C_122, head_tags=("v1.2.2",), lock="same")))
    res = at_release(target(conn, url=health[0]), "v1.2.2")
    assert res.remediation == "git_at_release" and res.status is Status.OK


@pytest.mark.parametrize("timeout,wait", [(60.0, 30.0), (300.0, 120.0), (1000.0, 120.0)])
def test_the_health_wait_leaves_half_the_host_s_time_for_the_switch(
        timeout: float, wait: float, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake(t: Target, release: str, **kw: Any) -> Any:
        seen.update(kw)
        return None
    monkeypatch.setattr("remediations.release.git.git_at_release", fake)
    at_release(target(RecordingConnection()), "v1.2.2", timeout=timeout)
    assert seen["health_timeout"] == wait
