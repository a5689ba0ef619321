"""Compose projects on a Docker host: which CLI, which project, its containers, waiting for health.

The project comes from inventory vars: `compose_project_dir` (a relative one resolves
against the inventory file's folder, as `ansible_ssh_private_key_file` does),
`compose_file` (default `docker-compose.yml`, relative to the project dir) and
`compose_project` (default: the folder's name). Paths are used as they are on the
Docker host, so an ssh-reached host must have the project at the same absolute path.

Which compose: `compose_version` in the inventory (`v1` or `v2`), else v2 (`docker
compose`, or a `docker-compose` that reports 2.x) when the host has it, else v1
(`docker-compose` 1.x); asked once per connection. Results name the one that ran
(`docker compose v2.26.1`, `docker-compose 1.29.2`). Every compose command runs through
`t.conn.run` as an argument list with `-p`, an absolute `-f` and `--project-directory`
(no working directory needed).
"""

from __future__ import annotations

import os
import re
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from remediations.connections.base import Connection
from remediations.core import validate
from remediations.core.errors import InvalidInput
from remediations.core.result import Step
from remediations.docker.engine import ContainerFact, DockerEngine, DockerError, evidence
from remediations.host.disk import absolute_path
from remediations.run.target import Target

_SERVICE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_PROJECT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


class ComposeMissing(DockerError):
    """No compose CLI runs on the host, or not the one the inventory asks for."""


@dataclass(frozen=True, slots=True)
class ComposeCli:
    """How compose is invoked on a host: `("docker", "compose")` (v2) or `("docker-compose",)`."""

    argv: tuple[str, ...]
    version: str

    @property
    def major(self) -> int:
        m = re.match(r"v?(\d+)", self.version)
        return int(m.group(1)) if m else 0

    @property
    def label(self) -> str:
        """What ran, as results name it: `docker compose v2.26.1`, `docker-compose 1.29.2`."""
        return f"{' '.join(self.argv)} {'v' if self.major >= 2 else ''}{self.version}"


@dataclass(frozen=True, slots=True)
class ComposeProject:
    """A compose project on the Docker host: its name, folder and file (absolute paths)."""

    name: str
    directory: str
    file: str


def service_name(value: str) -> str:
    """A compose service name, validated before any host is touched."""
    if not isinstance(value, str) or not _SERVICE.fullmatch(value):
        raise InvalidInput(f"not a valid compose service name: {value!r}")
    return value


def service_names(values: Sequence[str]) -> list[str]:
    names = list(dict.fromkeys(service_name(v) for v in values))
    if not names:
        raise InvalidInput("name at least one compose service")
    return names


def env_name(value: str) -> str:
    if not isinstance(value, str) or not _ENV_NAME.fullmatch(value):
        raise InvalidInput(f"not a valid environment variable name: {value!r}")
    return value


def resolve_path(t: Target, value: str) -> str:
    """`~` expanded; relative to the folder of the inventory file that named the host."""
    path = os.path.expanduser(value)
    if not os.path.isabs(path):
        base = os.path.dirname(t.host.source) if t.host.source else os.getcwd()
        path = os.path.join(base, path)
    return os.path.normpath(path)


def project(t: Target) -> ComposeProject:
    """The host's compose project, from `compose_project_dir`, `compose_file`, `compose_project`."""
    raw_dir = t.var("compose_project_dir")
    if not raw_dir:
        raise InvalidInput(f"{t.name}: no compose_project_dir in the inventory")
    directory = absolute_path(resolve_path(t, str(raw_dir)), "compose_project_dir")
    file = str(t.var("compose_file") or "docker-compose.yml")
    file = absolute_path(os.path.normpath(os.path.join(directory, file)), "compose_file")
    name = str(t.var("compose_project") or re.sub(r"[^a-z0-9_-]", "",
                                                   os.path.basename(directory).lower()))
    if not _PROJECT.fullmatch(name):
        raise InvalidInput(f"{t.name}: not a valid compose project name: {name!r}")
    return ComposeProject(name, directory, file)


