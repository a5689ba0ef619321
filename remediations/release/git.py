"""A host deployed in place from git (Forge's way) moved to a release: `git_at_release`.

The switch, in the work tree at `app_path` (see `remediations.release.git_facts`):
with `maintenance`, `artisan down`; `git checkout --detach <release>` as the repository's
owner (the user owning `.git`); `composer install --no-dev ...` as that owner, only when
`composer.lock` differs between the release left and the release checked out; the config,
route and view caches rebuilt as the app user; the runtime's hooks
(`remediations.laravel.runtime.switch_hooks`: php-fpm or Apache reload, `octane:reload`,
`horizon:terminate` or `queue:restart`, the inventory's `release_hooks`); `artisan up`;
the switch recorded (the release left marked bad, one history line), all in `.git`.

A work tree with local changes to tracked files is refused before anything runs: they are
listed, never stashed or discarded. Each action done is recorded with a once-per-run marker
(`remediations.release.switching`): a run cut off halfway and run again with the same run
id finishes what is left. Putting a failed batch back is the rollback's job
(`remediations.release.rollback`), which moves it to the release it was on the same way
(composer again when the lock differs).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from remediations.core import validate
from remediations.core.commands import sh
from remediations.core.errors import InvalidInput
from remediations.core.result import Diff, Result, Status, Step
from remediations.core.scripts import script
from remediations.core.values import Release
from remediations.host.health import VersionCheck, fetch, version_served
from remediations.host.run_as import as_user
from remediations.laravel import php
from remediations.laravel.runtime import app_runtime, switch_hooks
from remediations.release.git_facts import GitFacts, bad_file, git_facts, history_file
from remediations.release.switching import (
    CACHE_HOOKS,
    action_line,
    action_script,
    checked_reason,
    done_actions,
    failure_report,
    hooks_table,
    marker_key,
    marker_name,
    readable,
    switch_words,
)
from remediations.run import markers
from remediations.run.contract import Verification, apply
from remediations.run.target import RunContext, Target

__all__ = ["Plan", "actions", "git_at_release", "plan_release", "plan_steps"]

DOWN, SWITCH, COMPOSER, UP, RECORD = "down", "switch", "composer:install", "up", "record"
COMPOSER_ARGS = ("install", "--no-dev", "--no-interaction", "--prefer-dist",
                 "--optimize-autoloader")
_RECORD = script("release-record.sh")


@dataclass(frozen=True, slots=True)
class Plan:
    """What `git_at_release` does: the actions left, in order, and those this run did."""

    release: str
    from_release: str | None             # the tag (or commit) HEAD was on
    composer: bool                       # composer.lock differs: `composer install` runs
    names: tuple[str, ...]               # every action of this switch, in order
    todo: tuple[str, ...]
    done: tuple[str, ...] = ()
    fresh: bool = True                   # a new switch, not the end of a cut-off one


def actions(maintenance: bool, composer: bool, hooks: Sequence[str]) -> tuple[str, ...]:
    """Every action of a switch, in order; `hooks`: the runtime's hook names."""
    down, up = ((DOWN,), (UP,)) if maintenance else ((), ())
    return (*down, SWITCH, *((COMPOSER,) if composer else ()), *CACHE_HOOKS, *hooks, *up,
            RECORD)


def _switch_content(from_release: str | None, composer: bool) -> str:
    """What the switch marker holds: where HEAD was, and whether composer is part of it."""
    return f"{from_release or '-'}{' composer' if composer else ''}"


def _read_switch(content: str) -> tuple[str | None, bool]:
    words = content.split()
    old = words[0] if words and words[0] != "-" else None
    return old, "composer" in words[1:]


def left_down(facts: GitFacts, run: RunContext, release: str | None) -> bool:
    """Whether this run put the app down around a switch to `release` and has not put it up."""
    return release is not None and marker_name(run, release, DOWN) in facts.markers \
        and marker_name(run, release, UP) not in facts.markers


def plan_release(facts: GitFacts, run: RunContext, *, maintenance: bool,
                 hooks: Sequence[str]) -> Plan:
    """Decide: a fresh switch, the rest of one this run began, or nothing (already there)."""
    release = facts.release
    if not facts.at_release:
        # An app this run left in maintenance (a switch that failed halfway) is brought up.
        names = actions(maintenance or left_down(facts, run, facts.current),
                        facts.lock_changed, hooks)
        return Plan(release, facts.current, facts.lock_changed, names, names)
    seen = done_actions(facts.markers, run, release, actions(True, True, hooks))
    if SWITCH not in seen:
        return Plan(release, release, False, actions(maintenance, False, hooks), (),
                    fresh=False)
    # The rest of a switch this run began: maintenance and composer as that attempt planned.
    old, composer = _read_switch(seen[SWITCH])
    names = actions(DOWN in seen, composer, hooks)
    done = tuple(a for a in names if a in seen)
    return Plan(release, old, composer, names, tuple(a for a in names if a not in done), done,
                fresh=False)


