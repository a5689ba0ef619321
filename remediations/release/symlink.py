"""A systemd host switched to a release of the Envoyer/Deployer layout (see `release_facts`).

`release_current` switches `<root>/current` atomically (a new link renamed over the old one
with `mv -T`, so there is never a moment without `current`), rebuilds the new release's
caches, runs the runtime's hooks (`remediations.laravel.runtime.switch_hooks`: php-fpm
reloaded where it is installed, Apache where mod_php serves PHP, `octane:reload` where
Octane runs, `horizon:terminate` where Horizon runs else `queue:restart`, then the
inventory's `release_hooks`; each is a named action that fails the switch when it cannot
run, none is skipped), and records the switch: the
release it came from is marked bad (`releases/<from>/.remediations-bad`), the release
switched to loses its mark (a release chosen again is trusted again; the history keeps
both), and one JSON line is appended to `<root>/.remediations-releases.jsonl`.

Each step done is recorded with a once-per-run marker keyed by release (`markers`): a run
cut off halfway and run again with the same run id finishes what is left, without switching
or running a hook twice.
"""

from __future__ import annotations

import functools
import json
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from remediations.connections.base import CommandResult, sh
from remediations.connections.batch import run_batch
from remediations.core import validate
from remediations.core.errors import CommandFailed, InvalidInput, RemediationError
from remediations.core.result import Diff, Result, Status, Step
from remediations.core.scripts import script
from remediations.core.values import Release
from remediations.host.health import VersionCheck as Served
from remediations.host.health import version_served
from remediations.laravel import php
from remediations.laravel.runtime import (
    HORIZON_TERMINATE,
    QUEUE_RESTART,
    Runtime,
    parse_runtime,
    release_hooks,
    switch_hooks,
)
from remediations.release.facts import (
    BAD_FILE,
    HISTORY_FILE,
    Inspection,
    ReleaseFacts,
    inspect,
    inspect_argv,
    parse_inspection,
    release_facts,
    release_history,
    releases_root,
)
from remediations.release.hooks import (
    FRESH,
    IN_PROCESS,
    fresh_caches,
    fresh_in_output,
    group_line,
    sources_argv,
)
from remediations.release.switching import (
    CACHE_HOOKS,
    action_line,
    action_script,
    checked_reason,
    failure_report,
    hooks_table,
    marker_key,
    marker_name,
    readable,
    switch_words,
)
from remediations.run import markers
from remediations.run.contract import Probe, Verification, apply, reads_after_acting
from remediations.run.target import RunContext, Target

__all__ = ["ReleaseFacts", "release_current", "release_facts", "release_history",
           "releases_root"]

DOWN, SWITCH, UP, RECORD = "down", "switch", "up", "record"
RELOAD, QUEUE = "php-fpm:reload", QUEUE_RESTART
DEFAULT_HOOKS = (QUEUE, RELOAD)  # a php-fpm host without Horizon or Octane

_RECORD = script("release-record.sh")
# What runs the app (remediations.laravel.runtime.app_runtime), read with the releases.
_RUNTIME = script("runtime-probe.sh")


@dataclass(frozen=True, slots=True)
class Plan:
    """What `release_current` does: the actions left, in order, and those this run did."""

    release: str
    from_release: str | None
    names: tuple[str, ...]               # every action of this switch, in order
    todo: tuple[str, ...]
    done: tuple[str, ...] = ()
    fresh: bool = True                   # a new switch, not the end of a cut-off one

    @property
    def resumed(self) -> bool:
        return bool(self.todo) and not self.fresh


def actions(maintenance: bool, hooks: Sequence[str] = DEFAULT_HOOKS) -> tuple[str, ...]:
    """Every action of a switch, in order; `hooks`: the runtime's hook names."""
    down, up = ((DOWN,), (UP,)) if maintenance else ((), ())
    return (*down, SWITCH, *CACHE_HOOKS, *hooks, *up, RECORD)


def left_down(ins: Inspection, run: RunContext, release: str | None) -> bool:
    """Whether this run put the app down around a switch to `release` and has not put it up."""
    return release is not None and marker_name(run, release, DOWN) in ins.markers \
        and marker_name(run, release, UP) not in ins.markers


