"""A Kubernetes API server test double: HTTP on 127.0.0.1, apps/v1 and core/v1, a controller.

`LocalCluster` runs one; the `kube_api` fixture (tests.kubeapi.fixture) gives tests one
per session, or a real cluster when `REMEDIATIONS_KUBECONFIG` is set.
"""

from tests.kubeapi.cluster import LocalCluster

__all__ = ["LocalCluster"]
