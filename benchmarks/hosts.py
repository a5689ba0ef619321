"""The bench hosts: N systemd containers from the lab's web image, sshd and nginx on loopback.

The image adds to the lab's web image only what a benchmark needs: the queue workers
(supervisor) and the scheduler timer are disabled, as nothing here exercises them and they
are the biggest share of a host's memory; and a drop-in sets `StartLimitIntervalSec=0` on
nginx and php-fpm, since repeated restarts would otherwise trip systemd's start limit
(5 starts in 10 s). sshd logs at `LogLevel VERBOSE` (a drop-in in sshd_config.d), so each
connection and each channel it opens is a line in the journal (`benchmarks.roundtrips`
counts them). Everything else (nginx, php-fpm, redis, the Laravel releases, /up) is the lab
host unchanged.

The database fleet (`Fleet.databases()`, for the db-queries scenario only) is built the
same way from the lab's db image, with only PostgreSQL and sshd left enabled: no web
stack, MariaDB or PgBouncer. It publishes ssh only, on 12000 + 1000*slot + i.

    >>> fleet = Fleet()
    >>> hosts = up(fleet, 10, print)       # rembench-1..10, ssh 127.0.0.1:20001..20010
    >>> down(fleet, print)
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from lab import readiness
from lab._run import STATE_DIR, LabError, Log, container_spec, quiet, run
from lab.build import build_db, build_images, image_id
from lab.manage import SYSTEMD_FLAGS, LabHost, _ensure_ssh_key, ensure_engine

LABEL = "remediations.bench"
BENCH_REPO = "remediations-bench/web"
BENCH_DB_REPO = "remediations-bench/db"
BENCH_DIR = STATE_DIR / "bench"
# Units the benchmarks never touch, disabled so 100 hosts fit in memory.
DISABLED = ("supervisor.service", "laravel-scheduler.timer")
# Units the benchmarks restart or reload many times in a row.
UNLIMITED = ("nginx.service", "php8.2-fpm.service")
# On the database hosts, everything but PostgreSQL (and sshd): memory for 50 of them.
DB_DISABLED = (*DISABLED, "lab-db-init.service", "mariadb.service", "pgbouncer.service",
               "nginx.service", "php8.2-fpm.service", "redis-server.service")
# The lab web image's redis password (inventories/lab.yml): a lab-only secret.
REDIS_PASSWORD = "lab-redis-s3cret"
# First match wins in sshd_config: the name sorts before the lab's own drop-in.
SSHD_VERBOSE = "/etc/ssh/sshd_config.d/00-bench-verbose.conf"

__all__ = ["BENCH_DIR", "DISABLED", "UNLIMITED", "BenchHost", "Fleet", "down", "ensure_inotify", "up"]


# A bench host is described as a lab host is: name, container, ssh and http ports.
BenchHost = LabHost


@dataclass(frozen=True)
class Fleet:
    """A family of bench hosts: container prefix and port bases (clear of the lab's 2201.., 8001..)."""

    prefix: str = "rembench"
    # Below the kernel's ephemeral range (32768-60999): there a port may be taken at any
    # moment by an outgoing connection, and `docker run -p` fails with "address in use".
    ssh_base: int = 20000
    http_base: int = 21000
    kind: str = "web"  # "db": the database hosts, ssh only

    @classmethod
    def for_slot(cls, slot: int) -> Fleet:
        """Slot 0: rembench-<i> on 20000+i / 21000+i; slot k: rembench<k>-<i>, 2000*k higher."""
        base = 20000 + 2000 * slot
        return cls(f"rembench{slot or ''}", base, base + 1000)

    def databases(self) -> Fleet:
        """This slot's database hosts: rembench<k>db-<i>, ssh on 12000 + 1000*k + i."""
        slot = (self.ssh_base - 20000) // 2000
        return Fleet(f"{self.prefix}db", 12000 + 1000 * slot, 0, kind="db")

    def hosts(self, count: int) -> tuple[BenchHost, ...]:
        if not 1 <= count <= 999:
            raise LabError(f"bench hosts: 1 to 999, got {count}")
        return tuple(
            BenchHost(f"{'db' if self.kind == 'db' else 'bench'}{i}", f"{self.prefix}-{i}",
                      self.ssh_base + i, self.http_base + i)
            for i in range(1, count + 1)
        )


def _dockerfile(parent: str, kind: str = "web") -> str:
    dropin = "[Unit]\\nStartLimitIntervalSec=0\\n"
    disabled = DB_DISABLED if kind == "db" else DISABLED
    lines = [f"FROM {parent}", f"RUN systemctl disable {' '.join(disabled)}",
             f"RUN printf 'LogLevel VERBOSE\\n' > {SSHD_VERBOSE}"]
    for unit in UNLIMITED if kind == "web" else ():
        where = f"/etc/systemd/system/{unit}.d"
        lines.append(f"RUN mkdir -p {where} && printf '{dropin}' > {where}/bench-start-limit.conf")
    return "\n".join(lines) + "\n"


def build_image(log: Log = quiet, kind: str = "web") -> str:
    """Build (once per content) the bench image FROM the lab's web (or db) image; its tag."""
    web = build_images(log)
    dockerfile = _dockerfile(build_db(web, log) if kind == "db" else web, kind)
    repo = BENCH_DB_REPO if kind == "db" else BENCH_REPO
    tag = f"{repo}:{hashlib.sha256(dockerfile.encode()).hexdigest()[:16]}"
    if image_id(tag) is None:
        log(f"building {tag}")
        # No context: the Dockerfile comes on stdin. The legacy builder honours --network host.
        run(["docker", "build", "--network", "host", "--label", f"{LABEL}=1", "-t", tag, "-"],
            input_text=dockerfile, env={"DOCKER_BUILDKIT": "0"}, timeout=600)
    return tag


INOTIFY = Path("/proc/sys/fs/inotify/max_user_instances")
# systemd, journald, logind and dbus in each host take about 5 inotify instances, all
# counted against root; Linux's default of 128 stops the 26th host ("exit 255", no log).
INOTIFY_PER_HOST = 8


def ensure_inotify(count: int, log: Log = quiet) -> None:
    """Leave fs.inotify.max_user_instances high enough for `count` more systemd hosts."""
    need = 512 + INOTIFY_PER_HOST * count
    have = int(INOTIFY.read_text())
    if have >= need:
        return
    log(f"raising fs.inotify.max_user_instances from {have} to {need} "
        f"(each systemd host takes about 5)")
    try:
        INOTIFY.write_text(str(need))
    except OSError as exc:
        raise LabError(f"fs.inotify.max_user_instances is {have}; {count} systemd hosts need "
                       f"about {need}: run `sysctl -w fs.inotify.max_user_instances={need}` "
                       f"as root ({exc})") from exc


def _running(fleet: Fleet) -> dict[str, str]:
    """Container name -> settings label of this fleet's running containers."""
    out = run(["docker", "ps", "--filter", f"label={LABEL}.fleet={fleet.prefix}",
               "--format", f'{{{{.Names}}}} {{{{.Label "{LABEL}.spec"}}}}']).stdout
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def _args(host: BenchHost, image: str, key: Path, fleet: Fleet) -> list[str]:
    return ["--name", host.container, "--hostname", host.name,
            "--label", f"{LABEL}=1", "--label", f"{LABEL}.fleet={fleet.prefix}",
            *SYSTEMD_FLAGS, "--stop-timeout", "10",
            # Loopback only: nothing here may be reached on another address.
            "-p", f"127.0.0.1:{host.ssh_port}:22",
            *(["-p", f"127.0.0.1:{host.http_port}:80"] if fleet.kind == "web" else []),
            "-v", f"{key.with_suffix('.pub')}:/root/.ssh/authorized_keys:ro", image]


def _spec(args: list[str]) -> str:
    """The settings as a label: change a port, the image or the key, get a new container."""
    keys = [Path(a.split(":", 1)[0]) for a in args if a.endswith(":/root/.ssh/authorized_keys:ro")]
    return container_spec(args, *keys)


def _start(args: list[str]) -> None:
    run(["docker", "rm", "-f", args[1]], check=False, timeout=120)
    run(["docker", "run", "-d", "--label", f"{LABEL}.spec={_spec(args)}", *args], timeout=180)


def _wait(host: BenchHost, key: Path, timeout: float, kind: str = "web") -> None:
    readiness.wait_ssh(key, host.ssh_port, timeout=timeout)
    if kind == "web":
        readiness.wait_http(host.health_url, timeout=timeout)
        return
    deadline = time.monotonic() + timeout
    while run(["docker", "exec", host.container, "pg_isready", "-q"], check=False,
              timeout=30).returncode != 0:
        if time.monotonic() > deadline:
            raise LabError(f"{host.container}: PostgreSQL not ready after {timeout:.0f} s")
        time.sleep(1)


def up(fleet: Fleet, count: int, log: Log = quiet, *, timeout: float = 300) -> tuple[BenchHost, ...]:
    """Leave `count` bench hosts running, each answering ssh and /up; return them.

    Hosts already running from the current image are kept; missing or outdated ones are
    (re)created, in parallel. Hosts beyond `count` are left as they are.
    """
    ensure_engine(log)
    ensure_inotify(count + 100, log)  # + the lab's and other slots' hosts
    image = build_image(log, fleet.kind)
    key = _ensure_ssh_key(log)
    hosts = fleet.hosts(count)
    running = _running(fleet)
    wanted = [_args(h, image, key, fleet) for h in hosts]
    todo = [args for h, args in zip(hosts, wanted, strict=True)
            if running.get(h.container) != _spec(args)]
    started = time.monotonic()
    if todo:
        log(f"starting {len(todo)} bench host(s) from {image}")
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(_start, todo))
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda h: _wait(h, key, timeout, fleet.kind), hosts))
    ready = "/up" if fleet.kind == "web" else "PostgreSQL"
    log(f"{count} bench host(s) answer ssh and {ready} ({time.monotonic() - started:.0f} s)")
    return hosts