def plan_release(ins: Inspection, release: Release, run: RunContext, *,
                 maintenance: bool, hooks: Sequence[str] = DEFAULT_HOOKS) -> Plan:
    """Decide: a fresh switch, the rest of one this run began, or nothing (already there)."""
    if ins.facts.current != release:
        # An app this run left in maintenance (a switch that failed halfway) is brought up.
        names = actions(maintenance or left_down(ins, run, ins.facts.current), hooks)
        return Plan(release, ins.facts.current, names, names)
    seen = {a: ins.markers.get(marker_name(run, release, a)) for a in actions(True, hooks)}
    if seen[SWITCH] is None:
        return Plan(release, release, actions(maintenance, hooks), (), fresh=False)
    # Maintenance follows what the first attempt did: an app it took down is brought up.
    names = actions(seen[DOWN] is not None, hooks)
    done = tuple(a for a in names if seen[a] is not None)
    return Plan(release, seen[SWITCH] or None, names, tuple(a for a in names if a not in done),
                done, fresh=False)


def artisan_in(t: Target, root: str, release: str, *args: str) -> list[str]:
    """`php <root>/releases/<release>/artisan ARGS` as the app user."""
    return php.as_app_user(t, ["php", f"{root}/releases/{release}/artisan", *args])


def _hook_argvs(t: Target, root: str, plan: Plan, unit: str | None,
                hooks: Sequence[tuple[str, list[str]]] | None) -> dict[str, list[str]]:
    artisan = functools.partial(artisan_in, t, root)
    new = plan.release
    argvs = {h: artisan(new, h) for h in CACHE_HOOKS}
    argvs.update({DOWN: artisan(plan.from_release or new, "down"), UP: artisan(new, "up")})
    if hooks is None:  # the hooks of a php-fpm host without Horizon or Octane
        hooks = [(QUEUE, artisan(new, QUEUE))]
        if unit:
            hooks.append((RELOAD, ["systemctl", "reload", unit]))
    argvs.update(hooks)
    return argvs


def workers_first(hooks: Sequence[tuple[str, list[str]]]) -> list[tuple[str, list[str]]]:
    """The runtime's hooks with the workers' restart (queue:restart, horizon:terminate)
    first, right after the cache hooks: then all of them run in one PHP process
    (`remediations.release.hooks`). Safe: workers restart after their current job and boot
    the release `current` now points at, whatever php-fpm's or Apache's reload does."""
    first = [h for h in hooks if h[0] in (QUEUE_RESTART, HORIZON_TERMINATE)]
    return [*first, *(h for h in hooks if h not in first)]


def history_entry(t: Target, plan: Plan, *, reason: str, when: datetime,
                  fresh: Sequence[str] = ()) -> dict[str, Any]:
    """The history line of `plan`: the hooks run (`hooks`) and those found fresh (`fresh`)."""
    hooks = [a for a in plan.names if a not in (SWITCH, RECORD)
             and (a in plan.todo or a in plan.done)]
    return {"host": t.name, "from": plan.from_release, "to": plan.release, "who": t.run.user,
            "when": when.isoformat(timespec="seconds"), "run_id": t.run.run_id,
            "reason": reason, "hooks": [a for a in hooks if a not in fresh],
            "fresh": [a for a in hooks if a in fresh], "resumed": not plan.fresh}


def record_step(t: Target, root: str, plan: Plan, entry: Mapping[str, Any]) -> Step:
    """Mark the release left bad, lift the new one's mark, append `entry` to the history."""
    new, old = plan.release, plan.from_release
    bad = {"release": old, "by": t.run.user, "at": entry["when"], "run_id": t.run.run_id,
           "reason": entry["reason"], "replaced_by": new}
    return Step(["sh", "-c", _RECORD, "_", f"{root}/releases/{old}/{BAD_FILE}" if old else "",
                 json.dumps(bad) if old else "", f"{root}/releases/{new}/{BAD_FILE}",
                 json.dumps(dict(entry)), f"{root}/{HISTORY_FILE}",
                 markers.path(t.run, marker_key(new, RECORD))],
                f"mark {old or 'no release'} bad, append to {root}/{HISTORY_FILE}")


