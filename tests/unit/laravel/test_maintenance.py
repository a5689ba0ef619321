"""Maintenance mode: the down file read, the exact artisan commands, the secret masked."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from remediations.connections.recording import RecordingConnection
from remediations.core.errors import InvalidInput
from remediations.core.result import Status
from remediations.laravel import maintenance
from remediations.laravel.maintenance import (
    Answer,
    blade_escape,
    bypass_cookie,
    maintenance_off,
    maintenance_on,
    parse_down_file,
)
from remediations.run.target import RunContext, Target
from tests.unit.helpers import host

APP = "/srv/app/current"
DOWN = f"{APP}/storage/framework/down"
URL = "http://127.0.0.1:8001/up"
SECRET = "lab-bypass-42"


def target(conn: RecordingConnection, *, check: bool = False) -> Target:
    h = host("web1", app_path=APP, app_user="www-data", ansible_user="root", health_url=URL)
    return Target(h, conn, RunContext("r1", datetime(2026, 11, 23, tzinfo=UTC), check=check))


def down_file(message: str = "Back soon", secret: str | None = SECRET) -> str:
    return json.dumps({"except": [], "redirect": None, "retry": 60, "secret": secret,
                       "status": 503, "template": f"<p>{blade_escape(message)}</p>"})


class FakeWeb:
    """Answers the verification's HTTP requests as a Laravel app in maintenance would."""

    def __init__(self, status: int = 503, body: str = "<p>Back soon</p>", bypass: bool = True) -> None:
        self.status, self.body, self.bypass = status, body, bypass
        self.urls: list[tuple[str, str | None]] = []

    def __call__(self, url: str, *, cookie: str | None = None, timeout: float = 5.0) -> Answer:
        self.urls.append((url, cookie))
        if url.endswith(f"/{SECRET}"):
            return Answer(302, "", {"set-cookie": "laravel_maintenance=abc123; path=/; httponly"}
                          if self.bypass else {})
        if cookie == "laravel_maintenance=abc123":
            return Answer(200, '{"status":"ok"}', {})
        return Answer(self.status, self.body, {"retry-after": "60"})


@pytest.fixture
def web(monkeypatch: pytest.MonkeyPatch) -> FakeWeb:
    fake = FakeWeb()
    monkeypatch.setattr(maintenance, "get", fake)
    return fake


def app_host(down_before: str | None, down_after: str | None) -> RecordingConnection:
    conn = RecordingConnection("web1")
    if down_before is None:
        conn.on(r"^cat -- .*/down$", exit_code=1, times=1)
    else:
        conn.on(r"^cat -- .*/down$", stdout=down_before, times=1)
    if down_after is None:
        conn.on(r"^cat -- .*/down$", exit_code=1)
    else:
        conn.on(r"^cat -- .*/down$", stdout=down_after)
    return conn


def test_down_with_message_and_secret_runs_the_exact_command_and_masks_the_secret(web: FakeWeb) -> None:
    conn = app_host(None, down_file())
    result = maintenance_on(target(conn), message="Back soon", secret=SECRET, retry=60)
    assert result.status is Status.CHANGED, result.message
    assert result.commands == (
        "runuser -u www-data -- env 'MAINTENANCE_MESSAGE=Back soon' php /srv/app/current/artisan "
        "down --render=errors::503 --retry=60 --secret=********",)
    assert conn.ran("runuser", "-u", "www-data", "--", "env", "MAINTENANCE_MESSAGE=Back soon", "php",
                    f"{APP}/artisan", "down", "--render=errors::503", "--retry=60",
                    f"--secret={SECRET}")
    assert SECRET not in json.dumps(result.to_dict())
    assert result.data["http_status"] == 503 and result.data["bypass_status"] == 200
    assert result.data["message_shown"] is True
    assert (URL, "laravel_maintenance=abc123") in web.urls


def test_already_down_is_ok_and_runs_nothing(web: FakeWeb) -> None:
    conn = app_host(down_file(), down_file())
    result = maintenance_on(target(conn), message="Back soon")
    assert result.status is Status.OK and result.commands == ()
    assert result.message == "already in maintenance mode"
    assert not conn.commands_matching("artisan") and web.urls == []


