"""Invoke tasks for Docker and compose hosts (registered by `build_namespace` via `register`)."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from typing import Any

from invoke.collection import Collection

from remediations.cli.options import (
    Common,
    fail,
    make_task,
    reporter_for,
    required,
    run_remediation,
    selected_hosts,
    validated,
)
from remediations.cli.values import DAY, Range, shown


def _services(opts: Common, text: str) -> list[str]:
    from remediations.docker.project import service_names

    required(opts, text, "--services", "worker,redis")
    return list(validated(opts, service_names, [s.strip() for s in text.split(",") if s.strip()]))


def _service(opts: Common, text: str) -> str:
    from remediations.docker.project import service_name

    required(opts, text, "--service", "backend")
    return str(validated(opts, service_name, text))


def _database_guard(opts: Common, services: list[str] | None, allowed: bool, *,
                    verb: str, task: str = "", kind: str = "compose service",
                    ) -> tuple[str, str] | None:
    """Exit 1 naming --allow-database-restart when the inventory or a name says one of
    `services` (None: the inventory's `db_service`) is a database; with the flag, the
    --yes confirmation `run_remediation` asks for.

    An image tells only on the host: there the remediation refuses, before it acts. So
    the flag always needs --yes (or --check), database or not as far as can be told here.
    `task` names the task in that confirmation (default compose-`verb`), `kind` what
    `services` are in the refusal (a container's name can be its compose service's).
    """
    from remediations.core.databases import compose_databases, named, refused

    found: dict[str, str] = {}
    for host in selected_hosts(opts):
        wanted = named(host.var("db_service")) if services is None else services
        found.update(compose_databases(wanted, db_service=host.var("db_service")))
    if found and not allowed:
        service, why = next(iter(found.items()))
        what = (f"{kind} {service}" if services is not None else
                f"the compose project, whose `down` stops {service}")
        raise fail(reporter_for(opts), str(refused(what, why, verb=verb)))
    if not allowed:
        return None
    doing = {"restart": "restarting", "stop": "stopping", "scale": "scaling"}[verb]
    return ((f"{doing} {', '.join(found)} drops every database connection" if found else
             f"--allow-database-restart lets {task or 'compose-' + verb} take a database down"),
            "see what it would run")


def compose_restart(c: Any, opts: Common, service: str = "", wait: float = 120.0,
                    allow_database_restart: bool = False) -> None:
    """Restart a compose service once per run and wait until it is healthy (a database needs
    --allow-database-restart --yes)."""
    from remediations.docker.compose import compose_service_restarted

    name = _service(opts, service)
    confirm = _database_guard(opts, [name], allow_database_restart, verb="restart")
    fn = functools.partial(compose_service_restarted, service=name, timeout=wait,
                           allow_database_restart=allow_database_restart)
    run_remediation(opts, fn, name="compose_service_restarted", confirm=confirm)


def compose_scale(c: Any, opts: Common, service: str = "", replicas: int = -1,
                  wait: float = 120.0, allow_database_restart: bool = False) -> None:
    """Run a compose service as --replicas containers (up --scale), waited until all are
    healthy; ok when already there (a database needs --allow-database-restart --yes)."""
    from remediations.docker.scale import compose_service_scaled

    name = _service(opts, service)
    if replicas < 0:
        raise fail(reporter_for(opts), "--replicas is required, e.g. --replicas 2")
    confirm = _database_guard(opts, [name], allow_database_restart, verb="scale",
                              task="compose-scale")
    fn = functools.partial(compose_service_scaled, service=name, replicas=replicas,
                           timeout=wait, allow_database_restart=allow_database_restart)
    run_remediation(opts, fn, name="compose_service_scaled", confirm=confirm)


def compose_restart_stack(c: Any, opts: Common, wait: float = 300.0,
                          allow_database_restart: bool = False) -> None:
    """Take the whole compose project down and up again (once per run); wait until all are
    healthy. A project with a database needs --allow-database-restart --yes."""
    from remediations.docker.compose import compose_stack_restarted

    confirm = _database_guard(opts, None, allow_database_restart, verb="restart")
    fn = functools.partial(compose_stack_restarted, timeout=wait,
                           allow_database_restart=allow_database_restart)
    run_remediation(opts, fn, name="compose_stack_restarted", confirm=confirm)


def compose_stop(c: Any, opts: Common, services: str = "",
                 allow_database_restart: bool = False) -> None:
    """Stop compose services (containers kept), e.g. to free memory for the others (a
    database needs --allow-database-restart --yes)."""
    from remediations.docker.compose import compose_services_stopped

    names = _services(opts, services)
    confirm = _database_guard(opts, names, allow_database_restart, verb="stop")
    fn = functools.partial(compose_services_stopped, services=names,
                           allow_database_restart=allow_database_restart)
    run_remediation(opts, fn, name="compose_services_stopped", confirm=confirm)


def compose_start(c: Any, opts: Common, services: str = "", wait: float = 120.0) -> None:
    """Start compose services (stopped containers keep their config) and wait until healthy."""
    from remediations.docker.compose import compose_services_started

    fn = functools.partial(compose_services_started, services=_services(opts, services),
                           timeout=wait)
    run_remediation(opts, fn, name="compose_services_started")


def compose_tag(c: Any, opts: Common, service: str = "", tag: str = "", tag_var: str = "APP_TAG",
                wait: float = 180.0) -> None:
    """Run a compose service at an image tag (TAG_VAR=tag up -d --no-deps); ok if already there."""
    from remediations.core.values import Release
    from remediations.docker.compose import compose_service_at_tag
    from remediations.docker.project import env_name

    name = _service(opts, service)
    required(opts, tag, "--tag", "v1.2.2")
    fn = functools.partial(compose_service_at_tag, service=name,
                           tag=validated(opts, Release.parse, tag),
                           tag_var=validated(opts, env_name, tag_var),
                           timeout=wait)
    run_remediation(opts, fn, name="compose_service_at_tag")


def restart_if_memory(c: Any, opts: Common, container: str = "", max_mb: float = 0.0,
                      max_percent: float = 0.0, wait: float = 120.0,
                      allow_database_restart: bool = False) -> None:
    """Restart a container (or every container of a compose service) above a memory threshold
    (a database needs --allow-database-restart --yes)."""
    from remediations.docker.containers import container_restarted_above_memory
    from remediations.docker.engine import container_ref

    required(opts, container, "--container", "backend")
    ref = validated(opts, container_ref, container)
    if bool(max_mb) == bool(max_percent):
        raise fail(reporter_for(opts), "give one of --max-mb and --max-percent")
    confirm = _database_guard(opts, [ref], allow_database_restart, verb="restart",
                              task="restart-if-memory", kind="container")
    fn = functools.partial(container_restarted_above_memory, service_or_container=ref,
                           max_bytes=int(max_mb * 1024 * 1024) if max_mb else None,
                           max_percent=max_percent or None,
                           timeout=wait, allow_database_restart=allow_database_restart)
    run_remediation(opts, fn, name="container_restarted_above_memory", confirm=confirm)


def container_stats(c: Any, opts: Common, container: str = "") -> None:
    """Show a container's (or a compose service's) memory in use, one sample."""
    from remediations.docker import containers
    from remediations.docker.engine import container_ref

    required(opts, container, "--container", "backend")
    fn = functools.partial(containers.container_stats,
                           name=validated(opts, container_ref, container))
    run_remediation(opts, fn, name="container_stats", lock=False)


def docker_prune(c: Any, opts: Common, until: str = "", label: str = "", all_images: bool = False,
                 build_cache: bool = False, volumes: bool = False, containers: bool = True,
                 images: bool = True) -> None:
    """Remove stopped containers and dangling images (never one a container uses); --check lists them."""
    from remediations.docker.prune import docker_pruned, parse_label_filter, parse_until

    if until:
        validated(opts, parse_until, until, datetime.now(UTC))
    labels = [x.strip() for x in label.split(",") if x.strip()]
    for item in labels:
        if ".." in validated(opts, parse_label_filter, item).key:
            raise fail(reporter_for(opts), f"not a valid label filter: {shown(item)} (a label "
                                           "key has no '..': com.example.role)")
    if build_cache and labels:
        raise fail(reporter_for(opts), "build cache records carry no labels: drop --build-cache "
                                       "or --label")
    fn = functools.partial(docker_pruned, containers=containers, images=images,
                           build_cache=build_cache, until=until or None, labels=tuple(labels),
                           dangling_only=not all_images, volumes=volumes)
    run_remediation(opts, fn, name="docker_pruned",
                    confirm=("docker-prune removes data", "list what it would remove"))


def clear_container_logs(c: Any, opts: Common, container: str = "", keep_lines: int = 0) -> None:
    """Cut a container's json-file log to its last --keep-lines lines (0: empty), once per run."""
    from remediations.docker.containers import container_logs_cleared
    from remediations.docker.engine import container_ref

    required(opts, container, "--container", "backend")
    fn = functools.partial(container_logs_cleared,
                           container=validated(opts, container_ref, container),
                           keep_lines=keep_lines)
    run_remediation(opts, fn, name="container_logs_cleared",
                    confirm=("clear-container-logs drops the container's log lines",
                             "see what it would do"))


