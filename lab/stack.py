"""The Docker lab: the app as the compose project `remlab`, and a Docker host reached by ssh.

The project: `proxy` (nginx, the published port) in front of `backend` (nginx + php-fpm),
`worker`, `redis` and `db`.

``up()`` is idempotent and quick when nothing changed (a few seconds): it makes sure the
engine answers, builds the stack images whose content changed (lab/stack_images.py),
runs ``docker compose -p remlab up -d`` with the declared release (APP_TAG=v1.2.3), starts
the ssh-reached Docker host ``rem-dockerhost`` and waits until every service is healthy
and sshd lets the lab key in.

Compose v1 and v2 are both installed, here and on the ssh host, and the lab proves the
library on each: ``up(compose_version="v1")`` creates the project with docker-compose 1.29
and returns the inventory that tells the library so (``compose_version: v1``); the default,
v2, returns the one that names no version (the library picks v2 where both exist). The two
CLIs label a service's config differently, so switching recreates every container (and
renames it: v1 ``remlab_backend_1``, v2 ``remlab-backend-1``); later lab calls keep the
CLI that created the project.

    >>> import lab.stack as stack
    >>> info = stack.up(print)
    >>> info.backend_url
    'http://127.0.0.1:8091/up'
    >>> stack.set_backend_tag("v1.2.2")      # what a rollback remediation would do
    >>> stack.reset()                         # back to v1.2.3, everything healthy

Other people's containers (``rem*-web*``) are never touched: everything here is selected
by the compose project label or by the exact name ``rem-dockerhost``.

``REMEDIATIONS_LAB_SLOT=k`` gives an independent copy with a lock of its own (names, ports,
folders and inventories: lab/stack_layout.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import shlex
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import readiness
from ._run import STATE_DIR, LabError, Log, container_spec, quiet, run, tail
from .build import image_id
from .engine import engine_answers, ensure_engine
from .manage import SLOT, _ensure_ssh_key, ssh_key_path
from .stack_images import APP_RELEASES, DOCKERHOST, build_stack_images, remove_outdated
from .stack_layout import (
    BACKEND_URL,
    COMPOSE_FILE,
    COMPOSE_VERSIONS,
    DEFAULT_COMPOSE,
    DOCKERHOST_CONTAINER,
    DOCKERHOST_SSH_PORT,
    INVENTORY,
    PROJECT,
    PROJECT_DIR,
    SOURCE_DIR,
    checked_version,
    compose_command,
    inventory_for,
    write_inventories,
    write_slot_project,
)

__all__ = [
    "BACKEND_URL",
    "COMPOSE_FILE",
    "COMPOSE_VERSIONS",
    "DEFAULT_COMPOSE",
    "DEFAULT_TAG",
    "DOCKERHOST_CONTAINER",
    "DOCKERHOST_SSH_PORT",
    "INVENTORY",
    "PROJECT",
    "PROJECT_DIR",
    "SERVICES",
    "StackInfo",
    "compose",
    "compose_command",
    "containers",
    "created_by",
    "down",
    "inventory_for",
    "reset",
    "set_backend_tag",
    "ssh",
    "status",
    "up",
    "wait_healthy",
    "wait_service_health",
]

SERVICES = ("backend", "worker", "proxy", "redis", "db")
DEFAULT_TAG = "v1.2.3"
LABEL = "remediations.lab"
_PROJECT_FILTER = f"label=com.docker.compose.project={PROJECT}"
_LOCK = STATE_DIR / ("stack.lock" if SLOT == 0 else f"stack-slot{SLOT}.lock")


@dataclass(frozen=True)
class StackInfo:
    """What `up()` left running and how to reach it."""

    project_dir: Path
    project: str
    inventory: Path
    backend_url: str
    compose_file: Path
    dockerhost: str
    ssh_port: int
    ssh_key: Path
    # The compose CLI that created the project, which `inventory` makes the library use.
    compose_version: str = DEFAULT_COMPOSE


def _info(version: str) -> StackInfo:
    return StackInfo(PROJECT_DIR, PROJECT, inventory_for(version), BACKEND_URL, COMPOSE_FILE,
                     DOCKERHOST_CONTAINER, DOCKERHOST_SSH_PORT, ssh_key_path(), version)


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """One stack change at a time on this machine (two test sessions may share the engine)."""
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with open(_LOCK, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def created_by() -> str | None:
    """The compose CLI (`v1`, `v2`) that created every container of the project, else None
    (no container, or some of each)."""
    majors = {str((c["Config"].get("Labels") or {}).get("com.docker.compose.version", ""))[:1]
              for c in containers()}
    found = {f"v{m}" for m in majors}
    return found.pop() if len(found) == 1 and found <= set(COMPOSE_VERSIONS) else None


def compose(
    *args: str, tag: str = DEFAULT_TAG, timeout: float = 300, check: bool = True,
    version: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a compose command on the project with APP_TAG set (never inherited by accident),
    with compose `version` (default: the one that created the project, else v2)."""
    if tag not in APP_RELEASES:
        raise LabError(f"unknown release {tag!r}; the stack has {', '.join(APP_RELEASES)}")
    if SLOT:
        write_slot_project()
    cli = compose_command(version or created_by() or DEFAULT_COMPOSE)
    cmd = [*cli, "-p", PROJECT, "-f", str(COMPOSE_FILE), *args]
    return run(cmd, env={"APP_TAG": tag}, timeout=timeout, check=check)