def down(fleet: Fleet, log: Log = quiet) -> int:
    """Remove every container of `fleet`; return how many."""
    out = run(["docker", "ps", "-a", "--filter", f"label={LABEL}.fleet={fleet.prefix}",
               "--format", "{{.Names}}"]).stdout.split()
    for start in range(0, len(out), 20):
        batch = out[start:start + 20]
        log(f"removing {', '.join(batch)}")
        run(["docker", "rm", "-f", *batch], timeout=300)
    return len(out)


def init_pids(hosts: Sequence[BenchHost]) -> dict[str, int]:
    """Host name -> the host PID of its container's init, to read its files from here."""
    out = run(["docker", "inspect", "--format", "{{.Name}} {{.State.Pid}}",
               *[h.container for h in hosts]]).stdout
    by_container = {name.lstrip("/"): int(pid) for name, pid in
                    (line.split() for line in out.splitlines())}
    return {h.name: by_container[h.container] for h in hosts}


def inventory_files(directory: Path, count: int) -> dict[str, Path]:
    """Where `write_inventories` puts the inventories of `count` hosts."""
    return {
        "ansible": directory / f"inventory-{count}.yml",
        "pyinfra": directory / f"pyinfra_inventory_{count}.py",
        "fabric": directory / f"fabric-hosts-{count}.txt",
    }


