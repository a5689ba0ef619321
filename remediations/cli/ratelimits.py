"""The rate-limit task: an address's throttle entries in the app's cache, cleared."""

from __future__ import annotations

import functools
from typing import Any

from invoke.collection import Collection

from remediations.cli.options import (
    Common,
    fail,
    make_task,
    reporter_for,
    run_remediation,
    validated,
)


def clear_rate_limits(c: Any, opts: Common, address: str | None = None) -> None:
    """Clear the rate limits an address holds in the app (Laravel's throttle keys, found by the app)."""
    from remediations.core import validate
    from remediations.laravel.throttle import rate_limits_cleared

    if not address:
        raise fail(reporter_for(opts), "an address is required, e.g. clear-rate-limits 203.0.113.7")
    addr = str(validated(opts, validate.ip_address, address))
    run_remediation(opts, functools.partial(rate_limits_cleared, ip=addr),
                    name="rate_limits_cleared")


def register(ns: Collection) -> None:
    """Add this area's tasks to `ns`."""
    ns.add_task(make_task(clear_rate_limits, name="clear-rate-limits", positional=("address",),
                          params=(("address", None, "the client address, e.g. 203.0.113.7"),)))