def containers() -> list[dict[str, Any]]:
    """`docker inspect` of every container of the project (one-off `run` containers excluded)."""
    ids = run(["docker", "ps", "-aq", "--filter", _PROJECT_FILTER]).stdout.split()
    if not ids:
        return []
    found: list[dict[str, Any]] = json.loads(run(["docker", "inspect", *ids]).stdout)
    return [c for c in found
            if (c["Config"].get("Labels") or {}).get("com.docker.compose.oneoff") != "True"]


def _service(container: dict[str, Any]) -> str:
    return str((container["Config"].get("Labels") or {}).get("com.docker.compose.service", "?"))


def _health(container: dict[str, Any]) -> str:
    state = container["State"]
    if not state.get("Running"):
        return str(state.get("Status", "missing"))
    return str((state.get("Health") or {}).get("Status", "running"))


def _evidence(names: Sequence[str]) -> str:
    parts = []
    for name in names:
        logs = run(["docker", "logs", "--tail", "15", name], check=False)
        parts.append(f"--- docker logs --tail 15 {name}\n{tail(logs.stdout + logs.stderr, 15)}")
    return "\n".join(parts)


def wait_service_health(service: str, want: str = "healthy", timeout: float = 60) -> str:
    """Wait until every container of `service` reports health `want`; return its name(s).

    `want` is a Docker health status (healthy, unhealthy) or a state such as exited.
    """
    deadline = time.monotonic() + timeout
    seen: dict[str, str] = {}
    while time.monotonic() < deadline:
        mine = [c for c in containers() if _service(c) == service]
        seen = {c["Name"].lstrip("/"): _health(c) for c in mine}
        if seen and all(h == want for h in seen.values()):
            return ", ".join(sorted(seen))
        time.sleep(0.5)
    raise LabError(f"service {service} did not become {want} within {timeout:.0f}s: {seen}\n"
                   + _evidence(list(seen)))


def wait_healthy(services: Sequence[str] = SERVICES, timeout: float = 120) -> None:
    """Wait until every container of `services` is healthy; fail fast on one that exited."""
    deadline = time.monotonic() + timeout
    pending: dict[str, str] = {}
    while time.monotonic() < deadline:
        found = containers()
        pending = {s: "missing" for s in services}
        for c in found:
            if _service(c) in pending:
                health = _health(c)
                if health in ("exited", "dead"):
                    name = c["Name"].lstrip("/")
                    raise LabError(f"{name} ({_service(c)}) {health} "
                                   f"(exit {c['State'].get('ExitCode')})\n" + _evidence([name]))
                if health == "healthy" and pending[_service(c)] == "missing":
                    del pending[_service(c)]
                elif health != "healthy":
                    pending[_service(c)] = health
        if not pending:
            return
        time.sleep(0.5)
    names = [c["Name"].lstrip("/") for c in containers() if _service(c) in pending]
    raise LabError(f"not healthy within {timeout:.0f}s: {pending}\n" + _evidence(names))


def _same_path_mounts(folders: Path | tuple[Path, ...]) -> list[str]:
    folders = folders if isinstance(folders, tuple) else (folders,)
    return [arg for folder in folders for arg in ("-v", f"{folder}:{folder}:ro")]