def parse_version(text: str) -> str:
    """`2.24.5`, `v2.24.5` or `docker-compose version 1.29.2, build ...` -> the version."""
    m = re.search(r"v?(\d+\.\d+(?:\.\d+)?)", text)
    return m.group(1) if m else ""


COMPOSE_VERSIONS = {"v1": 1, "v2": 2}
_V2, _V1 = ("docker", "compose"), ("docker-compose",)
_CACHE: weakref.WeakKeyDictionary[Any, dict[int | None, ComposeCli]] = weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.Lock()


def compose_version(t: Target) -> int | None:
    """The compose major the inventory asks for: `compose_version: v1 | v2` (1 or 2);
    None when unset or `auto` (v2 when the host has it, else v1)."""
    raw = t.var("compose_version")
    text = str(raw).strip().lower() if isinstance(raw, str | int) else None
    if raw is None or text in ("", "auto"):
        return None
    # YAML reads `compose_version: 2` as a number: 2 and "2" mean v2 too; a boolean never.
    major = None if text is None or isinstance(raw, bool) else COMPOSE_VERSIONS.get(
        text if text.startswith("v") else f"v{text}")
    if major is None:
        raise InvalidInput(f"{t.name}: compose_version must be v1, v2 or auto, not {raw!r}")
    return major


def _fits(cli: ComposeCli, want: int | None) -> bool:
    return want is None or (cli.major >= 2) == (want >= 2)


def detect(conn: Connection, want: int | None = None) -> ComposeCli:
    """The compose CLI to use on this connection's host; asked once per connection.

    `want` None: `docker compose` (v2) if `docker compose version` works, else
    `docker-compose`. `want` 2: `docker compose`, else a `docker-compose` that is 2.x
    (the standalone v2 binary). `want` 1: `docker-compose` 1.x only. The answer is kept for
    as long as the connection object lives (one host in one run).
    """
    with _CACHE_LOCK:
        known = _CACHE.get(conn, {}).get(want)
    if known is not None:
        return known
    found: ComposeCli | None = None
    seen: list[str] = []
    for argv in ((_V1,) if want == 1 else (_V2, _V1)):
        res = conn.run([*argv, "version", "--short"], check=False, timeout=60)
        if res.succeeded and (version := parse_version(res.stdout)):
            cli = ComposeCli(argv, version)
            if _fits(cli, want):
                found = cli
                break
            seen.append(f"`{' '.join(argv)}` is {version}")
        else:
            seen.append(f"no `{' '.join(argv)}`")
    if found is None and want is None:
        raise ComposeMissing(f"{conn.name}: neither `docker compose` nor `docker-compose` runs "
                             "there; install Compose v2 or docker-compose")
    if found is None:
        raise ComposeMissing(f"{conn.name}: the inventory says compose_version: v{want}, but "
                             f"{' and '.join(seen)} there; install it or change compose_version")
    with _CACHE_LOCK:
        _CACHE.setdefault(conn, {})[want] = found
    return found


def compose_argv(cli: ComposeCli, proj: ComposeProject, *args: str,
                 env: Mapping[str, str] | None = None) -> list[str]:
    """`[env K=V ...] <compose> -p P -f F --project-directory D ARGS...`."""
    prefix = ["env", *(f"{env_name(k)}={v}" for k, v in env.items())] if env else []
    return [*prefix, *cli.argv, "-p", proj.name, "-f", proj.file, "--project-directory",
            proj.directory, *args]