def _hook_lines(t: Target, root: str, plan: Plan, argvs: Mapping[str, list[str]],
                fresh: Mapping[str, str]) -> list[str]:
    """The hooks left, in order: a fresh cache marked so, the in-process ones in one PHP
    process (`hooks.group_line`), the others each by `h`."""
    new = plan.release
    lines: list[str] = []
    group: list[str] = []

    def flush() -> None:
        if group:
            lines.append(group_line(t, new, f"{root}/releases/{new}", group))
            group.clear()

    for a in plan.todo:
        if a in (DOWN, SWITCH, RECORD):
            continue
        if a in fresh:
            flush()
            mark = shlex.quote(markers.path(t.run, marker_key(new, a)))
            lines.append(f"echo {shlex.quote(f'== {a}')}; echo {FRESH} > {mark}")
        elif a in IN_PROCESS and argvs[a][-1] == a:
            group.append(a)
        else:
            flush()
            lines.append(action_line(t, new, a, argvs[a]))
    flush()
    return lines


def plan_steps(t: Target, root: str, plan: Plan, *, owner: str, unit: str | None, reason: str,
               when: datetime, hook_argvs: Sequence[tuple[str, list[str]]] | None = None,
               fresh: Mapping[str, str] | None = None) -> tuple[list[Step], dict[str, Any]]:
    """The exact commands of `plan`, and the history entry the record step appends.

    One script switches and runs the hooks left (`fresh`: cache hooks with nothing to
    rebuild, marked, not run); then the record. `hook_argvs`: the runtime's (name, argv)
    (`switch_hooks`); None: php-fpm `unit` reloaded and queue:restart.
    """
    argvs = _hook_argvs(t, root, plan, unit, hook_argvs)
    known = dict(fresh or {})
    fresh = {a: why for a, why in known.items() if a in plan.todo}
    missing = [a for a in plan.todo if a not in argvs and a not in (SWITCH, RECORD)]
    if missing:  # a hook of the plan the runtime has no command for: never skipped silently
        raise InvalidInput(f"{t.name}: no command for the switch's hook(s) {', '.join(missing)}")
    new, old = plan.release, plan.from_release
    lines: list[str] = []
    if SWITCH in plan.todo:
        tmp = f"{root}/.current.{t.run.run_id}"
        if DOWN in plan.todo:
            lines.append(action_line(t, new, DOWN, argvs[DOWN]))
        lines.append(shlex.join(["h", SWITCH, "ln", "-sfn", f"releases/{new}", tmp]))
        if owner:
            lines.append(shlex.join(["h", SWITCH, "chown", "-h", owner, tmp]))
        lines.append(action_line(t, new, SWITCH, ["mv", "-T", tmp, f"{root}/current"], old or ""))
    hooks = _hook_lines(t, root, plan, argvs, fresh)
    steps: list[Step] = []
    if lines or hooks:
        what = [f"point {root}/current at releases/{new} (rename over the old link)"] \
            if SWITCH in plan.todo else []
        names = [a for a in plan.todo if a not in (DOWN, SWITCH, RECORD)]
        if names:
            what.append(f"in releases/{new}: {', '.join(names)}"
                        + (f" ({', '.join(fresh)} fresh: not rebuilt)" if fresh else ""))
        steps.append(Step(action_script(t, [*lines, *hooks],
                                        clear=f"release-{new}-" if SWITCH in plan.todo else ""),
                          "; then ".join(what)))
    entry = history_entry(t, plan, reason=reason, when=when, fresh=list(known))
    if RECORD in plan.todo:
        steps.append(record_step(t, root, plan, entry))
    return steps, entry


