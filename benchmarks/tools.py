"""The four tools' command lines and input files, one remediation per scenario.

Every tool is run as its user would run it, a fresh process each time, against the
same hosts, ssh key, user and ports, with host-key checking off and forks = N.

| scenario | this library | ansible-playbook / pyinfra / Fabric |
|---|---|---|
| restart | `invoke restart --service nginx` | restart nginx, then `systemctl is-active nginx` |
| noop | `invoke start --service nginx` | nginx started/running, then `is-active` (Fabric: `is-active` only) |
| caches | `invoke clear-caches` | `artisan optimize:clear` as www-data in /srv/app/current |
| rollback | `invoke rollback --release v1.2.2` | `ln -sfn` + `mv -T` the current link, reload php-fpm, `curl /up` shows 1.2.2 |
| triage | `invoke triage` | the snapshot's reads as one shell line (`by_hand.triage_reads`) |
| db-queries | `invoke db-status --older-than 5` (database hosts) | psql on pg_stat_activity |
| compose-restart | `invoke compose-restart --service worker` (N = 1: the ssh Docker host) | `docker compose restart worker`, wait healthy |
| incident | `status`, `restart --service nginx`, `health`: three processes | three runs: is-active, restart, curl /up |
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lab._run import REPO_ROOT

from . import by_hand

__all__ = ["ON_DATABASES", "ON_DOCKER_HOST", "SCENARIOS", "SHOWN", "TOOLS", "ComposeHost",
           "Invocation", "Paths", "compile_library", "ensure_pyinfra", "fabric_invocation",
           "input_names", "invocation", "reset_command", "shell_command", "write_inputs"]

TOOLS = ("library", "ansible", "ansible-cp", "pyinfra", "fabric")
SCENARIOS = ("restart", "noop", "caches", "rollback", "triage", "db-queries", "compose-restart",
             "incident")
# Scenarios on other hosts than the web fleet: the database fleet, the lab stack's ssh
# Docker host (one host, whatever N).
ON_DATABASES = ("db-queries",)
ON_DOCKER_HOST = ("compose-restart",)
# Scenarios whose point is what they show: each tool prints the output it read.
SHOWN = ("triage", "db-queries", "incident")
ROLLBACK_TO, ROLLBACK_FROM = "v1.2.2", "v1.2.3"
APP = "/srv/app"
ARTISAN = f"runuser -u www-data -- php {APP}/current/artisan"
FABRIC_SCRIPT = REPO_ROOT / "benchmarks" / "fabric_group.py"
PYINFRA_VENV = REPO_ROOT / ".lab" / "bench-pyinfra"

_LIBRARY = {
    "restart": ["restart", "--service", "nginx"],
    "noop": ["start", "--service", "nginx"],
    "caches": ["clear-caches"],
    "rollback": ["rollback", "--release", ROLLBACK_TO],
    "triage": ["triage"],
    "db-queries": ["db-status", "--engine", "postgresql", "--older-than",
                   str(by_hand.DB_OLDER_THAN)],
    "compose-restart": ["compose-restart", "--service", by_hand.COMPOSE_SERVICE,
                        "--limit", "dockerhost-ssh"],
}
_LIBRARY_INCIDENT = {
    "status": ["status", "--services", "nginx,php8.2-fpm,redis-server"],
    "restart": ["restart", "--service", "nginx"],
    "health": ["health"],
}


def _switch(release: str) -> str:
    tmp = f"{APP}/.current.bench"
    return (f"ln -sfn releases/{release} {tmp} && mv -T {tmp} {APP}/current")


def _served(release: str) -> str:
    """Poll /up (10 s at most) until it reports `release`: php-fpm answers 502 while reloading."""
    check = f"curl -fsS http://127.0.0.1/up | grep -q '\"version\":\"{release.lstrip('v')}\"'"
    return f"(for i in $(seq 100); do {check} && exit 0; sleep 0.1; done; exit 1)"


def shell_command(scenario: str, paths: Paths | None = None) -> str:
    """The one shell line raw Fabric runs for `scenario` (the incident: its restart step)."""
    if scenario == "compose-restart":
        if paths is None or paths.compose is None:
            raise ValueError("compose-restart needs the stack's project (Paths.compose)")
        return by_hand.compose_restart(paths.compose.project_dir, paths.compose.project)
    return {
        "triage": by_hand.triage_reads(),
        "db-queries": by_hand.db_queries(),
        "incident": by_hand.incident("restart"),
        "restart": "systemctl restart nginx && systemctl is-active nginx",
        "noop": "systemctl is-active nginx",
        "caches": f"{ARTISAN} optimize:clear",
        "rollback": " && ".join([_switch(ROLLBACK_TO), "systemctl reload php8.2-fpm",
                                 _served(ROLLBACK_TO)]),
    }[scenario]


def reset_command(release: str = ROLLBACK_FROM) -> str:
    """What puts a host back on `release` between rollback runs (untimed)."""
    return " && ".join([_switch(release), "systemctl reload php8.2-fpm", _served(release)])


def _reads(name: str, paths: Paths) -> str | None:
    """The shell line of an input that only runs one (reads, or the compose restart)."""
    if name == "compose-restart":
        return shell_command(name, paths)
    if name in ("triage", "db-queries"):
        return shell_command(name)
    if name in ("incident-status", "incident-health"):
        return by_hand.incident(name.removeprefix("incident-"))
    return None


def _playbook(name: str, paths: Paths) -> list[dict[str, object]]:
    is_active: dict[str, object] = {"name": "nginx is active",
                                     "ansible.builtin.command": "systemctl is-active nginx",
                                     "changed_when": False}
    line = _reads(name, paths)
    restart: list[dict[str, object]] = [{"name": "nginx restarted",
                "ansible.builtin.systemd_service": {"name": "nginx", "state": "restarted"}},
               is_active]
    by_scenario: dict[str, list[dict[str, object]]] = {
        "restart": restart,
        "incident-restart": restart,
        "noop": [{"name": "nginx started",
                  "ansible.builtin.systemd_service": {"name": "nginx", "state": "started"}},
                 is_active],
        "caches": [{"name": "caches cleared",
                    "ansible.builtin.command": f"{ARTISAN} optimize:clear"}],
        "rollback": [{"name": f"current is {ROLLBACK_TO}",
                      "ansible.builtin.shell": _switch(ROLLBACK_TO)},
                     {"name": "php-fpm reloaded",
                      "ansible.builtin.systemd_service": {"name": "php8.2-fpm",
                                                          "state": "reloaded"}},
                     {"name": f"/up serves {ROLLBACK_TO}",
                      "ansible.builtin.shell": _served(ROLLBACK_TO), "changed_when": False}],
    }
    if line is not None:  # a command task running the line by hand
        if "{{" in line:  # docker's Go templates are not Jinja's
            line = "{% raw %}" + line + "{% endraw %}"
        by_scenario[name] = [{"name": name, "ansible.builtin.shell": line,
                              "changed_when": name == "compose-restart"}]
    return [{"name": f"bench {name}", "hosts": "all", "gather_facts": False,
             "tasks": by_scenario[name]}]


def _deploy(name: str, paths: Paths) -> str:
    is_active = 'server.shell(name="nginx is active", commands=["systemctl is-active nginx"])\n'
    restart = ('systemd.service(name="nginx restarted", service="nginx", restarted=True)\n'
               + is_active)
    line = _reads(name, paths)
    if line is not None:
        return ("from pyinfra.operations import server\n\n"
                f"server.shell(name={name!r}, commands=[{line!r}])\n")
    body = {
        "restart": restart,
        "incident-restart": restart,
        "noop": 'systemd.service(name="nginx running", service="nginx", running=True)\n'
                + is_active,
        "caches": f'server.shell(name="caches cleared", commands=[{f"{ARTISAN} optimize:clear"!r}])\n',
        "rollback": (f'server.shell(name="current is {ROLLBACK_TO}", '
                     f'commands=[{_switch(ROLLBACK_TO)!r}])\n'
                     'systemd.service(name="php-fpm reloaded", service="php8.2-fpm", '
                     'reloaded=True)\n'
                     f'server.shell(name="/up serves {ROLLBACK_TO}", '
                     f'commands=[{_served(ROLLBACK_TO)!r}])\n'),
    }[name]
    return "from pyinfra.operations import server, systemd\n\n" + body


def input_names(scenario: str) -> tuple[str, ...]:
    """The playbooks / deploy files a scenario runs, in order (the incident: three)."""
    if scenario == "incident":
        return tuple(f"incident-{step}" for step in by_hand.INCIDENT_STEPS)
    return (scenario,)


@dataclass(frozen=True)
class ComposeHost:
    """The lab stack the compose scenario restarts a service of, on its ssh Docker host."""

    inventory: Path  # the stack's own inventory (the library's -i)
    project_dir: str
    project: str
    container: str  # the ssh Docker host's container


@dataclass(frozen=True)
class Paths:
    """Where one N's inputs live: inventories, key, playbooks, deploy files, audit log."""

    work: Path
    inventory: Path
    pyinfra_inventory: Path
    fabric_hosts: Path
    key: Path
    compose: ComposeHost | None = None

    def playbook(self, name: str) -> Path:
        return self.work / "ansible" / f"{name}.yml"

    def deploy(self, name: str) -> Path:
        return self.work / "pyinfra" / f"deploy_{name.replace('-', '_')}.py"

    @property
    def audit_log(self) -> Path:
        return self.work / "audit.jsonl"

    @property
    def control_dir(self) -> Path:
        # Short: a ControlPath must fit in a unix socket name (108 bytes).
        return Path("/tmp") / f"rembench-cp-{self.work.name}"


