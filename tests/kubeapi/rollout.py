"""Pure helpers of the Deployment controller, after pkg/controller/deployment/util."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

from tests.kubeapi.objects import now, parse_time

Obj = dict[str, Any]

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX = "deployment.kubernetes.io/max-replicas"
TIMED_OUT = "ProgressDeadlineExceeded"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
SKIP_COPY = {"kubectl.kubernetes.io/last-applied-configuration", REVISION, HISTORY, DESIRED, MAX,
             "deprecated.deployment.rollback.to"}
MAX_HISTORY_CHARS = 2000
_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"


# --- templates --------------------------------------------------------------------------

def _prune(value: Any) -> Any:
    """Drop empty maps, lists and nulls: apimachinery's semantic equality treats them as unset."""
    if isinstance(value, dict):
        pruned = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def _without_hash(template: Obj) -> Obj:
    template = copy.deepcopy(template)
    labels = (template.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
    return _prune(template)  # type: ignore[no-any-return]


def equal_ignore_hash(a: Obj, b: Obj) -> bool:
    """Templates equal once the pod-template-hash label is ignored (EqualIgnoreHash)."""
    return _without_hash(a) == _without_hash(b)


def compute_hash(template: Obj, collision_count: int | None = None) -> str:
    """controller.ComputeHash: FNV-32a of the template (and collision count), safely encoded.

    The real one hashes Go's printing of the struct; this hashes canonical JSON, so
    names differ from a real cluster's but are just as stable.
    """
    data = json.dumps(_without_hash(template), sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        data += str(collision_count).encode()
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(_ALPHANUMS[ord(c) % len(_ALPHANUMS)] for c in str(value))


# --- ReplicaSet sets --------------------------------------------------------------------

def age_key(rs: Obj) -> tuple[str, str]:
    """ReplicaSetsByCreationTimestamp: oldest first, ties by name."""
    return (rs["metadata"].get("creationTimestamp", ""), rs["metadata"]["name"])


def revision(rs: Obj) -> int:
    value = (rs["metadata"].get("annotations") or {}).get(REVISION, "")
    return int(value) if value.isdigit() else 0


def revision_key(rs: Obj) -> tuple[int, tuple[str, str]]:
    return (revision(rs), age_key(rs))


def max_revision(rss: list[Obj]) -> int:
    return max((revision(rs) for rs in rss), default=0)


def split(d: Obj, rss: list[Obj]) -> tuple[Obj | None, list[Obj]]:
    """FindNewReplicaSet / FindOldReplicaSets: the oldest ReplicaSet running the template."""
    new = next((rs for rs in sorted(rss, key=age_key)
                if equal_ignore_hash(rs["spec"]["template"], d["spec"]["template"])), None)
    return new, [rs for rs in rss if rs is not new]


def replicas(rss: list[Obj]) -> int:
    return sum(int(rs["spec"].get("replicas", 0)) for rs in rss)


def _status_sum(rss: list[Obj], field: str) -> int:
    return sum(int((rs.get("status") or {}).get(field, 0)) for rs in rss)


def active(rss: list[Obj]) -> list[Obj]:
    return [rs for rs in rss if int(rs["spec"].get("replicas", 0)) > 0]


# --- maxSurge / maxUnavailable ----------------------------------------------------------

def is_rolling(d: Obj) -> bool:
    return bool((d["spec"].get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate")


def _scaled(value: Any, total: int, round_up: bool) -> int:
    if isinstance(value, int):
        return value
    text = str(value)
    if text.endswith("%"):
        exact = int(text[:-1]) * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(text)


def _fenceposts(d: Obj) -> tuple[int, int]:
    rolling = (d["spec"].get("strategy") or {}).get("rollingUpdate") or {}
    desired = int(d["spec"]["replicas"])
    surge = _scaled(rolling.get("maxSurge", "25%"), desired, True)
    unavailable = _scaled(rolling.get("maxUnavailable", "25%"), desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_surge(d: Obj) -> int:
    return _fenceposts(d)[0] if is_rolling(d) else 0


def max_unavailable(d: Obj) -> int:
    desired = int(d["spec"]["replicas"])
    if not is_rolling(d) or desired == 0:
        return 0
    return min(_fenceposts(d)[1], desired)


def new_rs_new_replicas(d: Obj, all_rss: list[Obj], new: Obj) -> int:
    desired = int(d["spec"]["replicas"])
    if not is_rolling(d):
        return desired
    current = replicas(all_rss)
    max_total = desired + max_surge(d)
    new_size = int(new["spec"].get("replicas", 0))
    if current >= max_total:
        return new_size
    return new_size + min(max_total - current, desired - new_size)


# --- annotations ------------------------------------------------------------------------

def set_replicas_annotations(rs: Obj, d: Obj) -> bool:
    annotations = rs["metadata"].setdefault("annotations", {})
    wanted = {DESIRED: str(d["spec"]["replicas"]), MAX: str(int(d["spec"]["replicas"]) + max_surge(d))}
    changed = any(annotations.get(k) != v for k, v in wanted.items())
    annotations.update(wanted)
    return changed


def set_new_rs_annotations(d: Obj, rs: Obj, new_revision: str, *, exists: bool) -> bool:
    """SetNewReplicaSetAnnotations: copy the Deployment's annotations, bump the revision,
    and remember the revisions a re-adopted ReplicaSet had before."""
    annotations = rs["metadata"].setdefault("annotations", {})
    changed = False
    for key, value in (d["metadata"].get("annotations") or {}).items():
        if key in SKIP_COPY or annotations.get(key) == value:
            continue
        annotations[key] = value
        changed = True
    old = annotations.get(REVISION)
    old_int = int(old) if old and old.isdigit() else 0
    if old and not old.isdigit():
        return False
    if old_int < int(new_revision):
        annotations[REVISION] = new_revision
        changed = True
        if old is not None:
            history = annotations.get(HISTORY, "")
            revisions = [r for r in history.split(",") if r] + [old]
            while len(",".join(revisions)) > MAX_HISTORY_CHARS and len(revisions) > 1:
                revisions.pop(0)
            annotations[HISTORY] = ",".join(revisions)
    if not exists and set_replicas_annotations(rs, d):
        changed = True
    return changed


# --- scaling ----------------------------------------------------------------------------

def find_active_or_latest(new: Obj | None, olds: list[Obj]) -> Obj | None:
    if new is None and not olds:
        return None
    newest_first = sorted(olds, key=age_key, reverse=True)
    live = active([*newest_first, *([new] if new else [])])
    if not live:
        return new if new is not None else newest_first[0]
    return live[0] if len(live) == 1 else None


def is_saturated(d: Obj, new: Obj | None) -> bool:
    if new is None:
        return False
    desired = (new["metadata"].get("annotations") or {}).get(DESIRED)
    want = int(d["spec"]["replicas"])
    return (int(new["spec"].get("replicas", 0)) == want and desired == str(want)
            and int((new.get("status") or {}).get("availableReplicas", 0)) == want)


def proportional_sizes(d: Obj, new: Obj | None, olds: list[Obj]) -> list[tuple[Obj, int]]:
    """The sizes scale() gives each active ReplicaSet when a rollout is scaled midway."""
    live = active([*olds, *([new] if new else [])])
    desired = int(d["spec"]["replicas"])
    allowed = desired + max_surge(d) if desired > 0 else 0
    to_add = allowed - replicas(live)
    # Largest first; ties newest first when scaling up (BySizeNewer), oldest first when down.
    live.sort(key=age_key, reverse=to_add > 0)
    live.sort(key=lambda rs: -int(rs["spec"]["replicas"]))
    sizes: list[tuple[Obj, int]] = []
    added = 0
    for rs in live:
        size = int(rs["spec"]["replicas"])
        if to_add and to_add != added and size:
            fraction = _fraction(rs, d, size)
            allowed_left = to_add - added
            step = min(fraction, allowed_left) if to_add > 0 else max(fraction, allowed_left)
            sizes.append((rs, size + step))
            added += step
        else:
            sizes.append((rs, size))
    if sizes and to_add:  # leftovers go to the largest
        sizes[0] = (sizes[0][0], max(0, sizes[0][1] + to_add - added))
    return sizes


def _fraction(rs: Obj, d: Obj, size: int) -> int:
    desired = int(d["spec"]["replicas"])
    if desired == 0:
        return -size
    before = (rs["metadata"].get("annotations") or {}).get(MAX, "")
    base = int(before) if before.isdigit() and int(before) else int((d.get("status") or {}).get("replicas", 0))
    if base == 0:
        return 0
    return math.floor(size * (desired + max_surge(d)) / base + 0.5) - size


# --- status and conditions --------------------------------------------------------------

def condition(status: Obj, kind: str) -> Obj | None:
    return next((c for c in status.get("conditions") or [] if c.get("type") == kind), None)


def set_condition(status: Obj, kind: str, value: str, reason: str, message: str,
                  stamp: str | None = None, transition: str | None = None) -> None:
    current = condition(status, kind)
    if current and current.get("status") == value and current.get("reason") == reason:
        return
    stamp = stamp or now()
    if transition is None:
        transition = current["lastTransitionTime"] if current and current.get("status") == value else stamp
    status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != kind] + [{
        "type": kind, "status": value, "lastUpdateTime": stamp, "lastTransitionTime": transition,
        "reason": reason, "message": message}]


def deployment_complete(d: Obj, status: Obj) -> bool:
    want = int(d["spec"]["replicas"])
    return bool(status.get("updatedReplicas", 0) == want and status.get("replicas", 0) == want
            and status.get("availableReplicas", 0) == want
            and status.get("observedGeneration", 0) >= d["metadata"].get("generation", 1))


def calculate_status(d: Obj, new: Obj | None, olds: list[Obj]) -> Obj:
    all_rss = [*olds, *([new] if new else [])]
    available = _status_sum(all_rss, "availableReplicas")
    old_status = d.get("status") or {}
    values = {
        "observedGeneration": d["metadata"].get("generation", 1),
        "replicas": _status_sum(all_rss, "replicas"),
        "updatedReplicas": _status_sum([new], "replicas") if new else 0,
        "readyReplicas": _status_sum(all_rss, "readyReplicas"),
        "availableReplicas": available,
        "unavailableReplicas": max(0, replicas(all_rss) - available),
    }
    status: Obj = {k: v for k, v in values.items() if v}  # omitempty, as the real JSON
    if "collisionCount" in old_status:
        status["collisionCount"] = old_status["collisionCount"]
    status["conditions"] = copy.deepcopy(old_status.get("conditions") or [])
    if available >= int(d["spec"]["replicas"]) - max_unavailable(d):
        set_condition(status, "Available", "True", "MinimumReplicasAvailable",
                      "Deployment has minimum availability.")
    else:
        set_condition(status, "Available", "False", "MinimumReplicasUnavailable",
                      "Deployment does not have minimum availability.")
    return status


def progress(d: Obj, status: Obj, new: Obj | None, stamp: str) -> None:
    """syncRolloutStatus: the Progressing condition (complete, progressing, or timed out)."""
    deadline = d["spec"].get("progressDeadlineSeconds")
    if deadline is None:
        status["conditions"] = [c for c in status["conditions"] if c["type"] != "Progressing"]
        return
    old = d.get("status") or {}
    current = condition(old, "Progressing")
    complete_already = (status.get("replicas", 0) == status.get("updatedReplicas", 0)
                        and current is not None and current.get("reason") == NEW_RS_AVAILABLE)
    if complete_already:
        return
    name = new["metadata"]["name"] if new else None
    subject = f'ReplicaSet "{name}"' if name else f'Deployment "{d["metadata"]["name"]}"'
    old_olds = old.get("replicas", 0) - old.get("updatedReplicas", 0)
    new_olds = status.get("replicas", 0) - status.get("updatedReplicas", 0)
    progressing = (status.get("updatedReplicas", 0) > old.get("updatedReplicas", 0)
                   or new_olds < old_olds
                   or status.get("readyReplicas", 0) > old.get("readyReplicas", 0)
                   or status.get("availableReplicas", 0) > old.get("availableReplicas", 0))
    if deployment_complete(d, status):
        set_condition(status, "Progressing", "True", NEW_RS_AVAILABLE,
                      f"{subject} has successfully progressed.", stamp)
    elif progressing:
        transition = current["lastTransitionTime"] if current and current.get("status") == "True" else stamp
        status["conditions"] = [c for c in status["conditions"] if c["type"] != "Progressing"]
        set_condition(status, "Progressing", "True", "ReplicaSetUpdated",
                      f"{subject} is progressing.", stamp, transition)
    elif _timed_out(status, int(deadline), stamp):
        set_condition(status, "Progressing", "False", TIMED_OUT,
                      f"{subject} has timed out progressing.", stamp)


def _timed_out(status: Obj, deadline: int, stamp: str) -> bool:
    cond = condition(status, "Progressing")
    if cond is None or cond.get("reason") == NEW_RS_AVAILABLE:
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    elapsed = (parse_time(stamp) - parse_time(cond["lastUpdateTime"])).total_seconds()
    return elapsed > deadline
