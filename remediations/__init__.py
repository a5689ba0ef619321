"""Idempotent, verified remediation functions for PHP/Laravel production stacks.

    from remediations import load_inventory, run, RunOptions, service_running
    inv = load_inventory("inventories/lab.yml")
    report = run(functools.partial(service_running, unit="nginx", restart=True),
                 inv.select("web"), options=RunOptions(forks=10))
    for result in report: print(result.host, result.status, result.message)

Names are imported lazily so the command line starts fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Status": "remediations.result", "Result": "remediations.result",
    "Step": "remediations.result", "Diff": "remediations.result",
    "RemediationError": "remediations.errors", "InvalidInput": "remediations.errors",
    "InventoryError": "remediations.errors", "NoHostsMatched": "remediations.errors",
    "Unreachable": "remediations.errors", "CommandFailed": "remediations.errors",
    "CommandTimeout": "remediations.errors", "HostLocked": "remediations.errors",
    "ConnectionFailed": "remediations.errors",
    "Target": "remediations.target", "RunContext": "remediations.target",
    "apply": "remediations.contract", "Verification": "remediations.contract",
    "Connection": "remediations.connections", "CommandResult": "remediations.connections",
    "connect": "remediations.connections", "sh": "remediations.connections",
    "Host": "remediations.inventory", "Inventory": "remediations.inventory",
    "load_inventory": "remediations.inventory",
    "run": "remediations.runner", "RunOptions": "remediations.runner",
    "Report": "remediations.report", "Event": "remediations.report",
    "start_run": "remediations.state",
    "Redactor": "remediations.redact",
    "service_running": "remediations.systemd", "unit_state": "remediations.systemd",
    "http_ok": "remediations.health",
}

__all__ = [
    "CommandFailed",
    "CommandResult",
    "CommandTimeout",
    "Connection",
    "ConnectionFailed",
    "Diff",
    "Event",
    "Host",
    "HostLocked",
    "InvalidInput",
    "Inventory",
    "InventoryError",
    "NoHostsMatched",
    "Redactor",
    "RemediationError",
    "Report",
    "Result",
    "RunContext",
    "RunOptions",
    "Status",
    "Step",
    "Target",
    "Unreachable",
    "Verification",
    "__version__",
    "apply",
    "connect",
    "http_ok",
    "load_inventory",
    "run",
    "service_running",
    "sh",
    "start_run",
    "unit_state",
]

if TYPE_CHECKING:
    from remediations.connections import CommandResult, Connection, connect, sh
    from remediations.contract import Verification, apply
    from remediations.errors import (
        CommandFailed,
        CommandTimeout,
        ConnectionFailed,
        HostLocked,
        InvalidInput,
        InventoryError,
        NoHostsMatched,
        RemediationError,
        Unreachable,
    )
    from remediations.health import http_ok
    from remediations.inventory import Host, Inventory, load_inventory
    from remediations.redact import Redactor
    from remediations.report import Event, Report
    from remediations.result import Diff, Result, Status, Step
    from remediations.runner import RunOptions, run
    from remediations.state import start_run
    from remediations.systemd import service_running, unit_state
    from remediations.target import RunContext, Target


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'remediations' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
