"""A `php` stand-in on PATH, so the caches script's `sh` part runs for real in `sh`.

It plays laravel-caches.php (tested against the real framework in the lab) from a JSON
state file: the facts before, which clear fails, whether the app boots. Every run is
logged (mode, kinds, skipped kinds) so tests can count PHP processes. The markers'
directory is moved from /run/lock to the test's own.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from remediations.connections.base import CommandResult
from remediations.run import markers

_PHP = r"""#!/usr/bin/env python3
import json, os, sys
d = os.path.dirname(os.path.abspath(__file__))
app, mode, kinds, skip = sys.argv[sys.argv.index("--") + 1:]
kinds = [k for k in kinds.split(",") if k]
skip = [k for k in skip.split(",") if k in kinds]
with open(os.path.join(d, "php.log"), "a") as log:
    log.write(json.dumps([mode, kinds, skip]) + "\n")
state = json.load(open(os.path.join(d, "state.json")))
if not state.get("boots", True):
    sys.stderr.write("PHP Fatal error:  Uncaught Error: Class \"App\\Kernel\" not found\n")
    sys.exit(255)
facts = dict(state["facts"])
if "cache" not in kinds:
    facts.pop("cache", None)
def present(n):
    return facts[n] > 0 if n == "view" else facts[n] != 0 if n == "cache" else facts[n] is not None
before, cleared, failed = dict(facts), [], None
for n in (["config", "route", "event", "view", "cache"] if mode == "clear" else []):
    if n not in kinds or n in skip or not present(n):
        continue
    if state.get("fail") == n:
        failed = {"kind": n, "exit": 1, "output": f"{n}:clear went wrong"}
        break
    facts[n] = 0 if n in ("view", "cache") else None
    cleared.append(n)
    if n in ("view", "cache"):
        print(f"remediations-cleared:{n}")
if mode == "clear":
    state["facts"].update({k: v for k, v in facts.items() if k in state["facts"]})
    json.dump(state, open(os.path.join(d, "state.json"), "w"))
print(json.dumps({"before": before, "cleared": cleared, "failed": failed,
                  "after": facts if mode == "clear" else None, "skipped": skip, "fresh": False}))
sys.exit(1 if failed else 0)
"""


class FakeApp:
    """The app's caches as the stand-in `php` reports and clears them."""

    def __init__(self, tmp: Path, facts: Mapping[str, Any], *, fail: str | None = None,
                 boots: bool = True) -> None:
        self.dir = tmp / "bin"
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "php").write_text(_PHP)
        (self.dir / "php").chmod(0o755)
        self.marks = tmp / "marks"
        self.state = self.dir / "state.json"
        self.state.write_text(json.dumps({"facts": dict(facts), "fail": fail, "boots": boots}))

    @property
    def facts(self) -> dict[str, Any]:
        return dict(json.loads(self.state.read_text())["facts"])

    @property
    def php_runs(self) -> list[list[Any]]:
        """Each PHP process: [mode, kinds, skipped kinds]."""
        log = self.dir / "php.log"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def marked(self) -> list[str]:
        return sorted(p.name for p in self.marks.rglob("*") if p.is_file())

    def run(self, argv: tuple[str, ...]) -> CommandResult:
        """Run `argv` (the caches script, a marker step) with the markers under `tmp`."""
        local = [a.replace(markers.ROOT, str(self.marks)) for a in argv]
        env = {**os.environ, "PATH": f"{self.dir}:{os.environ['PATH']}"}
        res = subprocess.run(local, capture_output=True, text=True, env=env, check=False)
        return CommandResult(" ".join(argv), res.returncode, res.stdout, res.stderr)
