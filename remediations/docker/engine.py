"""How the library reaches a Docker host's engine: the Docker SDK, locally or over SSH.

`engine(t)` gives a `DockerEngine` for the host: for `ansible_connection: local` the
local engine (`docker_host` var as base_url, else `DOCKER_HOST`/the default socket);
for an ssh host the same SDK over SSH, with the inventory's address, port, user, key
file and host-key policy (`docker_ssh`: a paramiko client opened from the inventory
runs `docker system dial-stdio` on the host; docker-py's own `ssh://` transport only
reads `~/.ssh/config`, so the inventory's key and policy could not reach it).

Engine actions are `Step`s written as the docker CLI command they equal
(`docker container restart -t 10 ID`) and executed through the SDK by
`DockerEngine.run`, so `apply()` honours check mode for them as for any command.
Docker, requests and paramiko errors are translated here (and, for connecting over
SSH, in `docker_ssh`), nowhere else. The parsed facts live in `docker_facts`.
"""

from __future__ import annotations

import contextlib
import json
import shlex
from collections.abc import Iterator, Sequence
from typing import Any, Self

from remediations.connections.base import CommandResult, check_argv
from remediations.core import validate
from remediations.core.errors import (
    CommandFailed,
    CommandTimeout,
    InvalidInput,
    RemediationError,
    Unreachable,
)
from remediations.docker.facts import (
    CGROUP_MEMORY,
    ContainerFact,
    ContainerStats,
    HealthProbe,
    container_ref,
    parse_cgroup_memory,
    parse_container,
    parse_stats,
    parse_time,
)
from remediations.run.target import Target

DEFAULT_TIMEOUT = 60
__all__ = [
    "CGROUP_MEMORY", "ContainerFact", "ContainerStats", "DockerEngine", "DockerError",
    "HealthProbe", "NotFound", "container_ref", "engine", "engine_target", "evidence",
    "parse_cgroup_memory", "parse_container", "parse_stats", "parse_time",
]


class DockerError(RemediationError):
    """The engine refused or failed a request."""


class NotFound(DockerError):
    """No such container or image on the engine."""


class DockerEngine:
    """A Docker engine reached through the SDK; also a `Connection` for engine steps.

    Use as a context manager: `with engine(t) as eng: eng.containers(...)`.
    """

    def __init__(self, name: str, client: Any, *, where: str = "local") -> None:
        self.name = name
        self.client = client
        self.where = where

    # -- facts ---------------------------------------------------------------------------
    def containers(self, *labels: str) -> list[ContainerFact]:
        """Containers (any state) carrying every `key=value` label, inspected, by name."""
        with self._sdk("list containers"):
            found = self.client.containers.list(all=True, filters={"label": list(labels)})
            return sorted((parse_container(c.attrs) for c in found), key=lambda c: c.name)

    def container(self, ref: str) -> ContainerFact:
        """One container by name or id; `NotFound` when there is none."""
        with self._sdk(f"inspect container {ref}"):
            return parse_container(self.client.api.inspect_container(ref))

    def image_id(self, ref: str) -> str | None:
        """The id of image `ref`, or None when the engine has no such image."""
        try:
            with self._sdk(f"inspect image {ref}"):
                return str(self.client.api.inspect_image(ref)["Id"])
        except NotFound:
            return None

    def stats(self, ref: str) -> ContainerStats:
        """One stats sample, without waiting for a second one (one-shot).

        Some engines answer with empty stats (rootless on cgroup v1, or a daemon that
        cannot find its cgroup mounts, as on the lab machine): then the container's own
        cgroup is read inside it with `docker exec` (read-only, through the SDK).
        """
        from docker.utils import version_gte

        with self._sdk(f"stats of {ref}"):
            one_shot = True if version_gte(self.client.api.api_version, "1.41") else None
            found = parse_stats(self.client.api.stats(ref, stream=False, one_shot=one_shot))
            if found is not None:
                return found
            code, out = self.exec(ref, ["sh", "-c", CGROUP_MEMORY])
            host_memory = int(self.client.info().get("MemTotal") or 0)
        cgroup = parse_cgroup_memory(out, host_memory) if code == 0 else None
        if cgroup is None:
            raise DockerError(f"{self.name}: no memory figures for {ref}: the engine's stats are "
                              f"empty and its cgroup could not be read ({out.strip()[-200:]})")
        return cgroup

    def exec(self, ref: str, argv: Sequence[str]) -> tuple[int, str]:
        """Run a read-only command in a running container: (exit code, stdout + stderr).

        The hijacked socket is closed here: docker-py's `exec_run` leaves it open, which
        over SSH keeps a session (and a remote `dial-stdio`) alive per call.
        """
        from docker.utils.socket import frames_iter

        api = self.client.api
        with self._sdk(f"exec in {ref}"):
            created = api.exec_create(ref, list(argv), stdout=True, stderr=True)
            sock = api.exec_start(created["Id"], socket=True)
            try:
                out = b"".join(data for _, data in frames_iter(sock, tty=False))
            finally:
                sock.close()
            code = api.exec_inspect(created["Id"]).get("ExitCode")
        return int(code if code is not None else -1), out.decode("utf-8", "replace")

    def logs(self, ref: str, *, tail: int = 30) -> str:
        """The last `tail` lines of a container's output, stdout and stderr, with timestamps."""
        with self._sdk(f"logs of {ref}"):
            raw = self.client.api.logs(ref, timestamps=True, tail=tail)
        return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)

    def disk_usage(self) -> dict[str, Any]:
        """`docker system df -v` as the API returns it."""
        with self._sdk("read disk usage"):
            return dict(self.client.api.df())

    def images(self) -> list[dict[str, Any]]:
        """Every image, intermediate ones included (their ParentId links)."""
        with self._sdk("list images"):
            return list(self.client.api.images(all=True))

    # -- engine steps (Connection protocol) ------------------------------------------------
    def run(self, argv: Sequence[str], *, timeout: float | None = None,
            check: bool = True) -> CommandResult:
        """Do what the docker CLI command `argv` does, through the SDK (a fixed vocabulary)."""
        items = check_argv(argv)
        command = shlex.join(items)
        try:
            answer = self._dispatch(items, command)
        except DockerError as exc:
            result = CommandResult(command, 1, "", str(exc))
            if check:
                raise CommandFailed(result) from exc
            return result
        return CommandResult(command, 0, json.dumps(answer, default=str) if answer else "")

    def _dispatch(self, argv: tuple[str, ...], command: str) -> Any:
        api = self.client.api
        match argv:
            case ("docker", "container", "rm", ref):
                with self._sdk(command):
                    return api.remove_container(ref)
            case ("docker", "image", "rm", *refs) if refs:
                answers = []
                for ref in refs:
                    with self._sdk(command):
                        answers.append(api.remove_image(ref))
                return answers
            case ("docker", "container", "restart", "-t", seconds, ref):
                with self._sdk(command):
                    return api.restart(ref, timeout=int(seconds))
            case ("docker", "volume", "rm", name):
                with self._sdk(command):
                    return api.remove_volume(name)
            case ("docker", "builder", "prune", "--all", "--force"):
                with self._sdk(command):
                    return api.prune_builds(all=True)
            case ("docker", "builder", "prune", "--all", "--force", "--filter", until) if (
                    until.startswith("until=")):
                with self._sdk(command):
                    return api.prune_builds(filters={"until": until[6:]}, all=True)
        raise InvalidInput(f"not an engine step this library runs: {command}")

    @contextlib.contextmanager
    def _sdk(self, what: str) -> Iterator[None]:
        """Translate docker, requests and paramiko errors into the library's."""
        import docker.errors
        import paramiko
        import requests

        try:
            yield
        except docker.errors.NotFound as exc:
            raise NotFound(f"{self.name}: {what}: {_explain(exc)}") from exc
        except docker.errors.APIError as exc:
            raise DockerError(f"{self.name}: {what}: {_explain(exc)}") from exc
        except requests.Timeout as exc:
            raise CommandTimeout(f"{what} on {self.where}", DEFAULT_TIMEOUT) from exc
        except (requests.RequestException, docker.errors.DockerException, paramiko.SSHException,
                OSError, EOFError) as exc:
            raise Unreachable(f"{self.name}: Docker engine at {self.where} not answering "
                              f"({what}): {exc}") from exc

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _explain(exc: Any) -> str:
    text = getattr(exc, "explanation", None) or str(exc)
    return text.decode() if isinstance(text, bytes) else str(text)