def _argvs(t: Target, facts: GitFacts, hooks: Sequence[tuple[str, list[str]]]
           ) -> dict[str, list[str]]:
    app = facts.app

    def artisan(*args: str) -> list[str]:
        return php.as_app_user(t, ["php", f"{app}/artisan", *args])

    argvs = {h: artisan(h) for h in CACHE_HOOKS}
    argvs.update({DOWN: artisan("down"), UP: artisan("up"),
                  COMPOSER: as_user(t, facts.user, ["composer", *COMPOSER_ARGS,
                                                    f"--working-dir={app}"])})
    argvs.update(hooks)
    return argvs


def plan_steps(t: Target, facts: GitFacts, plan: Plan, hooks: Sequence[tuple[str, list[str]]],
               *, reason: str, when: datetime) -> tuple[list[Step], dict[str, Any]]:
    """The exact commands of `plan`, and the history entry the record step appends."""
    app, new, old = facts.app, plan.release, plan.from_release
    argvs = _argvs(t, facts, hooks)
    steps: list[Step] = []
    if SWITCH in plan.todo:
        lines = [action_line(t, new, DOWN, argvs[DOWN])] if DOWN in plan.todo else []
        checkout = as_user(t, facts.user, ["git", "-C", app, "checkout", "--detach", new])
        lines.append(action_line(t, new, SWITCH, checkout, _switch_content(old, plan.composer)))
        steps.append(Step(action_script(t, lines, clear=f"release-{new}-"),
                          f"check out {new} in {app} (detached HEAD) as {facts.user}"))
    rest = [a for a in plan.todo if a not in (DOWN, SWITCH, RECORD)]
    if rest:
        steps.append(Step(action_script(t, [action_line(t, new, a, argvs[a]) for a in rest]),
                          f"in {app}: {', '.join(rest)}"))
    ran = [a for a in plan.names if a not in (SWITCH, RECORD)
           and (a in plan.todo or a in plan.done)]
    stamp = when.isoformat(timespec="seconds")
    entry = {"host": t.name, "kind": "git", "from": old, "to": new,
             "commit": facts.release_commit, "who": t.run.user, "when": stamp,
             "run_id": t.run.run_id, "reason": reason, "hooks": ran,
             "composer": plan.composer, "resumed": not plan.fresh}
    if RECORD in plan.todo:
        bad = {"release": old, "by": t.run.user, "at": stamp, "run_id": t.run.run_id,
               "reason": reason, "replaced_by": new}
        steps.append(Step(["sh", "-c", _RECORD, "_", bad_file(app, old) if old else "",
                           json.dumps(bad) if old else "", bad_file(app, new),
                           json.dumps(entry), history_file(app),
                           markers.path(t.run, marker_key(new, RECORD))],
                          f"mark {old or 'no release'} bad, append to {history_file(app)}"))
    return steps, entry


def _evidence(t: Target, app: str) -> str:
    argv = sh("git -c safe.directory=%s -C %s --no-optional-locks log -1 --format='HEAD %%h%%d "
              "%%s' 2>&1; for f in /var/log/apache2/error.log /var/log/nginx/error.log; do "
              "[ -f \"$f\" ] && { echo \"== $f\"; tail -n 10 \"$f\"; }; done; "
              "f=$(ls -t %s/laravel*.log 2>/dev/null | head -n 1); [ -z \"$f\" ] || "
              "{ echo \"== $f (last entries)\"; grep -E '^\\[[0-9]{4}-' \"$f\" | tail -n 5 "
              "| cut -c 1-600; }; true", app, app, f"{app}/storage/logs")
    return t.conn.run(argv, check=False).tail(40)


def _served(url: str, version: str | None, wait: float) -> VersionCheck:
    """/up serving `version`; for an untagged commit, any 2xx answer."""
    if version is not None:
        return version_served(url, version, wait=wait, require_version=True)
    deadline = time.monotonic() + wait
    while True:
        answer = fetch(url)
        if 200 <= answer.status < 300:
            return VersionCheck(True, f"HTTP {answer.status}", answer)
        if time.monotonic() >= deadline:
            return VersionCheck(False, f"HTTP {answer.status or answer.error}", answer)
        time.sleep(1.0)


def _verify(t: Target, before: GitFacts, url: str, wait: float) -> Verification:
    check = _served(url, before.version, wait)
    now = git_facts(t, before.release)
    data = {"head": now.head, "current": now.current, "http_status": check.answer.status}
    if now.error or not now.at_release:
        where = now.error or f"HEAD is at {now.current or 'nothing'}"
        return Verification(False, f"{where}, not {before.release} "
                            f"({(before.release_commit or '?')[:12]})",
                            _evidence(t, before.app), data)
    if not check.ok:
        answer = readable(check.answer.body) or check.answer.error
        return Verification(False, f"{url}: {check.why}",
                            f"{url} answered:\n{answer}\n\n{_evidence(t, before.app)}", data)
    return Verification(True, f"{url}: {check.why}; HEAD {(now.head or '')[:12]}", data=data)


