"""Laravel remediations on a compose host run inside the app service, as `compose exec` would.

A compose host (the inventory gives it `compose_project_dir` and `app_service`, reached
with ansible_connection local or ssh) has no PHP application of its own: the code,
its caches, the maintenance file and artisan are in the containers of `app_service`. So
the runner hands every remediation to `call`, which on such a host runs those named in
`IN_APP` with a target whose connection is `docker exec` in the service's container
(`connections.compose_exec`: what `docker compose exec -T SERVICE` runs, through the
host's own connection, its lock and deadline), and everything else as it is: the
compose remediations act on the host, and a Deployment gets its per-pod walk
(`run.per_pod`).

State that lives in each container (`PER_CONTAINER`: the framework's cache files, the
maintenance file, the storage link and permissions) is changed in every container of
the service or in none: when one of them is not running (it would come back with its old
state) the remediation is refused and nothing is touched; otherwise it runs once per
container and the results are merged (`failed` if any failed, else `changed` if any
changed), each container's under `data["containers"]`, its commands prefixed
`[container] `. State shared by every container (the queue's restart signal and the
cache store in redis, failed jobs in the database) is changed once, in the service's
first running container, as `compose exec` (index 1) does. `queue:restart` is sent from
the `worker_service` when the inventory names one: its workers are the processes the
restart is verified by (`laravel.queue`), and they are not in the app service.
Check mode plans the same way.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from remediations.core.errors import CommandTimeout, HostLocked, RemediationError, Unreachable
from remediations.core.result import Result, Status
from remediations.run import per_pod
from remediations.run.target import Target

if TYPE_CHECKING:
    from remediations.connections.compose_exec import ServiceContainer

# `in_containers` and `merged` are this module's helpers for the docker area (a proxy's
# containers), not remediations of their own.
__all__ = ["IN_APP", "PER_CONTAINER", "SERVICE_VARS", "AppService", "app_service", "call",
           "container_target"]

# The remediations whose state lives in each container's filesystem.
PER_CONTAINER = frozenset({
    "caches_cleared",        # bootstrap/cache/*.php, compiled views (the store is shared)
    "caches_rebuilt",
    "maintenance_on",        # storage/framework/down
    "maintenance_off",
    "storage_link_present",  # public/storage
    "storage_permissions",   # storage/ and bootstrap/cache
})
# Every remediation that acts on the application, not on the Docker host.
IN_APP = PER_CONTAINER | frozenset({
    "queue_restarted",       # the restart signal lives in the cache store
    "failed_jobs_listed",    # the failed_jobs table
    "failed_jobs_retried",
    "failed_jobs_forgotten",
    "queue_worker_processes_job",  # a job pushed and worked with queue:work --once
    "rate_limits_cleared",   # throttle keys in the cache store
    "schedule_cache_cleared",
    "database_reachable",    # artisan migrate:status
})
# Where a remediation acts when not in `app_service`: queue:restart is sent from a worker
# container (the same code and cache store), where the workers it restarts can be watched.
SERVICE_VARS = {"queue_restarted": "worker_service"}
_CONNECTIONS = ("local", "ssh")


@dataclass(frozen=True, slots=True)
class AppService:
    """The compose project and service the app of a compose host runs in."""

    project: str
    service: str


def app_service(t: Target, remediation: str = "") -> AppService | None:
    """The service `remediation` runs in when `t` is a compose host (`compose_project_dir`
    and `app_service`, connection local or ssh), else None: `app_service`, or the service
    `SERVICE_VARS` names for it when the inventory sets that (`worker_service`).

    The project is `compose_project`, else the project folder's name as compose derives it.
    """
    folder = t.var("compose_project_dir")
    service = t.var("app_service") and (t.var(SERVICE_VARS.get(remediation, "app_service"))
                                        or t.var("app_service"))
    if not service or not folder or t.host.connection not in _CONNECTIONS:
        return None
    project = t.var("compose_project") or re.sub(
        r"[^a-z0-9_-]", "", os.path.basename(os.path.normpath(str(folder))).lower())
    return AppService(str(project), str(service))


def _unwrapped(fn: Callable[..., object]) -> Callable[..., object]:
    while isinstance(fn, functools.partial):
        fn = fn.func
    return fn


def _name(fn: Callable[..., object], name: str) -> str:
    inner = _unwrapped(fn)
    return name or str(getattr(inner, "remediation_name", None) or getattr(inner, "__name__", ""))


def call(fn: Callable[[Target], Result], t: Target, name: str = "") -> Result:
    """`fn(t)`, inside the app service when `fn` acts on the app and `t` is a compose host;
    else as `run.per_pod.call` runs it (every pod of a Deployment for per-pod state)."""
    label = _name(fn, name)
    own = _name(fn, "")
    known = label if label in IN_APP else own
    where = app_service(t, known) if known in IN_APP else None
    if where is None:
        return per_pod.call(fn, t, name)
    # Only compose hosts reach here: other runs never load the compose modules.
    from remediations.connections.compose_exec import ServiceExec

    if isinstance(t.conn, ServiceExec):
        return per_pod.call(fn, t, name)
    every = known in PER_CONTAINER
    return in_containers(t, where.project, where.service, fn, label, every=every)


def container_target(t: Target, container: ServiceContainer, service: str) -> Target:
    """`t` with its commands run in `container`, as the user `docker exec` runs as there
    (so artisan is wrapped in runuser only when that user is not the app user)."""
    from remediations.connections.compose_exec import ServiceExec

    host = t.host.with_vars(ansible_user=container.exec_user, ansible_become=False)
    return Target(host, ServiceExec(t.conn, container, service), t.run)


def in_containers(t: Target, project: str, service: str, fn: Callable[[Target], Result],
                  label: str, *, every: bool) -> Result:
    """`fn` in every container of `service` (`every`), refused unless all of them run; else
    in its first running container. One merged result."""
    from remediations.connections.compose_exec import service_containers

    found = service_containers(t.conn, project, service)
    running = [c for c in found if c.running]
    data = {"service": service, "project": project,
            "containers": {c.name: {"state": c.state} for c in found}, "state": "untouched"}
    if not running:
        why = (f"its containers are {', '.join(f'{c.name} {c.state}' for c in found)}" if found
               else "it has no container")
        return t.result(label, Status.FAILED, f"no running container of service {service} in "
                        f"compose project {project} to run in ({why}); start it first "
                        f"(compose-start --services {service})", data=data)
    stopped = [c for c in found if not c.running]
    if every and stopped:
        return t.result(label, Status.FAILED, refusal(service, found, stopped), data=data)
    results: dict[str, Result] = {}
    for c in running if every else running[:1]:
        try:
            results[c.name] = fn(container_target(t, c, service))
        except (CommandTimeout, HostLocked):
            raise  # the runner reports these for the whole host (unknown / skipped)
        except Unreachable as exc:
            results[c.name] = t.result(label, Status.UNREACHABLE, str(exc))
        except RemediationError as exc:
            results[c.name] = t.result(label, Status.FAILED, str(exc))
    return merged(t, label, service, results, total=len(found))


def refusal(service: str, found: Sequence[ServiceContainer],
            stopped: Sequence[ServiceContainer]) -> str:
    return (f"refused, nothing done: {len(found) - len(stopped)} of {len(found)} container(s) "
            f"of service {service} running ({', '.join(f'{c.name} {c.state}' for c in stopped)}"
            "). A stopped container keeps its own copy of this state and serves it once "
            f"started: start it (compose-start --services {service}) or remove it, and run again")


def merged(t: Target, label: str, service: str, results: dict[str, Result], *,
           total: int) -> Result:
    """One result for the host from each container's result."""
    status = per_pod.merged_status([r.status for r in results.values()])
    names = ", ".join(results)
    messages = {r.message for r in results.values()}
    if len(results) > 1 and len(messages) == 1:
        summary = f"in all {len(results)} containers of {service} ({names}): {messages.pop()}"
    elif len(results) == 1:
        (only,) = results.values()
        one = "" if total == 1 else f", 1 of {total} container(s): the state is shared"
        summary = f"in {service} ({names}{one}): {only.message}"
    else:
        summary = "; ".join(f"{name}: {r.message}" for name, r in results.items())
    return t.result(
        label, status, summary,
        commands=[f"[{name}] {c}" for name, r in results.items() for c in r.commands],
        evidence="\n".join(f"[{name}] {r.evidence}" for name, r in results.items() if r.evidence),
        diff=next(iter(results.values())).diff if len(results) == 1 else None,
        data={**(dict(next(iter(results.values())).data) if len(results) == 1 else {}),
              "service": service,
              "containers": {name: {"status": r.status.value, "message": r.message,
                                    "data": dict(r.data)} for name, r in results.items()}})
