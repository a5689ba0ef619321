"""A shell host's snapshot (systemd, ssh/docker/local): one script, plus the health URL and database."""

from __future__ import annotations

import importlib
import time
from collections.abc import Mapping
from typing import Any

from remediations.core.errors import InvalidInput, RemediationError
from remediations.host import redis as rds
from remediations.host.health import fetch
from remediations.laravel import php
from remediations.laravel.queue import queue_key
from remediations.run.target import Target
from remediations.snapshot.parse import parse_snapshot
from remediations.snapshot.script import NAME, SCRIPT, mark, snapshot_argv

_DATABASE_UNITS = ("postgresql", "mysql", "mariadb", "pgbouncer")


def script_argv(t: Target, *, scan: int, marker: str) -> list[str]:
    """The snapshot command for host `t`, every inventory value checked first."""
    app = php.app_path(t) if t.var("app_path") else ""
    user = php.app_user(t)
    password = "" if t.var("redis_password") is None else str(t.var("redis_password"))
    if any(c in password for c in "\0\n"):
        raise InvalidInput(f"{t.name}: redis_password may not contain NUL or newline")
    return snapshot_argv(marker, app=app, user=user, scan=scan, queue_key=queue_key(t, "default"),
                         redis_flags=rds.cli_flags(t), redis_password=password)


def shown_command(argv: list[str]) -> str:
    """The snapshot command as results show it: the script named, not pasted; password masked."""
    at = argv.index(SCRIPT)
    return rds.masked_command([*argv[:at], f"<{NAME} script: remediations.snapshot.script>",
                               *argv[at + 1:]])


def health(t: Target, *, timeout: float) -> dict[str, Any] | None:
    """The inventory's health_url fetched from here: status, latency, error; None without one."""
    url = t.var("health_url")
    if not url:
        return None
    started = time.monotonic()
    answer = fetch(str(url), timeout=timeout)
    return {"url": str(url), "status": answer.status, "error": answer.error,
            "latency_ms": round((time.monotonic() - started) * 1000, 1)}


def database(t: Target, snap: Mapping[str, Any], *, older_than: float) -> dict[str, Any] | None:
    """`remediations.database.database_status` when a database runs here (or db_engine is set).

    A second round trip; any failure (the module absent, the database refusing) is reported
    in the snapshot rather than raised.
    """
    engine = t.var("db_engine")
    units = [u["name"] for u in snap.get("units", ()) if u["name"].startswith(_DATABASE_UNITS)]
    if not engine and not units:
        return None
    try:
        status = importlib.import_module("remediations.database").database_status
    except (ImportError, AttributeError):
        return {"error": "remediations.database is not installed"}
    try:
        res = status(t, engine=str(engine) if engine else None, older_than=older_than)
    except (RemediationError, ValueError, KeyError, TypeError) as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    data = dict(res.data)
    if res.failed and not data.get("connections"):
        return {"error": res.message}
    return {"status": res.status.value, "message": res.message,
            "connections": data.get("connections"), "long_queries": data.get("long_queries") or []}


def snapshot(t: Target, th: Mapping[str, float], *, lines: int) -> tuple[dict[str, Any], list[str]]:
    """The host's snapshot and the commands sent: one script, then (maybe) the database check."""
    marker = mark()
    argv = script_argv(t, scan=int(th["log_window"]), marker=marker)
    res = t.conn.run(argv, check=False, timeout=90)
    commands = [shown_command(argv)]
    snap = parse_snapshot(res.stdout, marker, tail=lines)
    snap["kind"] = "systemd"
    snap["redis_remote"] = bool(t.var("redis_host"))
    if not snap["complete"]:
        snap["script_error"] = (res.stderr.strip() or res.stdout.strip())[-500:] \
            or f"exit {res.exit_code}"
    snap["health"] = health(t, timeout=th["health_timeout"])
    db = database(t, snap, older_than=th["db_query_seconds"])
    if db is not None:
        snap["database"] = db
        commands.append("database_status (remediations.database)")
    return snap, commands
