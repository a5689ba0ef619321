"""`docker exec` through the Docker SDK: the host is a container on an engine."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from remediations.connections.base import BaseConnection, timed_out
from remediations.core.errors import Unreachable

if TYPE_CHECKING:
    from remediations.inventory import Host

# coreutils `timeout` exits 124 when it had to stop the command, 137 when it killed it.
_TIMEOUT_CODES = (124, 137)


class DockerExecConnection(BaseConnection):
    """Runs commands in a container with `docker exec`, as the inventory's user."""

    def __init__(self, host: Host, *, default_timeout: float | None = None,
                 client: Any = None) -> None:
        super().__init__(host.name, become=False, default_timeout=default_timeout)
        self.container_name = host.docker_container
        # `docker exec --user` replaces sudo: become_user when becoming, else the login user.
        self.user = host.become_user if host.become else (host.user or "")
        self._client = client
        self._container: Any = None
        self._connect_timeout = host.connect_timeout

    def _get(self) -> Any:
        if self._container is not None:
            return self._container
        import docker
        import docker.errors
        import requests

        try:
            if self._client is None:
                self._client = docker.from_env(timeout=int(max(5, self._connect_timeout)))
            container = self._client.containers.get(self.container_name)
        except docker.errors.NotFound as exc:
            raise Unreachable(f"{self.name}: no container named {self.container_name!r}") from exc
        except (docker.errors.DockerException, requests.RequestException) as exc:
            raise Unreachable(f"{self.name}: Docker engine not answering: {exc}") from exc
        if container.status != "running":
            raise Unreachable(f"{self.name}: container {self.container_name} is {container.status}")
        self._container = container
        return container

    def _execute(self, argv: tuple[str, ...], timeout: float | None,
                 command: str) -> tuple[int, str, str]:
        import docker.errors
        import requests

        container = self._get()
        if timeout is not None:
            # exec has no timeout of its own: coreutils' timeout bounds it inside the container.
            argv = ("timeout", "-k", "5", f"{max(1.0, timeout):g}", *argv)
        try:
            res = container.exec_run(list(argv), user=self.user, demux=True, stdin=False)
        except docker.errors.APIError as exc:
            self._container = None
            if exc.status_code in (404, 409):
                raise Unreachable(f"{self.name}: container {self.container_name} "
                                  f"is gone or stopped: {exc.explanation}") from exc
            raise Unreachable(f"{self.name}: docker exec failed: {exc}") from exc
        except (requests.RequestException, OSError) as exc:
            raise Unreachable(f"{self.name}: Docker engine not answering: {exc}") from exc
        out, err = res.output if res.output else (None, None)
        code = int(res.exit_code if res.exit_code is not None else -1)
        if timeout is not None and code in _TIMEOUT_CODES:
            raise timed_out(command, timeout)
        if code == 126 and err and b"OCI runtime exec failed" in err:
            raise Unreachable(f"{self.name}: {err.decode(errors='replace').strip()}")
        return code, _text(out), _text(err)

    def close(self) -> None:
        self._container = None


def _text(data: bytes | None) -> str:
    return data.decode("utf-8", errors="replace") if data else ""
