"""Kubernetes Deployments: scaled, image set, restarted, rolled back, rollout complete.

Each function takes a target whose connection is a `KubeConnection` (`cluster_of(t)`:
the namespace and the Deployment the inventory host names), inspects the Deployment,
acts only when it differs from the state asked for, then waits for the rollout with
kubectl's rules (`rollout.rollout_status`). Check mode sends the very same request as
a server-side dry run (`dryRun=All`): the API server validates it and nothing is stored.
Every request goes through the official client; `kubectl` is never run.

A rollout restart or a scale to 0 of a database Deployment (`core.databases.
workload_database`: the inventory's `database: true` or `db_deployment`, its name, or a
container image such as `postgres:16`) needs `allow_database_restart=True`; without it
`DatabaseRestartRefused` is raised before any request when the inventory or the name
tells, else after the one GET that reads the images, and always before any change.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from remediations.connections.cluster import (
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_PATCH,
    Cluster,
    cluster_of,
    selector_string,
)
from remediations.core import validate
from remediations.core.databases import named, refused, workload_database
from remediations.core.errors import InvalidInput, KubeApiError
from remediations.core.result import Diff, Result, Status
from remediations.core.values import Release
from remediations.kubernetes.revisions import (
    RevisionNotFound,
    all_replica_sets,
    annotations_of,
    container_image,
    controlled_replica_sets,
    equal_ignore_hash,
    history,
    image_tag,
    images,
    meta,
    pick_revision,
    release_revision,
    revision_of,
    rollback_patch,
    template,
)
from remediations.kubernetes.rollout import Obj, rolled_out, rollout_complete
from remediations.run.contract import apply
from remediations.run.target import Target

__all__ = ["deployment_at_release", "deployment_releases", "deployment_restarted",
           "deployment_rolled_back", "deployment_scaled", "image_set", "rollout_complete"]

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
ROLLED_BACK = "remediations.io/rolled-back"
_IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@+-]{0,511}$")
_MAX_REPLICAS = 10_000
_MAX_REVISION = 10**9  # a revision per rollout: a billion is no real Deployment's history
_CONFLICT_RETRIES = 3


def validate_replicas(replicas: int) -> int:
    """A replica count from 0 to 10000."""
    return validate.count(replicas, "replicas", high=_MAX_REPLICAS)


def validate_image(image: str) -> str:
    """An image reference such as `registry:5000/shop/app:v1.2.3` (no spaces, no shell)."""
    if not isinstance(image, str) or not _IMAGE.fullmatch(image) or ".." in image:
        raise InvalidInput(f"not a valid image reference: {image!r}")
    return image


def _paused(dep: Obj) -> bool:
    return bool((dep.get("spec") or {}).get("paused"))


def _container(cluster: Cluster, dep: Obj, container: str | None) -> str | None:
    """The container asked for, else the inventory's, else the first; None if absent."""
    found = images(template(dep))
    name = container or cluster.container or next(iter(found), None)
    return name if name in found else None


def database_reason(t: Target, cluster: Cluster, dep: Obj | None = None) -> str:
    """Why the target's Deployment is a database (`workload_database`), or ``; its images
    count once `dep` was read (without it, only the inventory and the name: no request)."""
    found = images(template(dep)).values() if dep is not None else ()
    return workload_database(cluster.deployment, [i for i in found if i],
                             database=t.var("database"),
                             db_deployments=named(t.var("db_deployment")))


def _refuse(t: Target, cluster: Cluster, verb: str, dep: Obj | None = None) -> None:
    if why := database_reason(t, cluster, dep):
        what = f"deployment {cluster.deployment}" + (" to 0 replicas" if verb == "scale" else "")
        raise refused(what, why, verb=verb)


# -- scaled ----------------------------------------------------------------------------------

