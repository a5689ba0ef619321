"""Invoke tasks for this repository: the library's tasks, the lab, and the demo.

`invoke --list` shows them; the same remediation tasks ship in the package as
the `remediate` console script.
"""

from __future__ import annotations

import sys

from invoke import Collection, task

from benchmarks.tasks import ns as bench_ns
from lab.stack_tasks import ns as stack_ns
from lab.tasks import ns as lab_ns
from remediations.cli import build_namespace

LAB_INVENTORY = "inventories/lab.yml"
LAB_RELEASE = "v1.2.3"  # the web hosts' current release (lab/images/web)


@task(help={"service": "the unit the demo restarts (default nginx)",
            "release": "the release the demo rolls back to, then forward from (default v1.2.2)"})
def demo(c, service="nginx", release="v1.2.2"):  # type: ignore[no-untyped-def]
    """The main job on the lab: restart a service on every web host, roll back and forward, check."""
    from lab import manage

    manage.up(lambda line: print(line, file=sys.stderr))
    inv = f"-i {LAB_INVENTORY} -l web"
    invoke = f"{sys.executable} -m invoke"
    c.run(f"{invoke} restart --service {service} {inv}", pty=False)
    c.run(f"{invoke} rollback --release {release} --serial 1 {inv}", pty=False)
    c.run(f"{invoke} rollback --release {LAB_RELEASE} --serial 1 {inv}", pty=False)
    c.run(f"{invoke} health {inv} --field status --value ok", pty=False)


ns = build_namespace()
ns.add_collection(lab_ns, "lab")
ns.add_collection(stack_ns, "stack")
ns.add_collection(bench_ns, "bench")
ns.add_task(demo)
__all__ = ["Collection", "ns"]
