"""Temporary app settings: a `.env` value set for a bounded time, then put back.

`env_setting_temporary(t, name="APP_DEBUG", value="true", minutes=15)` records what to put
back (the value before, or that there was none; the expiry; the run id) in a root-only
state file on the host *before* it changes `.env`, rebuilds the config cache where one is
in use, and schedules the revert on the host itself (a transient systemd timer,
`remediations-env-revert-<id>`, running the helper `env-setting.php` installed next to
the state): a controller that crashes or goes away never leaves the setting on. Where
systemd is not PID 1 the revert needs a later run: `env_settings_reverted(t)` reverts every
expired setting (all of them with `all=True`), and records the revert. A value someone
changed since is left as it is and recorded as superseded.

Values of secret-looking names (APP_KEY, *PASSWORD*, *SECRET*, *KEY*, *TOKEN*) never
appear in results; APP_KEY itself is refused.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from remediations.core import validate
from remediations.core.errors import InvalidInput
from remediations.core.redact import MASK
from remediations.core.result import Diff, Result, Status, Step
from remediations.core.scripts import script
from remediations.host.files import write_step
from remediations.laravel.php import app_checked, app_user, artisan_argv
from remediations.run.contract import Verification, apply
from remediations.run.target import Target

STATE_DIR = "/var/lib/remediations/env-settings"
HELPER = f"{STATE_DIR}/env-setting.php"
UNIT_PREFIX = "remediations-env-revert-"
MIN_SECONDS = 10
MAX_SECONDS = 7 * 24 * 3600
_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
_SECRET = re.compile(r"KEY|PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL")
_PLAIN = re.compile(r"[A-Za-z0-9_./:@+,-]*")
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_-]")
_REFUSED = frozenset({"APP_KEY"})


def setting_name(name: str) -> str:
    """A .env name the library may set: ^[A-Z][A-Z0-9_]*$, not APP_KEY."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or len(name) > 128:
        raise InvalidInput(f"setting name must match ^[A-Z][A-Z0-9_]*$ (e.g. APP_DEBUG), got {name!r}")
    if name in _REFUSED:
        raise InvalidInput(f"{name} is not set temporarily: changing it logs every user out and "
                           "breaks encrypted values")
    return name


def setting_value(value: str) -> str:
    """A value for one .env line: no newline, no NUL, at most 4096 characters."""
    if not isinstance(value, str) or any(c in value for c in "\n\r\0") or len(value) > 4096:
        raise InvalidInput("setting value must be one line of at most 4096 characters")
    return value


def setting_seconds(minutes: float) -> int:
    """The setting's lifetime in whole seconds, between 10 s and 7 days."""
    minutes = validate.number(minutes, "minutes", low=MIN_SECONDS / 60, high=MAX_SECONDS / 60)
    return round(minutes * 60)


def is_secret(name: str) -> bool:
    return bool(_SECRET.search(name))


def shown(name: str, raw: str | None) -> str:
    """What results may say of `name`'s value: masked for secrets, `(absent)` when unset."""
    if raw is None:
        return "(absent)"
    return MASK if is_secret(name) else raw


def dotenv_raw(value: str) -> str:
    """`value` as written after `NAME=` so that phpdotenv reads it back exactly."""
    if _PLAIN.fullmatch(value):
        return value
    if "'" not in value:
        return f"'{value}'"  # single quotes: literal, no ${VAR} expansion
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


def at(epoch: int) -> str:
    """A host epoch as results show it: `2026-12-06 17:13:13 UTC`."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def setting_id(run_id: str, name: str) -> str:
    return _UNSAFE_ID.sub("_", f"{run_id}--{name}")[:180]


@dataclass(frozen=True, slots=True)
class Record:
    """A temporary setting as its state file on the host records it."""

    id: str
    name: str
    value: str
    old: str | None
    run_id: str
    expires: int
    reverted_at: int | None = None
    reverted_by: str | None = None
    outcome: str | None = None
    unit: str = ""

    @property
    def active(self) -> bool:
        return self.reverted_at is None

    def public(self) -> dict[str, Any]:
        """The record as results show it, secret values masked."""
        return {"id": self.id, "name": self.name, "value": shown(self.name, self.value),
                "old": shown(self.name, self.old), "run_id": self.run_id, "expires": self.expires,
                "reverted_at": self.reverted_at, "reverted_by": self.reverted_by,
                "outcome": self.outcome}


@dataclass(frozen=True, slots=True)
class EnvFacts:
    """What the inspect script saw: the real .env, the clock, systemd, cache, records."""

    env: str
    now: int
    systemd: bool
    cached: bool
    helper: str
    timers: frozenset[str]
    records: tuple[Record, ...]
    text: str = field(repr=False)

    def value(self, name: str) -> str | None:
        """The raw value of `name`'s first line in .env (what phpdotenv uses), or None."""
        rx = re.compile(rf"^\s*(?:export\s+)?{re.escape(name)}\s*=(.*)$")
        for line in self.text.split("\n"):
            m = rx.match(line)
            if m:
                return m.group(1)
        return None


