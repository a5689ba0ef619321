"""Start time of the command line, and what it imports before doing anything.

    python -m benchmarks.startup               # prints the measurement as JSON

Each command runs `ROUNDS` times as a fresh process from the repository root (the root
`tasks.py`, as `invoke --list` is run there); the figure is the median wall time. The
console script `remediate` is run as its entry point (`remediations.cli:main`) with the
same interpreter, so an installed copy elsewhere cannot be measured by mistake. Heavy
libraries that a listing or a task's help must not need are looked for in what each
command imported (`python -X importtime`), and so is what a systemd restart over ssh
imports (run against a closed port on 127.0.0.1, so it needs no host).
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 10
TARGET_S = 0.15  # the `invoke --list` target (benchmarks.targets.STARTUP_TARGET_S)
HEAVY = ("docker", "kubernetes", "rich", "fabric", "paramiko", "testinfra", "requests",
         "tenacity", "cryptography")
_ENTRY = "import sys; from remediations.cli import main; sys.argv[0] = 'remediate'; main()"
COMMANDS: dict[str, list[str]] = {
    "invoke --list": ["-m", "invoke", "--list"],
    "remediate --list": ["-c", _ENTRY, "--list"],
    "invoke restart --help": ["-m", "invoke", "restart", "--help"],
}
# A restart as a user runs it, against one host whose port refuses the connection
# (127.0.0.1:9): everything a real restart imports up to and including its ssh attempt
# and its report.
_INVENTORY = ("all:\n  hosts:\n    closed:\n      ansible_host: 127.0.0.1\n"
              "      ansible_port: 9\n      ansible_connection: ssh\n")


def _wall(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, *argv], cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def imported(argv: list[str], env: dict[str, str] | None = None) -> set[str]:
    """Top-level packages `python argv` imports, read from `-X importtime` (any exit code)."""
    res = subprocess.run([sys.executable, "-X", "importtime", *argv], cwd=ROOT, env=env,
                         check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True)
    names = re.findall(r"^import time:\s+-?\d+ \|\s+\d+ \| +([\w.]+)", res.stderr, re.M)
    return {n.split(".")[0] for n in names}


def _heavy(argv: list[str], env: dict[str, str] | None = None) -> str:
    found = sorted(imported(argv, env) & set(HEAVY))
    return ", ".join(found) or "none"


def restart_imports() -> str:
    """The heavy libraries `invoke restart --service nginx` imports for an ssh host."""
    with tempfile.TemporaryDirectory(prefix="rem-startup-") as tmp:
        inventory = Path(tmp) / "closed.yml"
        inventory.write_text(_INVENTORY)
        env = {**os.environ, "REMEDIATIONS_STATE_DIR": tmp}
        argv = ["-m", "invoke", "restart", "--service", "nginx", "-i", str(inventory),
                "--audit-log", str(Path(tmp) / "audit.jsonl"), "--timeout", "5"]
        return _heavy(argv, env)


def measure(rounds: int = ROUNDS) -> dict[str, Any]:
    """Median wall time (s) of each command, the heavy libraries each imports, the target."""
    out: dict[str, Any] = {}
    for name, argv in COMMANDS.items():
        _wall(argv)  # warm-up: page cache, .pyc files
        out[f"{name} s"] = round(statistics.median(_wall(argv) for _ in range(rounds)), 3)
        out[f"{name} imports"] = _heavy(argv)
    out["invoke restart (ssh host) imports"] = restart_imports()
    out["python -c pass s"] = round(statistics.median(
        _wall(["-c", "pass"]) for _ in range(rounds)), 3)
    out["target s"] = TARGET_S
    return out


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
