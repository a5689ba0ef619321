"""Bring the container lab up, down, and report on it.

``up()`` is idempotent: it installs and starts the engine if needed, builds images only
when their content changed, creates missing containers, starts stopped ones, recreates
those whose image or settings are outdated, and returns only once every host serves.

    >>> import lab.manage as lab
    >>> info = lab.up(print)
    >>> info.host("web1").health_url
    'http://127.0.0.1:8001/up'
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import readiness
from ._run import REPO_ROOT, STATE_DIR, LabError, Log, container_spec, quiet, run
from .build import build_images, image_id, prune_web_images
from .engine import engine_answers, ensure_engine

__all__ = [
    "HOSTS",
    "LabError",
    "LabHost",
    "LabInfo",
    "build_images",
    "down",
    "ensure_engine",
    "ssh_key_path",
    "start_host",
    "status",
    "stop_host",
    "up",
]

NETWORK = "remediations-lab"
LABEL = "remediations.lab"
LAB_YML = REPO_ROOT / "inventories" / "lab.yml"
# A slot is an independent copy of the lab (own containers, ports shifted by 10 per slot,
# own generated inventory), so several test runs or benchmarks can share one engine.
SLOT = int(os.environ.get("REMEDIATIONS_LAB_SLOT", "0") or 0)
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


@dataclass(frozen=True)
class LabHost:
    """One web host of the lab and how to reach it from this machine."""

    name: str
    container: str
    ssh_port: int
    http_port: int

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/up"


@dataclass(frozen=True)
class LabInfo:
    """What `up()` left running."""

    image: str
    network: str
    ssh_key: Path
    inventory: Path
    hosts: tuple[LabHost, ...]

    def host(self, name: str) -> LabHost:
        for host in self.hosts:
            if name in (host.name, host.container):
                return host
        raise LabError(f"no lab host {name!r}; known: {', '.join(h.name for h in self.hosts)}")


def slot_hosts(slot: int) -> tuple[LabHost, ...]:
    prefix = "rem" if slot == 0 else f"rem{slot}"
    return tuple(
        LabHost(f"web{i}", f"{prefix}-web{i}", 2200 + i + 10 * slot, 8000 + i + 10 * slot)
        for i in (1, 2)
    )


HOSTS: tuple[LabHost, ...] = slot_hosts(SLOT)


def _write_slot_inventory() -> None:
    """inventories/lab.yml with this slot's containers and ports, and an absolute key path."""
    text = LAB_YML.read_text()
    for base, mine in zip(slot_hosts(0), HOSTS, strict=True):
        text = (text.replace(base.container, mine.container)
                .replace(f": {base.ssh_port},", f": {mine.ssh_port},")
                .replace(f":{base.http_port}/", f":{mine.http_port}/"))
    text = text.replace("../.lab/ssh/", f"{SSH_DIR}/")
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    INVENTORY.write_text(text)


def _host(name: str) -> LabHost:
    return LabInfo("", NETWORK, ssh_key_path(), INVENTORY, HOSTS).host(name)


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
    readiness.check_services(host.container)
    version = readiness.wait_http(host.health_url)
    readiness.wait_ssh(key, host.ssh_port)
    log(f"{host.name} ready (release {version})")


def up(log: Log = quiet, *, fresh: bool = False) -> LabInfo:
    """Leave the lab running: engine, images, SSH key, network, and every host serving.

    With ``fresh`` every host is recreated from the image (state left by earlier runs,
    such as a switched release or maintenance mode, is gone); images are still cached.
    """
    ensure_engine(log)
    image = build_images(log)
    key = _ensure_ssh_key(log)
    if SLOT:
        _write_slot_inventory()
    _ensure_network(log)
    # Create/start every host first so they boot in parallel, then wait for each.
    for host in HOSTS:
        _ensure_container(host, image, key, log, fresh=fresh)
    for host in HOSTS:
        _wait_ready(host, key, log)
    prune_web_images(image, log)
    return LabInfo(image=image, network=NETWORK, ssh_key=key, inventory=INVENTORY, hosts=HOSTS)


def down(log: Log = quiet) -> None:
    """Remove the lab containers and network; images stay for the next `up()`."""
    for host in HOSTS:
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
    for host in HOSTS:
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