@dataclass(frozen=True, slots=True)
class Compose:
    """One host's compose project with its CLI and engine: what every remediation here uses."""

    t: Target
    cli: ComposeCli
    proj: ComposeProject
    eng: DockerEngine

    def argv(self, *args: str, env: Mapping[str, str] | None = None) -> list[str]:
        return compose_argv(self.cli, self.proj, *args, env=env)

    def step(self, *args: str, why: str = "", env: Mapping[str, str] | None = None) -> Step:
        return Step(self.argv(*args, env=env), why)

    def containers(self, service: str | None = None) -> list[ContainerFact]:
        """The project's containers (all states), one-off `run` containers left out."""
        labels = [f"{PROJECT_LABEL}={self.proj.name}", "com.docker.compose.oneoff=False"]
        if service:
            labels.append(f"{SERVICE_LABEL}={service}")
        return self.eng.containers(*labels)

    def by_service(self, services: Sequence[str]) -> dict[str, list[ContainerFact]]:
        found: dict[str, list[ContainerFact]] = {s: [] for s in services}
        # One service: the engine filters by its label, so only its containers are inspected.
        for c in self.containers(services[0] if len(services) == 1 else None):
            if c.service in found:
                found[c.service].append(c)
        return found

    def services(self, env: Mapping[str, str] | None = None) -> list[str]:
        """The services the compose file defines (`config --services`)."""
        res = self.t.conn.run(self.argv("config", "--services", env=env), timeout=120)
        return [s for s in res.stdout.split() if s]

    def config(self, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The resolved compose file (`config`), variables substituted."""
        import yaml

        res = self.t.conn.run(self.argv("config", env=env), timeout=120)
        data = yaml.safe_load(res.stdout) or {}
        return data if isinstance(data, dict) else {}

    def require(self, services: Sequence[str]) -> None:
        """`InvalidInput` naming any service the compose file does not define."""
        known = self.services()
        unknown = [s for s in services if s not in known]
        if unknown:
            raise InvalidInput(f"{self.t.name}: project {self.proj.name} has no service "
                               f"{', '.join(unknown)} (it has {', '.join(known) or 'none'})")


def open_compose(t: Target, eng: DockerEngine) -> Compose:
    proj = project(t)
    return Compose(t, detect(t.conn, compose_version(t)), proj, eng)


@dataclass(frozen=True, slots=True)
class Wait:
    """How a wait for services ended: every container ready, or the reason it never will be."""

    ok: bool
    message: str
    containers: tuple[ContainerFact, ...]
    bad: tuple[ContainerFact, ...] = ()


def judge(found: Mapping[str, Sequence[ContainerFact]], *,
          started_after: datetime | None = None) -> tuple[bool, bool, str, list[ContainerFact]]:
    """(ready, final, why, culprits) for the services' containers right now.

    Final means waiting will not help: a container exited or died, or its healthcheck
    reported `unhealthy` (the engine already saw `retries` failures in a row).
    """
    waiting: list[str] = []
    for service, containers in found.items():
        if not containers:
            waiting.append(f"{service}: no container")
            continue
        for c in containers:
            if c.state in ("exited", "dead"):
                return False, True, f"{c.name} {c.state} (exit code {c.exit_code})", [c]
            if c.health == "unhealthy":
                return False, True, f"{c.name} is unhealthy", [c]
            if started_after is not None and (c.started_at is None or c.started_at < started_after):
                waiting.append(f"{c.name}: not restarted yet")
            elif not c.ready:
                waiting.append(f"{c.name}: {c.state}" + (f" ({c.health})" if c.health else ""))
    if waiting:
        return False, False, "; ".join(waiting), []
    return True, True, "", []


def wait_ready(comp: Compose, services: Sequence[str], *, timeout: float,
               started_after: datetime | None = None, interval: float = 0.25) -> Wait:
    """Poll until every container of `services` runs (healthy, if it has a healthcheck).

    Every `interval` s: one list and one inspect per container of `services`, cheap enough
    to notice a healthcheck's first success within a quarter of a second.
    """
    deadline = time.monotonic() + timeout
    while True:
        found = comp.by_service(services)
        ready, final, why, bad = judge(found, started_after=started_after)
        every = tuple(c for cs in found.values() for c in cs)
        if ready:
            health = ", ".join(f"{c.name} {c.health or c.state}" for c in every)
            return Wait(True, health, every)
        if final:
            return Wait(False, why, every, tuple(bad))
        if time.monotonic() >= deadline:
            stuck = tuple(c for c in every if not c.ready) or every
            return Wait(False, f"not ready within {timeout:g}s: {why}", every, stuck)
        time.sleep(interval)


def wait_evidence(comp: Compose, waited: Wait) -> str:
    return evidence(comp.eng, waited.bad or waited.containers)


def states(containers: Sequence[ContainerFact]) -> str:
    return "\n".join(c.describe() for c in containers) or "(no containers)"


def release_tag(tag: str) -> str:
    return validate.release_tag(tag)
