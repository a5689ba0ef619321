"""The resource types the test double serves, and the discovery documents for them."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

VERSION_INFO = {
    "major": "1", "minor": "32", "gitVersion": "v1.32.0-kubeapi-double",
    "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
    "buildDate": "2024-12-11T00:00:00Z", "goVersion": "go1.23.3", "compiler": "gc",
    "platform": "linux/amd64",
}

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class Resource:
    """One served resource type."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = tuple(ALL_VERBS)
    generation: bool = False  # metadata.generation tracks spec changes

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """How messages name the type: `deployments.apps`, `pods`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def singular(self) -> str:
        return self.kind.lower()


RESOURCES: list[Resource] = [
    Resource("", "v1", "namespaces", "Namespace", namespaced=False, short_names=("ns",),
             subresources=("status",),
             verbs=("create", "delete", "get", "list", "patch", "update", "watch")),
    Resource("", "v1", "pods", "Pod", short_names=("po",), categories=("all",),
             subresources=("status", "log", "exec")),
    Resource("", "v1", "events", "Event", short_names=("ev",)),
    Resource("apps", "v1", "deployments", "Deployment", short_names=("deploy",),
             categories=("all",), subresources=("scale", "status"), generation=True),
    Resource("apps", "v1", "replicasets", "ReplicaSet", short_names=("rs",),
             categories=("all",), subresources=("scale", "status"), generation=True),
    Resource("coordination.k8s.io", "v1", "leases", "Lease"),
]

BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCES}
BY_KIND = {(r.api_version, r.kind): r for r in RESOURCES}
GROUPS: dict[str, list[str]] = {}
for _r in RESOURCES:
    if _r.group:
        GROUPS.setdefault(_r.group, [])
        if _r.version not in GROUPS[_r.group]:
            GROUPS[_r.group].append(_r.version)


def api_versions(address: str) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}]}


def api_group(group: str) -> dict[str, Any]:
    versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in GROUPS[group]]
    return {"name": group, "versions": versions, "preferredVersion": versions[0]}


def api_group_list() -> dict[str, Any]:
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [api_group(g) for g in GROUPS]}


def _entry(r: Resource) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": r.plural, "singularName": r.singular,
                             "namespaced": r.namespaced, "kind": r.kind, "verbs": list(r.verbs),
                             "storageVersionHash": f"{r.kind[:6]}{r.group[:5]}=="}
    if r.short_names:
        entry["shortNames"] = list(r.short_names)
    if r.categories:
        entry["categories"] = list(r.categories)
    return entry


def _sub_entry(r: Resource, sub: str) -> dict[str, Any]:
    base = {"name": f"{r.plural}/{sub}", "singularName": "", "namespaced": r.namespaced}
    if sub == "scale":
        return {**base, "group": "autoscaling", "version": "v1", "kind": "Scale",
                "verbs": ["get", "patch", "update"]}
    if sub == "status":
        return {**base, "kind": r.kind, "verbs": ["get", "patch", "update"]}
    if sub == "log":
        return {**base, "kind": "Pod", "verbs": ["get"]}
    return {**base, "kind": "PodExecOptions", "verbs": ["create", "get"]}


def resource_list(group: str, version: str) -> dict[str, Any] | None:
    served = [r for r in RESOURCES if r.group == group and r.version == version]
    if not served:
        return None
    entries: list[dict[str, Any]] = []
    for r in served:
        entries.append(_entry(r))
        entries.extend(_sub_entry(r, s) for s in r.subresources)
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
            "resources": entries}


# --- OpenAPI v3: just enough for kubectl to learn that the server validates fields
# itself (`fieldValidation`), so it sends `fieldValidation=Strict` instead of
# downloading schemas to validate on the client.

def _openapi_path(gv: str) -> str:
    return "api/v1" if gv == "v1" else f"apis/{gv}"


def openapi_index() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    gvs = ["v1"] + [f"{g}/{v}" for g, vs in GROUPS.items() for v in vs]
    for gv in gvs:
        path = _openapi_path(gv)
        paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={zlib.crc32(gv.encode()):08X}"}
    return {"paths": paths}


def openapi_document(path: str) -> dict[str, Any] | None:
    if path == "api/v1":
        group, version = "", "v1"
    elif path.startswith("apis/") and path.count("/") == 2:
        _, group, version = path.split("/")
    else:
        return None
    served = [r for r in RESOURCES if r.group == group and r.version == version]
    if not served:
        return None
    params = [{"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
              for n in ("dryRun", "fieldManager", "fieldValidation", "force")]
    paths: dict[str, Any] = {}
    for r in served:
        prefix = f"/{path}/namespaces/{{namespace}}" if r.namespaced else f"/{path}"
        gvk = {"group": group, "version": version, "kind": r.kind}
        paths[f"{prefix}/{r.plural}/{{name}}"] = {
            "patch": {"operationId": f"patch{r.kind}", "parameters": params,
                      "x-kubernetes-action": "patch",
                      "x-kubernetes-group-version-kind": gvk,
                      "responses": {"200": {"description": "OK"}}},
        }
        paths[f"{prefix}/{r.plural}"] = {
            "post": {"operationId": f"create{r.kind}", "parameters": params,
                     "x-kubernetes-action": "post",
                     "x-kubernetes-group-version-kind": gvk,
                     "responses": {"200": {"description": "OK"}}},
        }
    return {"openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": "v1.32.0-kubeapi-double"},
            "paths": paths, "components": {"schemas": {}}}