def write_inventories(hosts: Sequence[BenchHost], key: Path, directory: Path) -> dict[str, Path]:
    """The same hosts for every tool: Ansible YAML, pyinfra inventory.py, a Fabric host list."""
    directory.mkdir(parents=True, exist_ok=True)
    count = len(hosts)
    ansible = {
        "all": {
            "vars": {
                "ansible_user": "root",
                "ansible_ssh_private_key_file": str(key),
                "ansible_host_key_checking": False,
                "ansible_ssh_common_args": "-o UserKnownHostsFile=/dev/null",
                "app_path": "/srv/app/current",
                "app_user": "www-data",
                "php_fpm_service": "php8.2-fpm",
                "redis_password": REDIS_PASSWORD,
            },
            "children": {"bench": {"hosts": {
                h.name: {"ansible_host": "127.0.0.1", "ansible_port": h.ssh_port,
                         "health_url": h.health_url}
                for h in hosts
            }}},
        }
    }
    paths = inventory_files(directory, count)
    # JSON is YAML: one writer, no YAML dumper quirks.
    paths["ansible"].write_text(json.dumps(ansible, indent=1) + "\n")
    data = {"ssh_user": "root", "ssh_key": str(key), "ssh_known_hosts_file": "/dev/null",
            "ssh_strict_host_key_checking": "off"}
    rows = ",\n".join(
        f"    ({h.name!r}, {{**_DATA, 'ssh_hostname': '127.0.0.1', 'ssh_port': {h.ssh_port}}})"
        for h in hosts)
    paths["pyinfra"].write_text(f"_DATA = {data!r}\nbench = [\n{rows},\n]\n")
    paths["fabric"].write_text("".join(f"127.0.0.1:{h.ssh_port}\n" for h in hosts))
    return paths
