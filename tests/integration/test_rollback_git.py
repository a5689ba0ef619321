"""`invoke rollback` on the lab's git-deployed host (apache1), as a user runs it.

apache1 is deployed the Forge way: the app is a git work tree at /var/www/app (owned by
www-data) with tags v1.2.2, v1.2.3 (checked out) and v1.2.4 (broken: /up answers 500);
composer.lock differs between v1.2.2 and v1.2.3 (the path package lab/extras 1.0.0 vs
1.1.0) and not between v1.2.3 and v1.2.4. Apache serves PHP with mod_php (no php-fpm) and a
Horizon stand-in runs under supervisor, so the runtime's hooks are `apache2:reload` and
`horizon:terminate`. Verified with testinfra: HEAD's tag, what composer installed, the
history and bad marks in .git, the work tree left clean, /up.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from remediations.host.health import fetch
from tests.integration.conftest import ALL_LAB_HOSTS, LAB_INVENTORY, infra_host

pytestmark = pytest.mark.lab

HOST = "apache1"
APP = "/var/www/app"
HISTORY = f"{APP}/.git/.remediations-releases.jsonl"
AS_APP = "runuser -u www-data -- env HOME=/var/www COMPOSER_DISABLE_NETWORK=1"


def put_at(tag: str) -> None:
    """Put apache1 on `tag` by hand, as a Forge deploy script would (discarding local edits)."""
    infra_host(HOST).check_output(
        f"cd {APP} && {AS_APP} git checkout -q -- . && {AS_APP} git checkout -q --detach {tag} && "
        f"{AS_APP} composer install --no-dev --no-interaction -q && "
        f"{AS_APP} php artisan config:cache -q && systemctl reload apache2")


class Apache:
    def __init__(self) -> None:
        self.host = infra_host(HOST)

    def tag(self) -> str:
        return str(self.host.check_output(f"git -C {APP} describe --tags --exact-match HEAD"))

    def extras(self) -> str:
        """The version of the path package composer installed (1.0.0 at v1.2.2, else 1.1.0)."""
        return str(self.host.check_output(f"cd {APP} && {AS_APP} php artisan lab:extras"))

    def version(self) -> str:
        answer = fetch(ALL_LAB_HOSTS[HOST].health_url)
        try:
            version = json.loads(answer.body or "{}").get("version", "")
        except ValueError:
            version = "?"
        return f"{answer.status} {version}"

    def history(self) -> list[dict[str, Any]]:
        out = self.host.run(f"cat {HISTORY} 2>/dev/null || true").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def clean(self) -> bool:
        return str(self.host.check_output(f"git -C {APP} status --porcelain")) == ""

    def state(self) -> tuple[str, str, int, bool]:
        return self.tag(), self.extras(), len(self.history()), self.clean()


@pytest.fixture
def git_host(lab: Any) -> Iterator[Apache]:
    assert HOST in ALL_LAB_HOSTS, "the lab has no apache1 host (lab/hosts.py)"
    put_at("v1.2.3")
    yield Apache()
    put_at("v1.2.3")


def rollback(cli: Any, *args: str) -> Any:
    return cli("rollback", "-i", str(LAB_INVENTORY), "-l", HOST, "--json", *args, timeout=400)


def commands(run: Any) -> list[str]:
    run_id = run.report()["run_id"]
    return [c.replace(run_id, "RUN") for c in run.by_host()[HOST]["commands"]]


def test_rollback_checks_out_the_tag_runs_composer_and_hooks_then_ok(cli: Any,
                                                                     git_host: Apache) -> None:
    before = git_host.state()
    assert before[:2] == ("v1.2.3", "1.1.0") and before[3]
    planned = rollback(cli, "--release", "v1.2.2", "--check")
    assert planned.code == 0, planned.stderr
    plan = planned.by_host()[HOST]
    assert plan["status"] == "changed" and plan["check"] is True
    assert any(f"git -C {APP} checkout --detach v1.2.2" in c for c in plan["commands"])
    assert any("composer install --no-dev" in c for c in plan["commands"])
    assert git_host.state() == before                           # check mode touched nothing

    first = rollback(cli, "--release", "v1.2.2")
    assert first.code == 0, first.stderr
    result = first.by_host()[HOST]
    assert result["status"] == "changed", result
    # The same commands, but for the run id in marker paths and the record's time.
    assert commands(first)[:2] == commands(planned)[:2]
    hooks = result["data"]["hooks"]
    assert all(v == "done" for v in hooks.values()), hooks
    assert set(hooks) == {"switch", "composer:install", "config:cache", "route:cache",
                          "view:cache", "apache2:reload", "horizon:terminate", "record"}, hooks
    assert git_host.tag() == "v1.2.2" and git_host.extras() == "1.0.0" and git_host.clean()
    assert git_host.version() == "200 1.2.2"
    entry = git_host.history()[-1]
    assert (entry["from"], entry["to"], entry["composer"], entry["kind"]) == (
        "v1.2.3", "v1.2.2", True, "git")
    assert entry["hooks"] == ["composer:install", "config:cache", "route:cache", "view:cache",
                              "apache2:reload", "horizon:terminate"]        # in the order run
    assert git_host.host.file(f"{APP}/.git/.remediations-bad-v1.2.3").exists

    at_122 = git_host.state()
    again = rollback(cli, "--release", "v1.2.2")
    assert again.code == 0, again.stderr
    assert again.by_host()[HOST]["status"] == "ok" and again.by_host()[HOST]["commands"] == []
    assert git_host.state() == at_122

    back = rollback(cli, "--release", "v1.2.3")
    assert back.code == 0, back.stderr
    assert back.by_host()[HOST]["status"] == "changed"
    assert git_host.tag() == "v1.2.3" and git_host.extras() == "1.1.0"
    assert git_host.version() == "200 1.2.3"
    assert not git_host.host.file(f"{APP}/.git/.remediations-bad-v1.2.3").exists


def test_broken_release_fails_and_is_put_back_on_the_commit_it_left(cli: Any,
                                                                    git_host: Apache) -> None:
    # --timeout 60: the broken release's /up is polled for 30 s (half), not two minutes.
    run = rollback(cli, "--release", "v1.2.4", "--timeout", "60")
    assert run.code == 2, run.stderr
    result = run.by_host()[HOST]
    assert result["status"] == "failed"
    assert "HTTP 500" in result["message"] and "put back on v1.2.3" in result["message"]
    assert "composer:install" not in result["data"]["hooks"]   # v1.2.4 has v1.2.3's lock
    assert result["data"]["auto_revert"]["status"] == "changed"
    assert git_host.tag() == "v1.2.3" and git_host.clean() and git_host.version() == "200 1.2.3"
    assert [(e["from"], e["to"]) for e in git_host.history()[-2:]] == [("v1.2.3", "v1.2.4"),
                                                                     ("v1.2.4", "v1.2.3")]
    assert git_host.host.file(f"{APP}/.git/.remediations-bad-v1.2.4").exists


def test_a_dirty_work_tree_is_refused_and_nothing_changes(cli: Any, git_host: Apache) -> None:
    git_host.host.check_output(f"cd {APP} && printf '\\n' >> composer.json")
    before = git_host.tag(), len(git_host.history())
    run = rollback(cli, "--release", "v1.2.2")
    assert run.code == 1, run.stdout
    (error,) = [e for e in run.events() if e["event"] == "error"]
    assert error["message"] == "1 target(s) refuse to move to release v1.2.2; nothing was changed:"
    assert "apache1: git: /var/www/app has local changes to tracked files ( M composer.json)" \
        in error["evidence"]
    assert "Traceback" not in run.stderr
    assert (git_host.tag(), len(git_host.history())) == before
    assert git_host.host.check_output(f"git -C {APP} status --porcelain").strip() == \
        "M composer.json"
