"""Single containers on a Docker host: memory facts, a restart above a memory threshold, logs cleared.

A container is named by its name or id, or by a compose service of the host's project
(`compose_project_dir` / `compose_project` in the inventory): then every container of
that service is meant. A database container (by its compose service's name, the inventory's
`db_service` or its image: `core.databases`) is restarted only with
`allow_database_restart=True`, else `DatabaseRestartRefused` before any command that acts.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from remediations.core import validate
from remediations.core.databases import compose_database, named, refused
from remediations.core.errors import InvalidInput
from remediations.core.result import Diff, Result, Status, Step
from remediations.docker.engine import (
    ContainerFact,
    ContainerStats,
    DockerEngine,
    NotFound,
    container_ref,
    engine,
    engine_target,
    evidence,
)
from remediations.docker.project import PROJECT_LABEL, SERVICE_LABEL, judge, project
from remediations.host.disk import MAX_BYTES, human
from remediations.host.logs import MAX_KEEP_LINES, log_facts, plan_log_truncated
from remediations.run import markers
from remediations.run.contract import Verification, apply
from remediations.run.target import Target


def resolve(t: Target, eng: DockerEngine, ref: str) -> list[ContainerFact]:
    """The container named `ref`, else the containers of compose service `ref` of the host's
    project, else the container whose id starts with `ref`."""
    ref = container_ref(ref)
    try:
        named_one: ContainerFact | None = eng.container(ref)
    except NotFound:
        named_one = None
    # The engine also answers a prefix of an id: `db` may be the redis container whose id
    # starts with db..., so a compose service of that name comes before such a prefix.
    if named_one is not None and named_one.name == ref:
        return [named_one]
    where = ""
    if t.var("compose_project_dir") or t.var("compose_project"):
        proj = project(t).name if t.var("compose_project_dir") else str(t.var("compose_project"))
        found = eng.containers(f"{PROJECT_LABEL}={proj}", f"{SERVICE_LABEL}={ref}",
                               "com.docker.compose.oneoff=False")
        if found:
            return found
        where = f" and no service {ref!r} in project {proj}"
    if named_one is not None:
        return [named_one]
    raise NotFound(f"{t.name}: no container {ref!r}{where}")


def _refuse(t: Target, allowed: bool, ref: str, found: Sequence[ContainerFact] = ()) -> None:
    """`DatabaseRestartRefused` unless `allowed` when `ref` (a name: before the host is reached)
    or a container of `found` (its compose service, or its image) is a database."""
    if allowed:
        return
    db = named(t.var("db_service"))
    if why := compose_database(ref, db_services=db):
        raise refused(f"container {ref}", why)
    for c in found:
        if why := compose_database(c.service, [c.image], db_services=db):
            raise refused(f"container {c.name}", why)


def _memory(s: ContainerStats) -> str:
    limit = f" of {human(s.memory_limit)} ({s.memory_percent:.1f}%)" if s.memory_limit else ""
    return f"{human(s.memory_bytes)}{limit}"


def _stats_dict(s: ContainerStats) -> dict[str, Any]:
    return {"memory_bytes": s.memory_bytes, "memory_limit": s.memory_limit,
            "memory_percent": round(s.memory_percent, 2), "pids": s.pids}


def container_stats(t: Target, name: str) -> Result:
    """A fact: memory in use (page cache excluded, as `docker stats`) and pids, one sample.

    Data: `{"containers": {"remlab_backend_1": {"memory_bytes", "memory_limit",
    "memory_percent", "pids", "state"}}}`. Example: `container_stats(t, "backend")`.
    """
    with engine(t) as eng:
        found = resolve(t, eng, name)
        table = {c.name: {**_stats_dict(eng.stats(c.id)), "state": c.state}
                 if c.running else {"state": c.state} for c in found}
    text = ", ".join(f"{n}: " + (f"{human(int(v['memory_bytes']))} ({v['memory_percent']}%)"
                                 if "memory_bytes" in v else str(v["state"]))
                     for n, v in table.items())
    return t.result("container_stats", Status.OK, text, data={"containers": table})


def over(s: ContainerStats, *, max_bytes: int | None, max_percent: float | None) -> bool:
    """Whether a sample is above the threshold (bytes, or percent of the container's limit)."""
    if max_bytes is not None:
        return s.memory_bytes > max_bytes
    return max_percent is not None and s.memory_percent > max_percent


def container_restarted_above_memory(t: Target, service_or_container: str, *,
                                     max_bytes: int | None = None,
                                     max_percent: float | None = None,
                                     timeout: float = 120.0, stop_timeout: int = 10,
                                     allow_database_restart: bool = False) -> Result:
    """No container uses more memory than the threshold: those above it restarted, once per run.

    Memory is one `docker stats` sample (page cache excluded). A container already
    started during this run is not restarted again (`ok`, saying it is still above).
    Verified: running (healthy, with a healthcheck) with a new start time. A database
    container is refused unless `allow_database_restart` (see the module), above or not.
    Example: `container_restarted_above_memory(t, "backend", max_bytes=512 * 2**20)`.
    """
    if (max_bytes is None) == (max_percent is None):
        raise InvalidInput("give exactly one of max_bytes and max_percent")
    if max_bytes is not None:
        max_bytes = validate.count(max_bytes, "max_bytes", low=1, high=MAX_BYTES)
    if max_percent is not None:
        max_percent = validate.number(max_percent, "max_percent", low=0, high=100, low_open=True)
    timeout = validate.seconds(timeout, "timeout")
    stop_timeout = validate.count(stop_timeout, "stop_timeout", high=int(validate.MAX_SECONDS))
    limit = human(max_bytes) if max_bytes is not None else f"{max_percent:g}%"
    name = "container_restarted_above_memory"
    service_or_container = container_ref(service_or_container)
    _refuse(t, allow_database_restart, service_or_container)
    with engine(t) as eng:
        found = resolve(t, eng, service_or_container)
        _refuse(t, allow_database_restart, service_or_container, found)
        samples = {c.id: eng.stats(c.id) for c in found if c.running}
        above = [c for c in found if c.id in samples and
                 over(samples[c.id], max_bytes=max_bytes, max_percent=max_percent)]
        again = [c for c in above if c.started_at and c.started_at >= t.run.started_at]
        todo = [c for c in above if c not in again]
        data = {"threshold": limit, "containers": {
            c.name: {**(_stats_dict(samples[c.id]) if c.id in samples else {}), "state": c.state,
                     "started_at": c.started_at.isoformat() if c.started_at else None}
            for c in found}}
        steps = [Step(["docker", "container", "restart", "-t", str(stop_timeout), c.id],
                      f"{c.name}: {_memory(samples[c.id])} is above {limit}") for c in todo]
        usage = "; ".join(f"{c.name} {_memory(samples[c.id])}" for c in found if c.id in samples)
        ok_message = (f"{usage}: above {limit} but already restarted by this run"
                      if again else f"{usage or 'not running'}: not above {limit}")

        def verify() -> Verification:
            fresh = _wait_restarted(eng, todo, t, timeout)
            bad = [c for c in fresh if not c.ready or not c.started_at
                   or c.started_at < t.run.started_at]
            after = {c.name: _memory(eng.stats(c.id)) for c in fresh if c.running}
            info = {"after": after, "containers_after": [c.to_dict() for c in fresh]}
            if bad:
                return Verification(False, f"{', '.join(c.describe() for c in bad)}",
                                    evidence(eng, bad), info)
            return Verification(True, "; ".join(f"{n} now {m}" for n, m in after.items()), "",
                                info)

        names = ", ".join(c.name for c in todo)
        return apply(engine_target(t, eng), name, steps, verify=verify, ok_message=ok_message,
                     action=f"restart {names} ({usage}; above {limit})", done=f"restarted {names}",
                     diff=Diff("\n".join(c.describe() for c in todo),
                               "\n".join(f"{c.name}: running, restarted" for c in todo)),
                     data=data, on_failure=lambda: evidence(eng, todo))


def _wait_restarted(eng: DockerEngine, containers: Sequence[ContainerFact], t: Target,
                    timeout: float) -> list[ContainerFact]:
    deadline = time.monotonic() + timeout
    while True:
        fresh = [eng.container(c.id) for c in containers]
        _, final, _, _ = judge({c.name: [c] for c in fresh}, started_after=t.run.started_at)
        if final or time.monotonic() >= deadline:
            return fresh
        time.sleep(1)


def container_logs_cleared(t: Target, container: str, *, keep_lines: int = 0) -> Result:
    """The container's json-file log cut to its last `keep_lines` lines (0: emptied), once per run.

    The file (`LogPath`) is cut in place on the Docker host through the host's connection
    (`truncate`, or the in-place tail of `log_truncated` with a blank marker the
    engine's JSON reader skips), so the engine keeps appending to the same file.
    Other logging drivers keep no file here: `skipped`.
    Example: `container_logs_cleared(t, "backend", keep_lines=100)`.
    """
    keep_lines = validate.count(keep_lines, "keep_lines", high=MAX_KEEP_LINES)
    name = "container_logs_cleared"
    with engine(t) as eng:
        found = resolve(t, eng, container)
    results: list[Result] = [_clear_one(t, c, keep_lines, name) for c in found]
    if len(results) == 1:
        return results[0]
    worst = max(results, key=lambda r: (r.failed, r.changed))
    return worst.replace(message="; ".join(f"{r.message}" for r in results),
                         commands=tuple(c for r in results for c in r.commands),
                         data={"containers": [dict(r.data) for r in results]})


def _clear_one(t: Target, c: ContainerFact, keep: int, name: str) -> Result:
    data: dict[str, Any] = {"container": c.name, "log_path": c.log_path, "driver": c.log_driver,
                            "keep_lines": keep}
    if c.log_driver != "json-file" or not c.log_path:
        return t.result(name, Status.SKIPPED, f"{c.name} logs with {c.log_driver or 'no'} "
                        "driver: no json-file log to clear", data=data)
    path = c.log_path
    size = _size(t, path)
    if size is None:
        return t.result(name, Status.FAILED, f"{path} is not visible on {t.name}: the "
                        "connection does not reach the engine's files", data=data)
    key = f"container-logs-cleared-{c.id[:12]}"
    data["size_before"] = size
    if markers.done(t.conn, t.run, key):
        return t.result(name, Status.OK, f"{c.name}: log already cleared by this run "
                        f"({human(size)} now)", data=data)
    if keep == 0:
        steps = [] if size == 0 else [Step(["truncate", "-s", "0", "--", path], "empty it")]
        why = "empty"
    else:
        facts = log_facts(t.conn, path, (os.path.dirname(path),), keep)
        steps, why = plan_log_truncated(facts, min_size=None, marker="")
        if steps and facts.keep1_bytes >= size and not facts.first_line.strip():
            # what an earlier cut leaves: one blank line, then the last `keep` lines
            steps, why = [], f"already cut to its last {keep} lines"
    if steps:
        steps.append(markers.mark_step(t.run, key))

    def verify() -> Verification:
        after = _size(t, path)
        info = {"size_after": after, "freed": size - (after or 0)}
        if after is None or after >= size:
            return Verification(False, f"{path} did not shrink ({after} bytes)", "", info)
        return Verification(True, f"{human(size)} -> {human(after)}", "", info)

    return apply(t, name, steps, verify=verify, ok_message=f"{c.name}: log {why or 'empty'}",
                 action=f"cut {c.name}'s log {path} ({human(size)}) to its last {keep} lines",
                 done=f"cut {c.name}'s log to its last {keep} lines", data=data)


def _size(t: Target, path: str) -> int | None:
    res = t.conn.run(["stat", "-c", "%s", "--", path], check=False)
    try:
        return int(res.stdout.strip()) if res.succeeded else None
    except ValueError:
        return None