def _dockerhost_args(key: Path) -> list[str]:
    return [
        "--name", DOCKERHOST_CONTAINER,
        "--hostname", "dockerhost",
        "--label", f"{LABEL}=stack",
        # Loopback only: nothing in the lab may be reached on another address.
        "-p", f"127.0.0.1:{DOCKERHOST_SSH_PORT}:22",
        "-v", f"{key.with_suffix('.pub')}:/root/.ssh/authorized_keys:ro",
        # This machine's engine, driven by the CLI inside (its own daemon never runs).
        "-v", "/var/run/docker.sock:/var/run/docker.sock",
        # The engine's container logs, as a real Docker host has them (clear-container-logs).
        "-v", "/var/lib/docker/containers:/var/lib/docker/containers",
        # The same absolute path, so compose resolves relative paths (env_file) identically
        # and labels containers with the same working dir from either host.
        *_same_path_mounts(SOURCE_DIR if SLOT == 0 else (SOURCE_DIR, PROJECT_DIR)),
        DOCKERHOST.ref("latest"),
    ]


def _inspect(name: str) -> dict[str, Any] | None:
    proc = run(["docker", "container", "inspect", name], check=False)
    if proc.returncode != 0:
        return None
    data: list[dict[str, Any]] = json.loads(proc.stdout)
    return data[0]


def _ensure_dockerhost(key: Path, log: Log, *, fresh: bool) -> None:
    args = _dockerhost_args(key)
    # The settings are part of the container's identity: change a flag, get a new container.
    spec = container_spec(args, key.with_suffix(".pub"))
    current = _inspect(DOCKERHOST_CONTAINER)
    if current is not None:
        labels = current["Config"].get("Labels") or {}
        same = (labels.get(f"{LABEL}.spec") == spec
                and current["Image"] == image_id(DOCKERHOST.ref("latest")))
        if same and not fresh:
            if not current["State"]["Running"]:
                log(f"starting stopped {DOCKERHOST_CONTAINER}")
                run(["docker", "start", DOCKERHOST_CONTAINER])
            return
        log(f"recreating {DOCKERHOST_CONTAINER} "
            f"({'asked for a fresh one' if same else 'image or settings changed'})")
        run(["docker", "rm", "-f", DOCKERHOST_CONTAINER], timeout=60)
    log(f"creating {DOCKERHOST_CONTAINER} (ssh root@127.0.0.1 -p {DOCKERHOST_SSH_PORT})")
    run(["docker", "run", "-d", "--label", f"{LABEL}.spec={spec}", *args])