def write_inputs(paths: Paths, scenarios: tuple[str, ...] = SCENARIOS) -> None:
    """Write every scenario's playbooks and pyinfra deploy files."""
    for scenario in scenarios:
        if scenario in ON_DOCKER_HOST and paths.compose is None:
            continue
        for name in input_names(scenario):
            for path, text in ((paths.playbook(name), json.dumps(_playbook(name, paths), indent=1)),
                               (paths.deploy(name), _deploy(name, paths))):
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text + "\n")


def compile_library(log: Callable[[str], None]) -> None:
    """Byte-compile this checkout, as pip does when it installs a package.

    Fabric, Ansible and pyinfra run from site-packages, compiled at install; an editable
    checkout is compiled on first import, and not cached at all where
    PYTHONDONTWRITEBYTECODE is set. Every tool then starts from bytecode.
    """
    log("byte-compiling remediations, lab, benchmarks and tasks.py (as pip does on install)")
    subprocess.run([sys.executable, "-m", "compileall", "-q", "remediations", "lab", "benchmarks",
                    "tasks.py"], cwd=REPO_ROOT, check=True, stdout=subprocess.DEVNULL)


def ensure_pyinfra(log: Callable[[str], None]) -> str:
    """Return an interpreter with pyinfra; without one, make the bench venv (pip, PyPI)."""
    python = pyinfra_python()
    if not Path(python).exists():
        log(f"installing pyinfra into {PYINFRA_VENV} (its paramiko pin differs from ours)")
        subprocess.run([sys.executable, "-m", "venv", str(PYINFRA_VENV)], check=True)
        subprocess.run([python, "-m", "pip", "install", "--quiet", "pyinfra>=3"], check=True)
    return python


