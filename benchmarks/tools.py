"""The four tools' command lines and input files, one remediation per scenario.

Every tool is run as its user would run it, a fresh process each time, against the
same hosts, ssh key, user and ports, with host-key checking off and forks = N.

| scenario | this library | ansible-playbook / pyinfra / Fabric |
|---|---|---|
| restart | `invoke restart --service nginx` | restart nginx, then `systemctl is-active nginx` |
| noop | `invoke start --service nginx` | nginx started/running, then `is-active` (Fabric: `is-active` only) |
| caches | `invoke clear-caches` | `artisan optimize:clear` as www-data in /srv/app/current |
| rollback | `invoke rollback --release v1.2.2` | `ln -sfn` + `mv -T` the current link, reload php-fpm, `curl /up` shows 1.2.2 |
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

__all__ = ["SCENARIOS", "TOOLS", "Invocation", "Paths", "compile_library", "ensure_pyinfra", "fabric_invocation", "invocation", "reset_command",
           "shell_command", "write_inputs"]

TOOLS = ("library", "ansible", "ansible-cp", "pyinfra", "fabric")
SCENARIOS = ("restart", "noop", "caches", "rollback")
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
}


def _switch(release: str) -> str:
    tmp = f"{APP}/.current.bench"
    return (f"ln -sfn releases/{release} {tmp} && mv -T {tmp} {APP}/current")


def _served(release: str) -> str:
    """Poll /up (10 s at most) until it reports `release`: php-fpm answers 502 while reloading."""
    check = f"curl -fsS http://127.0.0.1/up | grep -q '\"version\":\"{release.lstrip('v')}\"'"
    return f"(for i in $(seq 100); do {check} && exit 0; sleep 0.1; done; exit 1)"


def shell_command(scenario: str) -> str:
    """The one shell line raw Fabric runs for `scenario`."""
    return {
        "restart": "systemctl restart nginx && systemctl is-active nginx",
        "noop": "systemctl is-active nginx",
        "caches": f"{ARTISAN} optimize:clear",
        "rollback": " && ".join([_switch(ROLLBACK_TO), "systemctl reload php8.2-fpm",
                                 _served(ROLLBACK_TO)]),
    }[scenario]


def reset_command(release: str = ROLLBACK_FROM) -> str:
    """What puts a host back on `release` between rollback runs (untimed)."""
    return " && ".join([_switch(release), "systemctl reload php8.2-fpm", _served(release)])


def _playbook(scenario: str) -> list[dict[str, object]]:
    is_active = {"name": "nginx is active", "ansible.builtin.command": "systemctl is-active nginx",
                 "changed_when": False}
    by_scenario: dict[str, list[dict[str, object]]] = {
        "restart": [{"name": "nginx restarted",
                     "ansible.builtin.systemd_service": {"name": "nginx", "state": "restarted"}},
                    is_active],
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
    return [{"name": f"bench {scenario}", "hosts": "all", "gather_facts": False,
             "tasks": by_scenario[scenario]}]


def _deploy(scenario: str) -> str:
    is_active = 'server.shell(name="nginx is active", commands=["systemctl is-active nginx"])\n'
    body = {
        "restart": 'systemd.service(name="nginx restarted", service="nginx", restarted=True)\n'
                   + is_active,
        "noop": 'systemd.service(name="nginx running", service="nginx", running=True)\n'
                + is_active,
        "caches": f'server.shell(name="caches cleared", commands=[{f"{ARTISAN} optimize:clear"!r}])\n',
        "rollback": (f'server.shell(name="current is {ROLLBACK_TO}", '
                     f'commands=[{_switch(ROLLBACK_TO)!r}])\n'
                     'systemd.service(name="php-fpm reloaded", service="php8.2-fpm", '
                     'reloaded=True)\n'
                     f'server.shell(name="/up serves {ROLLBACK_TO}", '
                     f'commands=[{_served(ROLLBACK_TO)!r}])\n'),
    }[scenario]
    return "from pyinfra.operations import server, systemd\n\n" + body


@dataclass(frozen=True)
class Paths:
    """Where one N's inputs live: inventories, key, playbooks, deploy files, audit log."""

    work: Path
    inventory: Path
    pyinfra_inventory: Path
    fabric_hosts: Path
    key: Path

    def playbook(self, scenario: str) -> Path:
        return self.work / "ansible" / f"{scenario}.yml"

    def deploy(self, scenario: str) -> Path:
        return self.work / "pyinfra" / f"deploy_{scenario}.py"

    @property
    def audit_log(self) -> Path:
        return self.work / "audit.jsonl"

    @property
    def control_dir(self) -> Path:
        # Short: a ControlPath must fit in a unix socket name (108 bytes).
        return Path("/tmp") / f"rembench-cp-{self.work.name}"


def write_inputs(paths: Paths) -> None:
    """Write every scenario's playbook and pyinfra deploy file."""
    for scenario in SCENARIOS:
        for path, text in ((paths.playbook(scenario), json.dumps(_playbook(scenario), indent=1)),
                           (paths.deploy(scenario), _deploy(scenario))):
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


def fabric_invocation(paths: Paths, command: str) -> Invocation:
    """Raw Fabric running `command` on every host at once."""
    return Invocation((sys.executable, str(FABRIC_SCRIPT), str(paths.fabric_hosts),
                       str(paths.key), command))


def invocation(tool: str, scenario: str, count: int, paths: Paths,
               control_dir: Path | None = None) -> Invocation:
    """The exact command `tool` runs for `scenario` on `count` hosts."""
    forks = str(count)
    if tool == "library":
        return Invocation((sys.executable, "-m", "invoke", *_LIBRARY[scenario],
                           "-i", str(paths.inventory), "--forks", forks,
                           "--audit-log", str(paths.audit_log)))
    if tool in ("ansible", "ansible-cp"):
        return Invocation(("ansible-playbook", "-i", str(paths.inventory), "-f", forks,
                           str(paths.playbook(scenario))),
                          ansible_env(tool, control_dir or paths.control_dir), cwd=paths.work)
    if tool == "pyinfra":
        return Invocation((pyinfra_python(), "-m", "pyinfra", "-y", "--parallel", forks,
                           str(paths.pyinfra_inventory), str(paths.deploy(scenario))),
                          cwd=paths.work)
    if tool == "fabric":
        return fabric_invocation(paths, shell_command(scenario))
    raise ValueError(f"unknown tool {tool!r}; known: {', '.join(TOOLS)}")