def engine_target(t: Target, eng: DockerEngine) -> Target:
    """`t` with the engine as its connection, for `apply()` over engine steps."""
    return Target(t.host, eng, t.run)


def engine(t: Target, *, timeout: int = DEFAULT_TIMEOUT) -> DockerEngine:
    """The Docker engine of the host `t`: the local engine, or the host's over SSH."""
    from remediations.run import locks

    timeout = validate.count(timeout, "timeout", low=1, high=int(validate.MAX_SECONDS))
    locks.hold(t.conn)  # the engine is not `t.conn`: the host's lock must be taken first
    kind = t.host.connection
    if kind == "local":
        return _local(t, timeout)
    if kind == "ssh":
        return _over_ssh(t, timeout)
    raise InvalidInput(f"{t.name}: a Docker host is reached with connection local or ssh, "
                       f"not {kind}")


def _local(t: Target, timeout: int) -> DockerEngine:
    import docker
    import docker.errors
    import requests

    base_url = t.var("docker_host")
    where = str(base_url or "DOCKER_HOST/default socket")
    try:
        client = (docker.DockerClient(base_url=str(base_url), timeout=timeout) if base_url
                  else docker.from_env(timeout=timeout))
    except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
        raise Unreachable(f"{t.name}: Docker engine at {where} not answering: {exc}") from exc
    return DockerEngine(t.name, client, where=where)


def _over_ssh(t: Target, timeout: int) -> DockerEngine:
    from remediations.docker import engine_ssh as docker_ssh

    client, where = docker_ssh.docker_client(t.name, t.host, timeout=timeout)
    eng = DockerEngine(t.name, client, where=where)
    try:
        with eng._sdk("read the engine's API version"):
            docker_ssh.negotiate(client)
    except RemediationError:
        eng.close()
        raise
    return eng


def evidence(eng: DockerEngine, containers: Sequence[ContainerFact], *, lines: int = 30) -> str:
    """Each container's state, last log lines and last healthcheck outputs, for a failed result."""
    parts: list[str] = []
    for c in containers:
        try:
            fresh = eng.container(c.id)
            logs = eng.logs(c.id, tail=lines).rstrip()
        except DockerError as exc:
            parts.append(f"{c.name}: {exc}")
            continue
        parts.append(f"{fresh.describe()}" + (" (OOM killed)" if fresh.oom_killed else ""))
        parts.append(f"docker logs --tail {lines} {fresh.name}:\n{logs or '(no output)'}")
        if fresh.health_log:
            probes = "\n".join(f"  exit {p.exit_code}: {p.output[-300:]}"
                               for p in fresh.health_log[-3:])
            parts.append(f"healthcheck (last {min(3, len(fresh.health_log))}):\n{probes}")
    return "\n".join(parts)