def pyinfra_python() -> str:
    """The interpreter that has pyinfra: this one, else the bench venv (`ensure_pyinfra`)."""
    import importlib.util

    if importlib.util.find_spec("pyinfra") is not None:
        return sys.executable
    return str(PYINFRA_VENV / "bin" / "python")


@dataclass(frozen=True)
class Invocation:
    """A command line to time, its environment and working directory."""

    argv: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path = REPO_ROOT

    @property
    def display(self) -> str:
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(self.env.items()))
        return " ".join(filter(None, [env, shlex.join(self.argv)]))


def ansible_env(tool: str, control_dir: Path) -> dict[str, str]:
    env = {"ANSIBLE_HOST_KEY_CHECKING": "False", "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control_dir)}
    if tool == "ansible-cp":
        env |= {"ANSIBLE_PIPELINING": "True",
                "ANSIBLE_SSH_ARGS": "-C -o ControlMaster=auto -o ControlPersist=600s"}
    return env


def fabric_invocation(paths: Paths, command: str, *, show: bool = False) -> Invocation:
    """Raw Fabric running `command` on every host at once (`show`: print what each said)."""
    return Invocation((sys.executable, str(FABRIC_SCRIPT), *(["--show"] if show else []),
                       str(paths.fabric_hosts), str(paths.key), command))


def _one(tool: str, name: str, count: int, paths: Paths, control_dir: Path | None,
         show: bool) -> Invocation:
    forks = str(count)
    if tool == "library":
        args = (_LIBRARY_INCIDENT[name.removeprefix("incident-")] if name.startswith("incident-")
                else _LIBRARY[name])
        inventory = paths.compose.inventory if name in ON_DOCKER_HOST and paths.compose \
            else paths.inventory
        return Invocation((sys.executable, "-m", "invoke", *args,
                           "-i", str(inventory), "--forks", forks,
                           "--audit-log", str(paths.audit_log)))
    if tool in ("ansible", "ansible-cp"):
        return Invocation(("ansible-playbook", *(["-v"] if show else []), "-i",
                           str(paths.inventory), "-f", forks, str(paths.playbook(name))),
                          ansible_env(tool, control_dir or paths.control_dir), cwd=paths.work)
    if tool == "pyinfra":
        return Invocation((pyinfra_python(), "-m", "pyinfra", "-y", *(["-vvv"] if show else []),
                           "--parallel", forks, str(paths.pyinfra_inventory),
                           str(paths.deploy(name))), cwd=paths.work)
    if tool == "fabric":
        line = (by_hand.incident(name.removeprefix("incident-")) if name.startswith("incident-")
                else shell_command(name, paths))
        return fabric_invocation(paths, line, show=show)
    raise ValueError(f"unknown tool {tool!r}; known: {', '.join(TOOLS)}")


def invocation(tool: str, scenario: str, count: int, paths: Paths,
               control_dir: Path | None = None) -> Invocation:
    """The exact command `tool` runs for `scenario` on `count` hosts.

    The incident is three processes one after the other, timed as a whole: `sh -c 'A && B && C'`.
    """
    show = scenario in SHOWN
    steps = [_one(tool, name, count, paths, control_dir, show) for name in input_names(scenario)]
    if len(steps) == 1:
        return steps[0]
    return Invocation(("sh", "-c", " && ".join(shlex.join(s.argv) for s in steps)),
                      steps[0].env, cwd=steps[0].cwd)
