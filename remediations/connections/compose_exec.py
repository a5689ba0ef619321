"""Commands in a compose service's container, as `docker compose exec -T SERVICE` runs them.

On a Docker host the application is not on the host: its code, caches and artisan are
in the containers of a compose service. `ServiceExec` wraps the host's connection (ssh,
or local: the same docker CLI either way) and runs each command in one container of the
service with `docker exec CONTAINER ARGV`, which is what `docker compose exec -T SERVICE
ARGV` does for the container compose labels `<project>`/`<service>` (no TTY, no stdin,
the image's user and working directory). Naming the container keeps it the same for a
whole remediation, works with compose v1 and v2 alike and needs no compose file.

`service_containers` lists a service's containers by compose's labels, with their state
and the user `docker exec` runs as there, in one round trip; `--index N` of compose exec is the
container numbered N. The host's lock and timeouts stay with the host's connection.
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass

from remediations.connections.base import CommandResult, Connection, check_argv, timed_out
from remediations.connections.framing import run_framed
from remediations.core.errors import CommandFailed, InvalidInput, Unreachable

__all__ = ["ServiceContainer", "ServiceExec", "list_argv", "parse_containers",
           "service_containers"]

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
NUMBER_LABEL = "com.docker.compose.container-number"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
# coreutils/busybox `timeout` exits 124 when it stopped the command, 137 when it killed it.
_TIMEOUT_CODES = (124, 137)
# What the docker CLI says when the container is not there to exec in.
_GONE = re.compile(r"^Error(?: response from daemon)?: (?:No such container|Container \S+ is "
                   r"(?:not running|restarting|paused))", re.M)
# The daemon refused the exec because its restart policy is restarting the container: the
# command did not run, and the same container runs again in a moment (a worker that quit).
_RESTARTING = re.compile(r"^Error(?: response from daemon)?: Container \S+ is restarting", re.M)
RESTART_WAIT = 30.0  # seconds a restarting container is waited for before it counts as gone
# One line per container: name, compose's number, the user exec runs as, its state.
_FORMAT = ('{{.Name}}\t{{index .Config.Labels "' + NUMBER_LABEL + '"}}\t{{.Config.User}}'
           '\t{{.State.Status}}')
# Every state (a stopped container comes back with the state it had); one-off `run`
# containers are left out.
_LIST = ('ids=$(docker ps -a -q --no-trunc --filter "label=$1" --filter "label=$2" '
         '--filter label=com.docker.compose.oneoff=False) || exit $?\n'
         '[ -z "$ids" ] || exec docker inspect --format "$3" $ids')


@dataclass(frozen=True, slots=True)
class ServiceContainer:
    """A container of a compose service: its name, compose's number, exec user and state."""

    name: str
    number: int
    user: str = ""
    state: str = "running"

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def exec_user(self) -> str:
        """Who `docker exec` runs as: the image's (or service's) `user`, root when unset."""
        return self.user.split(":", 1)[0] or "root"


def list_argv(project: str, service: str) -> list[str]:
    """The command listing `service`'s containers in `project` (see `parse_containers`)."""
    for what, value in (("project", project), ("service", service)):
        if not _NAME.fullmatch(value):
            raise InvalidInput(f"not a valid compose {what} name: {value!r}")
    return ["sh", "-c", _LIST, "_", f"{PROJECT_LABEL}={project}", f"{SERVICE_LABEL}={service}",
            _FORMAT]


def parse_containers(text: str) -> list[ServiceContainer]:
    """`list_argv`'s output, ordered by compose's number (as `--index` counts)."""
    found = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) < 4 or not parts[0].strip():
            continue
        number = int(parts[1]) if parts[1].strip().isdigit() else 0
        found.append(ServiceContainer(parts[0].strip().lstrip("/"), number, parts[2].strip(),
                                      parts[3].strip()))
    return sorted(found, key=lambda c: (c.number, c.name))


def service_containers(conn: Connection, project: str, service: str) -> list[ServiceContainer]:
    """The containers of `service` in compose project `project` on `conn`'s host (any state)."""
    res = conn.run(list_argv(project, service), check=False, timeout=60)
    if res.failed:
        raise CommandFailed(res)
    return parse_containers(res.stdout)


class ServiceExec:
    """A connection running every command in `container` (of compose `service`) via `inner`.

    Results name the command as given (`php /srv/app/artisan config:clear`); the docker
    exec around it is in `describe()`. `inner` (the host's connection, with the run's
    lock and deadline) is what the runner sees through.
    """

    def __init__(self, inner: Connection, container: ServiceContainer, service: str) -> None:
        if not _NAME.fullmatch(container.name):
            raise InvalidInput(f"not a valid container name: {container.name!r}")
        self._inner = inner
        self.container = container
        self.service = service
        self.name = inner.name

    @property
    def inner(self) -> Connection:
        return self._inner

    def exec_argv(self, argv: Sequence[str], timeout: float | None = None) -> list[str]:
        """`docker exec CONTAINER [timeout -k 5 N] ARGV`: what runs on the Docker host.

        docker exec has no timeout of its own, and stopping the CLI leaves the command
        running in the container: `timeout` bounds it there.
        """
        bound = ["timeout", "-k", "5", f"{max(1.0, timeout):g}"] if timeout is not None else []
        return ["docker", "exec", self.container.name, *bound, *argv]

    def describe(self) -> str:
        return f"{self.service} ({self.container.name})"

    def run(self, argv: Sequence[str], *, timeout: float | None = None,
            check: bool = True) -> CommandResult:
        items = check_argv(argv)
        command = shlex.join(items)
        # The host's deadline a little later than the one inside, so `timeout` answers first.
        outer = timeout + 10 if timeout is not None else None
        res = self._inner.run(self.exec_argv(items, timeout), timeout=outer, check=False)
        deadline = time.monotonic() + RESTART_WAIT
        while (res.exit_code != 0 and _RESTARTING.search(res.stderr)
               and time.monotonic() < deadline):
            time.sleep(0.5)  # refused, not run: sending it again runs it once
            res = self._inner.run(self.exec_argv(items, timeout), timeout=outer, check=False)
        if timeout is not None and res.exit_code in _TIMEOUT_CODES:
            raise timed_out(command, timeout)
        if res.exit_code != 0 and _GONE.search(res.stderr):
            # Never another container in its place: its state is what is being changed.
            raise Unreachable(f"{self.name}: container {self.container.name} of service "
                              f"{self.service} is gone or stopped: {res.stderr.strip()[-300:]}")
        result = CommandResult(command, res.exit_code, res.stdout, res.stderr, res.duration)
        if check and result.failed:
            raise CommandFailed(result)
        return result

    def run_batch(self, argvs: Sequence[Sequence[str]], *,
                  timeout: float | None = None) -> list[CommandResult]:
        """Run `argvs` in order in one `docker exec` (a framed `sh -c`), stopping at a failure."""
        return run_framed(argvs, lambda argv: self.run(argv, timeout=timeout, check=False))

    def close(self) -> None:
        return None  # the host's connection is the runner's to close