def deployment_scaled(t: Target, replicas: int, *, timeout: float = 300.0,
                      allow_database_restart: bool = False) -> Result:
    """Leave the Deployment at `replicas` replicas, all of them ready.

    Scales through the `scale` subresource (as `kubectl scale`), then waits until
    `readyReplicas == replicas` and the rollout is complete; 0 is allowed, for a
    database only with `allow_database_restart` (see the module).
    Example: `deployment_scaled(t, 5)`.
    """
    replicas = validate_replicas(replicas)
    timeout = validate.seconds(timeout, "timeout")
    cluster = cluster_of(t)
    if replicas == 0 and not allow_database_restart:
        _refuse(t, cluster, "scale")
        _refuse(t, cluster, "scale", cluster.read_deployment())
    scale = cluster.apps.read_namespaced_deployment_scale(cluster.deployment, cluster.namespace)
    before = int((scale.get("spec") or {}).get("replicas") or 0)

    def all_ready(d: Obj) -> bool:
        status = d.get("status") or {}
        return (int(status.get("readyReplicas") or 0) == replicas
                and int(status.get("replicas") or 0) == replicas)

    steps = [] if before == replicas else [
        cluster.deployment_patch({"spec": {"replicas": replicas}}, MERGE_PATCH, sub="scale")]
    what = f"{cluster.deployment} from {before} to {replicas} replica(s)"
    return apply(t, "deployment_scaled", steps,
                 verify=rolled_out(cluster, timeout=timeout, until=all_ready,
                                   waiting_for=f"{replicas} ready replica(s)"),
                 ok_message=f"already {replicas} replica(s)",
                 action=f"scale {what} (server-side dry run accepted)", done=f"scaled {what}",
                 diff=Diff(f"replicas: {before}", f"replicas: {replicas}"),
                 data={"replicas_before": before, "replicas_wanted": replicas})


# -- image set -------------------------------------------------------------------------------

def image_set(t: Target, image: str, *, container: str | None = None,
              timeout: float = 300.0) -> Result:
    """Leave `container` (default: the inventory's, else the first) running `image`, rolled out.

    A strategic merge patch of that one container, as `kubectl set image`; nothing is
    sent when it already runs `image`. A paused Deployment is refused: it would not roll.
    Example: `image_set(t, "registry.example/shop/app:v1.2.3")`.
    """
    image = validate_image(image)
    timeout = validate.seconds(timeout, "timeout")
    cluster = cluster_of(t)
    dep = cluster.read_deployment()
    name = _container(cluster, dep, container)
    if name is None:
        found = ", ".join(images(template(dep))) or "none"
        return t.result("image_set", Status.FAILED, f"deployment {cluster.deployment} has no "
                        f"container {container or cluster.container!r} (containers: {found})")
    before = container_image(template(dep), name) or ""
    facts = {"container": name, "image_before": before, "image": image}
    diff = Diff(f"{name}: {before}", f"{name}: {image}")
    if before != image and _paused(dep):
        return t.result("image_set", Status.FAILED, f"deployment {cluster.deployment} is paused: "
                        "a new image would not roll out; resume it first (kubectl rollout "
                        f"resume deployment/{cluster.deployment})",
                        diff=diff if t.run.diff else None, data=facts)
    body = {"spec": {"template": {"spec": {"containers": [{"name": name, "image": image}]}}}}
    steps = [] if before == image else [cluster.deployment_patch(body, STRATEGIC_PATCH)]
    return apply(t, "image_set", steps, verify=rolled_out(cluster, timeout=timeout),
                 ok_message=f"{name} already runs {image}",
                 action=f"set {name} to {image} (was {before}; server-side dry run accepted)",
                 done=f"set {name} from {before} to {image}", diff=diff, data=facts)


# -- restarted -------------------------------------------------------------------------------

def _restarted_at(dep: Obj) -> datetime | None:
    value = ((template(dep).get("metadata") or {}).get("annotations") or {}).get(RESTARTED_AT)
    try:
        stamp = datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
    return stamp.replace(tzinfo=UTC) if stamp is not None and stamp.tzinfo is None else stamp