def _evidence(t: Target, root: str, unit: str) -> str:
    """The unit's journal (php-fpm, else the web server), nginx's errors, the app's log."""
    argv = sh("journalctl -u %s -n 8 --no-pager -o short-iso 2>&1; "
              "echo '== /var/log/nginx/error.log'; tail -n 10 /var/log/nginx/error.log 2>&1; "
              "f=$(ls -t %s/laravel*.log 2>/dev/null | head -n 1); [ -z \"$f\" ] || "
              "{ echo \"== $f (last entries)\"; grep -E '^\\[[0-9]{4}-' \"$f\" | tail -n 5 "
              "| cut -c 1-600; }", unit, f"{root}/current/storage/logs")
    return t.conn.run(argv, check=False).tail(40)


def _judged(t: Target, root: str, release: Release, unit: str | None, url: str,
            check: Served, ins: Inspection, journal: str) -> Verification:
    """The switch verified: `current` read back (`ins`), /up's answer (`check`), the unit."""
    data = {"current": ins.facts.current, "http_status": check.answer.status}
    if ins.facts.current != release:
        return Verification(False, f"{root}/current points at {ins.link or 'nothing'}, "
                            f"not releases/{release}", _evidence(t, root, journal), data)
    if not check.ok:
        answer = readable(check.answer.body) or check.answer.error
        return Verification(False, f"{url}: {check.why}",
                            f"{url} answered:\n{answer}\n\n{_evidence(t, root, journal)}", data)
    if unit is None:  # no php-fpm: PHP runs in the web server, which answered above
        return Verification(True, f"{url}: {check.why}", data=data)
    state = ins.unit
    if state is None or not state.active:
        where = f"{state.active_state} ({state.sub_state})" if state else "unknown"
        return Verification(False, f"{unit} is {where}", _evidence(t, root, journal), data)
    return Verification(True, f"{url}: {check.why}; {unit} active (MainPID {state.main_pid})",
                        data=data)


def _first_read(t: Target, root: str, release: str) -> tuple[Inspection, CommandResult | None,
                                                              str]:
    """One round trip (the lock goes with it): the releases and this run's markers, what runs
    the app (`runtime-probe.sh`), and the file times the cache hooks are judged by."""
    ran = run_batch(t.conn, [inspect_argv(root, t.run),
                             ["sh", "-c", _RUNTIME, "_", f"{root}/current",
                              *php.as_app_user(t, [])],
                             sources_argv(f"{root}/releases/{release}")])
    if not ran or ran[0].failed:
        raise CommandFailed(ran[0]) if ran else RemediationError(
            f"{t.name}: the host did not answer the read of its releases")
    found = ran[2].stdout if len(ran) > 2 else ""  # find exits 1 for a missing source folder
    return parse_inspection(root, ran[0].stdout), ran[1] if len(ran) > 1 else None, found


def _runtime(t: Target, root: str, res: CommandResult | None) -> Runtime:
    """What runs the app, from the probe's answer (`app_runtime` reads it the same way)."""
    if res is None or res.failed or "systemd\t" not in res.stdout:
        raise RemediationError(f"{t.name}: could not read the app's runtime:\n"
                               f"{res.tail(10) if res else 'no answer'}")
    wanted = t.var("php_fpm_service")
    return parse_runtime(res.stdout, app=f"{root}/current", user=php.app_user(t),
                         fpm_wanted=str(wanted) if wanted else None)


