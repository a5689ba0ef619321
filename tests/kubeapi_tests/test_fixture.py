"""The `kube_api` fixture itself, and the same tests pointed at another cluster by kubeconfig."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.kubeapi.cluster import LocalCluster
from tests.kubeapi.fixture import KubeApi
from tests.kubeapi.manifests import app

ROOT = Path(__file__).resolve().parents[2]


def test_the_fixture_writes_a_kubeconfig_without_credentials(kube_api: KubeApi) -> None:
    assert kube_api.url.startswith("http://127.0.0.1:")
    config = yaml.safe_load(kube_api.kubeconfig.read_text())
    assert config["current-context"] == "local"
    (context,) = config["contexts"]
    assert context["context"]["namespace"] == "default"
    (cluster,) = config["clusters"]
    assert cluster["cluster"] == {"server": kube_api.url}
    assert config["users"] == [{"name": "local", "user": {}}]
    assert kube_api.env["KUBECONFIG"] == str(kube_api.kubeconfig)
    assert "default" in kube_api.kubectl("get", "namespaces", "-o", "name").stdout


def test_reset_empties_the_namespace_and_restores_defaults(kube_api: KubeApi) -> None:
    kube_api.set_ready_delay(5)
    kube_api.break_image("x:1")
    kube_api.apply(app(replicas=1))
    kube_api.reset()
    assert kube_api.kubectl("get", "deploy,rs,pods,events", "-o", "name").stdout == ""
    assert kube_api.cluster is not None
    kubelet = kube_api.cluster.controller.kubelet
    assert (kubelet.ready_delay, kubelet.broken) == (0.5, set())


def test_the_same_tests_run_against_a_cluster_named_by_kubeconfig(tmp_path: Path) -> None:
    """REMEDIATIONS_KUBECONFIG switches the fixture to "a real cluster" (here a second local
    server, reached only through its kubeconfig): tests run unchanged, and those that need
    the double's knobs skip with a reason."""
    with LocalCluster(ready_delay=0.1) as other:
        kubeconfig = other.write_kubeconfig(tmp_path / "other.yaml")
        env = {**os.environ, "REMEDIATIONS_KUBECONFIG": str(kubeconfig)}
        tests = [f"tests/kubeapi_tests/{t}" for t in (
            "test_api.py::test_label_selectors",
            "test_api.py::test_errors_are_status_objects",
            "test_rollout.py::test_rollout_status_after_set_image",
            "test_rollout.py::test_broken_image_exceeds_the_progress_deadline",
        )]
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *tests],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert "3 passed, 1 skipped" in done.stdout, done.stdout + done.stderr
        assert "break_image needs the local API server" in done.stdout
        paths = [path for _, method, path in other.http.request_log() if method == "PATCH"]
        assert any("/deployments/web" in p for p in paths)  # kubectl set image reached it