def deployment_restarted(t: Target, *, timeout: float = 300.0,
                         allow_database_restart: bool = False) -> Result:
    """Leave every pod replaced since this run began: `kubectl rollout restart`, once per run.

    Sets the template annotation `kubectl.kubernetes.io/restartedAt` to now (RFC 3339, as
    kubectl); `ok` when it already says a time at or after the run's start (to the
    second, as the annotation has no finer precision). Waits for the rollout. A database
    Deployment only with `allow_database_restart` (see the module).
    Example: `deployment_restarted(t)`.
    """
    timeout = validate.seconds(timeout, "timeout")
    cluster = cluster_of(t)
    if not allow_database_restart:
        _refuse(t, cluster, "restart")
    dep = cluster.read_deployment()
    if not allow_database_restart:
        _refuse(t, cluster, "restart", dep)
    last = _restarted_at(dep)
    since = t.run.started_at.replace(microsecond=0)
    facts: dict[str, Any] = {"restarted_at_before": last.isoformat() if last else None}
    verify = rolled_out(cluster, timeout=timeout)
    if last is not None and last >= since:
        return apply(t, "deployment_restarted", [], verify=verify,
                     ok_message=f"already restarted by this run at {last.isoformat()}", data=facts)
    if _paused(dep):  # kubectl's own refusal
        return t.result("deployment_restarted", Status.FAILED,
                        "can't restart paused deployment (run rollout resume first)", data=facts)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    facts.update(restarted_at=now)
    body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}}
    return apply(t, "deployment_restarted", [cluster.deployment_patch(body, STRATEGIC_PATCH)],
                 verify=verify, ok_message="",
                 action=f"restart {cluster.deployment} (server-side dry run accepted)",
                 done=f"restarted {cluster.deployment}",
                 diff=Diff(f"{RESTARTED_AT}: {last.isoformat() if last else '-'}",
                           f"{RESTARTED_AT}: {now}"), data=facts)


# -- rolled back -----------------------------------------------------------------------------

def _describe(rs: Obj, container: str | None) -> str:
    return f"revision {revision_of(rs)} ({container_image(template(rs), container) or '-'})"


def _marker(value: str | None) -> tuple[str, str, str]:
    """(run id, request, ReplicaSet) of the rolled-back marker annotation."""
    parts = [*(value or "").split("\t"), "", "", ""]
    return parts[0], parts[1], parts[2]


def deployment_rolled_back(t: Target, *, to_revision: int | None = None,
                           release: str | None = None, timeout: float = 300.0) -> Result:
    """Leave the Deployment on an earlier revision, as `kubectl rollout undo` does, rolled out.

    By default the previous revision (the second-highest); `to_revision=N`; or
    `release="v1.2.2"`: the newest revision whose container image has that tag. Only
    ReplicaSets the Deployment controls count. `ok` when the template already matches
    (ignoring `pod-template-hash`); a paused Deployment is refused, as kubectl does.
    The template is applied with kubectl's JSON patch, keeping the Deployment's own
    annotations. Undoing to "previous" or to a number is done once per run (the
    `remediations.io/rolled-back` annotation records it), as the target revision is
    renumbered by the rollback itself.
    Example: `deployment_rolled_back(t, release="v1.2.2")`.
    """
    if to_revision is not None and release is not None:
        raise InvalidInput("give to_revision or release, not both")
    if to_revision is not None:  # 0: the previous revision, as kubectl's --to-revision=0
        to_revision = validate.count(to_revision, "to_revision", high=_MAX_REVISION)
    timeout = validate.seconds(timeout, "timeout")
    if release is not None:
        release = Release.parse(release)
    request = (f"release {release}" if release is not None
               else f"revision {to_revision}" if to_revision else "previous")
    cluster = cluster_of(t)
    for attempt in range(_CONFLICT_RETRIES):
        try:
            return _roll_back(t, cluster, request, to_revision or 0, release, timeout)
        except KubeApiError as exc:
            # The Deployment changed between our read and the guarded patch: decide again.
            stale = exc.status == 409 or (exc.status == 422 and "test" in str(exc).lower())
            if not stale or attempt == _CONFLICT_RETRIES - 1:
                raise
    raise AssertionError("unreachable")


def _revisions(cluster: Cluster, dep: Obj) -> list[Obj]:
    """The ReplicaSets the Deployment controls, as `kubectl rollout history` orders them."""
    selector = (dep.get("spec") or {}).get("selector")
    rs_list = cluster.apps.list_namespaced_replica_set(
        cluster.namespace, label_selector=selector_string(selector)).get("items", [])
    return all_replica_sets(dep, controlled_replica_sets(dep, rs_list))


