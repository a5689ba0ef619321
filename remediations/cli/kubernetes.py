"""Invoke tasks for Kubernetes Deployments (registered by `build_namespace`).

Hosts are inventory hosts with `ansible_connection: kubernetes`, each naming a
Deployment (see `remediations.connections.cluster`). Input is validated before the inventory is read.
The rollout waits are bounded by `--timeout` (`--wait` for rollout-status).
"""

from __future__ import annotations

import dataclasses
import functools
import re
from typing import Any

from invoke.collection import Collection

from remediations.cli.options import (
    Common,
    fail,
    make_task,
    reporter_for,
    run_remediation,
    selected_hosts,
    validated,
)
from remediations.cli.values import DAY, Range, shown

# Left to the runner past the rollout wait: taking and dropping the lock, reading.
_MARGIN = 30.0
# A container's name in a pod: an RFC 1123 label.
_CONTAINER = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def _wait(opts: Common) -> float:
    """The rollout wait: what `--timeout` leaves once the lock and reads are done."""
    return max(1.0, opts.timeout - _MARGIN) if opts.timeout > 2 * _MARGIN else opts.timeout


def _database_guard(opts: Common, allowed: bool, *, verb: str) -> list[str]:
    """The selected Deployments the inventory or their name says are databases; exit 1
    naming --allow-database-restart for the first when not `allowed`. (Their images tell
    only once read: there the remediation refuses, before it changes anything.)"""
    from remediations.core.databases import named, refused, workload_database

    found: dict[str, str] = {}
    for host in selected_hosts(opts):
        deployment = str(host.var("deployment") or host.name)
        why = workload_database(deployment, database=host.var("database"),
                                db_deployments=named(host.var("db_deployment")))
        if why:
            found.setdefault(deployment, why)
    if found and not allowed:
        name, why = next(iter(found.items()))
        what = f"deployment {name}" + (" to 0 replicas" if verb == "scale" else "")
        raise fail(reporter_for(opts), str(refused(what, why, verb=verb)))
    return list(found)


def scale(c: Any, opts: Common, replicas: int = -1, allow_database_restart: bool = False) -> None:
    """Scale each Deployment to --replicas N and wait until N are ready (0 allowed; a database
    to 0 needs --allow-database-restart)."""
    from remediations.kubernetes.deployments import deployment_scaled, validate_replicas

    if replicas == -1:
        raise fail(reporter_for(opts), "--replicas is required, e.g. --replicas 5")
    n = validated(opts, validate_replicas, replicas)
    if n == 0:
        _database_guard(opts, allow_database_restart, verb="scale")
    confirm = ("scale --replicas 0 takes every pod down", "see the request it would send")
    fn = functools.partial(deployment_scaled, replicas=n, timeout=_wait(opts),
                           allow_database_restart=allow_database_restart)
    run_remediation(opts, fn, name="deployment_scaled", confirm=confirm if n == 0 else None)


def set_image(c: Any, opts: Common, image: str = "", container: str = "") -> None:
    """Set a container's image (kubectl set image) and wait for the rollout; no-op when already."""
    from remediations.kubernetes.deployments import image_set, validate_image

    if not image:
        raise fail(reporter_for(opts), "--image is required, e.g. --image registry/app:v1.2.3")
    ref = validated(opts, validate_image, image)
    if container and not _CONTAINER.fullmatch(container):
        raise fail(reporter_for(opts), f"--container must be a container name (lower-case letters, "
                                       f"digits and '-'), got {shown(container)}")
    fn = functools.partial(image_set, image=ref, container=container or None, timeout=_wait(opts))
    run_remediation(opts, fn, name="image_set")


def rollout_restart(c: Any, opts: Common, allow_database_restart: bool = False) -> None:
    """Restart each Deployment's pods (restartedAt annotation) once per run; wait for the rollout.
    A database Deployment needs --allow-database-restart --yes."""
    from remediations.kubernetes.deployments import deployment_restarted

    found = _database_guard(opts, allow_database_restart, verb="restart")
    # With the flag, --yes always: a database known only by its image is seen on the cluster.
    confirm = ((f"restarting {', '.join(found)} drops every database connection" if found else
                "--allow-database-restart lets rollout-restart restart a database"),
               "see the request it would send") if allow_database_restart else None
    fn = functools.partial(deployment_restarted, timeout=_wait(opts),
                           allow_database_restart=allow_database_restart)
    run_remediation(opts, fn, name="deployment_restarted", confirm=confirm)


def rollout_undo(c: Any, opts: Common, to_revision: int = 0, release: str = "") -> None:
    """Roll back as kubectl rollout undo: previous revision, --to-revision N, or --release TAG."""
    from remediations.core.values import Release
    from remediations.kubernetes.deployments import deployment_rolled_back

    if to_revision and release:
        raise fail(reporter_for(opts), "give --to-revision or --release, not both")
    tag = validated(opts, Release.parse, release) if release else None
    fn = functools.partial(deployment_rolled_back, to_revision=to_revision or None, release=tag,
                           timeout=_wait(opts))
    run_remediation(opts, fn, name="deployment_rolled_back")


def rollout_status(c: Any, opts: Common, wait: float = 300.0) -> None:
    """Wait up to --wait seconds for each rollout to finish (kubectl rollout status's rules)."""
    from remediations.kubernetes.rollout import rollout_complete

    # The host's timeout must outlast the wait, or the runner would abandon it first.
    opts = dataclasses.replace(opts, timeout=max(opts.timeout, wait + _MARGIN))
    run_remediation(opts, functools.partial(rollout_complete, timeout=wait),
                    name="rollout_complete", lock=False)


def register(ns: Collection) -> None:
    """Add this area's tasks to `ns`."""
    allow = ("allow_database_restart", False, "allow it on a database Deployment (postgres, mysql, "
             "mariadb... image; inventory database: true or db_deployment): a last resort")
    ns.add_task(make_task(scale, name="scale", params=(
        ("replicas", -1, "number of replicas to leave ready, 0-10000 (0 needs --yes)",
         Range(0, 10_000, unset=-1)), allow,
    ), yes="with --replicas 0: confirm taking every pod down (not needed with --check)"))
    ns.add_task(make_task(set_image, name="set-image", params=(
        ("image", "", "image reference, e.g. registry.example/shop/app:v1.2.3"),
        ("container", "", "container to change (default: the inventory's, else the first)"),
    )))
    ns.add_task(make_task(rollout_restart, name="rollout-restart", params=(allow,),
                          yes="with --allow-database-restart: confirm restarting a database "
                              "(not needed with --check)"))
    ns.add_task(make_task(rollout_undo, name="rollout-undo", params=(
        ("to_revision", 0, "revision to roll back to (default: the previous one)",
         Range(0, 10**9)),
        ("release", "", "roll back to the newest revision running this image tag, e.g. v1.2.2"),
    )))
    ns.add_task(make_task(rollout_status, name="rollout-status", params=(
        # The host's timeout becomes wait + _MARGIN, which must stay within --timeout's range.
        ("wait", 300.0, f"seconds to wait for the rollout to finish (at most {DAY - _MARGIN:g})",
         Range(0, DAY - _MARGIN, low_open=True)),
    )))
