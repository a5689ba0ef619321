"""Watches through the client's `watch.Watch().stream`, as a controller or a rollout wait uses them."""

from __future__ import annotations

import threading
import time

import pytest

from tests.kubeapi.fixture import KubeApi
from tests.kubeapi.manifests import app
from tests.kubeapi.resources import BY_PATH
from tests.kubeapi.store import Store
from tests.kubeapi_tests.helpers import Apps, stream

NS = "default"


def test_watch_without_resource_version_lists_then_ends_on_time(kube: KubeApi, apps: Apps) -> None:
    kube.apply(app(name="a", replicas=0))
    kube.apply(app(name="b", replicas=0))
    started = time.monotonic()
    seen = [(e["type"], e["object"].metadata.name)
            for e in stream(apps.list_namespaced_deployment, NS, timeout_seconds=1)]
    elapsed = time.monotonic() - started
    assert seen[:2] == [("ADDED", "a"), ("ADDED", "b")]
    assert 0.9 <= elapsed < 2.5


def test_watch_from_a_resource_version_streams_changes(kube: KubeApi, apps: Apps) -> None:
    kube.apply(app(replicas=0, progress_deadline=None))
    time.sleep(0.2)  # let the controller record revision 1
    rv = apps.list_namespaced_deployment(NS).metadata.resource_version

    def change() -> None:
        time.sleep(0.2)
        apps.patch_namespaced_deployment("web", NS, {"metadata": {"labels": {"x": "1"}}})
        apps.delete_namespaced_deployment("web", NS)

    threading.Thread(target=change).start()
    events = []
    for event in stream(apps.list_namespaced_deployment, NS, resource_version=rv,
                                      timeout_seconds=2):
        events.append((event["type"], event["object"].metadata.labels.get("x")))
        if event["type"] == "DELETED":
            break
    assert events == [("MODIFIED", "1"), ("DELETED", "1")]


def test_watch_with_selectors_sees_objects_leave_the_selection(kube: KubeApi, apps: Apps) -> None:
    kube.apply(app(name="a", replicas=0, labels={"tier": "web"}))
    kube.apply(app(name="b", replicas=0, labels={"tier": "web"}))
    rv = apps.list_namespaced_deployment(NS).metadata.resource_version

    def change() -> None:
        time.sleep(0.2)
        apps.patch_namespaced_deployment("b", NS, {"metadata": {"labels": {"tier": "worker"}}})
        apps.patch_namespaced_deployment("a", NS, {"metadata": {"labels": {"tier": "worker"}}})

    threading.Thread(target=change).start()
    events = [(e["type"], e["object"].metadata.name) for e in stream(
        apps.list_namespaced_deployment, NS, label_selector="tier=web",
        field_selector="metadata.name=a", resource_version=rv, timeout_seconds=1)]
    assert events == [("DELETED", "a")]


def test_a_compacted_resource_version_is_gone() -> None:
    store = Store(history=3)
    deployments = BY_PATH[("apps", "v1", "deployments")]
    for i in range(5):
        store.put(deployments, {"metadata": {"name": f"d{i}", "namespace": NS}})
    assert [e.rv for e in store.events_after(3)] == [4, 5]
    from tests.kubeapi.errors import ApiError

    with pytest.raises(ApiError) as gone:
        store.events_after(1)
    assert (gone.value.code, gone.value.reason) == (410, "Expired")
