"""A compose service at a number of containers (`up --scale`), each running and healthy.

`<compose> up -d --no-deps --no-recreate --scale SERVICE=N SERVICE` is what both compose
CLIs take (v1 `docker-compose` 1.29 and v2 `docker compose`): it creates the missing
containers (numbered after the highest, `remlab-worker-2`), starts stopped ones, removes
the highest-numbered ones above N, and leaves the running ones alone: `--no-recreate`
keeps a container whose configuration drifted from being replaced, `--no-deps` leaves the
other services (the database above all) untouched. Verified: exactly N containers, each
running and healthy (or just running, without a healthcheck), within `timeout`.

A service published on a fixed host port cannot run twice (the second container finds
the port taken): compose's error and the containers' states are the evidence. A database
service is refused unless `allow_database_restart` (a second server on the same volume, or
one fewer, is no way to scale a database), like compose-restart.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from remediations.core import validate
from remediations.core.result import Diff, Result, Status
from remediations.docker.compose import refuse_databases, settled
from remediations.docker.engine import ContainerFact, engine, evidence
from remediations.docker.project import Compose, open_compose, service_name, states, wait_ready
from remediations.run.contract import Verification, apply
from remediations.run.target import Target

__all__ = ["MAX_REPLICAS", "compose_service_scaled", "plan_scaled", "validate_replicas"]

MAX_REPLICAS = 100
_POLL = 1.0


def validate_replicas(value: object) -> int:
    """A number of containers, 0 to `MAX_REPLICAS`."""
    return validate.count(value, "replicas", low=0, high=MAX_REPLICAS)


def plan_scaled(containers: Sequence[ContainerFact], replicas: int) -> str:
    """Why `up --scale` is needed, or "" when `replicas` containers exist and all run."""
    have = len(containers)
    stopped = [c.name for c in containers if c.state not in ("running", "restarting")]
    if have != replicas:
        return f"{have} container(s), {replicas} wanted"
    if stopped:
        return f"not running: {', '.join(stopped)}"
    return ""


def compose_service_scaled(t: Target, service: str, replicas: int, *, timeout: float = 120.0,
                           allow_database_restart: bool = False) -> Result:
    """Leave compose `service` at `replicas` containers, every one running and healthy.

    `ok` (after waiting for them to be ready) when it already has that many running; else
    `up -d --no-deps --no-recreate --scale service=N service` with the host's compose CLI.
    A database service is refused unless `allow_database_restart` (see the module).
    Example: `compose_service_scaled(t, "worker", 3, timeout=120)`.
    """
    service = service_name(service)
    replicas = validate_replicas(replicas)
    timeout = validate.seconds(timeout, "timeout")
    name = "compose_service_scaled"
    refuse_databases(t, allow_database_restart, [service], verb="scale")
    with engine(t) as eng:
        comp = open_compose(t, eng)
        before = comp.containers(service)
        refuse_databases(t, allow_database_restart, [service], before, verb="scale")
        if not before:
            comp.require([service])
        why = plan_scaled(before, replicas)
        data = {"service": service, "replicas": replicas, "replicas_before": len(before),
                "project": comp.proj.name, "compose": comp.cli.label,
                "before": [c.to_dict() for c in before]}
        if not why:
            if replicas == 0:
                return t.result(name, Status.OK, f"{service} already at 0 containers", data=data)
            return settled(comp, name, [service], timeout=timeout, data=data,
                           ok_message=f"{service} already at {replicas} container(s)")
        steps = [comp.step("up", "-d", "--no-deps", "--no-recreate", "--scale",
                           f"{service}={replicas}", service, why=why)]
        return apply(t, name, steps, ok_message="",
                     verify=lambda: _verify(comp, service, replicas, timeout=timeout),
                     action=f"scale {service} from {len(before)} to {replicas} with "
                            f"{comp.cli.label}",
                     done=f"scaled {service} from {len(before)} to {replicas} with "
                          f"{comp.cli.label}",
                     diff=Diff(states(before), f"{service}: {replicas} container(s), running "
                                               "(healthy)"),
                     data=data, on_failure=lambda: evidence(eng, comp.containers(service)))


def _verify(comp: Compose, service: str, replicas: int, *, timeout: float) -> Verification:
    if replicas == 0:
        left = comp.containers(service)
        return Verification(not left, f"{len(left)} container(s) of {service} left"
                            if left else f"{service}: no container", "",
                            {"containers": [c.to_dict() for c in left]})
    deadline = time.monotonic() + timeout
    while True:
        waited = wait_ready(comp, [service], timeout=max(0.0, deadline - time.monotonic()))
        count = len(waited.containers)
        if not waited.ok or count == replicas or time.monotonic() >= deadline:
            break
        time.sleep(_POLL)  # compose may still be removing the ones above `replicas`
    data = {"containers": [c.to_dict() for c in waited.containers]}
    if not waited.ok:
        return Verification(False, waited.message, evidence(comp.eng, waited.bad or
                                                            waited.containers), data)
    if count != replicas:
        return Verification(False, f"{count} container(s) of {service}, not {replicas}",
                            states(waited.containers), data)
    return Verification(True, f"{count} container(s): {waited.message}", "", data)