def _roll_back(t: Target, cluster: Cluster, request: str, to_revision: int,
               release: Release | None, timeout: float) -> Result:
    name = "deployment_rolled_back"
    dep = cluster.read_deployment()
    ordered = _revisions(cluster, dep)
    container = _container(cluster, dep, None)
    facts: dict[str, Any] = {"request": request,
                             "history_before": [r.to_dict() for r in history(ordered)],
                             "from_revision": revision_of(dep),
                             "from_image": container_image(template(dep), container)}
    verify = rolled_out(cluster, timeout=timeout)
    run_id, asked, rs_name = _marker(annotations_of(dep).get(ROLLED_BACK))
    done = next((rs for rs in ordered if meta(rs).get("name") == rs_name), None)
    if (run_id == t.run.run_id and asked == request and done is not None
            and equal_ignore_hash(template(done), template(dep))):
        facts.update(to_revision=revision_of(done), to_image=facts["from_image"])
        return apply(t, name, [], verify=verify, data=facts, ok_message=f"already rolled back "
                     f"({request}) by this run: {_describe(done, container)}")
    try:
        target = (release_revision(ordered, container, release) if release is not None
                  else pick_revision(ordered, to_revision, cluster.deployment))
    except RevisionNotFound as exc:
        return t.result(name, Status.FAILED, str(exc), data=facts)
    facts.update(to_revision=revision_of(target),
                 to_image=container_image(template(target), container))
    if _paused(dep):  # kubectl's own refusal, word for word
        return t.result(name, Status.FAILED, "you cannot rollback a paused deployment; resume it "
                        f"first with 'kubectl rollout resume deployment/{cluster.deployment}' and "
                        "try again", data=facts)
    if equal_ignore_hash(template(target), template(dep)):
        return apply(t, name, [], verify=verify, data=facts, ok_message="current template "
                     f"already matches {_describe(target, container)}")
    before, after = images(template(dep)), images(template(target))
    marker = "\t".join((t.run.run_id, request, str(meta(target).get("name", "")),
                        datetime.now(UTC).isoformat(timespec="seconds")))
    patch = rollback_patch(dep, target, {ROLLED_BACK: marker})
    what = (f"{cluster.deployment} from revision {revision_of(dep)} "
            f"({facts['from_image']}) to {_describe(target, container)}")
    return apply(t, name, [cluster.deployment_patch(patch, JSON_PATCH)], verify=verify,
                 ok_message="", action=f"roll back {what} (server-side dry run accepted)",
                 done=f"rolled back {what}",
                 diff=Diff("\n".join(f"{k}: {v}" for k, v in before.items()),
                           "\n".join(f"{k}: {v}" for k, v in after.items())), data=facts)


# -- at a release ----------------------------------------------------------------------------

def deployment_releases(t: Target) -> dict[str, Any]:
    """What a rollback needs to know, read-only: the container, its image and tag now, and the
    tags the revision history holds (`available`) plus the inventory's `releases` list.

    Example: `deployment_releases(t)["current"]` -> `"v1.2.3"`.
    """
    cluster = cluster_of(t)
    dep = cluster.read_deployment()
    container = _container(cluster, dep, None)
    image = container_image(template(dep), container) or ""
    in_history = [image_tag(container_image(template(rs), container) or "") for rs in
                  _revisions(cluster, dep)]
    listed = t.var("releases") or []
    if not isinstance(listed, list):
        raise InvalidInput(f"{t.name}: `releases` must be a list of tags, got {listed!r}")
    return {"deployment": cluster.deployment, "container": container, "image": image,
            "current": image_tag(image), "history": sorted({r for r in in_history if r}),
            "listed": [str(r) for r in listed]}


def deployment_at_release(t: Target, release: str, *, timeout: float = 300.0) -> Result:
    """The Deployment runs `release` (its container's image tag), rolled out.

    Rolled back to the newest revision running that tag when the history has one (the
    template of that day, as `kubectl rollout undo --to-revision`); otherwise, when the
    inventory lists the tag in `releases`, the image is set to `<repository>:<release>`.
    A tag in neither is refused: nothing tells that such an image exists.
    Example: `deployment_at_release(t, "v1.2.2")`.
    """
    release = Release.parse(release)
    timeout = validate.seconds(timeout, "timeout")
    facts = deployment_releases(t)
    if release in facts["history"]:
        return deployment_rolled_back(t, release=release, timeout=timeout)
    if release in facts["listed"] and facts["image"]:
        repository = facts["image"].split("@", 1)[0]
        if image_tag(repository):
            repository = repository.rsplit(":", 1)[0]
        return image_set(t, f"{repository}:{release}", container=facts["container"],
                         timeout=timeout)
    return t.result("deployment_at_release", Status.FAILED,
                    f"no revision of {facts['deployment']} runs {release} and the inventory's "
                    f"`releases` does not list it (history: {', '.join(facts['history']) or 'none'})",
                    data=facts)
