"""Maintenance mode: `artisan down` / `up`, verified with HTTP requests to the app.

Laravel 8.83 has no `down --message`: the message is rendered into the 503 page at
`down` time (`--render=errors::503`) from the environment variable MAINTENANCE_MESSAGE,
which the app's `resources/views/errors/503.blade.php` must show (the lab app does:
`getenv('MAINTENANCE_MESSAGE')`). The bypass secret is masked in every result.
"""

from __future__ import annotations

import html
import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from remediations.core import validate
from remediations.core.errors import InvalidInput
from remediations.core.result import Result, Status, Step
from remediations.host.files import read_text
from remediations.laravel.php import app_checked, app_path, artisan_argv
from remediations.run.contract import Verification, apply
from remediations.run.target import Target

MASK = "********"
_SECRET = re.compile(r"^[A-Za-z0-9._~-]{6,128}$")
_BODY_LIMIT = 64 * 1024


@dataclass(frozen=True, slots=True)
class DownState:
    """What storage/framework/down says (the secret itself is never kept)."""

    down: bool
    retry: int | None = None
    has_secret: bool = False
    template: str = ""

    def shows(self, message: str) -> bool:
        return blade_escape(message) in self.template


def blade_escape(text: str) -> str:
    """What Blade's `{{ }}` (htmlspecialchars, ENT_QUOTES) makes of `text`."""
    return html.escape(text, quote=True).replace("&#x27;", "&#039;")


def parse_down_file(text: str | None) -> DownState:
    if text is None:
        return DownState(False)
    try:
        payload = json.loads(text)
    except ValueError:
        return DownState(True)  # down all the same: Laravel only checks that the file exists
    retry = payload.get("retry")
    return DownState(True, int(retry) if isinstance(retry, int) else None,
                     bool(payload.get("secret")), str(payload.get("template") or ""))


def down_state(t: Target) -> DownState:
    return parse_down_file(read_text(t.conn, f"{app_path(t)}/storage/framework/down"))


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: str
    headers: dict[str, str]
    error: str = ""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # the bypass answers a redirect that carries the cookie: keep it


def get(url: str, *, cookie: str | None = None, timeout: float = 5.0) -> Answer:
    """GET without following redirects; HTTP errors are answers, not exceptions."""
    req = urllib.request.Request(url, headers={"User-Agent": "remediations-maintenance",
                                               **({"Cookie": cookie} if cookie else {})})
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(req, timeout=timeout) as resp:
            return Answer(resp.status, resp.read(_BODY_LIMIT).decode("utf-8", "replace"),
                          {k.lower(): v for k, v in resp.headers.items()})
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, exc.read(_BODY_LIMIT).decode("utf-8", "replace"),
                      {k.lower(): v for k, v in exc.headers.items()})
    except (urllib.error.URLError, OSError) as exc:
        return Answer(0, "", {}, f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}")


def bypass_cookie(answer: Answer) -> str | None:
    """`laravel_maintenance=...` from the redirect the secret path answers."""
    found = re.search(r"(laravel_maintenance=[^;,\s]+)", answer.headers.get("set-cookie", ""))
    return found.group(1) if found else None


def _url(t: Target, url: str | None) -> str | None:
    value = url or t.var("health_url")
    return validate.http_url(str(value)) if value else None


def validate_secret(secret: str) -> str:
    if not isinstance(secret, str) or not _SECRET.fullmatch(secret):
        raise InvalidInput("the bypass secret must be 6-128 characters of letters, digits, "
                           "'.', '_', '~', '-' (it becomes a URL path)")
    return secret


def validate_message(message: str) -> str:
    if not isinstance(message, str) or not message.strip() or len(message) > 500 or any(
            ord(c) < 32 for c in message):
        raise InvalidInput("the maintenance message must be 1-500 characters on one line")
    return message


def _masked(result: Result, secret: str | None) -> Result:
    if not secret:
        return result
    return result.replace(
        message=result.message.replace(secret, MASK), evidence=result.evidence.replace(secret, MASK),
        commands=tuple(c.replace(secret, MASK) for c in result.commands))


