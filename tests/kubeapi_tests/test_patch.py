"""The three patch types (and server-side apply), through the client, kubectl and directly."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client

from tests.kubeapi.errors import ApiError
from tests.kubeapi.fixture import KubeApi
from tests.kubeapi.manifests import app
from tests.kubeapi.patch import json_patch, merge_patch, strategic_merge
from tests.kubeapi_tests.helpers import Apps

NS = "default"


def containers(apps: Apps, name: str = "web") -> dict[str, Any]:
    spec = apps.read_namespaced_deployment(name, NS).spec.template.spec
    return {c.name: c for c in spec.containers}


def test_strategic_merge_sets_one_containers_image_and_keeps_the_other(
        kube: KubeApi, apps: Apps) -> None:
    kube.apply(app(replicas=0, sidecar=True))
    apps.patch_namespaced_deployment("web", NS, {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": "registry.local/laravel-app:v1.2.3"}]}}}})
    after = containers(apps)
    assert after["app"].image == "registry.local/laravel-app:v1.2.3"
    assert after["app"].ports[0].container_port == 9000  # the rest of the container is kept
    assert after["nginx"].image == "registry.local/nginx:1.25"
    assert list(after) == ["app", "nginx"]


def test_strategic_merge_of_env_ports_and_mounts_by_key(kube: KubeApi, apps: Apps) -> None:
    kube.apply(app(replicas=0, sidecar=True))
    apps.patch_namespaced_deployment("web", NS, {"spec": {"template": {"spec": {
        "containers": [{"name": "app",
                        "env": [{"name": "APP_ENV", "value": "staging"}, {"name": "QUEUE", "value": "redis"}],
                        "ports": [{"containerPort": 9000, "name": "fpm"}, {"containerPort": 9253}],
                        "volumeMounts": [{"mountPath": "/var/www/html/storage", "readOnly": True}]}],
        "volumes": [{"name": "cache", "emptyDir": {"medium": "Memory"}}]}}}})
    app_container = containers(apps)["app"]
    assert [(e.name, e.value) for e in app_container.env] == [
        ("APP_ENV", "staging"), ("LOG_CHANNEL", "stderr"), ("QUEUE", "redis")]
    assert [(p.container_port, p.name) for p in app_container.ports] == [(9000, "fpm"), (9253, None)]
    ((mount),) = app_container.volume_mounts
    assert (mount.name, mount.read_only) == ("storage", True)
    volumes = apps.read_namespaced_deployment("web", NS).spec.template.spec.volumes
    assert [v.name for v in volumes] == ["storage", "cache"]


def test_strategic_merge_directives(kube: KubeApi, apps: Apps) -> None:
    kube.apply(app(replicas=0, sidecar=True))
    apps.patch_namespaced_deployment("web", NS, {"spec": {"template": {"spec": {"containers": [
        {"name": "nginx", "$patch": "delete"}]}}}})
    assert list(containers(apps)) == ["app"]
    apps.patch_namespaced_deployment("web", NS, {"spec": {"template": {"spec": {"containers": [
        {"$patch": "replace"}, {"name": "solo", "image": "busybox:1.36"}]}}}})
    assert [(c.name, c.image) for c in containers(apps).values()] == [("solo", "busybox:1.36")]
    apps.patch_namespaced_deployment("web", NS, {"metadata": {"labels": {"app": None, "x": "1"}}})
    assert apps.read_namespaced_deployment("web", NS).metadata.labels == {"x": "1"}


def test_merge_patch_replaces_lists(kube: KubeApi, apps: Apps) -> None:
    kube.apply(app(replicas=0, sidecar=True))
    apps.patch_namespaced_deployment(
        "web", NS, {"metadata": {"annotations": {"team": "payments"}},
                    "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "a:2"}]}}}},
        _content_type="application/merge-patch+json")
    deployment = apps.read_namespaced_deployment("web", NS)
    assert deployment.metadata.annotations["team"] == "payments"
    ((only),) = deployment.spec.template.spec.containers
    assert (only.name, only.image, only.ports) == ("app", "a:2", None)


def test_json_patch(kube: KubeApi, apps: Apps) -> None:
    kube.apply(app(replicas=0, sidecar=True))
    apps.patch_namespaced_deployment("web", NS, [
        {"op": "test", "path": "/spec/template/spec/containers/1/name", "value": "nginx"},
        {"op": "replace", "path": "/spec/template/spec/containers/1/image", "value": "nginx:1.27"},
        {"op": "add", "path": "/metadata/labels/release", "value": "v1.2.2"},
        {"op": "remove", "path": "/spec/template/spec/containers/0/env/1"},
    ])
    deployment = apps.read_namespaced_deployment("web", NS)
    assert [c.image for c in deployment.spec.template.spec.containers][1] == "nginx:1.27"
    assert deployment.metadata.labels["release"] == "v1.2.2"
    assert [e.name for e in deployment.spec.template.spec.containers[0].env] == ["APP_ENV"]
    with pytest.raises(client.ApiException) as failed:
        apps.patch_namespaced_deployment("web", NS, [
            {"op": "test", "path": "/spec/replicas", "value": 5}])
    assert failed.value.status == 422


def test_kubectl_patch_types_annotate_and_set_image(kube: KubeApi, apps: Apps) -> None:
    kube.apply(app(replicas=0, sidecar=True))
    steps = [
        ["patch", "deployment/web", "-p", json.dumps({"spec": {"template": {"spec": {"containers": [
            {"name": "nginx", "image": "nginx:1.26"}]}}}})],
        ["patch", "deployment/web", "--type=merge", "-p", json.dumps({"metadata": {"labels": {"m": "1"}}})],
        ["patch", "deployment/web", "--type=json", "-p",
         json.dumps([{"op": "replace", "path": "/spec/revisionHistoryLimit", "value": 4}])],
        ["annotate", "deployment/web", "team=payments"],
        ["set", "image", "deployment/web", "app=registry.local/laravel-app:v1.2.3"],
        ["label", "deployment/web", "tier=backend"],
    ]
    for step in steps:
        done = kube.kubectl(*step)
        assert done.returncode == 0, done.stderr
    deployment = apps.read_namespaced_deployment("web", NS)
    assert {c.name: c.image for c in deployment.spec.template.spec.containers} == {
        "app": "registry.local/laravel-app:v1.2.3", "nginx": "nginx:1.26"}
    assert deployment.metadata.labels == {"app": "web", "m": "1", "tier": "backend"}
    assert deployment.spec.revision_history_limit == 4
    assert deployment.metadata.annotations["team"] == "payments"


def test_kubectl_apply_client_side_and_server_side(kube: KubeApi, apps: Apps,
                                                   tmp_path: Any) -> None:
    manifest = tmp_path / "web.json"
    manifest.write_text(json.dumps(app(replicas=0, sidecar=True)))
    for args in (["apply", "-f", str(manifest)], ["apply", "-f", str(manifest)]):
        done = kube.kubectl(*args)
        assert done.returncode == 0, done.stderr
    assert "unchanged" in done.stdout
    changed = app(replicas=0)  # the sidecar is dropped from the manifest
    manifest.write_text(json.dumps(changed))
    done = kube.kubectl("apply", "-f", str(manifest))
    assert done.returncode == 0 and "configured" in done.stdout, done.stderr
    assert list(containers(apps)) == ["app"]  # the three-way patch removed it
    changed["spec"]["replicas"] = 2
    manifest.write_text(json.dumps(changed))
    done = kube.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(manifest))
    assert done.returncode == 0, done.stderr
    assert apps.read_namespaced_deployment("web", NS).spec.replicas == 2


# --- the patch functions themselves ---------------------------------------------------

def test_json_merge_patch_rfc7386() -> None:
    assert merge_patch({"a": "b", "c": {"d": "e", "f": "g"}}, {"a": "z", "c": {"f": None}}) == {
        "a": "z", "c": {"d": "e"}}
    assert merge_patch({"a": [1, 2]}, {"a": [3]}) == {"a": [3]}


def test_json_patch_move_copy_and_errors() -> None:
    doc = {"a": {"b": 1}, "l": [1, 2]}
    out = json_patch(doc, [{"op": "copy", "from": "/a/b", "path": "/c"},
                           {"op": "move", "from": "/l/0", "path": "/l/-"},
                           {"op": "add", "path": "/l/0", "value": 0}])
    assert out == {"a": {"b": 1}, "c": 1, "l": [0, 2, 1]}
    assert doc == {"a": {"b": 1}, "l": [1, 2]}  # not mutated
    with pytest.raises(ApiError) as missing:
        json_patch(doc, [{"op": "replace", "path": "/nope", "value": 1}])
    assert missing.value.code == 422


def test_strategic_merge_order_retain_keys_and_primitive_lists() -> None:
    doc = {"metadata": {"finalizers": ["a", "b"]},
           "spec": {"containers": [{"name": "x", "image": "1"}, {"name": "y", "image": "2"}],
                    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}
    patch = {"metadata": {"finalizers": ["c"], "$deleteFromPrimitiveList/finalizers": ["a"]},
             "spec": {"$setElementOrder/containers": [{"name": "y"}, {"name": "x"}],
                      "containers": [{"name": "x", "image": "3"}],
                      "strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    out = strategic_merge(doc, patch)
    assert out["metadata"]["finalizers"] == ["b", "c"]
    assert out["spec"]["containers"] == [{"name": "y", "image": "2"}, {"name": "x", "image": "3"}]
    assert out["spec"]["strategy"] == {"type": "Recreate"}
    assert strategic_merge(doc, {"spec": {"strategy": {"$patch": "replace", "type": "Recreate"}}})[
        "spec"]["strategy"] == {"type": "Recreate"}
    assert "strategy" not in strategic_merge(doc, {"spec": {"strategy": {"$patch": "delete"}}})["spec"]
