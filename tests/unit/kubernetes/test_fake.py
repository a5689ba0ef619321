"""A fake AppsV1Api/CoreV1Api (same method names, JSON responses) and a tiny Deployment controller.

Unit tests of `remediations.kubernetes.deployments` drive it through the real `Cluster` handle; the
tests at the bottom check that the fake keeps the client's method names, so a renamed
client method cannot go unnoticed.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Sequence
from typing import Any

from kubernetes.client.exceptions import ApiException

from remediations.connections.cluster import Cluster, selector_matches
from remediations.kubernetes.revisions import REVISION, equal_ignore_hash, revision_of

UID = "dep-uid-1"


class Response:
    """What the client returns with `_preload_content=False`: a body in `.data`."""

    def __init__(self, obj: Any) -> None:
        self.data = json.dumps(obj).encode()


def api_error(status: int, message: str, reason: str = "") -> ApiException:
    exc = ApiException(status=status, reason=reason or "Error")
    exc.body = json.dumps({"kind": "Status", "status": "Failure", "message": message,
                           "reason": reason, "code": status})
    return exc


def deployment(name: str = "web", image: str = "shop/app:v1.2.2", replicas: int = 3,
               **spec: Any) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "metadata": {"name": name, "namespace": "default", "uid": UID, "generation": 1,
                     "resourceVersion": "1", "annotations": {"team": "payments"}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "app", "image": image}]}},
                 **spec},
        "status": {},
    }


def merge(target: Any, patch: Any) -> Any:
    """RFC 7386 merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge(out.get(k), v)
    return out


