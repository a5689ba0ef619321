"""Label and field selectors, parsed and matched as the API server does."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tests.kubeapi.errors import ApiError

Labels = Mapping[str, str]

_KEY = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")


@dataclass(frozen=True)
class Requirement:
    """One label requirement: `key op values` (op: =, !=, in, notin, exists, !)."""

    key: str
    op: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Labels) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op in ("=", "=="):
            return present and value == self.values[0]
        if self.op == "!=":
            return not present or value != self.values[0]
        if self.op == "in":
            return present and value in self.values
        if self.op == "notin":
            return not present or value not in self.values
        if self.op == "exists":
            return present
        return not present  # "!"


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def _bad(text: str, why: str) -> ApiError:
    return ApiError.bad_request(f"unable to parse requirement: {why}: {text!r}")


def _check(key: str, values: tuple[str, ...], text: str) -> None:
    if not _KEY.match(key):
        raise _bad(text, f"invalid label key {key!r}")
    for value in values:
        if not _VALUE.match(value) or len(value) > 63:
            raise _bad(text, f"invalid label value {value!r}")


def parse_label_selector(text: str | None) -> list[Requirement]:
    """Parse `app=web,tier!=db,env in (a,b),!canary,release`."""
    requirements: list[Requirement] = []
    for part in _split_top_level(text or ""):
        set_match = re.match(r"^(\S+)\s+(in|notin)\s*\((.*)\)$", part)
        if set_match:
            key, op, raw = set_match.groups()
            values = tuple(v.strip() for v in raw.split(",") if v.strip())
            _check(key, values, part)
            requirements.append(Requirement(key, op, values))
            continue
        eq_match = re.match(r"^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$", part)
        if eq_match:
            key, op, value = eq_match.groups()
            _check(key, (value,), part)
            requirements.append(Requirement(key, "=" if op == "==" else op, (value,)))
            continue
        if part.startswith("!"):
            key = part[1:].strip()
            _check(key, (), part)
            requirements.append(Requirement(key, "!"))
            continue
        _check(part, (), part)
        requirements.append(Requirement(part, "exists"))
    return requirements


def labels_match(requirements: list[Requirement], labels: Labels | None) -> bool:
    return all(r.matches(labels or {}) for r in requirements)


def selector_requirements(selector: Mapping[str, Any] | None) -> list[Requirement]:
    """A metav1.LabelSelector (matchLabels + matchExpressions) as requirements."""
    selector = selector or {}
    reqs = [Requirement(k, "=", (str(v),)) for k, v in sorted((selector.get("matchLabels") or {}).items())]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expr in selector.get("matchExpressions") or []:
        reqs.append(Requirement(expr["key"], ops[expr["operator"]], tuple(expr.get("values") or ())))
    return reqs


def selector_matches(selector: Mapping[str, Any] | None, labels: Labels | None) -> bool:
    """Whether a metav1.LabelSelector selects `labels`; an empty selector selects everything."""
    return labels_match(selector_requirements(selector), labels)


def selector_string(selector: Mapping[str, Any] | None) -> str:
    """A metav1.LabelSelector rendered as the string form (Scale status.selector)."""
    parts = []
    for r in selector_requirements(selector):
        if r.op == "=":
            parts.append(f"{r.key}={r.values[0]}")
        elif r.op in ("in", "notin"):
            parts.append(f"{r.key} {r.op} ({','.join(sorted(r.values))})")
        elif r.op == "exists":
            parts.append(r.key)
        else:
            parts.append(f"!{r.key}")
    return ",".join(sorted(parts))


# Field labels each resource supports, as the API server's field selectors do.
_COMMON_FIELDS = ("metadata.name", "metadata.namespace")
FIELDS: dict[str, tuple[str, ...]] = {
    "pods": (*_COMMON_FIELDS, "status.phase", "spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName", "status.podIP", "status.nominatedNodeName"),
    "events": _COMMON_FIELDS + tuple(f"involvedObject.{f}" for f in (
        "kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"))
        + ("reason", "reportingComponent", "source", "type"),
    "replicasets": (*_COMMON_FIELDS, "status.replicas"),
}


def _field_value(obj: Mapping[str, Any], path: str) -> str:
    if path == "source":
        return str((obj.get("source") or {}).get("component", ""))
    current: Any = obj
    for part in path.split("."):
        current = current.get(part) if isinstance(current, Mapping) else None
    return "" if current is None else str(current)


def parse_field_selector(text: str | None, resource: str) -> Callable[[Mapping[str, Any]], bool]:
    """Parse `metadata.name=web,status.phase!=Running` for `resource` (a plural)."""
    terms: list[tuple[str, bool, str]] = []
    allowed = FIELDS.get(resource, _COMMON_FIELDS)
    for part in _split_top_level(text or ""):
        match = re.match(r"^([^=!]+)(==|=|!=)(.*)$", part)
        if not match:
            raise ApiError.bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        field, op, value = match.groups()
        if field not in allowed:
            raise ApiError.bad_request(f'field label not supported: {field}')
        terms.append((field, op != "!=", value))

    def matches(obj: Mapping[str, Any]) -> bool:
        return all((_field_value(obj, f) == v) == eq for f, eq, v in terms)

    return matches
