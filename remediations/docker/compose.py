"""Compose services restarted, stopped, started or brought to a tag; the project's facts and logs.

Every remediation reads the containers through the Docker SDK, acts with the compose CLI
of the Docker host (v2 or v1: `compose_version` in the inventory, else v2 where it is
installed), names it in what it did (`restarted backend with docker compose v2.26.1`) and
in its data (`compose`), and waits until each container it touched runs and is healthy
(or just runs, without a healthcheck). A restart is done once per run: containers started
after the run began count as restarted. See `project` for how the project and the CLI are
found and `engine` for how the engine is reached.

A database service (by name, image or the inventory's `db_service`: `core.databases`) is
restarted or stopped only with `allow_database_restart=True`, else `DatabaseRestartRefused`
before any command that acts (before the host is reached, unless only its image tells).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from remediations.core import validate
from remediations.core.databases import compose_databases, named, refused
from remediations.core.errors import InvalidInput
from remediations.core.result import Diff, Result, Status, Step
from remediations.core.scripts import script
from remediations.core.values import Release
from remediations.docker.engine import ContainerFact, engine, evidence
from remediations.docker.project import (
    Compose,
    env_name,
    open_compose,
    project,
    service_name,
    service_names,
    states,
    wait_evidence,
    wait_ready,
)
from remediations.host.disk import absolute_path, human
from remediations.host.health import health_agrees
from remediations.run import markers
from remediations.run.contract import Verification, apply
from remediations.run.target import Target

INCIDENT_DIR = "/var/lib/remediations/incidents"
_SINCE = re.compile(r"^[0-9A-Za-z:.+-]{1,40}$")
_SAVE = script("compose-save.sh")


def plan_service_restarted(containers: Sequence[ContainerFact], *, run_started: datetime) -> str:
    """`up` (no container yet), `restart`, or `` when every container started during this run."""
    if not containers:
        return "up"
    if all(c.started_at is not None and c.started_at >= run_started for c in containers):
        return ""
    return "restart"


def refuse_databases(t: Target, allowed: bool, services: Sequence[str],
            containers: Sequence[ContainerFact] = (), *, verb: str = "restart",
            stack: str = "") -> None:
    """`DatabaseRestartRefused` for the databases among `services` unless `allowed` (`stack`:
    the project whose `down` would stop them)."""
    images: dict[str, list[str]] = {}
    for c in containers:
        images.setdefault(c.service, []).append(c.image)
    dbs = {} if allowed else compose_databases(services, images=images,
                                               db_service=t.var("db_service"))
    if dbs and stack:
        raise refused(f"the compose project {stack}, whose `down` stops {', '.join(dbs)}",
                      "; ".join(dbs.values()), also="; or restart the other services one by "
                      "one (compose-restart --service NAME)")
    for service, why in dbs.items():
        raise refused(f"compose service {service}", why, verb=verb)


def settled(comp: Compose, name: str, services: Sequence[str], *, timeout: float,
             ok_message: str, data: Mapping[str, Any]) -> Result:
    """Nothing to do: `ok` once the services are ready (one look in check mode), else `failed`."""
    t = comp.t
    waited = wait_ready(comp, services, timeout=0 if t.check else timeout)
    extra = {**data, "containers": [c.to_dict() for c in waited.containers]}
    if waited.ok:
        return t.result(name, Status.OK, f"{ok_message}; {waited.message}", data=extra)
    return t.result(name, Status.FAILED, f"{ok_message}, but {waited.message}",
                    evidence=wait_evidence(comp, waited), data=extra)


def verify_ready(comp: Compose, services: Sequence[str], *, timeout: float,
                  started_after: datetime | None = None) -> Verification:
    waited = wait_ready(comp, services, timeout=timeout, started_after=started_after)
    data = {"containers": [c.to_dict() for c in waited.containers]}
    if not waited.ok:
        return Verification(False, waited.message, wait_evidence(comp, waited), data)
    return Verification(True, waited.message, "", data)


def compose_service_restarted(t: Target, service: str, *, timeout: float = 120.0,
                              allow_database_restart: bool = False) -> Result:
    """Every container of `service` restarted during this run, then healthy; once per run.

    Skipped when each container's `State.StartedAt` is after the run began; a service
    without a container is brought up (`up -d --no-deps`). `failed` with the container's
    last log lines and healthcheck output when it dies or is not healthy within `timeout`.
    A database service is refused unless `allow_database_restart` (see the module).
    Example: `compose_service_restarted(t, "backend")`.
    """
    timeout = validate.seconds(timeout, "timeout")
    service = service_name(service)
    name = "compose_service_restarted"
    refuse_databases(t, allow_database_restart, [service])
    with engine(t) as eng:
        comp = open_compose(t, eng)
        before = comp.containers(service)
        refuse_databases(t, allow_database_restart, [service], before)
        if not before:
            comp.require([service])
        action = plan_service_restarted(before, run_started=t.run.started_at)
        data = {"service": service, "project": comp.proj.name, "compose": comp.cli.label,
                "before": [c.to_dict() for c in before]}
        if not action:
            first = min(c.started_at for c in before if c.started_at)
            return settled(comp, name, [service], timeout=timeout, data=data,
                            ok_message=f"{service} already restarted by this run at {first:%H:%M:%S}")
        args = ("restart", service) if action == "restart" else ("up", "-d", "--no-deps", service)
        steps = [comp.step(*args, why=f"{service}: {action}")]
        return apply(t, name, steps, ok_message="",
                     verify=lambda: verify_ready(comp, [service], timeout=timeout,
                                                  started_after=t.run.started_at),
                     action=f"{action} {service} with {comp.cli.label}",
                     done=f"{'restarted' if action == 'restart' else 'brought up'} {service} "
                          f"with {comp.cli.label}",
                     diff=Diff(states(before), f"{service}: running (healthy), started by this run"),
                     data=data, on_failure=lambda: evidence(eng, before))


def compose_stack_restarted(t: Target, *, timeout: float = 300.0,
                            env: Mapping[str, str] | None = None,
                            allow_database_restart: bool = False) -> Result:
    """The whole project taken down and up again (`down`, `up -d`), then every service healthy.

    Once per run (a marker on the host). `env` is passed to compose, e.g.
    `{"APP_TAG": "v1.2.2"}` to keep a service at the tag it was rolled back to: without it
    `up -d` starts every service as the compose file's defaults say. Volumes are kept.

    A project with a database service is refused unless `allow_database_restart` (`down`
    stops it too), rather than restarted around it: whoever asks for a stack restart
    expects the clean `down`/`up -d` it names, or nothing and the reason; a "restarted"
    stack whose database (and network) was quietly kept would mislead. The refusal names
    the ways out: the flag, or restarting the other services one by one.
    Example: `compose_stack_restarted(t, timeout=300, allow_database_restart=True)`.
    """
    timeout = validate.seconds(timeout, "timeout")
    env = {env_name(k): str(v) for k, v in (env or {}).items()}
    name = "compose_stack_restarted"
    refuse_databases(t, allow_database_restart, named(t.var("db_service")), stack=project(t).name)
    with engine(t) as eng:
        comp = open_compose(t, eng)
        key = f"compose-stack-restarted-{comp.proj.name}"
        services = comp.services(env)
        before = comp.containers()
        refuse_databases(t, allow_database_restart, services, before, stack=comp.proj.name)
        data = {"project": comp.proj.name, "services": services,
                "compose": comp.cli.label, "before": [c.to_dict() for c in before]}
        if markers.done(t.conn, t.run, key):
            return settled(comp, name, services, timeout=timeout, data=data,
                            ok_message=f"{comp.proj.name} already restarted by this run")
        steps = [comp.step("down", why="stop and remove the project's containers and network"),
                 comp.step("up", "-d", why="create and start every service", env=env),
                 markers.mark_step(t.run, key)]
        return apply(t, name, steps, ok_message="",
                     verify=lambda: verify_ready(comp, services, timeout=timeout,
                                                  started_after=t.run.started_at),
                     action=f"take {comp.proj.name} down and up again ({len(services)} services) "
                            f"with {comp.cli.label}",
                     done=f"restarted {comp.proj.name} ({comp.cli.label} down, up -d)",
                     diff=Diff(states(before), f"{', '.join(services)}: new containers, healthy"),
                     data=data, on_failure=lambda: evidence(eng, comp.containers()))


def compose_services_stopped(t: Target, services: Sequence[str], *,
                             allow_database_restart: bool = False) -> Result:
    """`services` not running (`stop`, containers kept), e.g. to free memory for the rest.

    A database service is refused unless `allow_database_restart` (see the module).
    Example: `compose_services_stopped(t, ["worker"])`.
    """
    wanted = service_names(services)
    name = "compose_services_stopped"
    refuse_databases(t, allow_database_restart, wanted, verb="stop")
    with engine(t) as eng:
        comp = open_compose(t, eng)
        found = comp.by_service(wanted)
        refuse_databases(t, allow_database_restart, wanted, [c for cs in found.values() for c in cs],
                verb="stop")
        if absent := [s for s, cs in found.items() if not cs]:
            comp.require(absent)
        running = [s for s, cs in found.items()
                   if any(c.state in ("running", "restarting", "paused") for c in cs)]
        before = [c for cs in found.values() for c in cs]
        steps = [comp.step("stop", *running, why="running")] if running else []

        def verify() -> Verification:
            deadline = time.monotonic() + 60
            while True:
                after = [c for cs in comp.by_service(wanted).values() for c in cs]
                still = [c for c in after if c.state in ("running", "restarting", "paused")]
                if not still or time.monotonic() > deadline:
                    break
                time.sleep(1)
            data = {"containers": [c.to_dict() for c in after]}
            if still:
                return Verification(False, f"still running: {', '.join(c.name for c in still)}",
                                    evidence(eng, still), data)
            return Verification(True, ", ".join(f"{c.name} {c.state}" for c in after), "", data)

        return apply(t, name, steps, verify=verify,
                     ok_message=f"{', '.join(wanted)} not running",
                     action=f"stop {', '.join(running)} with {comp.cli.label}",
                     done=f"stopped {', '.join(running)} with {comp.cli.label}",
                     diff=Diff(states(before), "\n".join(f"{s}: exited" for s in running)),
                     data={"services": wanted, "project": comp.proj.name,
                           "compose": comp.cli.label, "before": [c.to_dict() for c in before]})


def compose_services_started(t: Target, services: Sequence[str], *,
                             timeout: float = 120.0) -> Result:
    """`services` running and healthy: stopped containers started (their config kept), missing
    ones created with `up -d --no-deps`, paused ones unpaused.

    Example: `compose_services_started(t, ["worker"], timeout=60)`.
    """
    timeout = validate.seconds(timeout, "timeout")
    wanted = service_names(services)
    name = "compose_services_started"
    with engine(t) as eng:
        comp = open_compose(t, eng)
        found = comp.by_service(wanted)
        if absent := [s for s, cs in found.items() if not cs]:
            comp.require(absent)
        paused = [s for s, cs in found.items() if any(c.state == "paused" for c in cs)]
        stopped = [s for s, cs in found.items()
                   if cs and any(c.state not in ("running", "paused", "restarting") for c in cs)]
        steps = ([comp.step("start", *stopped, why="stopped")] if stopped else []) + (
            [comp.step("unpause", *paused, why="paused")] if paused else []) + (
            [comp.step("up", "-d", "--no-deps", *absent, why="no container")] if absent else [])
        before = [c for cs in found.values() for c in cs]
        data = {"services": wanted, "project": comp.proj.name, "compose": comp.cli.label,
                "before": [c.to_dict() for c in before]}
        if not steps:
            return settled(comp, name, wanted, timeout=timeout, data=data,
                            ok_message=f"{', '.join(wanted)} running")
        acting = ", ".join(dict.fromkeys(stopped + paused + absent))
        return apply(t, name, steps, ok_message="",
                     verify=lambda: verify_ready(comp, wanted, timeout=timeout),
                     action=f"start {acting} with {comp.cli.label}",
                     done=f"started {acting} with {comp.cli.label}",
                     diff=Diff(states(before), f"{', '.join(wanted)}: running (healthy)"),
                     data=data, on_failure=lambda: evidence(eng, before))


def compose_service_at_tag(t: Target, service: str, tag: str, *, timeout: float = 180.0,
                           tag_var: str = "APP_TAG") -> Result:
    """`service` runs the image tagged `tag`, healthy, and `/up` of `health_url` agrees.

    The compose file must take the tag from `${tag_var}` (`image: app:${APP_TAG:-v1.2.3}`):
    `tag_var=tag <compose> up -d --no-deps service` recreates only that service. Nothing
    is retagged (a retag would move every service using the image, and hide the change
    from `compose config`). `ok`, container untouched, when it already runs that image.
    Another `up` without the variable brings the default tag back.
    Example: `compose_service_at_tag(t, "backend", "v1.2.2")`.
    """
    timeout = validate.seconds(timeout, "timeout")
    service = service_name(service)
    tag = Release.parse(tag)
    env = {env_name(tag_var): tag}
    name = "compose_service_at_tag"
    with engine(t) as eng:
        comp = open_compose(t, eng)
        spec = (comp.config(env).get("services") or {}).get(service)
        if not isinstance(spec, dict):
            comp.require([service])
            raise InvalidInput(f"{t.name}: no service {service} in {comp.proj.file}")
        image = str(spec.get("image") or "")
        if not image.endswith(f":{tag}"):
            raise InvalidInput(f"{t.name}: {service}'s image does not take its tag from "
                               f"${{{tag_var}}} ({tag_var}={tag} gives {image or 'no image'})")
        image_id = eng.image_id(image)
        before = comp.containers(service)
        data: dict[str, Any] = {"service": service, "tag": tag, "image": image,
                                "image_id": image_id, "project": comp.proj.name,
                                "compose": comp.cli.label,
                                "before": [c.to_dict() for c in before]}
        if image_id is None:
            return t.result(name, Status.FAILED, f"image {image} is not on the engine; "
                            "build or load it first (nothing was pulled or changed)", data=data)
        if before and all(c.image == image and c.image_id == image_id and c.running
                          for c in before):
            ids = ", ".join(c.id[:12] for c in before)
            return settled(comp, name, [service], timeout=timeout, data=data,
                            ok_message=f"{service} already runs {image} (container {ids})")
        steps = [comp.step("up", "-d", "--no-deps", service, env=env,
                           why=f"recreate {service} from {image}")]
        started = time.monotonic()

        def verify() -> Verification:
            ready = verify_ready(comp, [service], timeout=timeout)
            if not ready.ok:
                return ready
            after = comp.containers(service)
            wrong = [c for c in after if c.image_id != image_id]
            info = {**ready.data, "container_ids": [c.id for c in after]}
            if wrong:
                return Verification(False, f"{wrong[0].name} runs {wrong[0].image}, not {image}",
                                    evidence(eng, wrong), info)
            url = t.var("health_url")
            if not url:
                return Verification(True, f"{ready.message}; {image}", "", info)
            left = max(5.0, timeout - (time.monotonic() - started))
            healthy, why = health_agrees(validate.http_url(str(url)), tag, wait=left)
            if not healthy:
                return Verification(False, f"{url}: {why}", evidence(eng, after), info)
            return Verification(True, f"{ready.message}; {url}: {why}", "", info)

        old = ", ".join(sorted({c.image for c in before})) or "no container"
        return apply(t, name, steps, verify=verify, ok_message="",
                     action=f"recreate {service} from {image} ({tag_var}={tag}) "
                            f"with {comp.cli.label}",
                     done=f"recreated {service} from {image} with {comp.cli.label}",
                     diff=Diff(f"{service}: {old}", f"{service}: {image}"), data=data,
                     on_failure=lambda: evidence(eng, comp.containers(service)))


def compose_services(t: Target) -> Result:
    """A fact: each service of the project with its state, health, image, container and start.

    `ok` when every service runs and is healthy, else `failed` naming the others.
    Data: `{"services": {"backend": {"state", "health", "image", "container_id",
    "started_at", "replicas"}}}`. Example: `compose_services(t)`.
    """
    name = "compose_services"
    with engine(t) as eng:
        comp = open_compose(t, eng)
        found = comp.by_service(comp.services())
    table: dict[str, dict[str, Any]] = {}
    for service, cs in found.items():
        first = cs[0].to_dict() if cs else {"state": "missing", "health": None, "image": None,
                                            "id": None, "started_at": None}
        table[service] = {"state": first["state"], "health": first["health"],
                          "image": first["image"], "container_id": first["id"],
                          "started_at": first["started_at"], "replicas": len(cs)}
    bad = [s for s, cs in found.items() if not cs or not all(c.ready for c in cs)]
    summary = ", ".join(f"{s} {v['state']}" + (f" ({v['health']})" if v["health"] else "")
                        for s, v in table.items())
    data = {"project": comp.proj.name, "compose": comp.cli.label, "services": table}
    if bad:
        return t.result(name, Status.FAILED, f"{len(bad)} of {len(table)} not ready: "
                        f"{', '.join(bad)}", evidence=summary, data=data)
    return t.result(name, Status.OK, f"all ready: {summary}", data=data)


def compose_logs_saved(t: Target, *, services: Sequence[str] | None = None,
                       since: str | None = None, dest_dir: str = INCIDENT_DIR) -> Result:
    """The project's logs saved on the Docker host as incident evidence, once per run.

    `<dest_dir>/<UTC run start>-<run id>-<project>-compose.log` (`logs --no-color
    --timestamps`). `since` (`10m`, a timestamp) needs Compose v2: v1 has no such option.
    Example: `compose_logs_saved(t, services=["backend"])`.
    """
    wanted = service_names(services) if services else []
    dest_dir = absolute_path(dest_dir, "dest_dir")
    if since is not None and not _SINCE.fullmatch(since):
        raise InvalidInput(f"not a valid --since value: {since!r}")
    name = "compose_logs_saved"
    with engine(t) as eng:
        comp = open_compose(t, eng)
        if since is not None and comp.cli.major < 2:
            raise InvalidInput(f"{t.name}: {comp.cli.label} has no `logs --since`; leave since "
                               "out or use Compose v2 (compose_version: v2)")
        path = (f"{dest_dir}/{t.run.started_at:%Y%m%dT%H%M%SZ}-"
                f"{validate.run_id(t.run.run_id)}-{comp.proj.name}-compose.log")
        logs = comp.argv("logs", "--no-color", "--timestamps",
                         *(("--since", since) if since else ()), *wanted)
        saved = _saved(t, path)
        steps = [] if saved else [Step(["sh", "-c", _SAVE, "_", dest_dir, path, *logs],
                                       f"save the logs of {comp.proj.name} to {path}")]

        def verify() -> Verification:
            info = _saved(t, path)
            if info is None:
                return Verification(False, f"no {path} after saving the logs")
            return Verification(True, f"{human(info['size'])}, sha256 {info['sha256'][:12]}",
                                "", info)

        what = ", ".join(wanted) or "every service"
        return apply(t, name, steps, verify=verify,
                     action=f"save the logs of {what} to {path} with {comp.cli.label}",
                     done=f"saved the logs of {what} to {path} with {comp.cli.label}",
                     ok_message=f"logs of run {t.run.run_id} already saved in {path}",
                     data={"path": path, "project": comp.proj.name, "compose": comp.cli.label,
                           **(saved or {})})


def _saved(t: Target, path: str) -> dict[str, Any] | None:
    res = t.conn.run(["sh", "-c", 'stat -c %s -- "$1" && sha256sum < "$1"', "_", path],
                     check=False)
    lines = res.stdout.split()
    if res.failed or len(lines) < 2:
        return None
    return {"path": path, "size": int(lines[0]), "sha256": lines[1]}
