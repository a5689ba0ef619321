"""Laravel's rate limits: the entries one client address holds in the app's cache, cleared.

A stock Laravel app keeps its throttle counters in the cache store (not under a
`throttle` name): `ThrottleRequests` keys `throttle:60,1` routes by
`sha1(<route domain>|<ip>)` and named limiters (`RateLimiter::for('api', ...)`) by
`md5(<name><limit key>)`; `RateLimiter` stores the attempts under the key and the window's
end under `<key>:timer`, behind the cache prefix and the redis connection's prefix
(`lab_cache:<sha1>` in the cache connection's database, for example). Only the framework
knows all of that, so the app itself is asked: a PHP script boots it as artisan does,
derives the keys an address can hold (every route domain, every named limiter asked
for a request from that address) and reads or clears them with `RateLimiter`, whatever
the cache driver (redis, file, database, memcached).
"""

from __future__ import annotations

import json
from typing import Any

from remediations.core import validate
from remediations.core.errors import RemediationError
from remediations.core.result import Result, Status, Step
from remediations.core.scripts import script
from remediations.laravel.php import app_checked, as_app_user
from remediations.run.contract import Verification, apply
from remediations.run.target import Target

__all__ = ["rate_limits", "rate_limits_cleared"]

THROTTLE = script("laravel-throttle.php")


def _argv(t: Target, app: str, mode: str, ip: str) -> list[str]:
    return as_app_user(t, ["php", "-r", THROTTLE, "--", app, mode, ip])


def rate_limits(t: Target, ip: str) -> dict[str, Any]:
    """Read-only: `{"store", "checked", "keys": [{key, attempts, available_in, via}]}` for `ip`."""
    ip = validate.ip_address(ip)
    app = app_checked(t)
    res = t.conn.run(_argv(t, app, "list", ip), timeout=120)
    try:
        data: dict[str, Any] = json.loads((res.stdout.strip().splitlines() or ["?"])[-1])
    except ValueError:
        raise RemediationError(f"the rate-limit script in {app} printed no JSON:\n{res.tail(10)}") from None
    return data


def rate_limits_cleared(t: Target, ip: str) -> Result:
    """Leave `ip` no rate-limit entry in the app's cache (throttled routes, named limiters).

    `ok` when it holds none; check mode lists the keys (`data["keys"]`). Verified by
    reading them again. Example: `rate_limits_cleared(t, ip="203.0.113.9")`.
    """
    name = "rate_limits_cleared"
    found = rate_limits(t, ip)
    keys = found.get("keys") or []
    app = app_checked(t)
    data = {"ip": ip, "store": found.get("store"), "checked": found.get("checked"), "keys": keys}
    if not isinstance(keys, list):
        return t.result(name, Status.FAILED, "the rate-limit script answered no key list", data=data)
    steps = [Step(_argv(t, app, "clear", ip), f"{len(keys)} rate-limit key(s) of {ip}")] if keys else []
    held = ", ".join(f"{k['via']} ({k['attempts']} attempts)" for k in keys)

    def verify() -> Verification:
        left = rate_limits(t, ip).get("keys") or []
        return Verification(not left, f"{len(left)} rate-limit key(s) of {ip} left" if left
                            else f"{ip} holds no rate-limit entry", data={"left": left})

    return apply(t, name, steps, verify=verify,
                 ok_message=f"{ip} holds no rate-limit entry in the {found.get('store')} cache",
                 action=f"clear the rate limits of {ip}: {held}",
                 done=f"cleared the rate limits of {ip}: {held}", data=data)