def git_at_release(t: Target, release: str, *, maintenance: bool = False,
                   reason: str = "rollback", health_timeout: float = 60.0) -> Result:
    """Leave the work tree at `app_path` checked out at `release`, rebuilt, reloaded, verified.

    `release` is a tag or a commit. Refuses (failed, nothing run) a work tree with local
    changes to tracked files. Verified: HEAD is the release's commit, and `health_url`
    answers 2xx with a JSON `version` equal to the tag (for an untagged commit, any 2xx)
    within `health_timeout`. Already there: verified only, `ok`.
    Example: `git_at_release(t, "v1.2.2")`.
    """
    health_timeout = validate.seconds(health_timeout, "health_timeout")
    release = Release.parse(release)
    reason = checked_reason(reason)
    validate.run_id(t.run.run_id)
    php.app_user(t)
    if not t.var("health_url"):
        raise InvalidInput(f"{t.name}: set health_url: a switch is verified by its version")
    url = validate.http_url(str(t.var("health_url")))
    name = "git_at_release"
    facts = git_facts(t, release)
    why = facts.why_not() or facts.refusal()
    if why:
        return t.result(name, Status.FAILED, f"{t.name}: {why}; nothing was changed",
                        data={**facts.to_dict(), "from": facts.current, "to": release})
    rt = app_runtime(t, facts.app)
    hooks = switch_hooks(t, rt, facts.app)
    plan = plan_release(facts, t.run, maintenance=maintenance, hooks=[n for n, _ in hooks])
    data: dict[str, Any] = {"from": plan.from_release, "to": release, "app": facts.app,
                            "commit": facts.release_commit, "composer": plan.composer,
                            "runtime": rt.data()}

    def verify(wait: float = health_timeout) -> Verification:
        return _verify(t, facts, url, wait)

    if not plan.todo:
        check = verify(0 if t.check else health_timeout)
        by_run = " (switched by this run)" if plan.done else ""
        data.update(check.data, hooks=hooks_table(plan.names, plan.done))
        if not check.ok:
            return t.result(name, Status.FAILED, f"already at {release}{by_run}, but "
                            f"{check.message}", evidence=check.evidence, data=data)
        return apply(t, name, [], verify=None, ok_message=f"already at {release}{by_run}; "
                     f"{check.message}", action="", done="", data=data)

    steps, entry = plan_steps(t, facts, plan, hooks, reason=reason, when=datetime.now(UTC))
    data.update(hooks=hooks_table(plan.names, plan.done), history=entry)
    lock = " (composer.lock changed: composer install)" if plan.composer else ""
    action, did = switch_words(
        t, release, fresh=plan.fresh, todo=plan.todo, done=plan.done,
        verb=("check out", "checked out"),
        moved=f"{facts.app} from {plan.from_release or 'nothing'} to {release}{lock}")
    after: list[GitFacts] = []

    def on_failure() -> str:
        after.append(git_facts(t, release))
        return ""

    result = apply(t, name, steps, verify=verify, ok_message="", action=action, done=did,
                   diff=Diff(f"HEAD {plan.from_release} ({(facts.head or '?')[:12]})",
                             f"HEAD {release} ({(facts.release_commit or '?')[:12]})"),
                   data=data, on_failure=on_failure)
    if after:
        return _step_failed(t, result, plan, after[0], facts)
    if t.check:
        return result
    return result.replace(data={**result.data, "hooks": hooks_table(plan.names, plan.names)})


def _step_failed(t: Target, result: Result, plan: Plan, after: GitFacts,
                 facts: GitFacts) -> Result:
    """A step's failure, named: the action that failed, its output, what did not run.

    When the app was put down but not switched, it is brought up again (the host is left
    serving as it was).
    """
    first, output = failure_report(t)
    names = plan.names
    done = list(done_actions(after.markers, t.run, plan.release, names))
    failed = first if first in names else next((a for a in names if a not in done), "?")
    left = [a for a in names if a not in done and a != failed]
    switched = f" after checking out {plan.release}" if SWITCH in done else ""
    message = (f"{failed} failed on {t.name}{switched}; not run: {', '.join(left) or 'nothing'}"
               f"; run again with run id {t.run.run_id} to finish")
    if DOWN in done and SWITCH not in done:
        up = php.as_app_user(t, ["php", f"{facts.app}/artisan", "up"])
        back = t.conn.run(up, check=False)
        message += ("; the app is out of maintenance mode again" if back.succeeded else
                    f"; the app is still in maintenance mode (`artisan up` failed: {back.tail(3)})")
    evidence = f"{failed} printed:\n{output}" if output else result.evidence
    return result.replace(message=message, evidence=evidence,
                          data={**result.data, "hooks": hooks_table(names, done, failed)})

