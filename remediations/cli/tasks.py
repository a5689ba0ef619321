"""The remediation tasks: thin wrappers that validate, pick hosts, run and render."""

from __future__ import annotations

import functools
from typing import Any

from invoke.collection import Collection

from remediations.cli.options import Common, fail, make_task, reporter_for, run_remediation


def _validated(opts: Common, check: Any, *values: Any) -> Any:
    """Validate user input before the inventory is read or any host is touched."""
    from remediations.errors import InvalidInput

    try:
        return check(*values)
    except InvalidInput as exc:
        raise fail(reporter_for(opts), str(exc)) from None


def restart(c: Any, opts: Common, service: str = "", start_only: bool = False) -> None:
    """Restart a systemd service once per run, verified active with a new MainPID."""
    from remediations import validate
    from remediations.systemd import service_running

    if not service:
        raise fail(reporter_for(opts), "--service is required, e.g. --service nginx")
    unit = _validated(opts, validate.unit_name, service)
    fn = functools.partial(service_running, unit=unit, restart=not start_only)
    run_remediation(opts, fn, name="service_running" if start_only else "service_restarted")


def health(c: Any, opts: Common, url: str = "", field: str = "", value: str = "",
           from_host: bool = False, retries: int = 0) -> None:
    """Check each host's health URL (inventory `health_url`, or --url): 200/204 expected."""
    from remediations import validate
    from remediations.health import http_ok

    if url:
        _validated(opts, validate.http_url, url)
    fn = functools.partial(http_ok, url=url or None, json_field=field or None,
                           json_value=value or None, from_host=from_host, retries=retries)
    run_remediation(opts, fn, name="http_ok", lock=False)


def build_namespace() -> Collection:
    ns = Collection()
    ns.add_task(make_task(restart, name="restart", params=(
        ("service", "", "systemd unit to restart, e.g. nginx or php8.2-fpm"),
        ("start_only", False, "only start it if it is not running; never restart"),
    )))
    ns.add_task(make_task(health, name="health", params=(
        ("url", "", "URL to check instead of the host's health_url"),
        ("field", "", "dotted JSON field that must be present, e.g. status"),
        ("value", "", "value the JSON field must have"),
        ("from_host", False, "run the check on the host (curl) instead of from here"),
        ("retries", 0, "retries, one second apart, before declaring it unhealthy"),
    )))
    return ns
