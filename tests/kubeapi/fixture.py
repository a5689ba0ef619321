"""The `kube_api` pytest fixture: a local API server, or a real cluster when asked.

Set `REMEDIATIONS_KUBECONFIG` to a kubeconfig to run the same tests against a
real cluster; `break_image` and `set_ready_delay` then skip the test, since only
the test double can make an image fail or a pod slow on purpose.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.kubeapi.cluster import LocalCluster
from tests.kubeapi.podexec import ExecHandler
from tests.kubeapi.resources import BY_KIND, Resource

KUBECTL = os.environ.get("KUBECTL", "kubectl")


def _path(resource: Resource, namespace: str, name: str = "") -> str:
    base = "/api/v1" if not resource.group else f"/apis/{resource.group}/{resource.version}"
    if resource.namespaced:
        base += f"/namespaces/{namespace}"
    return f"{base}/{resource.plural}" + (f"/{name}" if name else "")


class KubeApi:
    """What a test gets: where the cluster is, and how to set up and steer it."""

    def __init__(self, url: str, kubeconfig: Path, namespace: str = "default",
                 cluster: LocalCluster | None = None) -> None:
        self.url = url
        self.kubeconfig = kubeconfig
        self.namespace = namespace
        self.cluster = cluster
        self.env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
        if cluster is not None:  # ports change per session: keep kubectl's discovery cache local
            self.env["KUBECACHEDIR"] = str(kubeconfig.parent / "kube-cache")
        self._applied: list[tuple[str, str, str]] = []

    @property
    def is_local(self) -> bool:
        return self.cluster is not None

    # --- the interface ------------------------------------------------------------------
    def apply(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Create the object, or replace it when it exists; returns what the server stored."""
        namespace = (manifest.get("metadata") or {}).get("namespace") or self.namespace
        name = manifest["metadata"]["name"]
        self._applied.append((manifest["apiVersion"], manifest["kind"], name))
        if self.cluster is None:
            return _real_apply(self.kubeconfig, manifest, namespace)
        resource = BY_KIND[(manifest["apiVersion"], manifest["kind"])]
        try:
            return self._request("POST", _path(resource, namespace), manifest)
        except urllib.error.HTTPError as error:
            if error.code != 409:
                raise
        current = self._request("GET", _path(resource, namespace, name))
        body = json.loads(json.dumps(manifest))
        body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        return self._request("PUT", _path(resource, namespace, name), body)

    def reset(self) -> None:
        """Delete every object in namespace default (and forget broken images, delays and
        the exec handler).

        Against a real cluster only what `apply()` created is deleted."""
        if self.cluster is not None:
            self.cluster.reset(self.namespace)
            return
        _real_delete(self.kubeconfig, self._applied, self.namespace)
        self._applied.clear()

    def break_image(self, image: str) -> None:
        """Pods of `image` never become ready (ImagePullBackOff), so deadlines fire."""
        if self.cluster is None:
            pytest.skip("break_image needs the local API server (REMEDIATIONS_KUBECONFIG is set)")
        self.cluster.break_image(image)

    def set_ready_delay(self, seconds: float) -> None:
        """How long a new pod takes to become ready (default 0.5 s)."""
        if self.cluster is None:
            pytest.skip("set_ready_delay needs the local API server (REMEDIATIONS_KUBECONFIG is set)")
        self.cluster.set_ready_delay(seconds)

    def set_exec_handler(self, handler: ExecHandler | None) -> None:
        """Answer `pods/exec` (websocket, as the real client speaks it) with
        `handler(pod, container, argv) -> (exit code, stdout, stderr)`; reset() removes it."""
        if self.cluster is None:
            pytest.skip("set_exec_handler needs the local API server (REMEDIATIONS_KUBECONFIG is set)")
        self.cluster.set_exec_handler(handler)

    def set_pod_ready(self, name: str, ready: bool, message: str = "") -> None:
        """Pod `name`'s readiness probe fails (`ready=False`) or passes again; it keeps running."""
        if self.cluster is None:
            pytest.skip("set_pod_ready needs the local API server (REMEDIATIONS_KUBECONFIG is set)")
        self.cluster.set_pod_ready(name, ready, namespace=self.namespace, message=message)

    def set_container_started(self, name: str, container: str, restart_count: int,
                              started_at: str) -> None:
        """Report that a container of pod `name` (re)started (what a kubelet sees of its runtime)."""
        if self.cluster is None:
            pytest.skip("set_container_started needs the local API server")
        self.cluster.set_container_started(name, container, restart_count, started_at,
                                           namespace=self.namespace)

    # --- conveniences -------------------------------------------------------------------
    def kubectl(self, *args: str, timeout: float = 60, check: bool = False,
                input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run the real kubectl against this cluster."""
        return subprocess.run([KUBECTL, *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=check, input=input)

    def _request(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json",
                                                  "Accept": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]


def _real_client(kubeconfig: Path) -> Any:
    from kubernetes import config, dynamic

    api_client = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
    return dynamic.DynamicClient(api_client)  # type: ignore[no-untyped-call]


def _real_apply(kubeconfig: Path, manifest: dict[str, Any], namespace: str) -> dict[str, Any]:
    from kubernetes.client.exceptions import ApiException

    resource = _real_client(kubeconfig).resources.get(api_version=manifest["apiVersion"],
                                                      kind=manifest["kind"])
    try:
        return resource.create(body=manifest, namespace=namespace).to_dict()  # type: ignore[no-any-return]
    except ApiException as error:
        if error.status != 409:
            raise
    current = resource.get(name=manifest["metadata"]["name"], namespace=namespace)
    body = json.loads(json.dumps(manifest))
    body["metadata"]["resourceVersion"] = current.metadata.resourceVersion
    return resource.replace(body=body, namespace=namespace).to_dict()  # type: ignore[no-any-return]


def _real_delete(kubeconfig: Path, applied: list[tuple[str, str, str]], namespace: str) -> None:
    from kubernetes.client.exceptions import ApiException

    client = _real_client(kubeconfig)
    for api_version, kind, name in reversed(applied):
        try:
            client.resources.get(api_version=api_version, kind=kind).delete(
                name=name, namespace=namespace, body={"propagationPolicy": "Foreground"})
        except ApiException as error:
            if error.status != 404:
                raise


def _real_namespace(kubeconfig: Path) -> tuple[str, str]:
    config = yaml.safe_load(kubeconfig.read_text())
    contexts = {c["name"]: c["context"] for c in config.get("contexts") or []}
    context = contexts.get(config.get("current-context", ""), {})
    clusters = {c["name"]: c["cluster"] for c in config.get("clusters") or []}
    server = clusters.get(context.get("cluster", ""), {}).get("server", "")
    return server, context.get("namespace", "default")


@pytest.fixture(scope="session")
def kube_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeApi]:
    """A Kubernetes API: the local test double, or the cluster `REMEDIATIONS_KUBECONFIG` names."""
    real = os.environ.get("REMEDIATIONS_KUBECONFIG")
    if real:
        path = Path(real).expanduser().resolve()
        server, namespace = _real_namespace(path)
        yield KubeApi(server, path, namespace)
        return
    directory = tmp_path_factory.mktemp("kubeapi")
    with LocalCluster() as cluster:
        kubeconfig = cluster.write_kubeconfig(directory / "kubeconfig")
        yield KubeApi(cluster.url, kubeconfig, "default", cluster)
        errors = cluster.controller.take_errors()
        if errors:
            warnings.warn(f"the local cluster's controller failed: {errors}", stacklevel=1)


@pytest.fixture
def kube(kube_api: KubeApi) -> Iterator[KubeApi]:
    """`kube_api`, reset before the test: an empty namespace default, default behaviour.

    Afterwards, a failure inside the test double's controller fails the test."""
    kube_api.reset()
    yield kube_api
    if kube_api.cluster is not None:
        errors = kube_api.cluster.controller.take_errors()
        assert not errors, f"the local cluster's controller failed: {errors}"