def parse_env_facts(text: str) -> EnvFacts:
    head, _, env_text = text.partition("\n---\n")
    props: dict[str, str] = {}
    timers: set[str] = set()
    records: list[Record] = []
    for line in head.splitlines():
        key, _, val = line.partition("=")
        if key == "record":
            try:
                d = json.loads(val)
                records.append(Record(str(d["id"]), str(d["name"]), str(d["value"]),
                                      None if d.get("old") is None else str(d["old"]),
                                      str(d.get("run_id", "")), int(d.get("expires", 0)),
                                      d.get("reverted_at"), d.get("reverted_by"), d.get("outcome"),
                                      str(d.get("unit") or "")))
            except (ValueError, KeyError, TypeError):
                continue
        elif key == "timer":
            timers.add(val)
        else:
            props[key] = val
    return EnvFacts(props.get("env", ""), int(props.get("now", "0") or 0), "systemd" in props,
                    "cached" in props, props.get("helper", ""), frozenset(timers),
                    tuple(sorted(records, key=lambda r: r.expires)), env_text)


def env_facts(t: Target) -> EnvFacts:
    app = app_checked(t)
    res = t.conn.run(["sh", "-c", script("env-settings-inspect.sh"), "_", app, STATE_DIR],
                     check=False, timeout=60)
    return parse_env_facts(res.stdout)


def helper_text() -> str:
    return "<?php\n" + script("env-setting.php") + "\n"


def helper_steps(facts: EnvFacts) -> list[Step]:
    """Install the state directory (root only) and the helper, when missing or different."""
    if facts.helper == hashlib.sha256(helper_text().encode()).hexdigest():
        return []
    return [Step(["install", "-d", "-m", "0700", "-o", "root", "-g", "root", STATE_DIR],
                 "state of temporary settings, root only"),
            Step(write_step(HELPER, helper_text(), mode="0700", owner="root:root").argv,
                 "the helper that reverts at expiry")]


def _masked(text: str, name: str, value: str) -> str:
    """`text` without `value` in any of the forms commands carry it, when `name` is a secret."""
    if not is_secret(name) or not value:
        return text
    raw = dotenv_raw(value)
    for form in sorted({json.dumps(raw)[1:-1], raw, value}, key=len, reverse=True):
        text = text.replace(form, MASK)
    return text


def env_setting_temporary(t: Target, *, name: str, value: str, minutes: float = 15) -> Result:
    """Leave `.env`'s `name` at `value` until `minutes` from now, then put back by the host.

    The config cache is rebuilt where one is in use; the same run again is `ok`; a
    setting of the same name still held by another run is refused (revert it first).
    Example: `env_setting_temporary(t, name="APP_DEBUG", value="true", minutes=15)`.
    """
    what = "env_setting_temporary"
    name, value = setting_name(name), setting_value(value)
    seconds = setting_seconds(minutes)
    app = app_checked(t)
    raw = dotenv_raw(value)
    facts = env_facts(t)
    sid = setting_id(t.run.run_id, name)
    unit = UNIT_PREFIX + sid
    data: dict[str, Any] = {"name": name, "value": shown(name, raw), "env": facts.env,
                            "seconds": seconds, "config_cache": facts.cached}
    if not facts.env:
        return t.result(what, Status.FAILED, f"no .env found for {app}")
    mine = next((r for r in facts.records if r.id == sid), None)
    if mine is not None:
        data["record"] = mine.public()
        if not mine.active:
            return t.result(what, Status.OK, f"{name} was set by this run and put back "
                            f"({mine.outcome} by {mine.reverted_by})", data=data)
        steps = _schedule_steps(facts, unit, mine.expires - facts.now, sid)
        return _finish(t, what, steps, name, raw, value, facts, unit, data,
                       ok=f"{name} set by this run until {at(mine.expires)} (host clock)",
                       action=f"schedule the revert of {name}",
                       done=f"scheduled the revert of {name}")
    other = next((r for r in facts.records if r.active and r.name == name), None)
    if other is not None:
        return t.result(what, Status.FAILED, f"{name} is already set temporarily by run "
                        f"{other.run_id} until {at(other.expires)} (host clock): revert it first "
                        "(env-revert --all)", data={**data, "record": other.public()})
    before = facts.value(name)
    if before == raw:
        return t.result(what, Status.OK, f"{name} is already {shown(name, raw)}: nothing to put back",
                        data=data)
    record = {"id": sid, "name": name, "value": raw, "seconds": seconds, "run_id": t.run.run_id,
              "env": facts.env, "app": app, "user": app_user(t),
              "unit": unit if facts.systemd else ""}
    steps = [*helper_steps(facts),
             Step(["php", HELPER, "set", STATE_DIR, json.dumps(record, separators=(",", ":"))],
                  f"record what to put back, then set {name}")]
    if facts.cached:
        steps.append(Step(artisan_argv(t, "config:cache"), "the config cache is in use"))
    steps += _schedule_steps(facts, unit, seconds, sid)
    diff = Diff(f"{name}={shown(name, before)}", f"{name}={shown(name, raw)}  (for {seconds}s)")
    return _finish(t, what, steps, name, raw, value, facts, unit, data, diff=diff,
                   ok="", action=f"set {name}={shown(name, raw)} for {seconds}s",
                   done=f"set {name}={shown(name, raw)} for {seconds}s")


