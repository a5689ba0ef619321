"""JSON patch (RFC 6902), JSON merge patch (RFC 7386) and strategic merge patch.

Strategic merge follows the patch strategies of the built-in types the test
double serves (Deployment, ReplicaSet, Pod): lists of objects merged by key,
lists of primitives replaced (finalizers merged), and the `$patch`,
`$setElementOrder/`, `$deleteFromPrimitiveList/` and `$retainKeys` directives.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.kubeapi.errors import ApiError

# field name -> merge key, for the lists the real types mark `patchStrategy:"merge"`.
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "ports": "containerPort",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "conditions": "type",
    "ownerReferences": "uid",
    "resourceClaims": "name",
    "topologySpreadConstraints": "topologyKey",
}
# Primitive lists merged as sets rather than replaced.
MERGED_PRIMITIVE_LISTS = {"finalizers"}


def _bad(message: str) -> ApiError:
    return ApiError.bad_request(message)


def _unprocessable(message: str) -> ApiError:
    """A JSON patch that decodes but does not apply: 422, as the API server answers."""
    return ApiError(422, "Invalid", message)


# --- RFC 6902 -------------------------------------------------------------------------

def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _bad(f"the server rejected our request due to an error in our request: invalid path {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str], path: str) -> Any:
    current = doc
    for part in parts[:-1]:
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            raise _unprocessable(f"jsonpatch: path {path!r} does not exist (missing {part!r})")
    return current


def _get(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        return doc
    parent, last = _parent(doc, parts, path), parts[-1]
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent[int(last)]
    raise _unprocessable(f"jsonpatch: path {path!r} does not exist")


def _remove(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    parent, last = _parent(doc, parts, path), parts[-1]
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent.pop(int(last))
    raise _unprocessable(f"jsonpatch remove operation does not apply: doc is missing path: {path}")


def _add(doc: Any, path: str, value: Any, replace: bool = False) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent, last = _parent(doc, parts, path), parts[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise _unprocessable(f"jsonpatch replace operation does not apply: doc is missing key: {path}")
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-" and not replace:
            parent.append(value)
        elif last.isdigit() and int(last) <= len(parent) - (1 if replace else 0):
            if replace:
                parent[int(last)] = value
            else:
                parent.insert(int(last), value)
        else:
            raise _unprocessable(f"jsonpatch: index out of range: {path}")
    else:
        raise _unprocessable(f"jsonpatch: path {path!r} does not exist")
    return doc


def json_patch(doc: dict[str, Any], operations: Any) -> Any:
    """Apply an RFC 6902 patch."""
    if not isinstance(operations, list):
        raise _bad("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    result: Any = copy.deepcopy(doc)
    for op in operations:
        kind, path = op.get("op"), op.get("path", "")
        if kind == "add":
            result = _add(result, path, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            _remove(result, path)
        elif kind == "replace":
            result = _add(result, path, copy.deepcopy(op.get("value")), replace=True)
        elif kind == "move":
            value = _remove(result, op["from"])
            result = _add(result, path, value)
        elif kind == "copy":
            result = _add(result, path, copy.deepcopy(_get(result, op["from"])))
        elif kind == "test":
            if _get(result, path) != op.get("value"):
                raise _unprocessable(f"testing value {path} failed")
        else:
            raise _bad(f"Unexpected kind: {kind}")
    return result


# --- RFC 7386 -------------------------------------------------------------------------

def merge_patch(doc: Any, patch: Any) -> Any:
    """Apply an RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# --- strategic merge patch ------------------------------------------------------------

def strategic_merge(doc: Any, patch: Any) -> Any:
    """Apply a strategic merge patch as the API server does for built-in types."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    return _merge_map(doc if isinstance(doc, dict) else {}, patch)


def _merge_map(doc: dict[str, Any], patch: dict[str, Any]) -> Any:
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive not in (None, "merge"):
        raise _bad(f"Unknown patch type: {directive}")
    result = copy.deepcopy(doc)
    orders: dict[str, list[Any]] = {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            result[field] = [v for v in result.get(field) or [] if v not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            existing = result.get(key)
            merged = _merge_map(existing if isinstance(existing, dict) else {}, value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _merge_list(key, result.get(key), value)
        else:
            result[key] = copy.deepcopy(value)
    for field, order in orders.items():
        if isinstance(result.get(field), list):
            result[field] = _order(field, result[field], order)
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(field: str, current: Any, patch: list[Any]) -> list[Any]:
    current = current if isinstance(current, list) else []
    key = MERGE_KEYS.get(field)
    if key is None or not all(isinstance(item, dict) for item in patch):
        if field in MERGED_PRIMITIVE_LISTS:
            return [*copy.deepcopy(current), *(v for v in patch if v not in current)]
        return [copy.deepcopy(v) for v in patch if not (isinstance(v, dict) and "$patch" in v)]
    if any(item.get("$patch") == "replace" for item in patch):
        return [copy.deepcopy(item) for item in patch if "$patch" not in item]
    result: list[Any] = copy.deepcopy(current)
    for item in patch:
        if key not in item:
            raise _bad(f"map: {item} does not contain declared merge key: {key}")
        index = next((i for i, old in enumerate(result)
                      if isinstance(old, dict) and old.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if index is not None:
                result.pop(index)
            continue
        if index is None:
            result.append(_merge_map({}, item))
        else:
            result[index] = _merge_map(result[index], item)
    return result


def _order(field: str, items: list[Any], order: list[Any]) -> list[Any]:
    key = MERGE_KEYS.get(field)
    if key is None:
        rank = {repr(v): i for i, v in enumerate(order)}
        return sorted(items, key=lambda v: rank.get(repr(v), len(rank)))
    wanted = [repr(o.get(key)) for o in order if isinstance(o, dict)]
    ranks = {v: i for i, v in enumerate(wanted)}
    return sorted(items, key=lambda v: ranks.get(repr(v.get(key)) if isinstance(v, dict) else "", len(ranks)))


def apply_patch(doc: dict[str, Any], content_type: str, body: Any) -> Any:
    """Apply a PATCH body of `content_type` to `doc`."""
    kind = content_type.split(";")[0].strip()
    if kind == "application/json-patch+json":
        return json_patch(doc, body)
    if kind == "application/merge-patch+json":
        return merge_patch(doc, body)
    if kind in ("application/strategic-merge-patch+json", "application/apply-patch+yaml"):
        if not isinstance(body, dict):
            raise _bad("the body of a strategic merge patch must be an object")
        return strategic_merge(doc, body)
    raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json; got {kind}")
