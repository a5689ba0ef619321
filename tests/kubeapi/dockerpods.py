"""Pods whose containers are real Docker containers: each pod its own filesystem and processes.

The test double's pods run nothing. `DockerPods` gives chosen pods a container runtime:
each pod gets one Docker container of its own (`start(pod, spec)`), `pods/exec` on that
pod runs `docker exec -i` in it (the handler the double's websocket exec calls), and a
thread reports container restarts back as a kubelet does (`restartCount` and
`state.running.startedAt` from `docker inspect`), so a worker that exits and comes back
shows in the pod's status. The library talks only to the API: the exec it sends and the
pod status it reads are the real ones.

    pods = DockerPods(kube_api, prefix="rem7-k8s")
    kube_api.set_exec_handler(pods.exec)
    pods.start(pod_name, ContainerSpec(image="remediations-lab/app:v1.2.3", env={...}))
    ...
    pods.close()     # stops the thread and removes every container it started
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]


@dataclass(frozen=True)
class ContainerSpec:
    """How a pod's container is run: image, command, environment, user, restart policy."""

    image: str
    command: Sequence[str] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    user: str = ""
    workdir: str = ""
    network: str = ""
    init: bool = False
    restart: str = "unless-stopped"  # a container that exits comes back, as in a pod


def docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout,
                          check=check, stdin=subprocess.DEVNULL)


def rfc3339(docker_time: str) -> str:
    """Docker's `2026-12-06T17:10:19.123456789Z` as the API's one-second `2026-12-06T17:10:19Z`."""
    stamp = docker_time.split(".")[0].rstrip("Z")
    return datetime.fromisoformat(stamp).replace(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class DockerPods:
    """Pod name -> a Docker container of its own; exec into it; its restarts reported."""

    def __init__(self, kube: Any, *, prefix: str, interval: float = 0.5) -> None:
        self.kube = kube
        self.prefix = prefix
        self.interval = interval
        self.containers: dict[str, tuple[str, str]] = {}  # pod -> (pod container, docker name)
        self.execs: list[tuple[str, tuple[str, ...]]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._seen: dict[str, tuple[int, str]] = {}
        self._thread = threading.Thread(target=self._watch, name="dockerpods", daemon=True)
        self._thread.start()

    def name_of(self, pod: str) -> str:
        return f"{self.prefix}-{pod}"

    def start(self, pod: str, spec: ContainerSpec, container: str = "app") -> str:
        """Run pod `pod`'s container `container` as a Docker container; returns its name."""
        name = self.name_of(pod)
        docker("rm", "-f", name, check=False)
        args = ["run", "-d", "--name", name, "--label", "remediations.lab=k8s-pods",
                "--restart", spec.restart, "--hostname", pod]
        for key, value in spec.env.items():
            args += ["-e", f"{key}={value}"]
        if spec.user:
            args += ["-u", spec.user]
        if spec.workdir:
            args += ["-w", spec.workdir]
        if spec.network:
            args += ["--network", spec.network]
        if spec.init:
            args.append("--init")
        docker(*args, spec.image, *spec.command)
        with self._lock:
            self.containers[pod] = (container, name)
        return name

    def exec(self, pod: Obj, container: str, argv: list[str]) -> tuple[int, str, str]:
        """The double's exec handler: `docker exec -i NAME ARGV` in the pod's own container."""
        name = pod["metadata"]["name"]
        with self._lock:
            mapped = self.containers.get(name)
            self.execs.append((name, tuple(argv)))
        if mapped is None or mapped[0] != container:
            return 126, "", f"pod {name} has no running container {container} in this lab\n"
        res = subprocess.run(["docker", "exec", "-i", mapped[1], *argv], capture_output=True,
                             text=True, timeout=300, check=False, stdin=subprocess.DEVNULL)
        if res.returncode in (126, 127) and "executable file not found" in res.stderr:
            raise FileNotFoundError(argv[0])
        return res.returncode, res.stdout, res.stderr

    def sync(self) -> None:
        """Report each container's RestartCount and StartedAt to the API as the kubelet does."""
        with self._lock:
            mapped = dict(self.containers)
        for pod, (container, name) in mapped.items():
            res = docker("inspect", "-f", "{{.RestartCount}} {{.State.StartedAt}} {{.State.Running}} "
                         "{{.State.Restarting}}", name, check=False, timeout=30)
            parts = res.stdout.split()
            # While Docker waits to restart a container it counts the restart already and
            # still shows the old start: report the new run once it has begun.
            if res.returncode != 0 or len(parts) != 4 or parts[2:] != ["true", "false"]:
                continue
            seen = (int(parts[0]), rfc3339(parts[1]))
            if self._seen.get(pod) == seen:
                continue
            try:
                self.kube.set_container_started(pod, container, *seen)
            except Exception:  # noqa: BLE001 (the pod may be gone; try again next time)
                continue
            self._seen[pod] = seen

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            self.sync()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        with self._lock:
            names = [n for _, n in self.containers.values()]
            self.containers.clear()
        if names:
            docker("rm", "-f", *names, check=False)