def _schedule_steps(facts: EnvFacts, unit: str, seconds: int, sid: str) -> list[Step]:
    """The transient timer that reverts at expiry on the host, unless one runs already."""
    if not facts.systemd or unit in facts.timers:
        return []
    return [Step(["systemd-run", f"--unit={unit}", f"--on-active={max(1, seconds)}s",
                  "--timer-property=AccuracySec=1s",
                  "--description=remediations: revert a temporary .env setting",
                  "php", HELPER, "revert", STATE_DIR, "expired", "expiry"],
                 "revert at expiry on the host, whatever happens to this run")]


def _finish(t: Target, what: str, steps: list[Step], name: str, raw: str, value: str,
            facts: EnvFacts, unit: str, data: dict[str, Any], *, ok: str, action: str,
            done: str, diff: Diff | None = None) -> Result:
    data["revert_scheduled"] = facts.systemd
    if not facts.systemd:
        data["revert_needs"] = "a later run (env-revert): systemd is not PID 1 on this host"

    def verify() -> Verification:
        after = env_facts(t)
        mine = next((r for r in after.records if r.id == setting_id(t.run.run_id, name)), None)
        if after.value(name) != raw or mine is None:
            return Verification(False, f"{name} is {shown(name, after.value(name))}, "
                                       f"not {shown(name, raw)}")
        if facts.systemd and unit not in after.timers:
            return Verification(False, f"{unit}.timer is not active: nothing reverts at expiry")
        when = (f"{unit}.timer puts it back at {at(mine.expires)}" if facts.systemd
                else f"no systemd here: run env-revert after {at(mine.expires)}")
        return Verification(True, f"{name}={shown(name, raw)}; {when} (host clock)",
                            data={"record": mine.public()})

    result = apply(t, what, steps, verify=verify, ok_message=ok, action=action, done=done,
                   diff=diff, data=data)
    return result.replace(commands=tuple(_masked(c, name, value) for c in result.commands),
                          message=_masked(result.message, name, value))


def env_settings_reverted(t: Target, *, all: bool = False) -> Result:
    """Leave no expired temporary setting in `.env` (none at all with `all`); the revert recorded.

    Each value is put back as it was (or its line removed when it was absent), the config
    cache rebuilt where in use, and the record kept on the host with who reverted it and
    when. `ok` when nothing is due. Example: `env_settings_reverted(t)` in a later run.
    """
    what = "env_settings_reverted"
    app_checked(t)
    facts = env_facts(t)
    due = [r for r in facts.records if r.active and (all or r.expires <= facts.now)]
    waiting = [r for r in facts.records if r.active and r not in due]
    data: dict[str, Any] = {"reverted": [r.public() for r in due],
                            "waiting": [r.public() for r in waiting], "config_cache": facts.cached}
    if not due:
        later = f"; {len(waiting)} not expired yet" if waiting else ""
        return t.result(what, Status.OK, f"no temporary setting to put back{later}", data=data)
    lines_before = [f"{r.name}={shown(r.name, facts.value(r.name))}" for r in due]
    lines_after = [f"{r.name}={shown(r.name, r.old)}" if facts.value(r.name) == r.value
                   else f"{r.name}={shown(r.name, facts.value(r.name))}  (changed since: left)"
                   for r in due]
    steps = [*helper_steps(facts),
             Step(["php", HELPER, "revert", STATE_DIR, *(r.id for r in due), t.run.run_id],
                  "put back, record the revert, rebuild the config cache")]
    names = ", ".join(r.name for r in due)

    def verify() -> Verification:
        after = env_facts(t)
        left = [r for r in after.records if r.id in {d.id for d in due} and r.active]
        if left:
            return Verification(False, "not reverted: " + ", ".join(r.name for r in left))
        done = [r for r in after.records if r.id in {d.id for d in due}]
        return Verification(True, "; ".join(f"{r.name} {r.outcome} ({r.name}="
                                            f"{shown(r.name, after.value(r.name))})" for r in done),
                            data={"reverted": [r.public() for r in done]})

    return apply(t, what, steps, verify=verify, ok_message="", action=f"put back {names}",
                 done=f"put back {names}", diff=Diff("\n".join(lines_before), "\n".join(lines_after)),
                 data=data)