def save_compose_logs(c: Any, opts: Common, services: str = "", since: str = "",
                      dest_dir: str = "") -> None:
    """Save the compose project's logs to a timestamped file on the Docker host, once per run."""
    from remediations.docker.compose import INCIDENT_DIR, compose_logs_saved
    from remediations.host.disk import absolute_path

    wanted = _services(opts, services) if services else None
    if since and not _SINCE.fullmatch(since):
        raise fail(reporter_for(opts), f"--since must be a duration such as 10m or 1h30m, a Unix "
                                       f"time or a date such as 2026-11-23T10:00:00Z, got "
                                       f"{shown(since)}")
    directory = validated(opts, absolute_path, dest_dir or INCIDENT_DIR, "--dest-dir")
    fn = functools.partial(compose_logs_saved, services=wanted, since=since or None,
                           dest_dir=directory)
    run_remediation(opts, fn, name="compose_logs_saved")


# What `docker compose logs --since` takes: a Go duration, a Unix time, or an RFC 3339 date.
_SINCE = re.compile(r"([0-9]{1,9}(\.[0-9]{1,9})?(ns|us|ms|s|m|h)){1,6}|[0-9]{1,11}(\.[0-9]{1,9})?"
                    r"|[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?"
                    r"(Z|[+-][0-9]{2}:?[0-9]{2})?)?")


