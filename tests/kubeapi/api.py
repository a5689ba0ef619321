"""The verbs: what create, update, patch, delete, scale and status do to stored objects."""

from __future__ import annotations

import base64
import json
import random
from typing import Any

from tests.kubeapi import objects
from tests.kubeapi.errors import ApiError
from tests.kubeapi.patch import apply_patch, strategic_merge
from tests.kubeapi.resources import BY_PATH, Resource
from tests.kubeapi.selectors import (
    labels_match,
    parse_field_selector,
    parse_label_selector,
    selector_string,
)
from tests.kubeapi.store import Obj, Store, clone

NAMESPACES = BY_PATH[("", "v1", "namespaces")]
ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery/pkg/util/rand
PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public")


def random_suffix(n: int = 5) -> str:
    return "".join(random.choice(ALPHABET) for _ in range(n))


def _meta(obj: Obj) -> dict[str, Any]:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = obj["metadata"] = {}
    return meta


def _same_but_version(a: Obj, b: Obj) -> bool:
    a, b = clone(a), clone(b)
    _meta(a).pop("resourceVersion", None)
    _meta(b).pop("resourceVersion", None)
    return a == b


class Api:
    """The API's verbs over a `Store`; every method raises `ApiError` as the server would."""

    def __init__(self, store: Store) -> None:
        self.store = store
        for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.create(NAMESPACES, "", {"metadata": {"name": name}})

    # --- reads --------------------------------------------------------------------------
    def _must_get(self, resource: Resource, namespace: str, name: str) -> Obj:
        obj = self.store.get(resource, namespace if resource.namespaced else "", name)
        if obj is None:
            raise ApiError.not_found(resource.qualified, name, resource.group, resource.plural)
        return obj

    def get(self, resource: Resource, namespace: str, name: str) -> Obj:
        return self._must_get(resource, namespace, name)

    def list(self, resource: Resource, namespace: str | None, *, label_selector: str | None = None,
             field_selector: str | None = None, limit: int = 0, cont: str = "") -> Obj:
        labels = parse_label_selector(label_selector)
        fields = parse_field_selector(field_selector, resource.plural)
        with self.store.lock:
            rv = self.store.resource_version
            items = [o for o in self.store.items(resource, namespace)
                     if labels_match(labels, o["metadata"].get("labels")) and fields(o)]
        offset = 0
        if cont:
            try:
                token = json.loads(base64.b64decode(cont))
                rv, offset = int(token["rv"]), int(token["start"])
            except (ValueError, KeyError, TypeError) as exc:
                raise ApiError.bad_request(f"continue key is not valid: {exc}") from exc
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if limit and offset + limit < len(items):
            token_text = json.dumps({"rv": rv, "start": offset + limit})
            meta["continue"] = base64.b64encode(token_text.encode()).decode()
            meta["remainingItemCount"] = len(items) - offset - limit
            items = items[offset:offset + limit]
        else:
            items = items[offset:]
        for item in items:
            item.pop("kind", None)
            item.pop("apiVersion", None)
        return {"kind": f"{resource.kind}List", "apiVersion": resource.api_version,
                "metadata": meta, "items": items}

    # --- writes -------------------------------------------------------------------------
    def _check_namespace(self, resource: Resource, namespace: str, obj: Obj) -> None:
        meta = _meta(obj)
        if not resource.namespaced:
            meta.pop("namespace", None)
            return
        if meta.get("namespace") not in (None, "", namespace):
            raise ApiError.bad_request("the namespace of the provided object does not match the "
                                       "namespace sent on the request")
        meta["namespace"] = namespace
        if self.store.get(NAMESPACES, "", namespace) is None:
            raise ApiError.not_found("namespaces", namespace, "", "namespaces")

    def create(self, resource: Resource, namespace: str, body: Obj, *, dry_run: bool = False) -> Obj:
        if not isinstance(body, dict):
            raise ApiError.bad_request("the body of the request was not an object")
        obj = clone(body)
        meta = _meta(obj)
        if body.get("kind") not in (None, resource.kind):
            raise ApiError.bad_request(f"the API version in the data ({body.get('apiVersion')}) "
                                       f"does not match the expected API version ({resource.api_version})")
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + random_suffix()
        with self.store.lock:
            self._check_namespace(resource, namespace, obj)
            obj["kind"], obj["apiVersion"] = resource.kind, resource.api_version
            for key in ("resourceVersion", "uid", "creationTimestamp", "deletionTimestamp",
                        "managedFields", "generation", "selfLink"):
                meta.pop(key, None)
            if "status" in resource.subresources and resource.kind != "Namespace":
                obj.pop("status", None)
            objects.default(resource, obj)
            objects.validate(resource, obj)
            if self.store.get(resource, meta.get("namespace", ""), meta["name"]) is not None:
                raise ApiError.already_exists(resource.qualified, meta["name"], resource.group,
                                              resource.plural)
            meta["uid"] = objects.new_uid()
            meta["creationTimestamp"] = objects.now()
            if resource.generation:
                meta["generation"] = 1
                obj.setdefault("status", {})
            if dry_run:
                return obj
            return self.store.put(resource, obj)

    def update(self, resource: Resource, namespace: str, name: str, body: Obj, *,
               dry_run: bool = False, subresource: str = "") -> Obj:
        if not isinstance(body, dict):
            raise ApiError.bad_request("the body of the request was not an object")
        with self.store.lock:
            old = self._must_get(resource, namespace, name)
            new = clone(body)
            meta = _meta(new)
            if meta.get("name") not in (None, name):
                raise ApiError.bad_request(f"the name of the object ({meta.get('name')}) does not "
                                           f"match the name on the URL ({name})")
            rv = meta.get("resourceVersion")
            if rv not in (None, "") and rv != old["metadata"]["resourceVersion"]:
                raise ApiError.conflict(resource.qualified, name, resource.group, resource.plural)
            if subresource == "status":
                result = clone(old)
                result["status"] = new.get("status", {})
                if resource.group == "apps" and "annotations" in meta:
                    # apps/v1 status strategies keep only spec and labels: the controller
                    # records the revision annotation with a status update.
                    result["metadata"]["annotations"] = meta["annotations"]
            else:
                result = self._updated(resource, namespace, old, new)
            if _same_but_version(result, old):
                return old  # a no-op write is not stored: same resourceVersion, no event
            if dry_run:
                return result
            return self.store.put(resource, result)

    def _updated(self, resource: Resource, namespace: str, old: Obj, new: Obj) -> Obj:
        meta, old_meta = _meta(new), old["metadata"]
        meta["name"] = old_meta["name"]
        self._check_namespace(resource, namespace, new)
        new["kind"], new["apiVersion"] = resource.kind, resource.api_version
        for key in ("uid", "creationTimestamp", "deletionTimestamp", "generation", "resourceVersion"):
            if key in old_meta:
                meta[key] = old_meta[key]
            else:
                meta.pop(key, None)
        meta.pop("managedFields", None)
        if "status" in resource.subresources:
            new["status"] = clone(old.get("status", {}))
        objects.default(resource, new)
        objects.validate(resource, new, old if resource.kind in ("Deployment", "ReplicaSet") else None)
        if resource.generation and new.get("spec") != old.get("spec"):
            meta["generation"] = int(old_meta.get("generation", 1)) + 1
        return new

    def patch(self, resource: Resource, namespace: str, name: str, content_type: str, body: Any,
              *, dry_run: bool = False, subresource: str = "") -> Obj:
        with self.store.lock:
            if content_type.startswith("application/apply-patch"):
                if not isinstance(body, dict):
                    raise ApiError.bad_request("the applied configuration is not an object")
                return self.server_side_apply(resource, namespace, name, body, dry_run=dry_run)
            old = self._must_get(resource, namespace, name)
            patched = apply_patch(old, content_type, body)
            if not isinstance(patched, dict):
                raise ApiError.bad_request("the patch did not produce an object")
            return self.update(resource, namespace, name, patched, dry_run=dry_run,
                               subresource=subresource)

    def delete(self, resource: Resource, namespace: str, name: str, *, propagation: str = "",
               dry_run: bool = False, preconditions: dict[str, Any] | None = None) -> Obj:
        with self.store.lock:
            old = self._must_get(resource, namespace, name)
            pre = preconditions or {}
            if pre.get("uid") and pre["uid"] != old["metadata"]["uid"]:
                raise ApiError.conflict(resource.qualified, name, resource.group, resource.plural)
            if pre.get("resourceVersion") and pre["resourceVersion"] != old["metadata"]["resourceVersion"]:
                raise ApiError.conflict(resource.qualified, name, resource.group, resource.plural)
            if resource.kind == "Namespace" and name in PROTECTED_NAMESPACES:
                raise ApiError(403, "Forbidden",
                               f'namespaces "{name}" is forbidden: this namespace may not be deleted')
            if dry_run:
                return old
            gone = self.store.remove(resource, old["metadata"].get("namespace", ""), name)
            self._collect(old, orphan=propagation == "Orphan")
            if resource.kind == "Namespace":
                self._empty_namespace(name)
        if resource.kind == "Pod":
            return gone
        details = {"name": name, "kind": resource.plural, "uid": old["metadata"]["uid"]}
        if resource.group:
            details["group"] = resource.group
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": details}

    def _collect(self, owner: Obj, *, orphan: bool) -> None:
        """The garbage collector: dependents of a deleted owner go too (or lose the reference)."""
        uid = owner["metadata"]["uid"]
        namespace = owner["metadata"].get("namespace", "")
        for resource in BY_PATH.values():
            if not resource.namespaced:
                continue
            for obj in self.store.items(resource, namespace):
                refs = obj["metadata"].get("ownerReferences") or []
                if not any(r.get("uid") == uid for r in refs):
                    continue
                if orphan:
                    obj["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != uid]
                    self.store.put(resource, obj)
                else:
                    self.store.remove(resource, namespace, obj["metadata"]["name"])
                    self._collect(obj, orphan=False)

    def _empty_namespace(self, namespace: str) -> None:
        for resource in BY_PATH.values():
            if resource.namespaced:
                for obj in self.store.items(resource, namespace):
                    self.store.remove(resource, namespace, obj["metadata"]["name"])

    def delete_collection(self, resource: Resource, namespace: str, *, label_selector: str | None,
                          field_selector: str | None, dry_run: bool = False) -> Obj:
        with self.store.lock:
            listed = self.list(resource, namespace, label_selector=label_selector,
                               field_selector=field_selector)
            for item in listed["items"]:
                self.delete(resource, namespace, item["metadata"]["name"], dry_run=dry_run)
        listed["items"] = [{**i, "kind": resource.kind, "apiVersion": resource.api_version}
                           for i in listed["items"]]
        return listed

    # --- the scale subresource (autoscaling/v1 Scale) -----------------------------------
    def get_scale(self, resource: Resource, namespace: str, name: str) -> Obj:
        return self._scale_of(self._must_get(resource, namespace, name))

    @staticmethod
    def _scale_of(obj: Obj) -> Obj:
        meta = obj["metadata"]
        status = obj.get("status") or {}
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                                  "creationTimestamp") if k in meta},
                "spec": {"replicas": obj["spec"].get("replicas", 1)},
                "status": {"replicas": status.get("replicas", 0),
                           "selector": selector_string(obj["spec"].get("selector"))}}

    def update_scale(self, resource: Resource, namespace: str, name: str, scale: Obj, *,
                     dry_run: bool = False) -> Obj:
        with self.store.lock:
            current = self._must_get(resource, namespace, name)
            rv = (scale.get("metadata") or {}).get("resourceVersion")
            if rv and rv != current["metadata"]["resourceVersion"]:
                raise ApiError.conflict(resource.qualified, name, resource.group, resource.plural)
            replicas = (scale.get("spec") or {}).get("replicas", 0)
            if not isinstance(replicas, int) or replicas < 0:
                raise ApiError.invalid("Scale", "autoscaling", name, [(
                    "spec.replicas", "FieldValueInvalid",
                    f"Invalid value: {replicas}: must be greater than or equal to 0")])
            current["spec"]["replicas"] = replicas
            return self._scale_of(self.update(resource, namespace, name, current, dry_run=dry_run))

    def patch_scale(self, resource: Resource, namespace: str, name: str, content_type: str,
                    body: Any, *, dry_run: bool = False) -> Obj:
        with self.store.lock:
            scale = self.get_scale(resource, namespace, name)
            patched = apply_patch(scale, content_type, body)
            return self.update_scale(resource, namespace, name, patched, dry_run=dry_run)

    def server_side_apply(self, resource: Resource, namespace: str, name: str, body: Obj, *,
                          dry_run: bool = False) -> Obj:
        """An approximation of server-side apply: create, or merge the applied fields."""
        with self.store.lock:
            old = self.store.get(resource, namespace if resource.namespaced else "", name)
            if old is None:
                body = clone(body)
                _meta(body).setdefault("name", name)
                return self.create(resource, namespace, body, dry_run=dry_run)
            return self.update(resource, namespace, name, strategic_merge(old, body),
                               dry_run=dry_run)
