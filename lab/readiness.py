"""Wait until a lab host really serves: systemd booted, services active, /up, sshd login.

Every wait has a deadline and, when it expires, raises LabError with the evidence
(failed units, journal tail, last HTTP answer) needed to fix the image.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from ._run import LabError, Log, run, tail

SERVICES = ("nginx", "php8.2-fpm", "redis-server", "supervisor", "ssh")
# Unlike redis, Debian's postgresql@, pgbouncer and mariadb units need no drop-in to start
# in the unprivileged container (none of them asks for PrivateUsers).
# postgresql.service is only an umbrella (active even with no cluster up): the cluster's
# own unit says whether PostgreSQL runs.
DB_SERVICES = (*SERVICES, "postgresql@15-main", "pgbouncer", "mariadb")
# The Apache host: mod_php inside apache2 (no php-fpm), cron runs the scheduler.
APACHE_SERVICES = ("apache2", "redis-server", "supervisor", "cron", "ssh")
# (what, command run in the container): each database server answers, and the first-boot
# unit made the roles and migrated (its stamp; on later boots the unit is skipped).
DB_PROBES = (
    ("PostgreSQL", ["pg_isready", "-q", "-h", "/var/run/postgresql", "-p", "5432"]),
    ("PgBouncer", ["pg_isready", "-q", "-h", "127.0.0.1", "-p", "6432", "-d", "app", "-U", "app"]),
    ("MariaDB", ["mariadb-admin", "ping", "--silent"]),
    ("lab-db-init (roles, databases, migrations)", ["test", "-e", "/var/lib/lab/db-init.done"]),
)


def wait_systemd(container: str, log: Log, timeout: float = 120) -> str:
    """Wait for `systemctl is-system-running` to settle; return running or degraded."""
    deadline = time.monotonic() + timeout
    state = "unknown"
    while time.monotonic() < deadline:
        remaining = max(1.0, deadline - time.monotonic())
        try:
            proc = subprocess.run(
                ["docker", "exec", container, "systemctl", "is-system-running", "--wait"],
                capture_output=True,
                text=True,
                timeout=remaining,
                check=False,
            )
        except subprocess.TimeoutExpired:
            break
        state = proc.stdout.strip() or "unknown"
        if state in ("running", "degraded"):
            break
        # Right after `docker start` systemd may not own its bus yet ("offline", errors).
        time.sleep(1)
    if state == "degraded":
        failed = run(
            ["docker", "exec", container, "systemctl", "--failed", "--plain", "--no-legend"],
            check=False,
        ).stdout.strip()
        log(f"{container}: systemd is degraded; failed units:\n{failed}")
    elif state != "running":
        raise LabError(
            f"{container}: systemd did not finish booting within {timeout:.0f}s "
            f"(state {state!r}); see `docker logs {container}` and "
            f"`docker exec {container} systemctl list-jobs`"
        )
    return state


def check_services(container: str, services: tuple[str, ...] = SERVICES) -> None:
    proc = run(["docker", "exec", container, "systemctl", "is-active", *services], check=False)
    states = dict(zip(services, proc.stdout.split(), strict=False))
    down = [name for name in services if states.get(name) != "active"]
    if not down:
        return
    journal = run(
        [
            "docker",
            "exec",
            container,
            "journalctl",
            "--no-pager",
            "-n",
            "30",
            *[arg for name in down for arg in ("-u", name)],
        ],
        check=False,
    ).stdout
    raise LabError(f"{container}: not active: {', '.join(down)}\n{tail(journal, 30)}")


def check_databases(container: str, timeout: float = 60) -> None:
    """Wait until every DB_PROBES command succeeds in `container`; name the ones that do not."""
    deadline = time.monotonic() + timeout
    failing = [what for what, _ in DB_PROBES]
    while failing and time.monotonic() < deadline:
        failing = [what for what, cmd in DB_PROBES
                   if run(["docker", "exec", container, *cmd], check=False).returncode != 0]
        if failing:
            time.sleep(1)
    if failing:
        journal = run(["docker", "exec", container, "journalctl", "--no-pager", "-n", "30",
                       "-u", "lab-db-init", "-u", "pgbouncer", "-u", "postgresql@15-main",
                       "-u", "mariadb"], check=False).stdout
        raise LabError(f"{container}: not answering: {', '.join(failing)}\n{tail(journal, 30)}")


def probe_up(url: str, timeout: float = 5) -> tuple[int | None, str | None]:
    """GET a health URL; return (HTTP status or None if no answer, reported version)."""
    # Imported here: urllib.request brings ssl and http.client into every `invoke` start.
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            body = resp.read()
            code = int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except (urllib.error.URLError, OSError, TimeoutError):
        return None, None
    try:
        version = json.loads(body).get("version")
    except (ValueError, AttributeError):
        version = None
    return code, str(version) if version is not None else None


def wait_http(url: str, timeout: float = 60) -> str | None:
    """Wait for `url` to answer 200; return the version it reports."""
    deadline = time.monotonic() + timeout
    code: int | None = None
    while time.monotonic() < deadline:
        code, version = probe_up(url)
        if code == 200:
            return version
        time.sleep(0.5)
    raise LabError(
        f"{url} did not answer 200 within {timeout:.0f}s (last status: {code}); if an earlier "
        "run left the host broken (release switched, maintenance mode), `lab.up --fresh` "
        "recreates it"
    )


def ssh_command(key: Path, port: int, *remote: str) -> list[str]:
    return [
        "ssh",
        "-i",
        str(key),
        "-p",
        str(port),
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "LogLevel=ERROR",
        "-o",
        "ConnectTimeout=5",
        "root@127.0.0.1",
        *remote,
    ]


def wait_ssh(key: Path, port: int, timeout: float = 60) -> None:
    """Wait until sshd on 127.0.0.1:port accepts the lab key (docker-proxy accepts earlier)."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            proc = run(ssh_command(key, port, "true"), check=False, timeout=15)
        except LabError as exc:
            last = str(exc)
        else:
            if proc.returncode == 0:
                return
            last = proc.stderr.strip()
        time.sleep(1)
    raise LabError(f"ssh to root@127.0.0.1:{port} failed for {timeout:.0f}s: {tail(last, 5)}")