def compose_ps(c: Any, opts: Common) -> None:
    """Show each compose service's state, health, image, container and start time."""
    from remediations.docker.compose import compose_services

    run_remediation(opts, compose_services, name="compose_services", lock=False)


_WAIT = Range(0, DAY, low_open=True)


def register(ns: Collection) -> None:
    """Add the Docker and compose tasks to `ns`."""
    wait = ("wait", 120.0, "seconds to wait for the services to be healthy", _WAIT)
    allow = ("allow_database_restart", False, "allow it on a database (mysql, mariadb, postgres, "
             "pgbouncer... by name, image or the inventory's db_service): a last resort")
    yes = "with --allow-database-restart: confirm taking a database down (not needed with --check)"
    ns.add_task(make_task(compose_restart, name="compose-restart", params=(
        ("service", "", "the compose service, e.g. backend"), wait, allow), yes=yes))
    ns.add_task(make_task(compose_scale, name="compose-scale", params=(
        ("service", "", "the compose service, e.g. worker"),
        ("replicas", -1, "how many containers it should run, e.g. 2",
         Range(0, 100, unset=-1)), wait, allow), yes=yes))
    ns.add_task(make_task(compose_restart_stack, name="compose-restart-stack", params=(
        ("wait", 300.0, "seconds to wait for every service to be healthy", _WAIT), allow),
        yes=yes))
    ns.add_task(make_task(compose_stop, name="compose-stop", params=(
        ("services", "", "comma-separated compose services, e.g. worker"), allow), yes=yes))
    ns.add_task(make_task(compose_start, name="compose-start", params=(
        ("services", "", "comma-separated compose services, e.g. worker"), wait)))
    ns.add_task(make_task(compose_tag, name="compose-tag", params=(
        ("service", "", "the compose service, e.g. backend"),
        ("tag", "", "the image tag to run, e.g. v1.2.2"),
        ("tag_var", "APP_TAG", "the variable the compose file takes the tag from"),
        ("wait", 180.0, "seconds to wait for the service to be healthy", _WAIT))))
    ns.add_task(make_task(restart_if_memory, name="restart-if-memory", params=(
        ("container", "", "a container name or id, or a compose service"),
        ("max_mb", 0.0, "restart when it uses more than this many MiB",
         Range(0, 2**42, low_open=True, unset=0.0)),
        ("max_percent", 0.0, "restart when it uses more than this share of its limit",
         Range(0, 100, low_open=True, unset=0.0)), wait, allow), yes=yes))
    ns.add_task(make_task(container_stats, name="container-stats", params=(
        ("container", "", "a container name or id, or a compose service"),)))
    ns.add_task(make_task(docker_prune, name="docker-prune", params=(
        ("until", "", "only what was created before: 24h, 1h30m, a Unix time or an ISO date"),
        ("label", "", "comma-separated label filters: k, k=v, !k, !k=v"),
        ("all_images", False, "unused tagged images too, not only dangling ones"),
        ("build_cache", False, "build cache too (no label filter possible)"),
        ("volumes", False, "unused volumes too (never without this flag)"),
        ("containers", True, "stopped containers (--no-containers to keep them)"),
        ("images", True, "images (--no-images to keep them)")), yes="confirm removing them (not needed with --check)"))
    ns.add_task(make_task(clear_container_logs, name="clear-container-logs", params=(
        ("container", "", "a container name or id, or a compose service"),
        ("keep_lines", 0, "lines to keep at the end of the log", Range(0, 10**8))),
        yes="confirm dropping the log lines (not needed with --check)"))
    ns.add_task(make_task(save_compose_logs, name="save-compose-logs", params=(
        ("services", "", "comma-separated services (default: every one)"),
        ("since", "", "only logs since: 10m, a timestamp (Compose v2 only)"),
        ("dest_dir", "", "folder on the Docker host (default /var/lib/remediations/incidents)"))))
    ns.add_task(make_task(compose_ps, name="compose-ps"))
