"""Clients of the real `kubernetes` package, pointed at the `kube_api` fixture."""

from __future__ import annotations

import pytest
from kubernetes import client, config

from tests.kubeapi.fixture import KubeApi


@pytest.fixture(scope="session")
def api_client(kube_api: KubeApi) -> client.ApiClient:
    api: client.ApiClient = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(kube_api.kubeconfig))
    return api


@pytest.fixture(scope="session")
def apps(api_client: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(api_client)


@pytest.fixture(scope="session")
def core(api_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


@pytest.fixture
def fast(kube: KubeApi) -> KubeApi:
    """An empty namespace default and, on the local server, pods ready after 0.1 s."""
    if kube.is_local:
        kube.set_ready_delay(0.1)
    return kube

