"""A Deployment's revisions, as kubectl reads them: pure functions over the API's JSON.

Ported from kubectl (`pkg/polymorphichelpers/rollback.go`, `pkg/util/deployment`):
the ReplicaSets a Deployment controls are those its full selector matches *and* whose
controller owner reference is the Deployment's uid; a revision is the ReplicaSet's
`deployment.kubernetes.io/revision`; "previous" is the second-highest one; templates
compare equal ignoring the `pod-template-hash` label, with nil and empty alike (Go's
`apiequality.Semantic.DeepEqual`).
One deliberate difference: kubectl rebuilds the Deployment's annotations from the
target ReplicaSet's (keeping only its `annotationsToSkip` from the Deployment), which
drops every annotation the Deployment gained since that revision; `rollback_annotations`
keeps those too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from remediations.connections.cluster import selector_matches
from remediations.core.errors import RemediationError

Obj = Mapping[str, Any]

REVISION = "deployment.kubernetes.io/revision"
HASH_LABEL = "pod-template-hash"
CHANGE_CAUSE = "kubernetes.io/change-cause"
# kubectl's annotationsToSkip: kept from the Deployment, never copied from the ReplicaSet.
ANNOTATIONS_TO_SKIP = frozenset({
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
})
# This library's own annotations (the lock, the rollback marker) describe the Deployment
# now: a ReplicaSet's copy of them is stale and never copied back.
OWN_PREFIX = "remediations.io/"


def meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def annotations_of(obj: Obj) -> dict[str, str]:
    return dict(meta(obj).get("annotations") or {})


def revision_of(obj: Obj) -> int | None:
    """kubectl's `deploymentutil.Revision`: 0 without the annotation, None when unparseable."""
    value = annotations_of(obj).get(REVISION)
    if value is None:
        return 0
    try:
        return int(value)
    except ValueError:
        return None


def is_controlled_by(rs: Obj, deployment: Obj) -> bool:
    """`metav1.IsControlledBy`: a controller owner reference with the Deployment's uid."""
    uid = meta(deployment).get("uid")
    return any(ref.get("controller") is True and ref.get("uid") == uid
               for ref in meta(rs).get("ownerReferences") or [])


def _created(obj: Obj) -> tuple[str, str]:
    # RFC 3339 UTC stamps of one server sort as strings; the name breaks ties, as kubectl's.
    return str(meta(obj).get("creationTimestamp") or ""), str(meta(obj).get("name") or "")


def controlled_replica_sets(deployment: Obj, replica_sets: Sequence[Obj]) -> list[Obj]:
    """The ReplicaSets `deployment` controls (selector and controller reference), oldest first."""
    selector = (deployment.get("spec") or {}).get("selector")
    owned = [rs for rs in replica_sets
             if selector_matches(selector, meta(rs).get("labels")) and is_controlled_by(rs, deployment)]
    return sorted(owned, key=_created)


