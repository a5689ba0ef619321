"""One local cluster: the store, the API verbs, the HTTP server and the controllers."""

from __future__ import annotations

import threading
from pathlib import Path

import yaml

from tests.kubeapi.api import Api
from tests.kubeapi.controller import Controller
from tests.kubeapi.kubelet import PODS
from tests.kubeapi.podexec import ExecHandler
from tests.kubeapi.resources import RESOURCES
from tests.kubeapi.server import KubeHTTPServer
from tests.kubeapi.store import Store

DEFAULT_READY_DELAY = 0.5


class LocalCluster:
    """A Kubernetes API server test double on 127.0.0.1 (plain HTTP, no auth)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 ready_delay: float = DEFAULT_READY_DELAY) -> None:
        self.store = Store()
        self.api = Api(self.store)
        self.controller = Controller(self.api, ready_delay=ready_delay)
        self.http = KubeHTTPServer((host, port), self.store, self.api)
        self._thread = threading.Thread(target=self.http.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="kubeapi-http", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.http.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> LocalCluster:
        self.controller.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        self.http.stopping.set()
        self.http.shutdown()
        self.http.server_close()
        self.controller.stop()

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- test controls ------------------------------------------------------------------
    def break_image(self, image: str) -> None:
        """Pods running `image` never become ready (ImagePullBackOff)."""
        self.controller.kubelet.break_image(image)

    def fix_image(self, image: str) -> None:
        self.controller.kubelet.fix_image(image)

    def set_ready_delay(self, seconds: float) -> None:
        """How long a new pod takes to become Ready."""
        self.controller.kubelet.set_ready_delay(seconds)

    def set_exec_handler(self, handler: ExecHandler | None) -> None:
        """Answer `pods/exec` with `handler(pod, container, argv) -> (code, stdout, stderr)`;
        None (the default) refuses exec with a 400."""
        self.http.set_exec_handler(handler)

    def set_pod_ready(self, name: str, ready: bool, *, namespace: str = "default",
                      message: str = "") -> None:
        """Pod `name`'s readiness probe fails (`ready=False`) or passes again; it keeps running."""
        with self.store.lock:
            self.controller.kubelet.set_ready(self.api.get(PODS, namespace, name), ready, message)

    def set_container_started(self, name: str, container: str, restart_count: int,
                              started_at: str, *, namespace: str = "default") -> None:
        """Report that a container of pod `name` (re)started: restartCount, `state.running.startedAt`."""
        with self.store.lock:
            self.controller.kubelet.set_container_started(self.api.get(PODS, namespace, name),
                                                          container, restart_count, started_at)

    def reset(self, namespace: str = "default") -> None:
        """Delete every object in `namespace` (the namespace itself stays), at once, and
        restore the defaults: no broken images, the initial ready delay, no exec handler."""
        with self.store.lock:
            for resource in RESOURCES:
                if resource.namespaced:
                    for obj in self.store.items(resource, namespace):
                        self.store.remove(resource, namespace, obj["metadata"]["name"])
        self.controller.kubelet.clear()
        self.http.set_exec_handler(None)

    def write_kubeconfig(self, path: Path, namespace: str = "default") -> Path:
        """A kubeconfig with one context, `local`, and no credentials."""
        config = {
            "apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": "local", "cluster": {"server": self.url}}],
            "users": [{"name": "local", "user": {}}],
            "contexts": [{"name": "local",
                          "context": {"cluster": "local", "user": "local", "namespace": namespace}}],
            "current-context": "local",
        }
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path
