"""The test double in-process: the same Store, Api and controllers, no HTTP, no thread.

For unit tests that want a cluster without a server: `World` holds one namespace's
objects in a `Store` and runs the Deployment controller, the ReplicaSet controller and
the kubelet synchronously, on a `Clock` that moves only when told, so a test is fast
and deterministic:

    w = World(manifest)                   # the Deployment, created; its pods Ready
    w.dep["spec"]["paused"] = True        # edit in place: written at the next call
    w.sync()                              # one second later, the controllers at rest
    FakeApps(w).read_namespaced_deployment("web", "default").data   # JSON, as the client

- `settle()` runs the controllers until nothing changes (pods are Ready at once: the
  ready delay is 0); `sync()` lets one second pass first; `advance(seconds)` lets
  cluster time pass second by second (progress deadlines fire on it).
- `dep` and `pods` are the stored Deployment and its pods; edit them in place and the
  edits are written through the store before the next call (`flush()`): spec and
  metadata through an update (the server bumps `generation` on a spec change), a
  `generation` set higher than the server's kept (a change the controller has not seen
  yet), pods' status and `deletionTimestamp` as the kubelet and a delete would write them.
- `FakeApps` / `FakeCore` have the method names of the client's `AppsV1Api` /
  `CoreV1Api` and answer as the client does with `_preload_content=False` (`.data` is
  the JSON body); refusals are the client's `ApiException` with the server's `Status`.
  Each call is logged in `World.calls`.
- `World.watch(...)` is a watch: ADDED/MODIFIED/DELETED events of the selection after a
  resourceVersion, with the controllers run first and then for each second of the
  watch's `timeout` of cluster time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from kubernetes.client.exceptions import ApiException

from tests.kubeapi.api import Api
from tests.kubeapi.controller import DEPLOYMENTS, Controller
from tests.kubeapi.errors import ApiError
from tests.kubeapi.events import EVENTS
from tests.kubeapi.kubelet import PODS, REPLICASETS, controller_uid
from tests.kubeapi.objects import Clock, running_on
from tests.kubeapi.resources import Resource
from tests.kubeapi.rollout import age_key
from tests.kubeapi.selectors import selector_matches
from tests.kubeapi.store import Obj, Store, clone
from tests.kubeapi.watch import matcher, translate

JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
MAX_PASSES = 1000  # controller passes before `settle` calls the double broken


class Response:
    """What the client returns with `_preload_content=False`: the body in `.data`."""

    def __init__(self, obj: Any) -> None:
        self.data = json.dumps(obj).encode()


def api_exception(error: ApiError) -> ApiException:
    """The client's exception for a refusal of the API (its body is the `Status`)."""
    exc = ApiException(status=error.code, reason=error.reason or "Error")
    exc.body = json.dumps(error.status())
    return exc