def maintenance_on(t: Target, *, message: str | None = None, secret: str | None = None,
                   retry: int = 60, url: str | None = None) -> Result:
    """Leave the app in maintenance mode (`artisan down`); already down is ok.

    `message` is shown on the 503 page, `secret` lets a browser in through
    `/<secret>` (masked in every result), `retry` is the Retry-After header.
    Verified at `url` (default `health_url`): 503, and with a secret, the bypass
    cookie from `/<secret>` gets a 200. Example: `maintenance_on(t, message="Back at 14:00")`.
    """
    retry = validate.count(retry, "retry", low=1, high=86400)
    if message is not None:
        validate_message(message)
    if secret is not None:
        validate_secret(secret)
    target_url = _url(t, url)
    app_checked(t)
    before = down_state(t)
    data = {"was_down": before.down, "message": message, "retry": retry, "bypass": bool(secret)}
    if before.down:
        note = ""
        if message and not before.shows(message):
            note = "; its 503 page does not show this message (maintenance_off, then on, to change it)"
        res = t.result("maintenance_on", Status.OK, f"already in maintenance mode{note}", data=data)
        return _masked(res, secret)
    args = ["down", "--render=errors::503", f"--retry={retry}"]
    if secret:
        args.append(f"--secret={secret}")
    env = {"MAINTENANCE_MESSAGE": message} if message else None
    steps = [Step(artisan_argv(t, *args, env=env), "app is up")]

    def verify() -> Verification:
        state = down_state(t)
        if not state.down:
            return Verification(False, "storage/framework/down is missing")
        if target_url is None:
            return Verification(True, "down file written (no url to check)")
        answer = get(target_url)
        extra = {"http_status": answer.status, "retry_after": answer.headers.get("retry-after")}
        if answer.status != 503:
            return Verification(False, f"{target_url} answers {answer.status or answer.error}, "
                                "not 503", answer.body[-2000:], extra)
        why = f"{target_url} answers 503"
        if message:
            extra["message_shown"] = blade_escape(message) in answer.body
            if not extra["message_shown"]:
                why += " (the 503 page does not show the message: does errors/503 read MAINTENANCE_MESSAGE?)"
        if secret:
            parts = urlsplit(target_url)
            cookie = bypass_cookie(get(f"{parts.scheme}://{parts.netloc}/{secret}"))
            through = get(target_url, cookie=cookie) if cookie else None
            extra["bypass_status"] = through.status if through else None
            if through is None or through.status not in (200, 204):
                return Verification(False, f"{why}, but the bypass path does not let a browser in",
                                    "", extra)
            why += f"; the bypass path lets a browser in ({through.status})"
        return Verification(True, why, "", extra)

    res = apply(t, "maintenance_on", steps, verify=verify, ok_message="",
                action="put the app in maintenance mode", done="app is down", data=data)
    return _masked(res, secret)


def maintenance_off(t: Target, *, url: str | None = None) -> Result:
    """Leave the app out of maintenance mode (`artisan up`); already up is ok.

    Verified: the down file is gone and `url` (default `health_url`) answers 200/204.
    Example: `maintenance_off(t)`.
    """
    target_url = _url(t, url)
    app_checked(t)
    before = down_state(t)
    steps = [Step(artisan_argv(t, "up"), "app is in maintenance mode")] if before.down else []

    def verify() -> Verification:
        if down_state(t).down:
            return Verification(False, "storage/framework/down is still there")
        if target_url is None:
            return Verification(True, "down file removed (no url to check)")
        answer = get(target_url)
        if answer.status not in (200, 204):
            return Verification(False, f"{target_url} answers {answer.status or answer.error}",
                                answer.body[-2000:], {"http_status": answer.status})
        return Verification(True, f"{target_url} answers {answer.status}", "",
                            {"http_status": answer.status})

    return apply(t, "maintenance_off", steps, verify=verify, ok_message="not in maintenance mode",
                 action="bring the app out of maintenance mode", done="app is up",
                 data={"was_down": before.down})