def ssh(*remote: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run an argument list on the ssh-reached Docker host (root, lab key); exit not checked.

    ssh hands the remote shell one string, so the arguments are quoted into one here.
    """
    return run(readiness.ssh_command(ssh_key_path(), DOCKERHOST_SSH_PORT, shlex.join(remote)),
               check=False, timeout=timeout)


def _wait_dockerhost() -> None:
    readiness.wait_ssh(ssh_key_path(), DOCKERHOST_SSH_PORT)
    proc = ssh("docker", "version", "--format", "{{.Server.Version}}")
    if proc.returncode != 0:
        raise LabError(f"{DOCKERHOST_CONTAINER}: the docker CLI cannot reach the engine "
                       f"through /var/run/docker.sock:\n{tail(proc.stderr or proc.stdout)}")
    both = ssh("sh", "-c", "docker compose version --short && docker-compose version --short")
    if both.returncode != 0:
        raise LabError(f"{DOCKERHOST_CONTAINER} lacks a compose CLI (v2 and v1 expected):\n"
                       f"{tail(both.stderr or both.stdout)}")


def _converge(log: Log, *, fresh: bool, recreate: bool, version: str) -> StackInfo:
    ensure_engine(log)
    built = build_stack_images(log)
    key = _ensure_ssh_key(log)
    if SLOT:
        write_slot_project()
    write_inventories()
    if fresh:
        log(f"removing project {PROJECT} and its volumes (fresh)")
        compose("down", "--volumes", "--timeout", "10", version=version)
    _ensure_dockerhost(key, log, fresh=fresh)
    if (before := created_by()) not in (None, version):
        log(f"project {PROJECT} was created by compose {before}: compose {version} recreates "
            "every container")
    # Declared state: every service up at DEFAULT_TAG (a backend left at another tag, or a
    # stopped service, is brought back; up-to-date containers are left alone).
    extra = ["--force-recreate"] if recreate else []
    compose("up", "-d", *extra, version=version)
    wait_healthy()
    answer = readiness.wait_http(BACKEND_URL, timeout=30)
    _wait_dockerhost()
    # After `up`: the containers that used the untagged images have been recreated.
    remove_outdated(built, log)
    log(f"stack {PROJECT} healthy (backend {answer}, compose {version}); docker host "
        f"ssh -p {DOCKERHOST_SSH_PORT} root@127.0.0.1")
    return _info(version)


def up(log: Log = quiet, *, fresh: bool = False,
       compose_version: str = DEFAULT_COMPOSE) -> StackInfo:
    """Leave the stack running: images current, every service healthy, the ssh host serving,
    the project created by compose `compose_version` (`v1` or `v2`).

    With ``fresh`` the project (and its db volume) and the ssh host are recreated.
    """
    version = checked_version(compose_version)
    with _locked():
        return _converge(log, fresh=fresh, recreate=False, version=version)


def reset(log: Log = quiet, *, recreate: bool = False,
          compose_version: str | None = None) -> StackInfo:
    """Back to the declared state: backend and worker at v1.2.3, every service healthy.

    With ``recreate`` every service's container is recreated (state left inside a
    container, such as maintenance mode, is gone); the db volume stays. The compose CLI
    that created the project is kept unless `compose_version` names the other.
    """
    with _locked():
        version = checked_version(compose_version or created_by() or DEFAULT_COMPOSE)
        return _converge(log, fresh=False, recreate=recreate, version=version)


def set_backend_tag(tag: str, log: Log = quiet, *, wait: bool = True) -> None:
    """Run `backend` at release `tag` (APP_TAG=tag compose up -d --no-deps backend).

    With ``wait`` return once it is healthy and /up reports the release; v1.2.4 never
    gets healthy, so use ``wait=False`` and `wait_service_health("backend", "unhealthy")`.
    """
    with _locked():
        log(f"backend -> {tag}")
        compose("up", "-d", "--no-deps", "backend", tag=tag)
    if wait:
        wait_healthy(("backend",), timeout=60)
        version = readiness.wait_http(BACKEND_URL, timeout=30)
        if version != tag.lstrip("v"):
            raise LabError(f"backend at {tag} but /up reports {version!r}")


def down(log: Log = quiet) -> None:
    """Remove the project's containers and network and the ssh host; keep images and volume."""
    with _locked():
        if containers():
            log(f"removing compose project {PROJECT}")
            compose("down", "--timeout", "10")
        if _inspect(DOCKERHOST_CONTAINER) is not None:
            log(f"removing {DOCKERHOST_CONTAINER}")
            run(["docker", "rm", "-f", DOCKERHOST_CONTAINER], timeout=60)


def _row(c: dict[str, Any], service: str) -> dict[str, Any]:
    ports = sorted(
        f"{b['HostIp']}:{b['HostPort']}->{port}"
        for port, bindings in (c["NetworkSettings"].get("Ports") or {}).items()
        for b in bindings or []
    )
    return {
        "service": service,
        "container": c["Name"].lstrip("/"),
        "state": c["State"]["Status"],
        "health": (c["State"].get("Health") or {}).get("Status"),
        "image": c["Config"]["Image"],
        # The compose CLI that created it (a compose label; none on the ssh host).
        "compose": (c["Config"].get("Labels") or {}).get("com.docker.compose.version"),
        "ports": ", ".join(ports),
        "started_at": c["State"].get("StartedAt"),
    }


def status() -> list[dict[str, Any]]:
    """One row per container of the project and the ssh host; the proxy (the published port)
    adds what /up says through it."""
    if not engine_answers():
        raise LabError("the Docker engine does not answer; `invoke stack.up` starts it")
    order = {name: i for i, name in enumerate(SERVICES)}
    found = sorted(containers(), key=lambda c: (order.get(_service(c), 99), c["Name"]))
    rows: list[dict[str, Any]] = []
    for c in found:
        row = _row(c, _service(c))
        if row["service"] == "proxy" and row["state"] == "running":
            code, version = readiness.probe_up(BACKEND_URL)
            row.update(http_status=code, version=version)
        rows.append(row)
    present = {row["service"] for row in rows}
    rows += [{"service": s, "container": None, "state": "missing"}
             for s in SERVICES if s not in present]
    host = _inspect(DOCKERHOST_CONTAINER)
    rows.append(_row(host, "dockerhost") if host else
                {"service": "dockerhost", "container": DOCKERHOST_CONTAINER, "state": "missing"})
    return rows
