"""Rate limits: the app lists an address's throttle entries; the remediation clears them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from remediations.connections.base import CommandResult
from remediations.connections.recording import RecordingConnection
from remediations.core.errors import InvalidInput, RemediationError
from remediations.core.result import Status
from remediations.laravel.throttle import rate_limits, rate_limits_cleared
from remediations.run.target import RunContext, Target
from tests.unit.helpers import host

KEY = {"key": "4b1f0c5e2d3a4b1f0c5e2d3a4b1f0c5e2d3a4b1f", "attempts": 31, "available_in": 42,
       "via": "throttle (any domain)"}


def target(conn: RecordingConnection, *, check: bool = False) -> Target:
    h = host("web1", app_path="/srv/app/current", app_user="www-data", ansible_user="root")
    return Target(h, conn, RunContext("r1", datetime.now(UTC), check=check))


def listing(*keys: dict[str, object]) -> str:
    return "PHP Deprecated: noise\n" + json.dumps({"store": "redis", "checked": 3, "keys": list(keys)})


def app_holding(keys: list[dict[str, object]]) -> RecordingConnection:
    """A host whose app holds `keys` until the clear script runs."""
    held = list(keys)

    def answer(argv: tuple[str, ...]) -> CommandResult:
        if argv[-2] == "clear":
            out = listing(*held)
            held.clear()
            return CommandResult("php", 0, out, "")
        return CommandResult("php", 0, listing(*held), "")

    return RecordingConnection().on(r"php -r", reply=answer)


def test_the_app_is_asked_as_the_app_user_with_the_address() -> None:
    conn = RecordingConnection().on(r"php -r", stdout=listing(KEY))
    found = rate_limits(target(conn), "203.0.113.9")
    assert found["keys"] == [KEY]
    (argv,) = conn.commands
    assert argv[:4] == ("runuser", "-u", "www-data", "--")
    assert argv[4:6] == ("php", "-r") and argv[-4:] == ("--", "/srv/app/current", "list", "203.0.113.9")


def test_cleared_then_ok_and_verified() -> None:
    conn = app_holding([KEY])
    first = rate_limits_cleared(target(conn), ip="203.0.113.9")
    assert first.status is Status.CHANGED, first.message
    assert "throttle (any domain) (31 attempts)" in first.message
    assert [a[-2] for a in conn.commands] == ["list", "clear", "list"]
    again = rate_limits_cleared(target(conn), ip="203.0.113.9")
    assert again.status is Status.OK and again.commands == ()


def test_check_mode_lists_the_keys_and_clears_nothing() -> None:
    conn = app_holding([KEY])
    r = rate_limits_cleared(target(conn, check=True), ip="203.0.113.9")
    assert r.status is Status.CHANGED and r.data["keys"] == [KEY]
    assert "clear" in r.commands[0] and [a[-2] for a in conn.commands] == ["list"]


def test_a_key_that_stays_fails_the_verification() -> None:
    conn = RecordingConnection().on(r"php -r", stdout=listing(KEY))
    r = rate_limits_cleared(target(conn), ip="203.0.113.9")
    assert r.status is Status.FAILED and "1 rate-limit key(s) of 203.0.113.9 left" in r.message


@pytest.mark.parametrize("ip", ["10.0.0.0/8", "example.com", "1.2.3.4; reboot", ""])
def test_only_one_address_is_accepted(ip: str) -> None:
    conn = RecordingConnection()
    with pytest.raises(InvalidInput):
        rate_limits_cleared(target(conn), ip=ip)
    assert conn.commands == []


def test_an_app_that_cannot_boot_is_an_error_with_its_output() -> None:
    conn = RecordingConnection().on(r"php -r", stdout="PHP Fatal error: Class not found")
    with pytest.raises(RemediationError, match="Class not found"):
        rate_limits(target(conn), "203.0.113.9")