class World:
    """One namespace of the double, with the Deployment `manifest` created in it."""

    def __init__(self, manifest: Obj, *, namespace: str = "default") -> None:
        self.clock = Clock()
        self.store = Store()
        with running_on(self.clock):
            self.api = Api(self.store)
        self.controller = Controller(self.api, ready_delay=0)
        self.namespace = namespace
        self.name = manifest["metadata"]["name"]
        self.calls: list[tuple[str, Any]] = []
        self._dep: Obj | None = None
        self._pods: list[Obj] | None = None
        self.run(self.api.create, DEPLOYMENTS, namespace, manifest)
        self.settle()

    @property
    def broken(self) -> set[str]:
        """Images whose pods never become ready (ImagePullBackOff); add to it."""
        return self.controller.kubelet.broken

    # --- the clock and the controllers -------------------------------------------------
    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """`fn` on the double, after the pending edits, on the world's clock; refusals as
        the client raises them."""
        self.flush()
        try:
            with running_on(self.clock):
                return fn(*args, **kwargs)
        except ApiError as error:
            raise api_exception(error) from error

    def settle(self) -> None:
        """Run the controllers until they change nothing more."""
        self.flush()
        with running_on(self.clock):
            for _ in range(MAX_PASSES):
                seen = self.store.resource_version
                self.controller.sync_all()
                if self.store.resource_version == seen:
                    return
        raise AssertionError(f"the controllers did not come to rest in {MAX_PASSES} passes")

    def advance(self, seconds: int = 1) -> None:
        """Let `seconds` of cluster time pass, the controllers running each second."""
        for _ in range(seconds):
            self.clock.advance(1)
            self.settle()

    def sync(self) -> Obj:
        """Write the edits, let a second pass, and return the Deployment the controllers left."""
        self.advance(1)
        return clone(self.dep)

    # --- the objects, and edits written through -----------------------------------------
    def get(self, resource: Resource, name: str) -> Obj | None:
        return self.store.get(resource, self.namespace, name)

    @property
    def dep(self) -> Obj:
        """The stored Deployment (edits in place are written by the next call)."""
        if self._dep is None:
            stored = self.get(DEPLOYMENTS, self.name)
            if stored is None:
                raise LookupError(f"deployment {self.name} is gone")
            self._dep = stored
        return self._dep

    @property
    def pods(self) -> list[Obj]:
        """The pods the Deployment selects, oldest first (edits in place are written too)."""
        if self._pods is None:
            selector = self.dep["spec"]["selector"]
            pods = [p for p in self.store.items(PODS, self.namespace)
                    if selector_matches(selector, p["metadata"].get("labels"))]
            self._pods = sorted(pods, key=lambda p: (p["metadata"].get("creationTimestamp", ""),
                                                     p["metadata"]["name"]))
        return self._pods

    @property
    def rses(self) -> list[Obj]:
        """The Deployment's ReplicaSets, oldest first (read only)."""
        uid = self.dep["metadata"]["uid"]
        return sorted((rs for rs in self.store.items(REPLICASETS, self.namespace)
                       if controller_uid(rs) == uid), key=age_key)

    @property
    def events(self) -> list[Obj]:
        return self.store.items(EVENTS, self.namespace)

    def bump(self) -> str:
        """Someone else writes the Deployment: same object, a new resourceVersion."""
        self.flush()
        stored = self.store.put(DEPLOYMENTS, self.dep)
        self._dep = None
        return str(stored["metadata"]["resourceVersion"])

    def flush(self) -> None:
        """Write the edits made in place to `dep` and `pods`."""
        dep, pods, self._dep, self._pods = self._dep, self._pods, None, None
        with running_on(self.clock):
            if dep is not None:
                self._write_deployment(dep)
            for pod in pods or []:
                stored = self.get(PODS, pod["metadata"]["name"])
                if stored is not None and stored != pod:
                    self.store.put(PODS, pod)  # status, deletionTimestamp: not a client's write

    def _write_deployment(self, edited: Obj) -> None:
        stored = self.get(DEPLOYMENTS, self.name)
        if stored is None or stored == edited:
            return
        body = clone(edited)
        body["metadata"].pop("resourceVersion", None)  # the test's edit wins: no conflict
        written = self.api.update(DEPLOYMENTS, self.namespace, self.name, body)
        if edited.get("status") != written.get("status"):
            written = self.api.update(DEPLOYMENTS, self.namespace, self.name, body,
                                      subresource="status")
        generation = int(edited["metadata"].get("generation") or 0)
        if generation > int(written["metadata"].get("generation") or 0):
            written["metadata"]["generation"] = generation
            self.store.put(DEPLOYMENTS, written)

    # --- watches -------------------------------------------------------------------------
    def watch(self, resource: Resource, *, timeout: float, label_selector: str | None = None,
              field_selector: str | None = None,
              resource_version: str | None = None) -> Iterator[tuple[str, Obj]]:
        """Events of the selection after `resource_version` (without one: ADDED for what is
        there), the controllers run at once and then for each second of `timeout`."""
        try:
            yield from self._watch(resource, timeout, label_selector, field_selector,
                                   resource_version)
        except ApiError as error:
            raise api_exception(error) from error

    def _watch(self, resource: Resource, timeout: float, label_selector: str | None,
               field_selector: str | None, resource_version: str | None) -> Iterator[tuple[str, Obj]]:
        matches = matcher(resource, self.namespace, label_selector, field_selector)
        self.flush()
        try:
            start = int(resource_version) if resource_version not in (None, "", "0") else None
        except ValueError as exc:
            raise ApiError.bad_request(f"invalid resource version: {resource_version}") from exc
        if start is None:
            start = self.store.resource_version
            for obj in self.store.items(resource, self.namespace):
                if matches(obj):
                    yield "ADDED", _typed(obj, resource)
        for second in range(max(1, int(timeout)) + 1):
            if second:
                self.clock.advance(1)
            self.settle()
            for event in self.store.events_after(start):
                start = event.rv
                kind = translate(event, matches) if event.resource == resource else None
                if kind is not None:
                    yield kind, _typed(event.obj, resource)


