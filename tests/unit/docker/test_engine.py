"""The Docker engine handle without an engine: a fake Docker client, facts parsed, errors translated."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import docker.errors
import pytest
import requests

from remediations.connections.recording import RecordingConnection
from remediations.core.errors import CommandFailed, InvalidInput, Unreachable
from remediations.docker.engine import (
    ContainerStats,
    DockerEngine,
    DockerError,
    NotFound,
    container_ref,
    engine,
    parse_cgroup_memory,
    parse_container,
    parse_stats,
    parse_time,
)
from remediations.inventory import Host
from remediations.run.target import RunContext, Target

RUN_START = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)


def stamp(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"


def inspect_doc(name: str, *, service: str = "", project: str = "remlab", state: str = "running",
                health: str | None = "healthy", image: str = "remediations-lab/app:v1.2.3",
                image_id: str = "sha256:" + "a" * 64, started: datetime = RUN_START - timedelta(hours=1),
                exit_code: int = 0, cid: str | None = None, driver: str = "json-file",
                probes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    labels = {"com.docker.compose.project": project, "com.docker.compose.service": service,
              "com.docker.compose.oneoff": "False"} if service else {}
    state_doc: dict[str, Any] = {"Status": state, "Running": state == "running",
                                 "ExitCode": exit_code, "StartedAt": stamp(started),
                                 "FinishedAt": "0001-01-01T00:00:00Z", "OOMKilled": False}
    if health is not None:
        state_doc["Health"] = {"Status": health, "FailingStreak": 0, "Log": probes or []}
    return {"Id": cid or (name.encode().hex() * 8)[:64], "Name": f"/{name}", "Image": image_id,
            "State": state_doc, "RestartCount": 0, "LogPath": f"/var/lib/docker/containers/{name}.log",
            "Config": {"Image": image, "Labels": labels},
            "HostConfig": {"LogConfig": {"Type": driver, "Config": {}}}}


class _Container:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.attrs = doc


class FakeAPI:
    """The slice of `docker.APIClient` the library uses, over dicts; records every call."""

    def __init__(self, fake: FakeDocker) -> None:
        self.fake = fake
        self.api_version = "1.41"

    def _find(self, ref: str) -> dict[str, Any]:
        for doc in self.fake.docs:
            if ref in (doc["Id"], doc["Name"].lstrip("/")) or doc["Id"].startswith(ref):
                return doc
        raise docker.errors.NotFound(f"No such container: {ref}", explanation=f"No such container: {ref}")

    def inspect_container(self, ref: str) -> dict[str, Any]:
        self.fake.calls.append(("inspect_container", ref))
        if self.fake.on_inspect:
            self.fake.on_inspect(self.fake, ref)
        return copy.deepcopy(self._find(ref))

    def inspect_image(self, ref: str) -> dict[str, Any]:
        if ref not in self.fake.image_ids:
            raise docker.errors.ImageNotFound(f"No such image: {ref}", explanation="No such image")
        return {"Id": self.fake.image_ids[ref]}

    def stats(self, ref: str, stream: bool = True, one_shot: bool | None = None) -> dict[str, Any]:
        self.fake.calls.append(("stats", ref))
        return self.fake.stats.get(self._find(ref)["Name"].lstrip("/"), {"memory_stats": {}})

    def logs(self, ref: str, **kw: Any) -> bytes:
        return f"log line of {self._find(ref)['Name'].lstrip('/')}\n".encode()

    def df(self) -> dict[str, Any]:
        self.fake.calls.append(("df",))
        return copy.deepcopy(self.fake.df)

    def images(self, all: bool = False) -> list[dict[str, Any]]:
        return copy.deepcopy(self.fake.all_images)

    def remove_container(self, ref: str, **kw: Any) -> None:
        self.fake.calls.append(("remove_container", ref))
        self.fake.df["Containers"] = [c for c in self.fake.df["Containers"] if c["Id"] != ref]

    def remove_image(self, ref: str, force: bool = False, noprune: bool = False) -> list[Any]:
        self.fake.calls.append(("remove_image", ref))
        if ref in self.fake.refuse:
            raise docker.errors.APIError("conflict", explanation=self.fake.refuse[ref])
        self.fake.df["Images"] = [i for i in self.fake.df["Images"] if i["Id"] != ref]
        self.fake.all_images = [i for i in self.fake.all_images if i["Id"] != ref]
        return [{"Deleted": ref}]

    def remove_volume(self, name: str, force: bool = False) -> None:
        self.fake.calls.append(("remove_volume", name))
        self.fake.df["Volumes"] = [v for v in self.fake.df["Volumes"] if v["Name"] != name]

    def prune_builds(self, filters: Any = None, all: bool | None = None) -> dict[str, Any]:
        self.fake.calls.append(("prune_builds", json.dumps(filters), all))
        gone = [r["ID"] for r in self.fake.df.get("BuildCache") or [] if not r["InUse"]]
        self.fake.df["BuildCache"] = [r for r in self.fake.df.get("BuildCache") or [] if r["InUse"]]
        return {"CachesDeleted": gone, "SpaceReclaimed": 1}

    def restart(self, ref: str, timeout: int = 10) -> None:
        self.fake.calls.append(("restart", ref, timeout))
        doc = self._find(ref)
        doc["State"]["StartedAt"] = stamp(self.fake.now())

    def exec_create(self, ref: str, cmd: list[str], **kw: Any) -> dict[str, str]:
        self.fake.calls.append(("exec", ref, cmd[0]))
        return {"Id": "exec1"}


class _Containers:
    def __init__(self, fake: FakeDocker) -> None:
        self.fake = fake

    def list(self, filters: dict[str, Any] | None = None, **kw: Any) -> list[_Container]:
        self.fake.calls.append(("list", tuple((filters or {}).get("label", ()))))
        wanted = dict(x.split("=", 1) for x in (filters or {}).get("label", ()))
        return [_Container(copy.deepcopy(d)) for d in self.fake.docs
                if all(d["Config"]["Labels"].get(k) == v for k, v in wanted.items())]


class FakeDocker:
    """A stand-in for `docker.DockerClient`: containers as inspect documents, df, images."""

    def __init__(self, docs: list[dict[str, Any]] | None = None) -> None:
        self.docs = docs or []
        self.calls: list[tuple[Any, ...]] = []
        self.api = FakeAPI(self)
        self.containers = _Containers(self)
        self.stats: dict[str, dict[str, Any]] = {}
        self.df: dict[str, Any] = {"Containers": [], "Images": [], "Volumes": [], "BuildCache": []}
        self.all_images: list[dict[str, Any]] = []
        self.image_ids: dict[str, str] = {}
        self.refuse: dict[str, str] = {}
        self.on_inspect: Callable[[FakeDocker, str], None] | None = None
        self.closed = False
        self.clock = RUN_START + timedelta(seconds=30)

    def now(self) -> datetime:
        self.clock += timedelta(seconds=1)
        return self.clock

    def info(self) -> dict[str, Any]:
        return {"MemTotal": 8 * 2**30}

    def close(self) -> None:
        self.closed = True


def fake_engine(fake: FakeDocker, name: str = "dockerhost") -> DockerEngine:
    return DockerEngine(name, fake, where="fake")


def install_fake(monkeypatch: pytest.MonkeyPatch, fake: FakeDocker) -> None:
    """Make every `engine(t)` of the library return `fake`."""
    import remediations.docker.compose
    import remediations.docker.containers
    import remediations.docker.prune

    for mod in (remediations.docker.compose, remediations.docker.containers, remediations.docker.prune):
        monkeypatch.setattr(mod, "engine", lambda t, **kw: fake_engine(fake, t.name))


# --- facts -----------------------------------------------------------------------------

def test_parse_time_nanoseconds_and_zero() -> None:
    assert parse_time("2026-11-23T10:40:01.123456789Z") == datetime(2026, 11, 23, 10, 40, 1, 123456,
                                                                    tzinfo=UTC)
    assert parse_time("2026-11-23T10:40:01Z") == datetime(2026, 11, 23, 10, 40, 1, tzinfo=UTC)
    assert parse_time("2026-11-23T11:40:01.5+01:00") == datetime(2026, 11, 23, 10, 40, 1, 500000,
                                                                 tzinfo=UTC)
    assert parse_time("0001-01-01T00:00:00Z") is None
    assert parse_time("") is None and parse_time("garbage") is None


def test_parse_container_reads_state_health_labels_and_log() -> None:
    doc = inspect_doc("remlab_backend_1", service="backend", health="unhealthy",
                      probes=[{"ExitCode": 22, "Output": "curl: (22) 500 \n", "End": "x"}])
    c = parse_container(doc)
    assert (c.name, c.service, c.state, c.health, c.running, c.ready) == (
        "remlab_backend_1", "backend", "running", "unhealthy", True, False)
    assert c.image == "remediations-lab/app:v1.2.3" and c.log_driver == "json-file"
    assert c.health_log[0].exit_code == 22 and c.health_log[0].output == "curl: (22) 500"
    assert c.started_at == RUN_START - timedelta(hours=1)
    plain = parse_container(inspect_doc("x", health=None))
    assert plain.health is None and plain.ready
    assert "exited 137" in parse_container(inspect_doc("y", state="exited", exit_code=137)).describe()


def test_parse_stats_subtracts_inactive_page_cache_like_docker_stats() -> None:
    v1 = {"memory_stats": {"usage": 100, "limit": 1000, "stats": {"total_inactive_file": 30}},
          "pids_stats": {"current": 4}}
    assert parse_stats(v1) == ContainerStats(70, 1000, 4)
    v2 = {"memory_stats": {"usage": 100, "limit": 1000, "stats": {"inactive_file": 10}}}
    assert parse_stats(v2) == ContainerStats(90, 1000, 0)
    assert parse_stats({"memory_stats": {}}) is None  # an engine without memory data


def test_parse_cgroup_memory_v1_unlimited_counts_host_memory() -> None:
    out = "usage=25288704\nlimit=9223372036854771712\npids=9\ninactive_file=8192\ntotal_inactive_file=8192\n"
    s = parse_cgroup_memory(out, host_memory=8 * 2**30)
    assert s == ContainerStats(25288704 - 8192, 8 * 2**30, 9, "cgroup")
    v2 = parse_cgroup_memory("usage=1000\nlimit=max\npids=\ninactive_file=100\n", 4000)
    assert v2 == ContainerStats(900, 4000, 0, "cgroup") and v2.memory_percent == 22.5
    assert parse_cgroup_memory("usage=\n", 1) is None


def test_engine_lists_by_label_and_inspects() -> None:
    fake = FakeDocker([inspect_doc("remlab_backend_1", service="backend"),
                       inspect_doc("remlab_db_1", service="db"), inspect_doc("other")])
    eng = fake_engine(fake)
    found = eng.containers("com.docker.compose.project=remlab", "com.docker.compose.service=db")
    assert [c.name for c in found] == ["remlab_db_1"]
    assert eng.container("other").name == "other"
    with pytest.raises(NotFound, match="No such container: nope"):
        eng.container("nope")


def test_stats_fall_back_to_the_containers_cgroup_when_the_engine_has_none(
        monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeDocker([inspect_doc("c1")])
    eng = fake_engine(fake)
    monkeypatch.setattr(eng, "exec", lambda ref, argv: (0, "usage=2000\nlimit=max\npids=3\n"))
    assert eng.stats("c1") == ContainerStats(2000, 8 * 2**30, 3, "cgroup")
    fake.stats["c1"] = {"memory_stats": {"usage": 500, "limit": 1000, "stats": {}}}
    assert eng.stats("c1").source == "engine"


# --- engine steps --------------------------------------------------------------------------

def test_engine_steps_are_docker_cli_commands_run_through_the_sdk() -> None:
    fake = FakeDocker([inspect_doc("c1", cid="c" * 64)])
    eng = fake_engine(fake)
    res = eng.run(["docker", "container", "restart", "-t", "7", "c" * 64])
    assert res.succeeded and res.command == f"docker container restart -t 7 {'c' * 64}"
    assert ("restart", "c" * 64, 7) in fake.calls
    eng.run(["docker", "image", "rm", "app:a", "app:b"])
    assert [c for c in fake.calls if c[0] == "remove_image"] == [("remove_image", "app:a"),
                                                                 ("remove_image", "app:b")]
    eng.run(["docker", "builder", "prune", "--all", "--force", "--filter", "until=3600s"])
    assert fake.calls[-1] == ("prune_builds", '{"until": "3600s"}', True)
    with pytest.raises(InvalidInput, match="not an engine step"):
        eng.run(["docker", "system", "prune", "-af"])
    with pytest.raises(InvalidInput):
        eng.run("docker container rm x")


def test_a_refused_engine_step_is_a_failed_command_with_the_engines_reason() -> None:
    fake = FakeDocker()
    fake.refuse["sha256:abc"] = "conflict: unable to delete abc (cannot be forced) - image is being used by stopped container 123"
    eng = fake_engine(fake)
    with pytest.raises(CommandFailed, match="being used by stopped container"):
        eng.run(["docker", "image", "rm", "sha256:abc"])
    assert eng.run(["docker", "image", "rm", "sha256:abc"], check=False).exit_code == 1


@pytest.mark.parametrize("exc,expected", [
    (docker.errors.NotFound("x", explanation="No such container: c"), NotFound),
    (docker.errors.APIError("x", explanation="server error"), DockerError),
    (requests.ConnectionError("refused"), Unreachable),
    (docker.errors.DockerException("Error while fetching server API version"), Unreachable),
])
def test_sdk_errors_are_translated(exc: Exception, expected: type[Exception]) -> None:
    eng = fake_engine(FakeDocker())
    with pytest.raises(expected), eng._sdk("inspect container c"):
        raise exc


def test_engine_closes_the_client() -> None:
    fake = FakeDocker()
    with fake_engine(fake):
        pass
    assert fake.closed


# --- reaching the engine -------------------------------------------------------------------

def target(**hostvars: Any) -> Target:
    return Target(Host("dockerhost", hostvars, source="/inv/lab-docker.yml"),
                  RecordingConnection("dockerhost"), RunContext("r1", RUN_START))


def test_a_docker_exec_host_is_not_a_docker_host() -> None:
    with pytest.raises(InvalidInput, match="local or ssh"):
        engine(target(ansible_connection="docker"))


def test_local_engine_uses_docker_host_var(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    class Client:
        def __init__(self, base_url: str, timeout: int) -> None:
            seen.update(base_url=base_url, timeout=timeout)

    monkeypatch.setattr(docker, "DockerClient", Client)
    eng = engine(target(ansible_connection="local", docker_host="tcp://127.0.0.1:2375"))
    assert seen == {"base_url": "tcp://127.0.0.1:2375", "timeout": 60}
    assert eng.where == "tcp://127.0.0.1:2375"


def test_local_engine_not_answering_is_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(**kw: Any) -> None:
        raise docker.errors.DockerException("Error while fetching server API version")

    monkeypatch.setattr(docker, "from_env", boom)
    with pytest.raises(Unreachable, match="not answering"):
        engine(target(ansible_connection="local"))


def test_ssh_engine_refused_port_is_unreachable() -> None:
    # Port 9 on loopback: nothing listens there.
    t = target(ansible_host="127.0.0.1", ansible_port=9, ansible_user="root",
               ansible_host_key_checking=False, ansible_timeout=2)
    with pytest.raises(Unreachable, match=r"cannot connect to 127\.0\.0\.1:9"):
        engine(t)


@pytest.mark.parametrize("value", ["backend", "remlab_backend_1", "4d0432334a15", "/remlab_db_1"])
def test_container_ref_accepts_names_and_ids(value: str) -> None:
    assert container_ref(value) == value.lstrip("/")


@pytest.mark.parametrize("value", ["", "a b", "$(id)", "-rf", "x;y", "a" * 200])
def test_container_ref_refuses_the_rest(value: str) -> None:
    with pytest.raises(InvalidInput):
        container_ref(value)
