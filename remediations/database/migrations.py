"""`migrations_rolled_back`: the app's last N migration steps rolled back, once per run.

An explicit opt-in (it drops tables and columns): `php artisan migrate:rollback
--step=N --force`, as the app user. Check mode runs `--pretend`, which prints the SQL
and changes nothing. Verified with `migrate:status`: the migrations that were last to
run now show as not run. The run records it on the host (a run marker), so resuming
the same run does not roll back twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from remediations.connections.base import CommandResult
from remediations.connections.batch import run_batch
from remediations.core import validate
from remediations.core.result import Result, Status, Step
from remediations.host.health import artisan as host_artisan
from remediations.host.health import connection_name
from remediations.laravel.php import artisan_argv
from remediations.run import markers
from remediations.run.contract import Probe, Verification, apply
from remediations.run.target import Target

__all__ = ["Migration", "migrations_rolled_back", "parse_migrate_status", "rolled_back_by"]

MAX_STEPS = 100
# Laravel <= 8: `| Yes  | 2014_10_12_000000_create_users_table | 1 |`
_TABLE_ROW = re.compile(r"^\|\s*(Yes|No)\s*\|\s*(\S+)\s*\|\s*(\d*)\s*\|\s*$")
# Laravel >= 9: `  2014_10_12_000000_create_users_table ......... [1] Ran` / `... Pending`
_DOTS_ROW = re.compile(r"^\s*(\S+)\s+\.*\s*(?:\[(\d+)\]\s+)?(Ran|Pending)\s*$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One row of `migrate:status`: the migration, whether it ran, in which batch."""

    name: str
    ran: bool
    batch: int | None = None


def parse_migrate_status(text: str) -> list[Migration]:
    """Rows of `artisan migrate:status` (the Laravel 8 table, or the dotted lines of 9+)."""
    found: list[Migration] = []
    for line in text.splitlines():
        m = _TABLE_ROW.match(line)
        if m:
            found.append(Migration(m.group(2), m.group(1) == "Yes",
                                   int(m.group(3)) if m.group(3) else None))
            continue
        m = _DOTS_ROW.match(line)
        if m and m.group(1) not in ("Migration", "Migration name"):
            found.append(Migration(m.group(1), m.group(3) == "Ran",
                                   int(m.group(2)) if m.group(2) else None))
    return found


def rolled_back_by(migrations: Sequence[Migration], steps: int) -> list[Migration]:
    """The migrations `migrate:rollback --step=N` undoes: the last N to run (batch, then name)."""
    ran = [m for m in migrations if m.ran]
    ran.sort(key=lambda m: (m.batch or 0, m.name), reverse=True)
    return ran[:steps]


def artisan(t: Target, *args: str) -> list[str]:
    """artisan as the app user; in a pod as the container's user, as the Laravel area runs it."""
    # kubectl exec runs as the image's user, and images rarely carry runuser.
    if t.host.connection == "kubernetes":
        return artisan_argv(t, *args)
    return host_artisan(t, *args)


def _status_argv(t: Target, which: list[str]) -> list[str]:
    return artisan(t, "migrate:status", *which, "--no-ansi", "--no-interaction")


def _judge(expected: Sequence[Migration]) -> Callable[[CommandResult], Verification]:
    names = {m.name for m in expected}

    def judge(answer: CommandResult) -> Verification:
        if answer.failed:
            return Verification(False, "migrate:status failed afterwards", answer.tail(15))
        now = {m.name: m for m in parse_migrate_status(answer.stdout)}
        still = sorted(n for n in names if n in now and now[n].ran)
        if still:
            return Verification(False, f"still ran: {', '.join(still)}", answer.tail(20))
        return Verification(True, f"migrate:status shows {', '.join(sorted(names))} not run")

    return judge


def migrations_rolled_back(t: Target, *, steps: int, connection: str | None = None,
                           timeout: float = 300.0) -> Result:
    """Leave the app's last `steps` migrations rolled back (`artisan migrate:rollback`), once per run.

    `connection` is artisan's `--database` (default: the app's default connection).
    Check mode shows `--pretend`'s SQL and changes nothing; nothing to roll back is ok.
    Example: `migrations_rolled_back(t, steps=1, connection="mysql")`.
    """
    name = "migrations_rolled_back"
    steps = validate.count(steps, "steps", low=1, high=MAX_STEPS)
    timeout = validate.seconds(timeout, "timeout")
    which = [f"--database={connection_name(connection)}"] if connection is not None else []
    label = connection or "default"
    key = f"migrate-rollback-{label}"
    status_argv = _status_argv(t, which)
    ran = run_batch(t.conn, [status_argv, ["test", "-e", markers.path(t.run, key)]],
                    timeout=timeout)
    status = ran[0]
    if status.failed:
        return t.result(name, Status.FAILED, f"migrate:status failed (connection {label}): "
                        "the app cannot read its migrations", commands=(status.command,),
                        evidence=status.tail(15))
    if len(ran) > 1 and ran[1].succeeded:
        return t.result(name, Status.OK, f"already rolled back {steps} step(s) in this run "
                        f"(connection {label})", data={"connection": label, "rollback_steps": steps})
    migrations = parse_migrate_status(status.stdout)
    expected = rolled_back_by(migrations, steps)
    data = {"connection": label, "rollback_steps": steps,
            "migrations": [m.name for m in expected]}
    if not expected:
        return t.result(name, Status.OK, f"nothing to roll back on connection {label}: no "
                        "migration has run", data=data)
    rollback = artisan(t, "migrate:rollback", f"--step={steps}", "--force", *which,
                       "--no-ansi", "--no-interaction")
    listing = ", ".join(m.name for m in expected)
    if t.check:
        return _pretend(t, name, steps, which, rollback, listing, data, timeout)
    return apply(t, name, [Step(rollback, f"roll back {steps} step(s)"),
                           markers.mark_step(t.run, key)],
                 verify=Probe(status_argv, _judge(expected)),
                 ok_message="", action=f"roll back {listing}",
                 done=f"rolled back {len(expected)} migration(s) on connection {label}: "
                      f"{listing}", data=data)


def _pretend(t: Target, name: str, steps: int, which: list[str], rollback: list[str],
             listing: str, data: dict[str, object], timeout: float) -> Result:
    """Check mode: what `--pretend` says the rollback would run; nothing changed."""
    pretend = t.conn.run(artisan(t, "migrate:rollback", "--pretend", f"--step={steps}",
                                 "--force", *which, "--no-ansi", "--no-interaction"),
                         check=False, timeout=timeout)
    if pretend.failed:
        return t.result(name, Status.FAILED, "migrate:rollback --pretend failed",
                        commands=(pretend.command,), evidence=pretend.tail(15), data=data)
    sql = pretend.stdout.strip()
    return t.result(name, Status.CHANGED, f"would roll back {listing}; --pretend:\n{sql}",
                    commands=(Step(rollback).command,),
                    data={**data, "pretend": sql, "pretend_command": pretend.command})
