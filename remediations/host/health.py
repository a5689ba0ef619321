"""Health checks: a remediation's postcondition, and a task of their own."""

from __future__ import annotations

import functools
import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from remediations.connections.base import Connection
from remediations.core import validate
from remediations.core.errors import InvalidInput
from remediations.core.result import Result, Status
from remediations.host.run_as import as_user
from remediations.run.target import Target

DEFAULT_EXPECT = (200, 204)
HEALTH_PATHS = ("/up", "/health", "/api/health/live", "/api/health/ready")
_PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@/%-]*$")
_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_CONNECTION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
_RAN = re.compile(r"^\|\s*Yes\s*\|", re.M)
_PENDING = re.compile(r"^\|\s*No\s*\|", re.M)
_BODY_LIMIT = 64 * 1024
MAX_RETRIES = 10_000  # http_ok's retries: with the 1 s default interval, under three hours


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


@dataclass(frozen=True, slots=True)
class VersionCheck:
    """Whether `url` served the release asked for, why (not), and the last answer."""

    ok: bool
    why: str
    answer: HttpAnswer


def version_served(url: str, tag: str, *, wait: float, interval: float = 1.0,
                   require_version: bool = False) -> VersionCheck:
    """GET `url` until it answers 2xx with a JSON `version` matching `tag` (v optional).

    Polls until `wait` seconds have passed. A 2xx body without a `version` agrees unless
    `require_version`. Example: `version_served("http://127.0.0.1:8001/up", "v1.2.2", wait=60)`.
    """
    deadline = time.monotonic() + wait
    while True:
        answer = fetch(url)
        version = _version(answer.body)
        if not 200 <= answer.status < 300:
            why = f"HTTP {answer.status or answer.error}"
        elif version is None:
            if not require_version:
                return VersionCheck(True, f"HTTP {answer.status}", answer)
            why = f"HTTP {answer.status} without a JSON version"
        elif version.removeprefix("v") != tag.removeprefix("v"):
            why = f"answers version {version!r}, not {tag}"
        else:
            return VersionCheck(True, f"HTTP {answer.status}, version {version}", answer)
        if time.monotonic() >= deadline:
            return VersionCheck(False, why, answer)
        time.sleep(interval)


def health_agrees(url: str, tag: str, *, wait: float, interval: float = 1.0) -> tuple[bool, str]:
    """GET `url` until it answers 2xx; a JSON `version` in the body must match `tag` (v optional)."""
    check = version_served(url, tag, wait=wait, interval=interval)
    return check.ok, check.why


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


def _probe(t: Target, url: str, *, expect: Collection[int], json_field: str | None,
           json_value: Any, from_host: bool, timeout: float, retries: int,
           interval: float) -> tuple[HttpAnswer, bool, str]:
    """GET `url` until healthy or out of retries (a 404 is final: the path is not there)."""
    for attempt in range(retries + 1):
        answer = (fetch_on_host(t.conn, url, timeout=timeout) if from_host
                  else fetch(url, timeout=timeout))
        healthy, why = judge(answer, expect=expect, json_field=json_field, json_value=json_value)
        if healthy or attempt == retries or answer.status == 404:
            break
        time.sleep(interval)
    return answer, healthy, why


def http_ok(t: Target, url: str | None = None, *, expect: Collection[int] = DEFAULT_EXPECT,
            json_field: str | None = None, json_value: Any = None, from_host: bool = False,
            timeout: float = 5.0, retries: int = 0, interval: float = 1.0,
            paths: Sequence[str] | None = None) -> Result:
    """Check that `url` (default: the host's `health_url`) answers healthily. Never changes anything.

    `json_field` is a dotted path that must exist in the JSON body (and equal
    `json_value` when given). `from_host` runs curl on the host instead of the
    controller. With `paths` (e.g. `HEALTH_PATHS`: /up, /health, /api/health/live,
    /api/health/ready) each path is tried on the URL's host: a 404 means the app does
    not expose it; healthy when at least one answers and every one exposed is healthy.
    Example: `http_ok(t, json_field="status", json_value="ok")`.
    """
    expect = http_statuses(expect)
    timeout = validate.seconds(timeout, "timeout")
    retries = validate.count(retries, "retries", high=MAX_RETRIES)
    interval = validate.seconds(interval, "interval")
    target_url = url or t.var("health_url")
    if not target_url:
        raise InvalidInput(f"{t.name}: no url given and no health_url in the inventory")
    target_url = validate.http_url(str(target_url))
    probe = functools.partial(_probe, t, expect=expect, json_field=json_field,
                              json_value=json_value, from_host=from_host, timeout=timeout,
                              retries=retries, interval=interval)
    if paths is not None:
        return _paths_ok(t, target_url, [health_path(p) for p in paths], probe)
    started = time.monotonic()
    answer, healthy, why = probe(target_url)
    data = {"url": target_url, "http_status": answer.status,
            "elapsed": round(time.monotonic() - started, 3)}
    version = _version(answer.body)
    if version is not None:
        data["version"] = version
    if healthy:
        return t.result("http_ok", Status.OK, f"{target_url}: {why}", data=data)
    return t.result("http_ok", Status.FAILED, f"{target_url}: {why}",
                    evidence=answer.body[-2000:] or answer.error, data=data)