@reads_after_acting
def release_current(t: Target, release: str, *, maintenance: bool = False,
                    reason: str = "rollback", health_timeout: float = 60.0) -> Result:
    """Leave `<root>/current` on `releases/<release>`, the app rebuilt, reloaded and verified.

    Switches atomically, then in the new release as the app user: config:cache,
    route:cache, view:cache, each only when its cache is missing or older than its sources
    (`remediations.release.hooks`); then the runtime's hooks (`switch_hooks`:
    horizon:terminate where Horizon runs else queue:restart, `systemctl reload` php-fpm
    where installed, Apache where mod_php serves PHP, octane:reload, the inventory's
    `release_hooks`); the cache hooks and the workers' restart run in one PHP process.
    With `maintenance`, `artisan down` before and `artisan up` after. Verified:
    `health_url` answers 2xx with a JSON `version` equal to the tag (v optional) within
    `health_timeout`; then the switch is recorded (bad mark, history) and read back in one
    round trip: `current` resolves to the release, php-fpm (where installed) active.
    Already there: verified only, `ok`. Example: `release_current(t, "v1.2.2")`.
    """
    health_timeout = validate.seconds(health_timeout, "health_timeout")
    release = Release.parse(release)
    reason = checked_reason(reason)
    validate.run_id(t.run.run_id)
    root = releases_root(t)
    if t.var("php_fpm_service"):
        php.fpm_unit(t, None)  # validated before any host is touched
    release_hooks(t.var("release_hooks"))
    php.app_user(t)
    if not t.var("health_url"):
        raise InvalidInput(f"{t.name}: set health_url: a switch is verified by its version")
    url = validate.http_url(str(t.var("health_url")))
    name = "release_current"
    ins, probed, found = _first_read(t, root, release)
    facts = ins.facts
    if release not in facts.available:
        have = ", ".join(facts.available) or f"no release in {root}/releases"
        return t.result(name, Status.FAILED, f"release {release} is not on {t.name} "
                        f"(it has {have})",
                        data={**facts.to_dict(), "from": facts.current, "to": release})
    rt: Runtime | None = None
    hooks: list[tuple[str, list[str]]] = []
    if facts.current != release or marker_name(t.run, release, SWITCH) in ins.markers:
        # a switch to do or to finish: its hooks follow what runs the app
        try:
            rt = _runtime(t, root, probed)
        except RemediationError as exc:
            return t.result(name, Status.FAILED, "could not read what runs the app (php-fpm, "
                            "Apache, Octane, Horizon): no hook can be chosen",
                            evidence=str(exc), data={"from": facts.current, "to": release})
        hooks = workers_first(switch_hooks(t, rt, f"{root}/releases/{release}"))
    configured = t.var("php_fpm_service")
    unit = rt.php_fpm if rt is not None else \
        php.fpm_unit(t, None) if configured else None
    plan = plan_release(ins, release, t.run, maintenance=maintenance,
                        hooks=tuple(h for h, _ in hooks) if rt is not None else DEFAULT_HOOKS)
    data: dict[str, Any] = {"from": plan.from_release, "to": release, "root": root}
    if rt is not None:
        data["runtime"] = rt.data()
    journal = unit or (rt.web_server if rt else None) or "php-fpm.service"

    def served(wait: float) -> Served:
        return version_served(url, release, wait=wait, interval=0.1, require_version=True)

    if not plan.todo:
        there = _judged(t, root, release, unit, url, served(0 if t.check else health_timeout),
                        inspect(t, root, unit), journal)
        by_run = " (switched by this run)" if plan.done else ""
        data.update(there.data, hooks=hooks_table(plan.names, plan.done,
                                                  fresh=_marked_fresh(t, ins, plan)))
        if not there.ok:
            return t.result(name, Status.FAILED, f"already at {release}{by_run}, but "
                            f"{there.message}", evidence=there.evidence, data=data)
        return apply(t, name, [], verify=None, ok_message=f"already at {release}{by_run}; "
                     f"{there.message}", action="", done="", data=data)

    fresh = {**dict.fromkeys(_marked_fresh(t, ins, plan), "found fresh by this run before"),
             **fresh_caches(f"{root}/releases/{release}", found, plan.todo)}
    when = datetime.now(UTC)
    steps, entry = plan_steps(t, root, plan, owner=ins.owner, unit=unit, reason=reason,
                              when=when, hook_argvs=hooks, fresh=fresh)
    data.update(hooks=hooks_table(plan.names, plan.done, fresh=list(fresh)), history=entry,
                fresh=fresh)
    action, did = switch_words(
        t, release, fresh=plan.fresh, todo=plan.todo, done=plan.done, verb=("switch", "switched"),
        moved=f"{root}/current from {plan.from_release or 'nothing'} to {release}")
    after: list[Inspection] = []

    def on_failure() -> str:
        after.append(inspect(t, root))
        return ""

    ran: list[CommandResult] = []
    check: Served | None = None
    if not t.check:
        ran, check, steps, entry = _act(t, root, plan, steps, entry, fresh, unit,
                                        served=lambda: served(health_timeout))
        data.update(history=entry, fresh=fresh,
                    hooks=hooks_table(plan.names, plan.done, fresh=list(fresh)))

    def judge(answer: CommandResult) -> Verification:
        assert check is not None
        return _judged(t, root, release, unit, url, check,
                       parse_inspection(root, answer.stdout, unit), journal)

    result = apply(t, name, steps, verify=Probe(inspect_argv(root, t.run, unit), judge),
                   ok_message="", action=action, done=did,
                   diff=Diff(f"current -> releases/{plan.from_release}",
                             f"current -> releases/{release}"),
                   data=data, on_failure=on_failure, ran=None if t.check else ran)
    if after:
        up = artisan_in(t, root, plan.from_release or release, "up")
        return _step_failed(t, result, plan, after[0], up)
    if t.check:
        return result
    return result.replace(data={**result.data, "hooks": hooks_table(plan.names, plan.names,
                                                                    fresh=list(fresh))})


