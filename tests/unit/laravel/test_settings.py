"""Temporary .env settings: input refused, records read, the set and revert planned, secrets masked."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from remediations.connections.recording import RecordingConnection
from remediations.core.errors import InvalidInput
from remediations.core.redact import MASK
from remediations.core.result import Status
from remediations.laravel.temporary_settings import (
    HELPER,
    STATE_DIR,
    dotenv_raw,
    env_setting_temporary,
    env_settings_reverted,
    helper_text,
    parse_env_facts,
    setting_name,
    setting_seconds,
    setting_value,
)
from remediations.run.target import RunContext, Target
from tests.unit.helpers import host

ENV = "APP_NAME=lab\nAPP_KEY=base64:abc\nAPP_DEBUG=false\nDB_PASSWORD=hunter22\n"
NOW = 1_800_000_000


def target(conn: RecordingConnection, *, check: bool = False) -> Target:
    return Target(host("web1", app_path="/srv/app/current", app_user="www-data", ansible_user="root"),
                  conn, RunContext("r1", datetime(2026, 12, 6, tzinfo=UTC), check=check))


def record(name: str = "APP_DEBUG", value: str = "true", old: str | None = "false", run: str = "r1",
           expires: int = NOW + 60, reverted: int | None = None) -> str:
    return "record=" + json.dumps({"id": f"{run}--{name}", "name": name, "value": value, "old": old,
                                   "run_id": run, "expires": expires, "reverted_at": reverted,
                                   "reverted_by": "expiry" if reverted else None,
                                   "outcome": "reverted" if reverted else None,
                                   "unit": f"remediations-env-revert-{run}--{name}"})


def facts(*lines: str, env: str = ENV, systemd: bool = True, helper: bool = True) -> str:
    import hashlib

    head = ["env=/srv/app/shared/.env", f"now={NOW}", *(["systemd=1"] if systemd else []),
            *([f"helper={hashlib.sha256(helper_text().encode()).hexdigest()}"] if helper else []),
            *lines]
    return "\n".join(head) + "\n---\n" + env


def env_host(*answers: str) -> RecordingConnection:
    conn = RecordingConnection("web1")
    for text in answers[:-1]:
        conn.on(r"readlink -f", stdout=text, times=1)
    conn.on(r"readlink -f", stdout=answers[-1])
    return conn


@pytest.mark.parametrize("name", ["app_debug", "1X", "APP-DEBUG", "APP_KEY", ""])
def test_names_refused(name: str) -> None:
    with pytest.raises(InvalidInput):
        setting_name(name)


def test_values_and_durations_refused() -> None:
    with pytest.raises(InvalidInput):
        setting_value("a\nb")
    for minutes in (0, 0.1, 60 * 24 * 8):
        with pytest.raises(InvalidInput):
            setting_seconds(minutes)
    assert setting_seconds(0.5) == 30 and setting_name("QUEUE_LIMIT_2") == "QUEUE_LIMIT_2"


@pytest.mark.parametrize("value,raw", [
    ("true", "true"), ("a b", "'a b'"), ("it's ${X}", '"it\'s \\${X}"'), ("", ""),
])
def test_values_are_written_as_phpdotenv_reads_them(value: str, raw: str) -> None:
    assert dotenv_raw(value) == raw


def test_facts_parse_records_timers_and_the_first_definition() -> None:
    f = parse_env_facts(facts(record(), "timer=remediations-env-revert-r1--APP_DEBUG",
                              env=ENV + "APP_DEBUG=true\n"))
    assert f.value("APP_DEBUG") == "false" and f.value("MISSING") is None
    assert f.systemd and not f.cached and f.timers == {"remediations-env-revert-r1--APP_DEBUG"}
    (r,) = f.records
    assert r.active and r.old == "false" and r.public()["value"] == "true"


def test_set_records_first_then_schedules_the_revert_on_the_host() -> None:
    after = facts(record(), "timer=remediations-env-revert-r1--APP_DEBUG",
                  env=ENV.replace("APP_DEBUG=false", "APP_DEBUG=true"))
    conn = env_host(facts(), after)
    r = env_setting_temporary(target(conn), name="APP_DEBUG", value="true", minutes=1)
    assert r.status is Status.CHANGED, r.message
    php, timer = r.commands
    assert php.startswith(f"php {HELPER} set {STATE_DIR} ") and '"seconds":60' in php
    assert timer.startswith("systemd-run --unit=remediations-env-revert-r1--APP_DEBUG --on-active=60s")
    assert r.diff is not None and r.diff.before == "APP_DEBUG=false"
    again = env_setting_temporary(target(env_host(after)), name="APP_DEBUG", value="true", minutes=1)
    assert again.status is Status.OK and again.commands == ()


def test_check_mode_plans_the_same_and_runs_only_the_read() -> None:
    conn = env_host(facts(helper=False))
    r = env_setting_temporary(target(conn, check=True), name="APP_DEBUG", value="true", minutes=1)
    assert r.status is Status.CHANGED and len(conn.commands) == 1
    assert r.commands[0].startswith(f"install -d -m 0700 -o root -g root {STATE_DIR}")


def test_config_cache_rebuilt_when_in_use_and_no_timer_without_systemd() -> None:
    conn = env_host(facts("cached=1", systemd=False))
    r = env_setting_temporary(target(conn, check=True), name="APP_DEBUG", value="true", minutes=1)
    assert r.commands[-1] == "runuser -u www-data -- php /srv/app/current/artisan config:cache"
    assert not r.data["revert_scheduled"] and "later run" in r.data["revert_needs"]


def test_another_runs_setting_of_the_same_name_is_refused() -> None:
    conn = env_host(facts(record(run="r0")))
    r = env_setting_temporary(target(conn), name="APP_DEBUG", value="true", minutes=1)
    assert r.status is Status.FAILED and "run r0" in r.message and r.commands == ()


def test_secret_values_never_reach_the_result() -> None:
    conn = env_host(facts())
    r = env_setting_temporary(target(conn, check=True), name="DB_PASSWORD", value="n3w-s3cret",
                              minutes=1)
    text = json.dumps(r.to_dict())
    assert "n3w-s3cret" not in text and "hunter22" not in text and MASK in text


def test_revert_takes_the_expired_ones_only_unless_all() -> None:
    expired = record(expires=NOW - 1)
    waiting = record(name="LOG_LEVEL", value="debug", old=None, expires=NOW + 600)
    conn = env_host(facts(expired, waiting, env=ENV.replace("false", "true")))
    r = env_settings_reverted(target(conn, check=True))
    assert r.status is Status.CHANGED
    assert r.commands == (f"php {HELPER} revert {STATE_DIR} r1--APP_DEBUG r1",)
    assert r.diff is not None and r.diff.after == "APP_DEBUG=false"
    r = env_settings_reverted(target(env_host(facts(expired, waiting))), all=True)  # check off
    assert "r1--LOG_LEVEL" in r.commands[0]


def test_nothing_to_revert_is_ok() -> None:
    conn = env_host(facts(record(reverted=NOW - 5, expires=NOW - 5)))
    r = env_settings_reverted(target(conn))
    assert r.status is Status.OK and r.commands == ()