def semantic(value: Any) -> Any:
    """JSON with nil and empty maps/lists removed, so they compare equal as in Go."""
    if isinstance(value, Mapping):
        out = {k: semantic(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [semantic(v) for v in value]
    return value


def without_hash(template: Obj) -> dict[str, Any]:
    """A copy of a pod template without the `pod-template-hash` label."""
    copy = dict(template)
    metadata = dict(copy.get("metadata") or {})
    labels = {k: v for k, v in (metadata.get("labels") or {}).items() if k != HASH_LABEL}
    if "labels" in metadata or labels:
        metadata["labels"] = labels
    copy["metadata"] = metadata
    return copy


def template(obj: Obj) -> Obj:
    return (obj.get("spec") or {}).get("template") or {}


def equal_ignore_hash(t1: Obj, t2: Obj) -> bool:
    """kubectl's `equalIgnoreHash` on two pod templates."""
    return bool(semantic(without_hash(t1)) == semantic(without_hash(t2)))


def all_replica_sets(deployment: Obj, controlled: Sequence[Obj]) -> list[Obj]:
    """`GetAllReplicaSets`: the old ones (oldest first), then the new one (same template)."""
    new = next((rs for rs in controlled if equal_ignore_hash(template(rs), template(deployment))),
               None)
    old = [rs for rs in controlled if new is None or meta(rs).get("uid") != meta(new).get("uid")]
    return old + ([new] if new is not None else [])


class RevisionNotFound(RemediationError, LookupError):
    """No ReplicaSet has the revision asked for; the message is kubectl's."""


def pick_revision(replica_sets: Sequence[Obj], to_revision: int, name: str) -> Obj:
    """kubectl's `deploymentRevision`: revision `to_revision`, or with 0 the second-highest."""
    if to_revision < 0:
        raise RevisionNotFound(f"unable to find specified revision {to_revision} in history")
    latest: tuple[int, Obj | None] = (-1, None)
    previous: tuple[int, Obj | None] = (-1, None)
    for rs in replica_sets:
        v = revision_of(rs)
        if v is None:
            continue
        if to_revision == 0:
            if latest[0] < v:
                previous, latest = latest, (v, rs)
            elif previous[0] < v:
                previous = (v, rs)
        elif to_revision == v:
            return rs
    if to_revision > 0:
        raise RevisionNotFound(f"unable to find specified revision {to_revision} in history")
    if previous[1] is None:
        raise RevisionNotFound(f'no rollout history found for deployment "{name}"')
    return previous[1]


def image_tag(image: str) -> str | None:
    """The tag of an image reference (`reg:5000/app:v1.2.2@sha256:..` -> `v1.2.2`), or None."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else None


def images(tmpl: Obj) -> dict[str, str]:
    """Container name -> image of a pod template, in order."""
    return {str(c.get("name")): str(c.get("image", ""))
            for c in (tmpl.get("spec") or {}).get("containers") or []}


def container_image(tmpl: Obj, container: str | None) -> str | None:
    found = images(tmpl)
    if container is None:
        return next(iter(found.values()), None)
    return found.get(container)


def release_revision(replica_sets: Sequence[Obj], container: str | None, release: str) -> Obj:
    """The newest revision whose template runs `release` (the image tag) in `container`."""
    matching = [(revision_of(rs) or 0, rs) for rs in replica_sets
                if revision_of(rs) is not None
                and image_tag(container_image(template(rs), container) or "") == release]
    if not matching:
        raise RevisionNotFound(
            f"no revision in history runs release {release} in container {container or '(first)'}")
    return max(matching, key=lambda m: m[0])[1]


def rollback_annotations(deployment: Obj, rs: Obj) -> dict[str, str]:
    """The Deployment's annotations after rolling back to `rs`.

    As kubectl: the ReplicaSet's annotations (the change-cause of that revision...) win,
    except `ANNOTATIONS_TO_SKIP`, which stay the Deployment's. Unlike kubectl (and
    Ansible's k8s_rollback, which keeps only the revision), every other annotation of the
    Deployment is kept, and this library's own are never taken from the ReplicaSet.
    """
    result = annotations_of(deployment)
    for key, value in annotations_of(rs).items():
        if key not in ANNOTATIONS_TO_SKIP and not key.startswith(OWN_PREFIX):
            result[key] = value
    return result


def rollback_patch(deployment: Obj, rs: Obj, extra: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """kubectl's JSON patch (replace the template, then the annotations), guarded by a test.

    The `test` of resourceVersion makes the patch apply only to the Deployment it was
    computed from (RFC 6902: a failed test fails the whole patch).
    """
    notes = {**rollback_annotations(deployment, rs), **(extra or {})}
    return [
        {"op": "test", "path": "/metadata/resourceVersion", "value": meta(deployment).get("resourceVersion")},
        {"op": "replace", "path": "/spec/template", "value": without_hash(template(rs))},
        {"op": "replace", "path": "/metadata/annotations", "value": notes},
    ]


@dataclass(frozen=True, slots=True)
class Revision:
    """One line of `kubectl rollout history`, with the images of that revision."""

    number: int
    images: Mapping[str, str]
    change_cause: str = ""
    replica_set: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"revision": self.number, "images": dict(self.images),
                "change_cause": self.change_cause, "replica_set": self.replica_set}


def history(replica_sets: Sequence[Obj]) -> list[Revision]:
    """The revisions of the controlled ReplicaSets, ascending, as `kubectl rollout history`."""
    found: dict[int, Revision] = {}
    for rs in replica_sets:
        v = revision_of(rs)
        if v is None:
            continue
        found[v] = Revision(v, images(template(rs)), annotations_of(rs).get(CHANGE_CAUSE, ""),
                            str(meta(rs).get("name", "")))
    return [found[v] for v in sorted(found)]