def _typed(obj: Obj, resource: Resource) -> Obj:
    return {**clone(obj), "kind": resource.kind, "apiVersion": resource.api_version}


def _patch_type(body: Any, content_type: str | None) -> str:
    """The client's choice when none is given: JSON patch for a list, else strategic merge."""
    return content_type or (JSON_PATCH if isinstance(body, list) else STRATEGIC_PATCH)


class FakeApps:
    """The `AppsV1Api` methods, answered by the world's double."""

    def __init__(self, world: World) -> None:
        self.w = world

    def read_namespaced_deployment(self, name: str, namespace: str, **kw: Any) -> Response:
        self.w.calls.append(("read_namespaced_deployment", name))
        return Response(self.w.run(self.w.api.get, DEPLOYMENTS, namespace, name))

    def list_namespaced_deployment(self, namespace: str, *, label_selector: str | None = None,
                                   field_selector: str | None = None, **kw: Any) -> Response:
        self.w.calls.append(("list_namespaced_deployment", (label_selector, field_selector)))
        return Response(self.w.run(self.w.api.list, DEPLOYMENTS, namespace,
                                   label_selector=label_selector, field_selector=field_selector))

    def patch_namespaced_deployment(self, name: str, namespace: str, body: Any, *,
                                    _content_type: str | None = None, dry_run: str | None = None,
                                    **kw: Any) -> Response:
        kind = _patch_type(body, _content_type)
        self.w.calls.append(("patch_namespaced_deployment", (kind, body, dry_run)))
        return Response(self.w.run(self.w.api.patch, DEPLOYMENTS, namespace, name, kind, body,
                                   dry_run=dry_run == "All"))

    def read_namespaced_deployment_scale(self, name: str, namespace: str, **kw: Any) -> Response:
        self.w.calls.append(("read_namespaced_deployment_scale", name))
        return Response(self.w.run(self.w.api.get_scale, DEPLOYMENTS, namespace, name))

    def patch_namespaced_deployment_scale(self, name: str, namespace: str, body: Any, *,
                                          _content_type: str | None = None,
                                          dry_run: str | None = None, **kw: Any) -> Response:
        kind = _patch_type(body, _content_type)
        self.w.calls.append(("patch_namespaced_deployment_scale", (kind, body, dry_run)))
        return Response(self.w.run(self.w.api.patch_scale, DEPLOYMENTS, namespace, name, kind,
                                   body, dry_run=dry_run == "All"))

    def list_namespaced_replica_set(self, namespace: str, *, label_selector: str | None = None,
                                    field_selector: str | None = None, **kw: Any) -> Response:
        self.w.calls.append(("list_namespaced_replica_set", (label_selector, field_selector)))
        return Response(self.w.run(self.w.api.list, REPLICASETS, namespace,
                                   label_selector=label_selector, field_selector=field_selector))


class FakeCore:
    """The `CoreV1Api` methods, answered by the world's double."""

    def __init__(self, world: World) -> None:
        self.w = world

    def read_namespaced_pod(self, name: str, namespace: str, **kw: Any) -> Response:
        self.w.calls.append(("read_namespaced_pod", name))
        return Response(self.w.run(self.w.api.get, PODS, namespace, name))

    def list_namespaced_pod(self, namespace: str, *, label_selector: str | None = None,
                            field_selector: str | None = None, **kw: Any) -> Response:
        self.w.calls.append(("list_namespaced_pod", (label_selector, field_selector)))
        return Response(self.w.run(self.w.api.list, PODS, namespace,
                                   label_selector=label_selector, field_selector=field_selector))

    def list_namespaced_event(self, namespace: str, *, label_selector: str | None = None,
                              field_selector: str | None = None, **kw: Any) -> Response:
        self.w.calls.append(("list_namespaced_event", (label_selector, field_selector)))
        return Response(self.w.run(self.w.api.list, EVENTS, namespace,
                                   label_selector=label_selector, field_selector=field_selector))

    def connect_get_namespaced_pod_exec(self, *a: Any, **kw: Any) -> Any:
        raise AssertionError("exec in-process goes through a pluggable exec (FakeCluster.exec_in_pod)")


WATCHED = {"list_namespaced_deployment": DEPLOYMENTS, "list_namespaced_replica_set": REPLICASETS,
           "list_namespaced_pod": PODS, "list_namespaced_event": EVENTS}


def watched(method: str) -> Resource:
    """The resource a list method's watch follows."""
    return WATCHED[method]


__all__ = ["FakeApps", "FakeCore", "Response", "World", "api_exception", "watched"]
