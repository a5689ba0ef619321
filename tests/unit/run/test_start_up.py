"""What a run on plain hosts loads: nothing of the compose or Kubernetes paths, no unused namespace."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _loaded(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint(' '.join(sys.modules))"],
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return set(out.split())


def test_a_run_on_a_plain_host_does_not_load_the_compose_or_cluster_modules() -> None:
    loaded = _loaded(
        "from remediations.connections.recording import RecordingConnection\n"
        "from remediations.core.result import Status\n"
        "from remediations.run.runner import RunOptions, run\n"
        "from tests.unit.helpers import host\n"
        "report = run(lambda t: t.result('service_running', Status.OK, 'active'), [host('web1')],\n"
        "             options=RunOptions(lock=False), connect=lambda h, **kw: RecordingConnection(h.name))\n"
        "assert [r.status for r in report] == [Status.OK], report\n"
    )
    assert "remediations.run.app_service" in loaded
    assert not {"remediations.connections.compose_exec", "remediations.connections.podset",
                "remediations.connections.cluster"} & loaded


def test_importing_the_cli_builds_its_namespace_only_when_asked() -> None:
    code = ("import remediations.cli as cli\n"
            "print('built' if 'ns' in vars(cli) else 'lazy')\n"
            "print(len(cli.ns.task_names) > 50, cli.ns is cli.ns)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.split("\n")
    assert out[:2] == ["lazy", "True True"]
