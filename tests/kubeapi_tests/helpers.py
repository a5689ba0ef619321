"""Helpers for the tests of the API server test double."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeAlias

# The client's models type every field Optional; tests read them as a cluster fills them.
Apps: TypeAlias = Any  # kubernetes.client.AppsV1Api
Core: TypeAlias = Any  # kubernetes.client.CoreV1Api


def wait_until(check: Callable[[], Any], timeout: float = 10, interval: float = 0.05) -> Any:
    """Poll `check` until it returns something truthy; fail with its last value."""
    deadline = time.monotonic() + timeout
    value = check()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = check()
    assert value, f"condition not met within {timeout}s (last value {value!r})"
    return value


def settled(apps: Any, name: str, namespace: str = "default") -> Any:
    """The Deployment once the controller has observed its generation and recorded its revision
    (so a read-modify-write does not race the controller's own status writes)."""
    def check() -> Any:
        d = apps.read_namespaced_deployment(name, namespace)
        done = (d.status.observed_generation == d.metadata.generation
                and "deployment.kubernetes.io/revision" in (d.metadata.annotations or {}))
        return d if done else None

    return wait_until(check)


def stream(list_function: Any, *args: Any, **kwargs: Any) -> Any:
    """`watch.Watch().stream(...)` of the real client (its module is untyped)."""
    from kubernetes import watch

    return watch.Watch().stream(list_function, *args, **kwargs)  # type: ignore[no-untyped-call]
