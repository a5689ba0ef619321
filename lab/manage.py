"""Bring the container lab up, down, and report on it.

``up()`` is idempotent: it installs and starts the engine if needed, builds images only
when their content changed, creates missing containers, starts stopped ones, recreates
those whose image or settings are outdated, and returns only once every host serves.

    >>> import lab.manage as lab
    >>> info = lab.up(print)
    >>> info.host("web1").health_url
    'http://127.0.0.1:8001/up'

``HOSTS`` are the web hosts (web1, web2), ``DB_HOSTS`` the database host (db1, built FROM
the web image plus PostgreSQL, PgBouncer and MariaDB), ``APACHE_HOSTS`` the Forge-style host
(apache1: Apache + mod_php, cron, Horizon, a git work tree; built FROM the base), and
``ALL_HOSTS`` all of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import readiness
from ._run import REPO_ROOT, STATE_DIR, LabError, Log, container_spec, quiet, run
from .build import APACHE_REPO, DB_REPO, build_all, build_images, image_id, prune_web_images
from .engine import engine_answers, ensure_engine
from .hosts import (
    ALL_HOSTS,
    APACHE,
    APACHE_HOSTS,
    DB,
    DB_HOSTS,
    HOSTS,
    SLOT,
    LabHost,
    slot_hosts,
    slot_inventory,
)

__all__ = [
    "ALL_HOSTS",
    "APACHE_HOSTS",
    "DB_HOSTS",
    "HOSTS",
    "SLOT",
    "LabError",
    "LabHost",
    "LabInfo",
    "build_images",
    "down",
    "ensure_engine",
    "slot_hosts",
    "ssh_key_path",
    "start_host",
    "status",
    "stop_host",
    "up",
]

NETWORK = "remediations-lab"
LABEL = "remediations.lab"
LAB_YML = REPO_ROOT / "inventories" / "lab.yml"
# Each slot (lab/hosts.py) has its own generated inventory.
INVENTORY = LAB_YML if SLOT == 0 else STATE_DIR / f"lab-slot{SLOT}.yml"
SSH_DIR = STATE_DIR / "ssh"

# What `docker run` needs for systemd as PID 1 without --privileged (refused here):
# SYS_ADMIN to mount, the host's cgroup tree writable (cgroup v1, hybrid), tmpfs /run.
SYSTEMD_FLAGS = (
    "--cap-add",
    "SYS_ADMIN",
    "--security-opt",
    "seccomp=unconfined",
    "--security-opt",
    "apparmor=unconfined",
    "--cgroupns=host",
    "-v",
    "/sys/fs/cgroup:/sys/fs/cgroup:rw",
    "--tmpfs",
    "/run",
    "--tmpfs",
    "/run/lock",
)
# A small disk of its own, so tests can fill a filesystem for real (triage fault injection)
# without touching the engine's storage.
SCRATCH_FLAGS = ("--tmpfs", "/mnt/scratch:size=16m")


@dataclass(frozen=True)
class LabInfo:
    """What `up()` left running."""

    image: str
    network: str
    ssh_key: Path
    inventory: Path
    hosts: tuple[LabHost, ...]
    # The db hosts' image; `image` is the web hosts'.
    db_image: str = field(default="")
    # The Apache hosts' image.
    apache_image: str = field(default="")

    def host(self, name: str) -> LabHost:
        for host in self.hosts:
            if name in (host.name, host.container):
                return host
        raise LabError(f"no lab host {name!r}; known: {', '.join(h.name for h in self.hosts)}")


def _write_slot_inventory() -> None:
    """inventories/lab.yml with this slot's containers and ports, and an absolute key path."""
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    INVENTORY.write_text(slot_inventory(LAB_YML.read_text(), SLOT, str(SSH_DIR)))


def _host(name: str) -> LabHost:
    return LabInfo("", NETWORK, ssh_key_path(), INVENTORY, ALL_HOSTS).host(name)


def ssh_key_path() -> Path:
    return SSH_DIR / "id_ed25519"


def _ensure_ssh_key(log: Log) -> Path:
    key = ssh_key_path()
    if key.exists() and key.with_suffix(".pub").exists():
        return key
    log(f"generating the lab SSH key {key}")
    SSH_DIR.mkdir(parents=True, exist_ok=True)
    SSH_DIR.chmod(0o700)
    key.unlink(missing_ok=True)
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "remediations-lab", "-f", str(key)])
    return key


def _ensure_network(log: Log) -> None:
    if run(["docker", "network", "inspect", NETWORK], check=False).returncode == 0:
        return
    log(f"creating docker network {NETWORK}")
    run(["docker", "network", "create", "--label", f"{LABEL}=1", NETWORK])


def _inspect(container: str) -> dict[str, Any] | None:
    proc = run(["docker", "container", "inspect", container], check=False)
    if proc.returncode != 0:
        return None
    data: list[dict[str, Any]] = json.loads(proc.stdout)
    return data[0]


def _run_args(host: LabHost, image: str, key: Path) -> list[str]:
    return [
        "--name",
        host.container,
        "--hostname",
        host.name,
        "--network",
        NETWORK,
        "--network-alias",
        host.name,
        "--label",
        f"{LABEL}=1",
        "--label",
        f"{LABEL}.host={host.name}",
        *SYSTEMD_FLAGS,
        *SCRATCH_FLAGS,
        "--stop-timeout",
        "30",
        # Published on loopback only: nothing here may be reached on another address.
        "-p",
        f"127.0.0.1:{host.ssh_port}:22",
        "-p",
        f"127.0.0.1:{host.http_port}:80",
        "-v",
        f"{key.with_suffix('.pub')}:/root/.ssh/authorized_keys:ro",
        # The same key for `deploy`, a sudoer, so become over ssh is proven too.
        "-v",
        f"{key.with_suffix('.pub')}:/home/deploy/.ssh/authorized_keys:ro",
        image,
    ]


