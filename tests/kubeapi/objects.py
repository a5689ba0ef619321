"""Defaulting and validation of objects, as the real API server applies them."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.kubeapi.errors import ApiError
from tests.kubeapi.resources import Resource
from tests.kubeapi.selectors import selector_matches

Obj = dict[str, Any]

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class Clock:
    """A clock the double can run on instead of the real one (`tests.kubeapi.inprocess`).

    It only moves when told (`advance`): timestamps, ready delays and progress
    deadlines then follow it, so a test can let ten minutes of cluster time pass at once.
    """

    def __init__(self, start: datetime = datetime(2026, 1, 1, tzinfo=UTC)) -> None:
        self.start = start
        self.seconds = 0.0

    def advance(self, seconds: float) -> None:
        self.seconds += seconds

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.seconds)

    def monotonic(self) -> float:
        return self.seconds


_CLOCK: ContextVar[Clock | None] = ContextVar("kubeapi_clock", default=None)


@contextmanager
def running_on(clock: Clock) -> Iterator[None]:
    """Run the double on `clock` in this thread (the HTTP server's threads keep real time)."""
    token = _CLOCK.set(clock)
    try:
        yield
    finally:
        _CLOCK.reset(token)


def now() -> str:
    """A timestamp as the API renders them (RFC 3339, seconds)."""
    clock = _CLOCK.get()
    return (clock.now() if clock else datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


def monotonic() -> float:
    """Seconds for delays (the ready delay, minReadySeconds): `time.monotonic` or the clock's."""
    clock = _CLOCK.get()
    return clock.monotonic() if clock else time.monotonic()


def parse_time(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def new_uid() -> str:
    return str(uuid.uuid4())


# --- defaults ---------------------------------------------------------------------------

def _pull_policy(image: str) -> str:
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else "latest"
    return "Always" if tag == "latest" else "IfNotPresent"


def default_container(c: Obj) -> None:
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    if isinstance(c.get("image"), str):
        c.setdefault("imagePullPolicy", _pull_policy(c["image"]))
    c.setdefault("resources", {})
    for port in c.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")


def default_pod_spec(spec: Obj) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for key in ("containers", "initContainers"):
        for c in spec.get(key) or []:
            if isinstance(c, dict):
                default_container(c)


def _default_template(spec: Obj) -> None:
    template = spec.get("template")
    if isinstance(template, dict):
        template.setdefault("metadata", {})
        if isinstance(template.get("spec"), dict):
            default_pod_spec(template["spec"])


def default(resource: Resource, obj: Obj) -> None:
    """Fill the defaults the real API server fills on create and update."""
    spec = obj.get("spec")
    if resource.kind == "Deployment" and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        strategy = spec.setdefault("strategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            rolling.setdefault("maxUnavailable", "25%")
            rolling.setdefault("maxSurge", "25%")
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        _default_template(spec)
    elif resource.kind == "ReplicaSet" and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        _default_template(spec)
    elif resource.kind == "Pod" and isinstance(spec, dict):
        default_pod_spec(spec)
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("priority", 0)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        spec.setdefault("tolerations", [
            {"key": f"node.kubernetes.io/{t}", "operator": "Exists", "effect": "NoExecute",
             "tolerationSeconds": 300} for t in ("not-ready", "unreachable")])
        obj.setdefault("status", {"phase": "Pending", "qosClass": "BestEffort"})
    elif resource.kind == "Namespace":
        obj.setdefault("spec", {"finalizers": ["kubernetes"]})
        obj.setdefault("status", {"phase": "Active"})
        labels = obj["metadata"].setdefault("labels", {})
        labels.setdefault("kubernetes.io/metadata.name", obj["metadata"]["name"])


# --- validation -------------------------------------------------------------------------

Cause = tuple[str, str, str]


def _containers(spec: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    if not isinstance(spec, dict):
        return [(path, "FieldValueRequired", "Required value")]
    containers = spec.get("containers")
    if not containers:
        return [(f"{path}.containers", "FieldValueRequired", "Required value")]
    seen: set[str] = set()
    for i, c in enumerate(containers):
        where = f"{path}.containers[{i}]"
        name = c.get("name") if isinstance(c, dict) else None
        if not name:
            causes.append((f"{where}.name", "FieldValueRequired", "Required value"))
        elif not _LABEL.match(name) or len(name) > 63:
            causes.append((f"{where}.name", "FieldValueInvalid",
                           f'Invalid value: "{name}": a lowercase RFC 1123 label must consist of '
                           "lower case alphanumeric characters or '-'"))
        elif name in seen:
            causes.append((f"{where}.name", "FieldValueDuplicate", f'Duplicate value: "{name}"'))
        seen.add(name or "")
        if not (isinstance(c, dict) and c.get("image")):
            causes.append((f"{where}.image", "FieldValueRequired", "Required value"))
        for j, port in enumerate((c.get("ports") if isinstance(c, dict) else None) or []):
            number = port.get("containerPort") if isinstance(port, dict) else None
            if not isinstance(number, int) or not 0 < number < 65536:
                causes.append((f"{where}.ports[{j}].containerPort", "FieldValueInvalid",
                               f"Invalid value: {number}: must be between 1 and 65535, inclusive"))
        for j, env in enumerate((c.get("env") if isinstance(c, dict) else None) or []):
            if not (isinstance(env, dict) and env.get("name")):
                causes.append((f"{where}.env[{j}].name", "FieldValueRequired", "Required value"))
    return causes


def _workload(obj: Obj, old: Obj | None) -> list[Cause]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [("spec", "FieldValueRequired", "Required value")]
    causes: list[Cause] = []
    selector = spec.get("selector")
    if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        causes.append(("spec.selector", "FieldValueRequired", "Required value"))
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    if selector and not selector_matches(selector, labels):
        causes.append(("spec.template.metadata.labels", "FieldValueInvalid",
                       f"Invalid value: {labels!r}: `selector` does not match template `labels`"))
    replicas = spec.get("replicas", 0)
    if not isinstance(replicas, int) or replicas < 0:
        causes.append(("spec.replicas", "FieldValueInvalid",
                       f"Invalid value: {replicas}: must be greater than or equal to 0"))
    causes += _containers(template.get("spec"), "spec.template.spec")
    if old is not None and (old.get("spec") or {}).get("selector") != selector:
        causes.append(("spec.selector", "FieldValueInvalid",
                       f"Invalid value: {selector!r}: field is immutable"))
    strategy = spec.get("strategy") or {}
    if strategy.get("type") not in (None, "RollingUpdate", "Recreate"):
        causes.append(("spec.strategy.type", "FieldValueNotSupported",
                       f'Unsupported value: "{strategy.get("type")}": supported values: '
                       '"Recreate", "RollingUpdate"'))
    if strategy.get("type") == "Recreate" and strategy.get("rollingUpdate"):
        causes.append(("spec.strategy.rollingUpdate", "FieldValueForbidden",
                       "Forbidden: may not be specified when strategy `type` is 'Recreate'"))
    return causes


def validate(resource: Resource, obj: Obj, old: Obj | None = None) -> None:
    """Raise 422 Invalid with the same field paths a real server reports."""
    meta = obj.get("metadata") or {}
    name = meta.get("name", "")
    causes: list[Cause] = []
    if not name:
        causes.append(("metadata.name", "FieldValueRequired", "Required value: name or generateName is required"))
    elif not _SUBDOMAIN.match(name) or len(name) > 253:
        causes.append(("metadata.name", "FieldValueInvalid",
                       f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of lower '
                       "case alphanumeric characters, '-' or '.', and must start and end with an "
                       "alphanumeric character"))
    for field in ("labels", "annotations"):
        values = meta.get(field) or {}
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            causes.append((f"metadata.{field}", "FieldValueInvalid", "Invalid value: values must be strings"))
    if resource.kind in ("Deployment", "ReplicaSet"):
        causes += _workload(obj, old)
    elif resource.kind == "Pod":
        causes += _containers(obj.get("spec"), "spec")
    if causes:
        raise ApiError.invalid(resource.kind, resource.group, name, causes)