def test_already_down_with_another_message_says_so() -> None:
    conn = app_host(down_file("Back at 14:00"), None)
    result = maintenance_on(target(conn), message="Back at 15:00")
    assert result.status is Status.OK and "does not show this message" in result.message


def test_check_mode_lists_the_command_and_touches_nothing(web: FakeWeb) -> None:
    conn = app_host(None, None)
    result = maintenance_on(target(conn, check=True), secret=SECRET)
    assert result.status is Status.CHANGED and result.check
    assert result.commands == ("runuser -u www-data -- php /srv/app/current/artisan down "
                               "--render=errors::503 --retry=60 --secret=********",)
    assert [a[0] for a in conn.commands] == ["cat"] and web.urls == []


def test_a_bypass_that_does_not_let_in_fails(web: FakeWeb) -> None:
    web.bypass = False
    result = maintenance_on(target(app_host(None, down_file())), secret=SECRET)
    assert result.status is Status.FAILED and "bypass" in result.message
    assert SECRET not in json.dumps(result.to_dict())


def test_a_failed_down_command_keeps_the_secret_out_of_the_evidence(web: FakeWeb) -> None:
    conn = app_host(None, None).on(r"artisan down", exit_code=1, stderr="boom")
    result = maintenance_on(target(conn), secret=SECRET)
    assert result.status is Status.FAILED
    assert SECRET not in json.dumps(result.to_dict()) and "********" in result.message


def test_not_503_after_down_fails(web: FakeWeb) -> None:
    web.status = 200
    result = maintenance_on(target(app_host(None, down_file())))
    assert result.status is Status.FAILED and "not 503" in result.message


def test_up_runs_artisan_up_and_verifies_200(web: FakeWeb) -> None:
    web.status, web.body = 200, "{}"
    conn = app_host(down_file(), None)
    result = maintenance_off(target(conn))
    assert result.status is Status.CHANGED, result.message
    assert result.commands == ("runuser -u www-data -- php /srv/app/current/artisan up",)
    assert result.message.endswith("answers 200")


def test_up_when_up_is_ok(web: FakeWeb) -> None:
    conn = app_host(None, None)
    result = maintenance_off(target(conn))
    assert result.status is Status.OK and result.commands == () and web.urls == []


def test_up_but_still_503_fails(web: FakeWeb) -> None:
    result = maintenance_off(target(app_host(down_file(), None)))
    assert result.status is Status.FAILED and "answers 503" in result.message


@pytest.mark.parametrize("kwargs", [
    {"secret": "a b c d e"}, {"secret": "../../x"}, {"secret": "short"}, {"message": ""},
    {"message": "two\nlines"}, {"message": "x" * 501}, {"retry": 0}, {"retry": "60"},
    {"url": "ftp://x"},
])
def test_bad_input_is_refused_before_the_host_is_touched(kwargs: dict[str, Any]) -> None:
    conn = RecordingConnection()
    with pytest.raises(InvalidInput):
        maintenance_on(target(conn), **kwargs)
    assert conn.commands == []


@pytest.mark.parametrize("text,down,retry,secret", [
    (None, False, None, False),
    (down_file(), True, 60, True),
    (down_file(secret=None), True, 60, False),
    ("not json", True, None, False),
])
def test_parse_down_file(text: str | None, down: bool, retry: int | None, secret: bool) -> None:
    state = parse_down_file(text)
    assert (state.down, state.retry, state.has_secret) == (down, retry, secret)


def test_blade_escape_matches_htmlspecialchars() -> None:
    assert blade_escape("it's <b>&\"") == "it&#039;s &lt;b&gt;&amp;&quot;"


def test_bypass_cookie() -> None:
    assert bypass_cookie(Answer(302, "", {"set-cookie": "laravel_maintenance=x.y; path=/"})) == \
        "laravel_maintenance=x.y"
    assert bypass_cookie(Answer(302, "", {})) is None