def _marked_fresh(t: Target, ins: Inspection, plan: Plan) -> list[str]:
    """The hooks this run's switch to the release found fresh before (their marker says so)."""
    return [a for a in plan.done
            if ins.markers.get(marker_name(t.run, plan.release, a)) == FRESH]


def _act(t: Target, root: str, plan: Plan, steps: list[Step], entry: dict[str, Any],
         fresh: dict[str, str], unit: str | None, *, served: Callable[[], Served]
         ) -> tuple[list[CommandResult], Served | None, list[Step], dict[str, Any]]:
    """Switch and run the hooks (one round trip), wait for /up over HTTP, then record the
    switch and read it back with the lock's release (one round trip).

    Returns what ran (for `apply(..., ran=...)`), /up's answer, and the steps and history
    entry as sent: a view cache the PHP process found fresh is recorded as such.
    """
    acts = len(steps) > (RECORD in plan.todo)  # a step that switches or runs hooks comes first
    act, rest = (steps[0], steps[1:]) if acts else (None, steps)
    ran: list[CommandResult] = []
    if act is not None:
        ran.append(t.conn.run(act.argv, check=False))
        if ran[-1].failed:
            return ran, None, steps, entry
        for name in fresh_in_output(ran[-1].stdout):
            fresh[name] = "every view compiled and newer than its template"
        if rest and fresh:
            entry = history_entry(t, plan, reason=entry["reason"], when=datetime.fromisoformat(
                entry["when"]), fresh=list(fresh))
            rest = [record_step(t, root, plan, entry)]
    check = served()
    ran += run_batch(t.conn, [*(s.argv for s in rest), inspect_argv(root, t.run, unit)],
                     last=True)
    return ran, check, [*([act] if act else []), *rest], entry


def _step_failed(t: Target, result: Result, plan: Plan, after: Inspection,
                 up: Sequence[str]) -> Result:
    """A step's failure, named: the action that failed, its output, what did not run.

    When the app was put down but `current` not switched, it is brought up again (`up`,
    the old release's artisan): the host is left serving as it was.
    """
    first, output = failure_report(t)
    names = plan.names
    done = [a for a in names if after.markers.get(marker_name(t.run, plan.release, a))
            is not None]
    failed = first if first in names else next((a for a in names if a not in done), "?")
    left = [a for a in names if a not in done and a != failed]
    switched = f" after switching to {plan.release}" if SWITCH in done else ""
    message = (f"{failed} failed on {t.name}{switched}; not run: {', '.join(left) or 'nothing'}"
               f"; run again with run id {t.run.run_id} to finish")
    if DOWN in done and SWITCH not in done:
        back = t.conn.run(up, check=False)
        message += ("; the app is out of maintenance mode again" if back.succeeded else
                    f"; the app is still in maintenance mode (`artisan up` failed: {back.tail(3)})")
    evidence = f"{failed} printed:\n{output.strip()}" if output.strip() else result.evidence
    return result.replace(message=message, evidence=evidence,
                          data={**result.data, "hooks": hooks_table(names, done, failed)})
