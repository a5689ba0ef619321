"""Make sure a Docker engine answers: install Debian's packages and start dockerd if needed.

These machines have no systemd as PID 1, so nothing else would start dockerd for us.
Both compose CLIs are installed: Debian's docker-compose 1.29 (v1) with apt, and Compose
v2 (`docker compose`, trixie's plugin binary) beside it by lab/compose_v2.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from . import compose_v2
from ._run import STATE_DIR, LabError, Log, quiet, run, tail

# binary -> Debian package that ships it
_REQUIRED = {
    "dockerd": "docker.io",
    "docker": "docker.io",
    "docker-compose": "docker-compose",
    "debootstrap": "debootstrap",
    "ssh-keygen": "openssh-client",
    "ssh": "openssh-client",
}
DOCKERD_LOG = STATE_DIR / "dockerd.log"


def engine_answers() -> bool:
    try:
        proc = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
        )
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and bool(proc.stdout.strip())


def _install_missing(log: Log) -> None:
    missing = sorted({pkg for binary, pkg in _REQUIRED.items() if shutil.which(binary) is None})
    if not missing:
        return
    if os.geteuid() != 0:
        raise LabError(f"missing packages {missing}; install them as root: apt-get install -y ...")
    log(f"installing {' '.join(missing)} with apt-get")
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update"], timeout=600, env=env)
    run(["apt-get", "install", "-y", *missing], timeout=1800, env=env)


def _install_compose_v2(log: Log) -> None:
    """The Compose v2 plugin beside docker-compose 1.29 (its package would replace v1)."""
    if compose_v2.plugin_version() is not None:
        return
    if os.geteuid() != 0:
        raise LabError(f"Compose v2 is missing ({compose_v2.PLUGIN}); run lab.up as root once "
                       "to install it, or: python3 lab/compose_v2.py")
    log(f"installing Compose v2 as {compose_v2.PLUGIN} (from {compose_v2.SUITE}'s "
        f"{compose_v2.PACKAGE} package, beside docker-compose 1.29)")
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    try:
        version = compose_v2.install(STATE_DIR, log)
    except compose_v2.InstallError as exc:
        raise LabError(f"installing Compose v2 failed: {exc}") from exc
    log(f"docker compose {version} installed")


def _dockerd_running() -> bool:
    """A dockerd that is still starting has written its pid file but not opened its socket."""
    try:
        pid = int(Path("/var/run/docker.pid").read_text().strip())
    except (OSError, ValueError):
        return False
    return Path(f"/proc/{pid}").exists()


def _wait_for_engine(timeout: float, proc: subprocess.Popen[bytes] | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if engine_answers():
            return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(1)
    return False


def _start_dockerd(log: Log) -> None:
    if not os.path.isdir("/sys/fs/cgroup") or not os.listdir("/sys/fs/cgroup"):
        raise LabError("/sys/fs/cgroup is not mounted; dockerd cannot run (mount cgroups first)")
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    log(f"starting dockerd (log: {DOCKERD_LOG})")
    with open(DOCKERD_LOG, "ab") as out:
        # A new session so dockerd outlives this process, its terminal and Invoke.
        proc = subprocess.Popen(
            ["dockerd"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    if _wait_for_engine(60, proc):
        log("dockerd is up")
        return
    log_text = DOCKERD_LOG.read_text(errors="replace") if DOCKERD_LOG.exists() else ""
    raise LabError(f"dockerd did not answer within 60s; tail of {DOCKERD_LOG}:\n{tail(log_text)}")


def ensure_engine(log: Log = quiet) -> None:
    """Install docker.io, docker-compose (v1 and v2), debootstrap and ssh when missing; start
    dockerd."""
    _install_missing(log)
    _install_compose_v2(log)
    if engine_answers():
        return
    if _dockerd_running():
        log("waiting for the running dockerd to answer")
        if _wait_for_engine(60):
            return
        raise LabError(
            "dockerd is running (/var/run/docker.pid) but does not answer; "
            "see its log, or stop it and run lab.up again"
        )
    _start_dockerd(log)