def strategic(target: Any, patch: Any) -> Any:
    """Merge patch, with `containers` merged by name (all the fake needs)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if k == "containers" and isinstance(v, list):
            by_name = {c["name"]: c for c in out.get(k, [])}
            for c in v:
                by_name[c["name"]] = strategic(by_name.get(c["name"], {}), c)
            out[k] = list(by_name.values())
        elif v is None:
            out.pop(k, None)
        else:
            out[k] = strategic(out.get(k), v)
    return out


def json_patch(target: dict[str, Any], ops: Sequence[dict[str, Any]]) -> dict[str, Any]:
    out = copy.deepcopy(target)
    for op in ops:
        *parents, last = op["path"].strip("/").split("/")
        node = out
        for p in parents:
            node = node[p]
        if op["op"] == "test":
            if node.get(last) != op["value"]:
                raise api_error(422, f"test failed at {op['path']}", "Invalid")
        elif op["op"] in ("replace", "add"):
            node[last] = copy.deepcopy(op["value"])
        else:
            raise AssertionError(op)
    return out


class World:
    """One namespace: a Deployment, its ReplicaSets, pods and events, and a controller."""

    def __init__(self, dep: dict[str, Any] | None = None) -> None:
        self.dep = dep or deployment()
        self.rses: list[dict[str, Any]] = []
        self.pods: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.broken: set[str] = set()
        self.calls: list[tuple[str, Any]] = []
        self.rv = 1
        self.clock = 0
        self.sync()

    def bump(self) -> str:
        self.rv += 1
        return str(self.rv)

    # The controller: the new ReplicaSet (re-adopted with max+1, or created), status.
    def sync(self) -> dict[str, Any]:
        dep = self.dep
        tmpl = dep["spec"]["template"]
        new = next((rs for rs in self.rses if equal_ignore_hash(rs["spec"]["template"], tmpl)), None)
        top = max((revision_of(rs) or 0 for rs in self.rses), default=0)
        if new is None:
            self.clock += 1
            h = f"h{len(self.rses) + 1}"
            t = copy.deepcopy(tmpl)
            t["metadata"].setdefault("labels", {})["pod-template-hash"] = h
            new = {"metadata": {"name": f"{dep['metadata']['name']}-{h}", "uid": f"rs-{h}",
                                "creationTimestamp": f"2026-01-01T00:00:{self.clock:02d}Z",
                                "labels": dict(t["metadata"]["labels"]),
                                "annotations": {REVISION: str(top + 1)},
                                "ownerReferences": [{"uid": dep["metadata"]["uid"], "controller": True}]},
                   "spec": {"replicas": 0, "template": t}}
            self.rses.append(new)
        elif revision_of(new) != top:
            new["metadata"]["annotations"][REVISION] = str(top + 1)
        rev = new["metadata"]["annotations"][REVISION]
        dep["metadata"].setdefault("annotations", {})[REVISION] = rev
        want = dep["spec"].get("replicas", 1)
        image = tmpl["spec"]["containers"][0]["image"]
        broken = image in self.broken
        self.pods = [self.pod(new, i, ready=not broken) for i in range(want)]
        status: dict[str, Any] = {
            "observedGeneration": dep["metadata"]["generation"], "replicas": want,
            "updatedReplicas": want}
        if broken:
            status["unavailableReplicas"] = want
            status["conditions"] = [{"type": "Progressing", "status": "False",
                                     "reason": "ProgressDeadlineExceeded",
                                     "message": f'ReplicaSet "{new["metadata"]["name"]}" has timed out progressing.'}]
            self.events.append({"involvedObject": {"kind": "Pod", "name": self.pods[0]["metadata"]["name"]},
                                "type": "Warning", "reason": "Failed",
                                "message": f'Failed to pull image "{image}"',
                                "lastTimestamp": "2026-01-01T00:01:00Z"})
        else:
            status.update(readyReplicas=want, availableReplicas=want)
            status["conditions"] = [{"type": "Progressing", "status": "True",
                                     "reason": "NewReplicaSetAvailable"}]
        dep["status"] = status
        dep["metadata"]["resourceVersion"] = self.bump()
        return copy.deepcopy(dep)

    def pod(self, rs: dict[str, Any], i: int, *, ready: bool) -> dict[str, Any]:
        return {"metadata": {"name": f"{rs['metadata']['name']}-{i}",
                             "labels": dict(rs["spec"]["template"]["metadata"]["labels"]),
                             "creationTimestamp": f"2026-01-01T00:00:{i:02d}Z",
                             "ownerReferences": [{"uid": rs["metadata"]["uid"], "controller": True}]},
                "status": {"phase": "Running",
                           "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}

    def write(self, new: dict[str, Any], dry_run: Any) -> dict[str, Any]:
        if dry_run:
            return new
        if new["spec"] != self.dep["spec"]:
            new["metadata"]["generation"] += 1
        new["metadata"]["resourceVersion"] = self.bump()
        self.dep = new
        return copy.deepcopy(new)


class FakeApps:
    """The AppsV1Api methods the library calls."""

    def __init__(self, world: World) -> None:
        self.w = world

    def read_namespaced_deployment(self, name: str, namespace: str, **kw: Any) -> Response:
        self.w.calls.append(("read_namespaced_deployment", name))
        if name != self.w.dep["metadata"]["name"]:
            raise api_error(404, f'deployments.apps "{name}" not found', "NotFound")
        return Response(self.w.dep)

    def patch_namespaced_deployment(self, name: str, namespace: str, body: Any, *,
                                    _content_type: str, dry_run: str | None = None,
                                    **kw: Any) -> Response:
        self.w.calls.append(("patch_namespaced_deployment", (_content_type, body, dry_run)))
        current = copy.deepcopy(self.w.dep)
        if _content_type.startswith("application/json-patch"):
            new = json_patch(current, body)
        else:
            rv = (body.get("metadata") or {}).get("resourceVersion")
            if rv is not None and rv != current["metadata"]["resourceVersion"]:
                raise api_error(409, "the object has been modified", "Conflict")
            new = (strategic if "strategic" in _content_type else merge)(current, body)
        return Response(self.w.write(new, dry_run))

    def read_namespaced_deployment_scale(self, name: str, namespace: str, **kw: Any) -> Response:
        return Response({"spec": {"replicas": self.w.dep["spec"]["replicas"]}})

    def patch_namespaced_deployment_scale(self, name: str, namespace: str, body: Any, *,
                                          _content_type: str, dry_run: str | None = None,
                                          **kw: Any) -> Response:
        self.w.calls.append(("patch_namespaced_deployment_scale", (_content_type, body, dry_run)))
        new = merge(copy.deepcopy(self.w.dep), body)
        return Response(self.w.write(new, dry_run)["spec"])

    def list_namespaced_replica_set(self, namespace: str, label_selector: str = "",
                                    **kw: Any) -> Response:
        return Response({"items": self.w.rses})

    def list_namespaced_deployment(self, namespace: str, **kw: Any) -> Response:
        return Response({"items": [self.w.dep]})


class FakeCore:
    """The CoreV1Api methods the library calls."""

    def __init__(self, world: World) -> None:
        self.w = world

    def list_namespaced_pod(self, namespace: str, label_selector: str = "", **kw: Any) -> Response:
        sel = self.w.dep["spec"]["selector"]
        return Response({"items": [p for p in self.w.pods
                                   if selector_matches(sel, p["metadata"]["labels"])]})

    def list_namespaced_event(self, namespace: str, field_selector: str = "", **kw: Any) -> Response:
        name = field_selector.partition("involvedObject.name=")[2]
        return Response({"items": [e for e in self.w.events if e["involvedObject"]["name"] == name]})

    def connect_get_namespaced_pod_exec(self, *a: Any, **kw: Any) -> Any:
        raise AssertionError("exec goes through Cluster.exec_in_pod")


class FakeCluster(Cluster):
    """A `Cluster` over the fake API; its watch runs the controller once per event."""

    def __init__(self, world: World | None = None, **kw: Any) -> None:
        self.world = world or World()
        super().__init__(FakeApps(self.world), FakeCore(self.world), "default",
                         deployment=self.world.dep["metadata"]["name"], **kw)
        self.execs: list[tuple[str, str | None, tuple[str, ...]]] = []
        self.exec_reply: Any = lambda argv: (0, "", "")
        self.watches = 0

    def watch(self, method: str, *, timeout: float, api: str = "apps",
              **kwargs: Any) -> Iterator[tuple[str, dict[str, Any]]]:
        self.watches += 1
        yield "MODIFIED", self.world.sync()

    def exec_in_pod(self, pod: str, container: str | None, argv: Sequence[str],
                    timeout: float | None) -> tuple[int | None, str, str]:
        self.execs.append((pod, container, tuple(argv)))
        return self.exec_reply(tuple(argv))  # type: ignore[no-any-return]


def patches(world: World) -> list[Any]:
    return [c[1] for c in world.calls if c[0].startswith("patch_")]


# -- the fake keeps the client's names ---------------------------------------------------------

def _public(cls: type) -> set[str]:
    return {n for n in vars(cls) if not n.startswith("_")}


def test_fake_methods_exist_on_the_real_client() -> None:
    from kubernetes import client

    assert _public(FakeApps) <= set(dir(client.AppsV1Api))
    assert _public(FakeCore) <= set(dir(client.CoreV1Api))


def test_fake_controller_re_adopts_an_old_replica_set_with_the_next_revision() -> None:
    w = World()
    w.dep["spec"]["template"]["spec"]["containers"][0]["image"] = "shop/app:v1.2.3"
    w.sync()
    w.dep["spec"]["template"]["spec"]["containers"][0]["image"] = "shop/app:v1.2.2"
    w.sync()
    assert [(revision_of(rs), rs["spec"]["template"]["spec"]["containers"][0]["image"])
            for rs in w.rses] == [(3, "shop/app:v1.2.2"), (2, "shop/app:v1.2.3")]
