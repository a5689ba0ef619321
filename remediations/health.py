"""Health checks: a remediation's postcondition, and a task of their own."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from remediations import validate
from remediations.connections.base import Connection
from remediations.errors import InvalidInput
from remediations.result import Result, Status
from remediations.target import Target

DEFAULT_EXPECT = (200, 204)
_BODY_LIMIT = 64 * 1024


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    status: int
    body: str
    error: str = ""


def fetch(url: str, *, timeout: float = 5.0) -> HttpAnswer:
    """GET `url` from the controller; HTTP errors are answers, not exceptions."""
    req = urllib.request.Request(url, headers={"User-Agent": "remediations-health"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return HttpAnswer(resp.status, resp.read(_BODY_LIMIT).decode("utf-8", "replace"))
    except urllib.error.HTTPError as exc:
        return HttpAnswer(exc.code, exc.read(_BODY_LIMIT).decode("utf-8", "replace"))
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return HttpAnswer(0, "", f"{type(reason).__name__}: {reason}")


def fetch_on_host(conn: Connection, url: str, *, timeout: float = 5.0) -> HttpAnswer:
    """GET `url` with curl on the host itself (health seen from inside)."""
    res = conn.run(["curl", "-sS", "--max-time", f"{timeout:g}", "-o", "-", "-w", "\n%{http_code}",
                    url], check=False)
    body, _, code = res.stdout.rpartition("\n")
    try:
        status = int(code.strip())
    except ValueError:
        status = 0
    return HttpAnswer(status, body, "" if status else (res.stderr.strip() or f"curl exited {res.exit_code}"))


def judge(answer: HttpAnswer, *, expect: Collection[int], json_field: str | None,
          json_value: Any) -> tuple[bool, str]:
    """Whether an answer is healthy, and why not."""
    if answer.status == 0:
        return False, f"no answer ({answer.error})"
    if answer.status not in expect:
        return False, f"HTTP {answer.status}, expected {'/'.join(map(str, sorted(expect)))}"
    if json_field is None:
        return True, f"HTTP {answer.status}"
    try:
        value: Any = json.loads(answer.body)
        for part in json_field.split("."):
            value = value[part]
    except (ValueError, KeyError, TypeError, IndexError):
        return False, f"HTTP {answer.status} but no JSON field {json_field!r}"
    if json_value is not None and str(value) != str(json_value):
        return False, f"{json_field} is {value!r}, expected {json_value!r}"
    return True, f"HTTP {answer.status}, {json_field}={value!r}"


def http_ok(t: Target, url: str | None = None, *, expect: Collection[int] = DEFAULT_EXPECT,
            json_field: str | None = None, json_value: Any = None, from_host: bool = False,
            timeout: float = 5.0, retries: int = 0, interval: float = 1.0) -> Result:
    """Check that `url` (default: the host's `health_url`) answers healthily. Never changes anything.

    `json_field` is a dotted path that must exist in the JSON body (and equal
    `json_value` when given). `from_host` runs curl on the host instead of the
    controller. Example: `http_ok(t, json_field="status", json_value="ok")`.
    """
    target_url = url or t.var("health_url")
    if not target_url:
        raise InvalidInput(f"{t.name}: no url given and no health_url in the inventory")
    target_url = validate.http_url(str(target_url))
    started = time.monotonic()
    for attempt in range(retries + 1):
        answer = (fetch_on_host(t.conn, target_url, timeout=timeout) if from_host
                  else fetch(target_url, timeout=timeout))
        healthy, why = judge(answer, expect=expect, json_field=json_field, json_value=json_value)
        if healthy or attempt == retries:
            break
        time.sleep(interval)
    data = {"url": target_url, "http_status": answer.status,
            "elapsed": round(time.monotonic() - started, 3)}
    version = _version(answer.body)
    if version is not None:
        data["version"] = version
    if healthy:
        return Result(t.name, "http_ok", Status.OK, f"{target_url}: {why}", check=t.check, data=data)
    return Result(t.name, "http_ok", Status.FAILED, f"{target_url}: {why}",
                  evidence=answer.body[-2000:] or answer.error, check=t.check, data=data)


def _version(body: str) -> str | None:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return str(value["version"]) if isinstance(value, dict) and "version" in value else None
