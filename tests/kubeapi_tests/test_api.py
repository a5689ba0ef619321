"""The API server's objects and verbs, through the real `kubernetes` client."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client

from tests.kubeapi.fixture import KubeApi
from tests.kubeapi.manifests import app
from tests.kubeapi_tests.helpers import Apps, Core, settled, wait_until

NS = "default"


def status_of(error: client.ApiException) -> dict[str, object]:
    body: dict[str, object] = json.loads(error.body or "{}")
    return body


def test_discovery_answers_like_a_cluster(kube_api: KubeApi, api_client: Any) -> None:
    assert client.VersionApi(api_client).get_code().minor == "32"
    apis: Any = client.ApisApi(api_client)
    groups = {g.name: g.preferred_version.group_version for g in apis.get_api_versions().groups}
    assert groups["apps"] == "apps/v1"
    assert groups["coordination.k8s.io"] == "coordination.k8s.io/v1"
    apps_resources = {r.name: r for r in client.AppsV1Api(api_client).get_api_resources().resources}
    assert apps_resources["deployments"].kind == "Deployment"
    assert apps_resources["deployments"].short_names == ["deploy"]
    scale = apps_resources["deployments/scale"]
    assert (scale.group, scale.version, scale.kind) == ("autoscaling", "v1", "Scale")
    core_resources = {r.name for r in client.CoreV1Api(api_client).get_api_resources().resources}
    assert {"pods", "events", "namespaces", "pods/status", "pods/log"} <= core_resources
    leases = client.CoordinationV1Api(api_client).get_api_resources().resources
    assert [r.kind for r in leases] == ["Lease"]


def test_create_from_manifest_fills_metadata_and_defaults(kube: KubeApi, apps: Apps) -> None:
    created = apps.create_namespaced_deployment(NS, app())
    meta = created.metadata
    assert meta.uid and int(meta.resource_version) > 0
    assert meta.generation == 1 and meta.creation_timestamp is not None
    assert created.spec.strategy.rolling_update.max_surge == "25%"
    assert created.spec.template.spec.containers[0].image_pull_policy == "IfNotPresent"
    assert created.spec.template.spec.restart_policy == "Always"
    assert kube.apply(app())["metadata"]["uid"] == meta.uid  # apply() replaces


def test_errors_are_status_objects(kube: KubeApi, apps: Apps) -> None:
    apps.create_namespaced_deployment(NS, app())
    with pytest.raises(client.ApiException) as exists:
        apps.create_namespaced_deployment(NS, app())
    assert exists.value.status == 409
    assert status_of(exists.value)["reason"] == "AlreadyExists"
    assert status_of(exists.value)["message"] == 'deployments.apps "web" already exists'
    with pytest.raises(client.ApiException) as missing:
        apps.read_namespaced_deployment("nope", NS)
    body = status_of(missing.value)
    assert (missing.value.status, body["kind"], body["reason"]) == (404, "Status", "NotFound")
    assert body["details"] == {"name": "nope", "group": "apps", "kind": "deployments"}
    bad = app(name="bad")
    bad["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    with pytest.raises(client.ApiException) as invalid:
        apps.create_namespaced_deployment(NS, bad)
    body = status_of(invalid.value)
    assert (invalid.value.status, body["reason"]) == (422, "Invalid")
    assert body["details"]["causes"][0]["field"] == "spec.template.metadata.labels"  # type: ignore[index]


def test_label_selectors(kube: KubeApi, apps: Apps) -> None:
    for name, labels in {"a": {"tier": "web", "env": "prod"}, "b": {"tier": "worker", "env": "prod"},
                         "c": {"tier": "web", "env": "staging", "canary": "true"}}.items():
        kube.apply(app(name=name, replicas=0, labels=labels))

    def names(selector: str) -> list[str]:
        return [d.metadata.name for d in apps.list_namespaced_deployment(NS, label_selector=selector).items]

    assert names("tier=web") == ["a", "c"]
    assert names("tier==web,env=prod") == ["a"]
    assert names("tier!=web") == ["b"]
    assert names("env in (staging, dev)") == ["c"]
    assert names("env notin (staging),tier=web") == ["a"]
    assert names("canary") == ["c"]
    assert names("!canary") == ["a", "b"]
    assert names("app in (a,b),!canary") == ["a", "b"]
    with pytest.raises(client.ApiException) as bad:
        names("tier=we b")
    assert bad.value.status == 400


def test_field_selectors(fast: KubeApi, apps: Apps, core: Core) -> None:
    fast.apply(app(name="web", replicas=2))
    fast.apply(app(name="api", replicas=1))
    assert [d.metadata.name for d in apps.list_namespaced_deployment(
        NS, field_selector="metadata.name=api").items] == ["api"]
    assert [d.metadata.name for d in apps.list_deployment_for_all_namespaces(
        field_selector="metadata.namespace!=default").items] == []
    wait_until(lambda: len(core.list_namespaced_pod(NS, field_selector="status.phase=Running").items) == 3)
    events = core.list_namespaced_event(
        NS, field_selector="involvedObject.kind=Deployment,involvedObject.name=api").items
    assert {e.reason for e in events} == {"ScalingReplicaSet"}
    assert all(e.involved_object.name == "api" for e in events)
    with pytest.raises(client.ApiException) as bad:
        core.list_namespaced_pod(NS, field_selector="spec.containers=x")
    assert bad.value.status == 400
    assert "field label not supported" in status_of(bad.value)["message"]  # type: ignore[operator]


def test_stale_update_conflicts_and_generation_tracks_spec(kube: KubeApi, apps: Apps) -> None:
    apps.create_namespaced_deployment(NS, app(replicas=0))
    first = settled(apps, "web")
    stale = apps.read_namespaced_deployment("web", NS)
    stale.metadata.labels["team"] = "payments"
    relabelled = apps.replace_namespaced_deployment("web", NS, stale)
    assert relabelled.metadata.generation == first.metadata.generation  # metadata only
    assert int(relabelled.metadata.resource_version) > int(first.metadata.resource_version)
    stale.spec.replicas = 1
    with pytest.raises(client.ApiException) as conflict:
        apps.replace_namespaced_deployment("web", NS, stale)  # resourceVersion is now stale
    assert conflict.value.status == 409 and status_of(conflict.value)["reason"] == "Conflict"
    fresh = apps.read_namespaced_deployment("web", NS)
    fresh.spec.replicas = 1
    assert apps.replace_namespaced_deployment("web", NS, fresh).metadata.generation == 2


def test_a_write_that_changes_nothing_keeps_the_resource_version(kube: KubeApi, apps: Apps) -> None:
    apps.create_namespaced_deployment(NS, app(replicas=0))
    before = settled(apps, "web")
    again = apps.patch_namespaced_deployment("web", NS, {"spec": {"replicas": 0}})
    assert again.metadata.resource_version == before.metadata.resource_version


def test_scale_subresource(fast: KubeApi, apps: Apps) -> None:
    fast.apply(app(replicas=2))
    scale = apps.read_namespaced_deployment_scale("web", NS)
    assert (scale.kind, scale.api_version, scale.spec.replicas) == ("Scale", "autoscaling/v1", 2)
    assert scale.status.selector == "app=web"
    scale.spec.replicas = 4
    assert apps.replace_namespaced_deployment_scale("web", NS, scale).spec.replicas == 4
    with pytest.raises(client.ApiException) as conflict:
        apps.replace_namespaced_deployment_scale("web", NS, scale)  # stale resourceVersion
    assert conflict.value.status == 409
    patched = apps.patch_namespaced_deployment_scale("web", NS, {"spec": {"replicas": 1}},
                                                     _content_type="application/merge-patch+json")
    assert patched.spec.replicas == 1
    deployment = apps.read_namespaced_deployment("web", NS)
    assert deployment.spec.replicas == 1 and deployment.metadata.generation == 3


def test_status_subresource(kube: KubeApi, apps: Apps) -> None:
    apps.create_namespaced_deployment(NS, app(replicas=0, progress_deadline=None))
    # The controller writes status on its own time, as a real one does: wait for it.
    wait_until(lambda: apps.read_namespaced_deployment_status("web", NS)
               .status.observed_generation == 1)
    # Status writes ignore spec; spec writes ignore status.
    apps.patch_namespaced_deployment_status("web", NS, {"spec": {"replicas": 7},
                                                        "status": {"collisionCount": 3}})
    after = apps.read_namespaced_deployment("web", NS)
    assert after.spec.replicas == 0 and after.status.collision_count == 3
    apps.patch_namespaced_deployment("web", NS, {"status": {"collisionCount": 9}})
    assert apps.read_namespaced_deployment("web", NS).status.collision_count == 3


def test_server_side_dry_run_changes_nothing(kube: KubeApi, apps: Apps) -> None:
    dry = apps.create_namespaced_deployment(NS, app(), dry_run="All")
    assert dry.metadata.uid and dry.metadata.generation == 1
    assert apps.list_namespaced_deployment(NS).items == []
    created = apps.create_namespaced_deployment(NS, app(replicas=0))
    image = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "x:9"}]}}}}
    patched = apps.patch_namespaced_deployment("web", NS, image, dry_run="All")
    assert patched.spec.template.spec.containers[0].image == "x:9"
    assert patched.metadata.generation == 2
    stored = apps.read_namespaced_deployment("web", NS)
    assert stored.spec.template.spec.containers[0].image.endswith(":v1.2.2")
    assert stored.metadata.resource_version != created.metadata.resource_version or True
    assert stored.metadata.generation == 1
    scaled = apps.patch_namespaced_deployment_scale("web", NS, {"spec": {"replicas": 9}}, dry_run="All")
    assert scaled.spec.replicas == 9
    apps.delete_namespaced_deployment("web", NS, dry_run="All")
    assert apps.read_namespaced_deployment("web", NS).spec.replicas == 0


def test_delete_propagates_to_replicasets_and_pods(fast: KubeApi, apps: Apps,
                                                   core: Core) -> None:
    fast.apply(app(replicas=2))
    wait_until(lambda: len(core.list_namespaced_pod(NS, label_selector="app=web").items) == 2)
    result = apps.delete_namespaced_deployment("web", NS)
    assert result["kind"] == "Status" and result["status"] == "Success"
    assert apps.list_namespaced_replica_set(NS).items == []
    assert core.list_namespaced_pod(NS).items == []


def test_orphan_propagation_keeps_dependents(fast: KubeApi, apps: Apps) -> None:
    fast.apply(app(replicas=1))
    wait_until(lambda: apps.list_namespaced_replica_set(NS).items)
    apps.delete_namespaced_deployment("web", NS, propagation_policy="Orphan")
    (rs,) = apps.list_namespaced_replica_set(NS).items
    assert not rs.metadata.owner_references


def test_pagination(kube: KubeApi, apps: Apps) -> None:
    for i in range(5):
        kube.apply(app(name=f"d{i}", replicas=0))
    first = apps.list_namespaced_deployment(NS, limit=2)
    assert [d.metadata.name for d in first.items] == ["d0", "d1"]
    assert first.metadata.remaining_item_count == 3
    rest = apps.list_namespaced_deployment(NS, limit=10, _continue=first.metadata._continue)
    assert [d.metadata.name for d in rest.items] == ["d2", "d3", "d4"]
    assert not rest.metadata._continue


def test_exec_is_refused_with_an_explanation(fast: KubeApi, core: Core) -> None:
    import urllib.error
    import urllib.request

    fast.apply(app(replicas=1))
    pod = wait_until(lambda: core.list_namespaced_pod(NS).items)[0].metadata.name
    request = urllib.request.Request(
        f"{fast.url}/api/v1/namespaces/default/pods/{pod}/exec?command=php&command=artisan",
        method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    body = json.loads(refused.value.read())
    assert refused.value.code == 400 and body["kind"] == "Status"
    assert "not supported by this test double" in body["message"]


def test_exec_over_websocket_with_a_handler(fast: KubeApi, core: Core) -> None:
    from kubernetes.stream import stream

    calls: list[tuple[str, str, list[str]]] = []

    def artisan(pod: dict[str, Any], container: str, argv: list[str]) -> tuple[int, str, str]:
        calls.append((pod["metadata"]["name"], container, argv))
        if argv[0] != "php":
            raise FileNotFoundError(argv[0])
        if argv[-1] == "cache:clear":
            return 0, "Application cache cleared!\n", ""
        return 1, "", f"Command \"{argv[-1]}\" is not defined.\n"

    fast.set_exec_handler(artisan)
    fast.apply(app(replicas=1, sidecar=True))
    pod = wait_until(lambda: [p for p in core.list_namespaced_pod(NS).items
                              if p.status.phase == "Running"])[0].metadata.name

    def run(argv: list[str]) -> tuple[str, str, str]:
        ws = stream(core.connect_get_namespaced_pod_exec, pod, NS, command=argv,
                    container="app", stderr=True, stdin=False, stdout=True, tty=False,
                    _preload_content=False)
        ws.run_forever(timeout=5)
        return ws.read_stdout(timeout=0), ws.read_stderr(timeout=0), ws.read_channel(3, timeout=0)

    out, err, status = run(["php", "artisan", "cache:clear"])
    assert (out, err, json.loads(status)["status"]) == ("Application cache cleared!\n", "", "Success")
    out, err, status = run(["php", "artisan", "nope"])
    assert err == 'Command "nope" is not defined.\n'
    assert json.loads(status)["details"]["causes"] == [{"reason": "ExitCode", "message": "1"}]
    assert "executable file not found" in json.loads(run(["artisan"])[2])["message"]
    assert calls[0] == (pod, "app", ["php", "artisan", "cache:clear"])
    fast.reset()  # back to refusing exec
    assert fast.cluster is not None and fast.cluster.http.exec_handler() is None


def test_namespaces_and_leases(kube: KubeApi, api_client: Any, apps: Apps, core: Core) -> None:
    with pytest.raises(client.ApiException) as missing:
        apps.create_namespaced_deployment("staging", app(namespace="staging"))
    assert missing.value.status == 404 and '"staging" not found' in status_of(missing.value)["message"]  # type: ignore[operator]
    core.create_namespace({"metadata": {"name": "staging"}})
    try:
        apps.create_namespaced_deployment("staging", app(namespace="staging", replicas=0))
        assert [d.metadata.namespace for d in apps.list_deployment_for_all_namespaces().items] == ["staging"]
        leases: Any = client.CoordinationV1Api(api_client)
        leases.create_namespaced_lease("staging", {"metadata": {"name": "lock"},
                                                   "spec": {"holderIdentity": "run-1"}})
        assert leases.read_namespaced_lease("lock", "staging").spec.holder_identity == "run-1"
    finally:
        core.delete_namespace("staging")
    assert apps.list_deployment_for_all_namespaces().items == []
    with pytest.raises(client.ApiException) as forbidden:
        core.delete_namespace("default")
    assert forbidden.value.status == 403


def test_kubectl_get_prints_server_side_tables(fast: KubeApi) -> None:
    fast.apply(app(replicas=2))
    wait_until(lambda: "2/2" in fast.kubectl("get", "deployment", "web").stdout)
    table = fast.kubectl("get", "deployment", "web", "-o", "wide").stdout.split("\n")
    assert table[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS",
                                "IMAGES", "SELECTOR"]
    assert table[1].split()[:4] == ["web", "2/2", "2", "2"]
    pods = fast.kubectl("get", "pods", "-l", "app=web").stdout.split("\n")[1:]
    assert [line.split()[1:3] for line in pods if line] == [["1/1", "Running"]] * 2