def http_statuses(values: object) -> tuple[int, ...]:
    """HTTP status codes (100-599), at least one: what `http_ok` calls healthy."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Collection) or not values:
        raise InvalidInput(f"expect must be a collection of HTTP status codes, got {values!r}")
    return tuple(validate.count(v, "expect", low=100, high=599) for v in values)


def health_path(value: object) -> str:
    """A URL path such as /api/health/ready."""
    if not isinstance(value, str) or not _PATH.fullmatch(value):
        raise InvalidInput(f"not a URL path: {value!r} (it starts with '/', no spaces)")
    return value


def _paths_ok(t: Target, base: str, paths: Sequence[str],
              probe: Callable[[str], tuple[HttpAnswer, bool, str]]) -> Result:
    if not paths:
        raise InvalidInput("paths is empty")
    parts = urlsplit(base)
    started = time.monotonic()
    seen: dict[str, Any] = {}
    healthy_paths: list[str] = []
    failing: list[tuple[str, str, HttpAnswer]] = []
    version: str | None = None
    for path in dict.fromkeys(paths):
        answer, healthy, why = probe(urlunsplit((parts.scheme, parts.netloc, path, "", "")))
        exposed = answer.status != 404
        seen[path] = {"http_status": answer.status, "healthy": healthy, "exposed": exposed}
        if healthy:
            healthy_paths.append(path)
            version = version or _version(answer.body)
        elif exposed:
            failing.append((path, why, answer))
    summary = "; ".join(f"{p}: " + ("ok" if v["healthy"] else "not exposed (404)"
                                    if not v["exposed"] else "FAILED")
                        for p, v in seen.items())
    data: dict[str, Any] = {"url": base, "paths": seen,
                            "elapsed": round(time.monotonic() - started, 3)}
    if version is not None:
        data["version"] = version
    where = f"{parts.scheme}://{parts.netloc}"
    if healthy_paths and not failing:
        return t.result("http_ok", Status.OK, f"{where}: {summary}", data=data)
    why = "; ".join(f"{p}: {w}" for p, w, _ in failing) or "no health path answered"
    evidence = "\n".join(f"{p}: {a.body[-1000:] or a.error}" for p, _, a in failing)
    return t.result("http_ok", Status.FAILED, f"{where}: {why}", evidence=evidence, data=data)


def artisan(t: Target, *args: str) -> list[str]:
    """`php <app_path>/artisan ARGS` as `app_user`, the inventory values validated: as is when
    commands already run as that user (a container's `ansible_user: www-data`), through
    runuser as root, else sudo."""
    app = str(t.var("app_path", "/srv/app/current")).rstrip("/")
    user = str(t.var("app_user", "www-data"))
    if not app.startswith("/") or any(c in app for c in "\0\n") or ".." in app.split("/"):
        raise InvalidInput(f"{t.name}: app_path must be an absolute path, got {app!r}")
    if not _USER.fullmatch(user):
        raise InvalidInput(f"{t.name}: app_user is not a valid user name: {user!r}")
    return as_user(t, user, ["php", f"{app}/artisan", *args])


def connection_name(value: object) -> str:
    """A Laravel database connection name (config/database.php), e.g. mysql or pgsql."""
    if not isinstance(value, str) or not _CONNECTION.fullmatch(value):
        raise InvalidInput(f"not a valid Laravel connection name: {value!r} (letters, digits, "
                           "'_', '.', '-')")
    return value


def database_reachable(t: Target, *, timeout: float = 60.0, connection: str | None = None) -> Result:
    """A check: the Laravel app reaches its configured database (`artisan migrate:status`).

    migrate:status opens the app's default connection (or `connection`, artisan's
    `--database`) and reads its migrations table, so it fails when the database is down,
    unreachable, or its credentials are wrong. Reports how many migrations ran and how
    many are pending. Example: `database_reachable(t, connection="mysql")`.
    """
    timeout = validate.seconds(timeout, "timeout")
    which = [f"--database={connection_name(connection)}"] if connection is not None else []
    argv = artisan(t, "migrate:status", *which, "--no-ansi", "--no-interaction")
    started = time.monotonic()
    res = t.conn.run(argv, check=False, timeout=timeout)
    ran = len(_RAN.findall(res.stdout))
    pending = len(_PENDING.findall(res.stdout))
    data: dict[str, Any] = {"elapsed": round(time.monotonic() - started, 3), "ran": ran,
                            "pending": pending}
    via = ""
    if connection is not None:
        data["connection"] = connection
        via = f" (connection {connection})"
    if res.succeeded:
        extra = f", {pending} pending" if pending else ""
        return t.result("database_reachable", Status.OK,
                        f"database reachable{via}: {ran} migration(s) ran{extra}",
                        data={**data, "migrated": True})
    if "Migration table not found" in res.stdout + res.stderr:
        return t.result("database_reachable", Status.OK,
                        f"database reachable{via}, but it has no migrations table (never migrated)",
                        data={**data, "migrated": False})
    return t.result("database_reachable", Status.FAILED,
                    f"database not reachable{via}: artisan migrate:status exited {res.exit_code}",
                    evidence=res.tail(15), data=data)


def _version(body: str) -> str | None:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return str(value["version"]) if isinstance(value, dict) and "version" in value else None
