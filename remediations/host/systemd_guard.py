"""A unit's restart decided on the host, in the round trip that takes the host's lock.

In the common case (the unit loaded, not masked, active) the decision needs nothing the
host does not know: a short `sh` script reads the unit, restarts it when this run has
not yet (its ActiveEnterTimestamp is older than the run's start), and reads it back. The
runner sends it between the lock and the lock's release, so lock, inspect, act, verify
and unlock cost one round trip. Every other state (missing, masked, failed, stopped,
activating, a systemd too old for `--timestamp=us+utc`) the script leaves alone and
reports `slow`; `service_running` then plans in Python from the state it printed.

The script's decision is a narrowing of `plan_service_running`, never a second policy:
it acts only where that function would plan exactly one `systemctl restart` and nothing
else (tests/unit/host/test_systemd_guard.py runs it in `sh` against both).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from datetime import UTC, datetime

from remediations.connections.base import CommandResult
from remediations.core.scripts import script as _script

PLAN = "remediations-plan="
AFTER = "remediations-read-back"
SLOW_EXIT = 99  # the script chose not to decide: plan in Python
# remediations/scripts/systemd-guard.sh: the read and the common-case check, then (after
# its `# restart:` line) the restart decision, sent only when asked to restart.
_READ, _, _after = _script("systemd-guard.sh").partition("\n# restart:")
_RESTART = _after.partition("\n")[2]


@dataclass(frozen=True, slots=True)
class Trip:
    """What the script printed: the state before, what it did, the state after."""

    before: str | None  # `systemctl show` output; None when it could not read the unit
    plan: str  # "restart", "none" (nothing to do), "slow" (left to Python), "" (no answer)
    acted: CommandResult | None  # the restart's own result, when it ran
    after: CommandResult | None  # the read-back's result, when the restart succeeded


def _stamp(when: datetime) -> tuple[str, str]:
    """`when` as the two integers the script compares: 1YYYYMMDD and 1HHMMSSffffff (UTC)."""
    utc = when.astimezone(UTC)
    return utc.strftime("1%Y%m%d"), utc.strftime("1%H%M%S%f")


def script(unit: str, show: list[str], *, restart: bool, run_started: datetime) -> list[str]:
    """The `sh -c` argv: read `unit` with `show`, act when the state is the common one.

    Prints the state, then `remediations-plan=<restart|none|slow>`; after a restart,
    `remediations-read-back` and the state again. Exits 99 for `slow`, the restart's
    exit code when it fails, else 0. `unit` must already be validated.
    """
    day, time = _stamp(run_started)
    values = {"SHOW": shlex.join(show), "UNIT": shlex.quote(unit), "DAY": day, "TIME": time,
              "PLAN": PLAN, "AFTER": AFTER, "SLOW": str(SLOW_EXIT)}
    text = f"{_READ}\n{_RESTART if restart else 'plan none'}"
    # One pass: a value is never searched for placeholders itself.
    return ["sh", "-c", re.sub(r"@([A-Z]+)@", lambda m: values[m[1]], text)]


def parse(res: CommandResult, *, restart_command: str, show_command: str) -> Trip:
    """Split the script's output into the state before, its plan, and what acting returned."""
    head, found, tail = res.stdout.partition(f"\n{PLAN}")
    if not found:
        if res.stdout.startswith(PLAN):
            head, tail = "", res.stdout[len(PLAN):]
        else:  # no plan line: the read failed, or the host ran something else
            return Trip(None, "", None, None)
    plan, _, rest = tail.partition("\n")
    before = head if head.strip() else None
    if plan != "restart":
        return Trip(before, plan if plan in ("none", "slow") else "", None, None)
    acted_out, read_back, after_out = rest.partition(f"{AFTER}\n")
    if not read_back:  # the restart failed: its exit code and stderr are the script's
        return Trip(before, plan, CommandResult(restart_command, res.exit_code, acted_out,
                                                res.stderr, res.duration), None)
    acted = CommandResult(restart_command, 0, acted_out, "")
    return Trip(before, plan, acted, CommandResult(show_command, res.exit_code, after_out,
                                                   res.stderr, res.duration))