def _ensure_container(host: LabHost, image: str, key: Path, log: Log, *, fresh: bool) -> None:
    args = _run_args(host, image, key)
    # The settings are part of the container's identity: change a flag, get a new container.
    spec = container_spec(args, key.with_suffix(".pub"))
    current = _inspect(host.container)
    if current is not None:
        labels = current["Config"].get("Labels") or {}
        current_spec = labels.get(f"{LABEL}.spec") == spec and current["Image"] == image_id(image)
        if current_spec and not fresh:
            if not current["State"]["Running"]:
                log(f"starting stopped {host.container}")
                run(["docker", "start", host.container])
            return
        why = "asked for a fresh host" if current_spec else "image or settings changed"
        log(f"recreating {host.container} ({why})")
        run(["docker", "rm", "-f", host.container], timeout=120)
    log(
        f"creating {host.container} ({host.name}: ssh 127.0.0.1:{host.ssh_port}, "
        f"http 127.0.0.1:{host.http_port})"
    )
    run(["docker", "run", "-d", "--label", f"{LABEL}.spec={spec}", *args])


def _wait_ready(host: LabHost, key: Path, log: Log) -> None:
    readiness.wait_systemd(host.container, log)
    is_db = host.role == DB
    services = {DB: readiness.DB_SERVICES, APACHE: readiness.APACHE_SERVICES}
    readiness.check_services(host.container, services.get(host.role, readiness.SERVICES))
    if is_db:
        readiness.check_databases(host.container)
    version = readiness.wait_http(host.health_url)
    readiness.wait_ssh(key, host.ssh_port)
    log(f"{host.name} ready (release {version})")


def up(log: Log = quiet, *, fresh: bool = False) -> LabInfo:
    """Leave the lab running: engine, images, SSH key, network, and every host serving.

    With ``fresh`` every host is recreated from the image (state left by earlier runs,
    such as a switched release or maintenance mode, is gone); images are still cached.
    """
    ensure_engine(log)
    image, db_image, apache_image = build_all(log)
    key = _ensure_ssh_key(log)
    if SLOT:
        _write_slot_inventory()
    _ensure_network(log)
    # Create/start every host first so they boot in parallel, then wait for each.
    images = {DB: db_image, APACHE: apache_image}
    for host in ALL_HOSTS:
        _ensure_container(host, images.get(host.role, image), key, log, fresh=fresh)
    for host in ALL_HOSTS:
        _wait_ready(host, key, log)
    prune_web_images(image, log)
    prune_web_images(db_image, log, repo=DB_REPO)
    prune_web_images(apache_image, log, repo=APACHE_REPO)
    return LabInfo(image=image, network=NETWORK, ssh_key=key, inventory=INVENTORY,
                   hosts=ALL_HOSTS, db_image=db_image, apache_image=apache_image)


def down(log: Log = quiet) -> None:
    """Remove the lab containers and network; images stay for the next `up()`."""
    for host in ALL_HOSTS:
        if _inspect(host.container) is not None:
            log(f"removing {host.container}")
            run(["docker", "rm", "-f", host.container], timeout=120)
    net = run(["docker", "network", "inspect", NETWORK], check=False)
    if net.returncode != 0:
        return
    attached = [
        c.get("Name", "?") for c in json.loads(net.stdout)[0].get("Containers", {}).values()
    ]
    if attached:
        log(f"keeping network {NETWORK}: still used by {', '.join(attached)}")
        return
    log(f"removing network {NETWORK}")
    run(["docker", "network", "rm", NETWORK])


def status() -> list[dict[str, Any]]:
    """One row per lab host: container state, ports, image, and what /up answers."""
    if not engine_answers():
        raise LabError("the Docker engine does not answer; `invoke lab.up` starts it")
    rows: list[dict[str, Any]] = []
    for host in ALL_HOSTS:
        info = _inspect(host.container)
        state = info["State"]["Status"] if info else "missing"
        code, version = readiness.probe_up(host.health_url) if state == "running" else (None, None)
        rows.append(
            {
                "host": host.name,
                "container": host.container,
                "state": state,
                "ssh_port": host.ssh_port,
                "http_port": host.http_port,
                "image": info["Config"]["Image"] if info else None,
                "up": code == 200,
                "http_status": code,
                "version": version,
            }
        )
    return rows


def stop_host(name: str, log: Log = quiet) -> None:
    """Leave host `name` stopped (unreachable over ssh and http) but not removed."""
    host = _host(name)
    if _inspect(host.container) is None:
        raise LabError(f"{host.container} does not exist; run lab.manage.up() first")
    log(f"stopping {host.container}")
    run(["docker", "stop", host.container], timeout=90)


def start_host(name: str, log: Log = quiet) -> None:
    """Leave host `name` running and serving again (systemd booted, /up 200, sshd)."""
    host = _host(name)
    info = _inspect(host.container)
    if info is None:
        raise LabError(f"{host.container} does not exist; run lab.manage.up() first")
    if not info["State"]["Running"]:
        log(f"starting {host.container}")
        run(["docker", "start", host.container])
    _wait_ready(host, ssh_key_path(), log)
