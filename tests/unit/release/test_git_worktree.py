"""The git release kind end to end against real repositories on this machine.

A work tree in `tmp_path` with tags v1.2.2, v1.2.3 (checked out) and v1.2.4, composer.lock
differing between v1.2.2 and v1.2.3; real git through the real inspection and switch
scripts (LocalConnection); `php` and `composer` are stand-ins on PATH that log what they
were asked (no PHP here: the lab proves the real ones); the health URL a local server. The
runtime is fixed (no php-fpm, no Horizon: `queue:restart`), not probed from this machine's
processes, which other work on it may change.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from remediations.connections.local import LocalConnection
from remediations.core.result import Status
from remediations.laravel.runtime import Runtime
from remediations.release.facts import release_facts, release_history
from remediations.release.git import git_at_release
from remediations.release.git_facts import git_facts
from remediations.run import markers
from remediations.run.target import RunContext, Target
from tests.unit.helpers import host
from tests.unit.release import test_symlink
from tests.unit.release.test_symlink import Answer

health = test_symlink.health  # the local /up server, as the symlink tests use it

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed here")
LOCK_122, LOCK_123 = '{"packages": []}\n', '{"packages": [{"name": "x/y"}]}\n'


def git(app: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(app), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


class Tree:
    def __init__(self, tmp: Path, url: str, answer: Answer, monkeypatch: pytest.MonkeyPatch):
        self.app, self.log, self.answer, self.url = tmp / "app", tmp / "calls.log", answer, url
        self.fail_flag = tmp / "fail-route-cache"
        self.app.mkdir()
        git(self.app, "init", "-q")
        git(self.app, "config", "user.email", "deploy@example.test")
        git(self.app, "config", "user.name", "deploy")
        (self.app / ".gitignore").write_text("vendor/\nbootstrap/cache/*.php\n")
        for tag, lock, body in (("v1.2.2", LOCK_122, "ok"), ("v1.2.3", LOCK_123, "ok"),
                                ("v1.2.4", LOCK_123, "broken")):
            (self.app / "artisan").write_text(f"<?php // {tag}\n")
            (self.app / "composer.lock").write_text(lock)
            (self.app / "routes.php").write_text(f"{body} {tag}\n")
            git(self.app, "add", "-A")
            git(self.app, "commit", "-qm", f"release {tag}")
            git(self.app, "tag", "-a", tag, "-m", tag)
        git(self.app, "checkout", "-q", "--detach", "v1.2.3")
        bin_dir = tmp / "bin"
        bin_dir.mkdir()
        for tool in ("php", "composer"):
            fail = (f'case "$*" in *route:cache*) [ -e {shlex.quote(str(self.fail_flag))} ] && '
                    '{ echo "Unable to write routes" >&2; exit 1; };; esac\n'
                    if tool == "php" else "")
            (bin_dir / tool).write_text(f"#!/bin/sh\n{fail}echo \"{tool} $*\" >> "
                                        f"{shlex.quote(str(self.log))}\n")
            (bin_dir / tool).chmod(0o755)
        monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
        monkeypatch.setattr(markers, "ROOT", str(tmp / "markers"))
        plain = Runtime(None, None, False, False, False, systemd=False)
        monkeypatch.setattr("remediations.release.git.app_runtime", lambda t, app=None: plain)

    def target(self, run_id: str = "r1", *, check: bool = False) -> Target:
        h = host("app1", app_path=str(self.app), app_user="root", ansible_user="root",
                 release_kind="git", health_url=self.url)
        run = RunContext(run_id, datetime.now(UTC), check=check, user="ops@ctl")
        return Target(h, LocalConnection(name="app1"), run)

    def serving(self, version: str) -> None:
        self.answer.status, self.answer.body = 200, json.dumps({"version": version})

    def calls(self) -> list[str]:
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        self.log.unlink(missing_ok=True)
        return [line.replace(str(self.app), "APP") for line in lines]

    def head(self) -> str:
        return git(self.app, "describe", "--tags", "--exact-match", "HEAD")


@pytest.fixture
def tree(tmp_path: Path, health: tuple[str, Answer],
         monkeypatch: pytest.MonkeyPatch) -> Iterator[Tree]:
    yield Tree(tmp_path, health[0], health[1], monkeypatch)


HOOKS = ["php APP/artisan config:cache", "php APP/artisan route:cache",
         "php APP/artisan view:cache", "php APP/artisan queue:restart"]
COMPOSER = ["composer install --no-dev --no-interaction --prefer-dist --optimize-autoloader "
            "--working-dir=APP"]


def test_changed_then_ok_with_composer_only_when_the_lock_changed(tree: Tree) -> None:
    tree.serving("1.2.2")
    first = git_at_release(tree.target(), "v1.2.2")
    assert first.status is Status.CHANGED, (first.message, first.evidence)
    assert tree.head() == "v1.2.2" and tree.calls() == COMPOSER + HOOKS
    assert "composer.lock changed" in first.message
    again = git_at_release(tree.target(), "v1.2.2")
    assert again.status is Status.OK and again.commands == () and tree.calls() == []

    tree.serving("1.2.3")
    assert git_at_release(tree.target("r2"), "v1.2.3").status is Status.CHANGED
    assert tree.calls() == COMPOSER + HOOKS
    tree.serving("1.2.4")
    assert git_at_release(tree.target("r3"), "v1.2.4").status is Status.CHANGED
    assert tree.calls() == HOOKS                            # same lock: no composer
    history = release_history(tree.target())
    assert [(e["from"], e["to"], e["composer"]) for e in history] == [
        ("v1.2.3", "v1.2.2", True), ("v1.2.2", "v1.2.3", True), ("v1.2.3", "v1.2.4", False)]
    facts = release_facts(tree.target())
    assert facts.current == "v1.2.4" and set(facts.bad) == {"v1.2.2", "v1.2.3"}
    assert git(tree.app, "status", "--porcelain") == ""     # marks and history stay in .git


def test_check_mode_plans_the_commands_the_run_then_runs(tree: Tree) -> None:
    tree.serving("1.2.2")
    planned = git_at_release(tree.target(check=True), "v1.2.2")
    assert planned.status is Status.CHANGED and tree.head() == "v1.2.3" and tree.calls() == []
    assert not (tree.app / ".git" / ".remediations-releases.jsonl").exists()
    done = git_at_release(tree.target(), "v1.2.2")
    assert done.commands[:2] == planned.commands[:2]         # the record differs by its time


def test_a_dirty_tree_is_refused_and_left_as_it_is(tree: Tree) -> None:
    (tree.app / "routes.php").write_text("hot fix\n")
    (tree.app / "notes.txt").write_text("untracked files are fine\n")
    res = git_at_release(tree.target(), "v1.2.2")
    assert res.status is Status.FAILED and res.commands == ()
    assert "local changes to tracked files ( M routes.php)" in res.message
    assert tree.head() == "v1.2.3" and (tree.app / "routes.php").read_text() == "hot fix\n"
    (tree.app / "routes.php").write_text("ok v1.2.3\n")
    tree.serving("1.2.2")
    assert git_at_release(tree.target(), "v1.2.2").status is Status.CHANGED
    assert (tree.app / "notes.txt").exists()


def test_a_commit_is_a_release_too(tree: Tree) -> None:
    commit = git(tree.app, "rev-parse", "--short=10", "v1.2.2^{commit}")
    tree.serving("1.2.2")
    res = git_at_release(tree.target(), commit)
    assert res.status is Status.CHANGED, res.message
    assert tree.head() == "v1.2.2" and git_facts(tree.target(), commit).at_release


def test_a_cut_off_switch_resumes_without_redoing_what_it_did(tree: Tree) -> None:
    tree.serving("1.2.2")
    tree.fail_flag.touch()
    failed = git_at_release(tree.target(), "v1.2.2")
    assert failed.status is Status.FAILED
    assert failed.message.startswith("route:cache failed on app1 after checking out v1.2.2")
    assert "Unable to write routes" in failed.evidence
    assert tree.calls() == COMPOSER + HOOKS[:1]
    tree.fail_flag.unlink()
    resumed = git_at_release(tree.target(), "v1.2.2")
    assert resumed.status is Status.CHANGED and resumed.message.startswith("resumed the switch")
    assert tree.calls() == HOOKS[1:]
    history = release_history(tree.target())
    assert len(history) == 1 and history[0]["resumed"] is True and history[0]["from"] == "v1.2.3"
