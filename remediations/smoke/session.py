"""Run a project's smoke tests in a pytest of their own and collect the outcome per test.

    outcome = run_smoke_tests("tests/smoke", ["inventories/production.yml"], limit="web")
    rows = host_rows(outcome.results, hosts=["web1", "web2"])

pytest's own output goes to `output` (stderr by default) as it comes; the outcome is
read from the results file the plugin writes, never from that output.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from remediations.smoke.results import read_results

_TAIL = 40
# pytest's exit codes that mean the tests did not run as asked (not: some failed).
INTERRUPTED, INTERNAL_ERROR, USAGE_ERROR, NO_TESTS = 2, 3, 4, 5
# The plugin by module, its entry point blocked: loaded once whether or not the child's
# path sees the package's metadata (autoload disabled, a stale install, another venv).
LOAD_PLUGIN = ("-p", "no:remediations", "-p", "remediations.smoke.plugin")


@dataclass(frozen=True, slots=True)
class SmokeRun:
    """What pytest did: its exit status, the results file's content, its last output lines."""

    exit_status: int
    results: dict[str, Any]
    tail: tuple[str, ...]

    def problem(self) -> str:
        """Why the tests did not run as asked, in one line; "" when they did."""
        errors = self.results.get("collection_errors") or []
        if errors:
            first = errors[0]
            return f"{first['nodeid']}: cannot be collected: {first['reason']}"
        if self.exit_status == NO_TESTS or (self.exit_status == 0 and not self.results.get("tests")):
            return "no tests collected"
        if self.exit_status in (INTERRUPTED, INTERNAL_ERROR, USAGE_ERROR) or not self.results:
            return f"pytest exited {self.exit_status}: {self._error_line()}"
        return ""

    def _error_line(self) -> str:
        lines = [line.strip() for line in self.tail if line.strip()]
        for line in reversed(lines):
            if line.startswith(("ERROR:", "E ")):
                return line.removeprefix("ERROR:").removeprefix("E ").strip()
        return lines[-1] if lines else "no output"


def pytest_argv(path: str, inventory: Sequence[str], *, results: Path, limit: str = "",
                connection: str = "", check: bool = False, run_id: str = "",
                timeout: float | None = None) -> list[str]:
    """The pytest command line `invoke smoke` runs."""
    argv = [sys.executable, "-m", "pytest", path, "-q", "-p", "no:cacheprovider", *LOAD_PLUGIN,
            "--remediations-inventory", ",".join(os.path.abspath(p) for p in inventory),
            "--remediations-results", str(results)]
    if limit:
        argv += ["--remediations-limit", limit]
    if connection:
        argv += ["--remediations-connection", connection]
    if check:
        argv.append("--remediations-check")
    if run_id:
        argv += ["--remediations-run-id", run_id]
    if timeout:
        argv += ["--remediations-timeout", f"{timeout:g}"]
    return argv


def run_smoke_tests(path: str, inventory: Sequence[str], *, limit: str = "", connection: str = "",
                    check: bool = False, run_id: str = "", timeout: float | None = None,
                    audit_log: str = "", output: IO[str] | None = None) -> SmokeRun:
    """Run pytest over `path` against `inventory`; its output is copied to `output` line by line.

    `timeout` bounds each `remediate` call of the tests (per host, as the runner's);
    `audit_log` is where those calls are recorded (default: the library's audit log).
    """
    out = output or sys.stderr
    env = {**os.environ, **({"REMEDIATIONS_AUDIT_LOG": audit_log} if audit_log else {})}
    with tempfile.TemporaryDirectory(prefix="remediations-smoke-") as tmp:
        results = Path(tmp) / "results.json"
        argv = pytest_argv(path, inventory, results=results, limit=limit, connection=connection,
                           check=check, run_id=run_id, timeout=timeout)
        tail: collections.deque[str] = collections.deque(maxlen=_TAIL)
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, text=True, errors="replace")
        copier = threading.Thread(target=_copy, args=(proc.stdout, out, tail), daemon=True)
        copier.start()
        status = proc.wait()
        copier.join(timeout=10)
        data = read_results(results) if results.exists() else {}
    return SmokeRun(status, data, tuple(tail))


def _copy(stream: IO[str] | None, out: IO[str], tail: collections.deque[str]) -> None:
    if stream is None:
        return
    for line in stream:
        tail.append(line.rstrip("\n"))
        out.write(line)
        out.flush()
