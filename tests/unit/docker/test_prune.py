"""docker_pruned without an engine: the plan as a pure function, then check mode and the real run on a fake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from remediations.connections.recording import RecordingConnection
from remediations.core.errors import InvalidInput
from remediations.core.result import Status
from remediations.docker.prune import (
    Filters,
    LabelFilter,
    docker_pruned,
    parse_label_filter,
    parse_until,
    plan_prune,
)
from remediations.inventory import Host
from remediations.run.target import RunContext, Target
from tests.unit.docker.test_engine import RUN_START, FakeDocker, install_fake

NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
OLD = int((NOW - timedelta(days=3)).timestamp())
NEW = int((NOW - timedelta(minutes=5)).timestamp())
LABEL = {"remediations.test": "prune"}


def image(iid: str, *, tags: tuple[str, ...] = (), created: int = OLD, size: int = 1000,
          shared: int = 600, labels: dict[str, str] | None = None, parent: str = "") -> dict[str, Any]:
    return {"Id": f"sha256:{iid}", "RepoTags": list(tags) or ["<none>:<none>"],
            "Created": created, "Size": size, "SharedSize": shared,
            "Labels": LABEL if labels is None else labels, "ParentId": parent, "Containers": 0}


def container(cid: str, img: str, *, state: str = "exited", created: int = OLD, size: int = 50,
              labels: dict[str, str] | None = None, mounts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"Id": cid, "Names": [f"/{cid}"], "Image": img, "ImageID": f"sha256:{img}",
            "State": state, "Created": created, "SizeRw": size,
            "Labels": LABEL if labels is None else labels, "Mounts": mounts or []}


def host_state() -> dict[str, Any]:
    """Dangling images, stopped containers, and an old dangling image a stopped container uses."""
    return {
        "Images": [
            image("dangling1"),                                    # goes
            image("dangling-new", created=NEW),                    # newer than until: stays
            image("used-by-stopped"),                              # used by `keeper`: stays
            image("tagged", tags=("app:v1",)),                     # tagged: not dangling
            image("base", tags=("base:bookworm",), labels={}),     # tagged, parent of others
            image("other-team"),                                   # another label: not ours
        ],
        "Containers": [
            container("stopped1", "tagged"),                       # goes
            container("running1", "tagged", state="running"),     # running: stays
            container("keeper", "used-by-stopped", created=NEW),   # newer: stays, keeps its image
            container("created1", "tagged", state="created"),     # never started: goes
        ],
        "Volumes": [{"Name": "vol-free", "Labels": LABEL, "CreatedAt": "2026-11-20T10:00:00Z",
                     "UsageData": {"Size": 4096, "RefCount": 0}}],
        "BuildCache": [],
    }


ALL_IMAGES = [{"Id": "sha256:layer", "ParentId": "sha256:base"}]


def plan(**kw: Any) -> Any:
    df = host_state()
    df["Images"][5]["Labels"] = {"team": "other"}
    filters = Filters(NOW - timedelta(hours=24), (LabelFilter("remediations.test", "prune"),))
    return plan_prune(df, ALL_IMAGES, filters=kw.pop("filters", filters), now=NOW, **kw)


def test_plan_takes_old_stopped_containers_and_unused_dangling_images_only() -> None:
    p = plan()
    assert [d.id for d in p.containers] == ["stopped1", "created1"]
    assert [d.id for d in p.images] == ["sha256:dangling1"]
    assert p.images[0].size == 400  # unique size: Size - SharedSize
    assert p.kept == (("sha256:used-by-stopped", "<none>",
                       "used by container(s) keeper"),)
    assert p.volumes == () and p.build_cache == ()
    assert p.bytes == 50 + 50 + 400
    assert [s.command for s in p.steps()] == [
        "docker container rm stopped1", "docker container rm created1",
        "docker image rm sha256:dangling1"]


def test_images_freed_by_the_removed_containers_go_in_the_same_run_when_all_images() -> None:
    p = plan(dangling_only=False)
    # `tagged` is still used by the running container; `base` has child images.
    assert [d.id for d in p.images] == ["sha256:dangling1"]
    df = host_state()
    df["Containers"] = [container("stopped1", "tagged")]
    p = plan_prune(df, ALL_IMAGES, filters=Filters(NOW - timedelta(hours=24)),
                   dangling_only=False, now=NOW)
    assert "sha256:tagged" in [d.id for d in p.images]   # its only user goes first
    assert ("sha256:base", "base:bookworm", "other images are built on it") in p.kept


def test_a_multi_tag_image_is_removed_by_its_tags() -> None:
    df = {"Images": [image("multi", tags=("a:1", "b:2"))], "Containers": []}
    p = plan_prune(df, [], filters=Filters(), dangling_only=False, now=NOW)
    assert [s.command for s in p.steps()] == ["docker image rm a:1 b:2"]


def test_label_filters_keep_and_exclude() -> None:
    df = host_state()
    df["Images"][5]["Labels"] = {"team": "other"}
    neg = plan_prune(df, [], filters=Filters(None, (LabelFilter("remediations.test", negate=True),)),
                     containers=False, now=NOW)
    assert [d.id for d in neg.images] == ["sha256:other-team"]
    none = plan_prune(df, [], filters=Filters(None, (LabelFilter("nope"),)), now=NOW)
    assert none.every == ()


def test_volumes_only_when_asked_and_only_unused() -> None:
    assert plan().volumes == ()
    p = plan(volumes=True)
    assert [d.id for d in p.volumes] == ["vol-free"]
    df = host_state()
    df["Containers"].append(container("db", "tagged", state="running",
                                      mounts=[{"Type": "volume", "Name": "vol-free"}]))
    assert plan_prune(df, [], filters=Filters(), volumes=True, now=NOW).volumes == ()


def test_build_cache_is_pruned_by_age_and_refuses_labels() -> None:
    df = {"BuildCache": [
        {"ID": "old1", "Type": "regular", "Size": 10, "InUse": False,
         "LastUsedAt": "2026-11-20T10:00:00Z", "CreatedAt": "2026-11-20T10:00:00Z"},
        {"ID": "busy", "Type": "regular", "Size": 10, "InUse": True, "LastUsedAt": None,
         "CreatedAt": "2026-11-20T10:00:00Z"},
        {"ID": "fresh", "Type": "regular", "Size": 10, "InUse": False,
         "LastUsedAt": "2026-11-23T11:59:00Z", "CreatedAt": "2026-11-23T11:00:00Z"}]}
    p = plan_prune(df, [], filters=Filters(NOW - timedelta(hours=24)), containers=False,
                   images=False, build_cache=True, now=NOW)
    assert [d.id for d in p.build_cache] == ["old1"]
    assert p.steps()[-1].command == "docker builder prune --all --force --filter until=86400s"
    with pytest.raises(InvalidInput, match="carry no labels"):
        plan_prune(df, [], filters=Filters(None, (LabelFilter("a"),)), build_cache=True)


@pytest.mark.parametrize("value,expected", [
    ("24h", NOW - timedelta(hours=24)),
    ("1h30m", NOW - timedelta(minutes=90)),
    ("90s", NOW - timedelta(seconds=90)),
    ("1795442400", datetime(2026, 11, 23, 14, 0, tzinfo=UTC)),
    ("2026-11-23T10:00:00Z", datetime(2026, 11, 23, 10, 0, tzinfo=UTC)),
    ("2026-11-20", datetime(2026, 11, 20, tzinfo=UTC)),
])
def test_parse_until(value: str, expected: datetime) -> None:
    assert parse_until(value, NOW) == expected


@pytest.mark.parametrize("value", ["yesterday", "24", "-1h", "24h; rm", "7d"])
def test_parse_until_refuses(value: str) -> None:
    with pytest.raises(InvalidInput):
        parse_until(value, NOW)


@pytest.mark.parametrize("text,expected", [
    ("k", LabelFilter("k")), ("k=v", LabelFilter("k", "v")), ("!k", LabelFilter("k", negate=True)),
    ("label!=k=v", LabelFilter("k", "v", True)), ("label=a.b/c=x=y", LabelFilter("a.b/c", "x=y")),
])
def test_parse_label_filter(text: str, expected: LabelFilter) -> None:
    assert parse_label_filter(text) == expected


@pytest.mark.parametrize("text", ["", "=v", "k\n=v", "a b=c"])
def test_parse_label_filter_refuses(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_label_filter(text)


# --- the remediation on a fake engine ---------------------------------------------------------

def target(check: bool = False) -> Target:
    return Target(Host("dockerhost", {"ansible_connection": "local"}),
                  RecordingConnection("dockerhost"), RunContext("r1", RUN_START, check=check))


def fake_host() -> FakeDocker:
    fake = FakeDocker()
    fake.df = host_state()
    fake.df["Images"][5]["Labels"] = {"team": "other"}
    fake.all_images = [*ALL_IMAGES, *({"Id": i["Id"], "ParentId": ""} for i in fake.df["Images"])]
    return fake


def test_check_mode_lists_exact_ids_and_sizes_and_removes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = fake_host()
    install_fake(monkeypatch, fake)
    res = docker_pruned(target(check=True), until="2026-11-22T12:00:00Z",
                        labels=["remediations.test=prune"])
    assert res.status is Status.CHANGED and res.check
    assert [c["id"] for c in res.data["containers"]] == ["stopped1", "created1"]
    assert [(i["id"], i["size"]) for i in res.data["images"]] == [("sha256:dangling1", 400)]
    assert res.data["bytes"] == 500 and res.data["kept"][0]["id"] == "sha256:used-by-stopped"
    assert "container stopped1" in res.message and "image dangling1" in res.message
    assert not [c for c in fake.calls if c[0].startswith("remove")]


def test_real_run_removes_exactly_the_plan_then_second_run_is_ok(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = fake_host()
    install_fake(monkeypatch, fake)
    res = docker_pruned(target(), until="2026-11-22T12:00:00Z", labels=["remediations.test=prune"])
    assert res.status is Status.CHANGED, res
    assert [c for c in fake.calls if c[0].startswith("remove")] == [
        ("remove_container", "stopped1"), ("remove_container", "created1"),
        ("remove_image", "sha256:dangling1")]
    assert res.data["bytes_freed"] == 500 and "500 B freed" in res.message
    again = docker_pruned(target(), until="2026-11-22T12:00:00Z", labels=["remediations.test=prune"])
    assert again.status is Status.OK and "kept 1 image(s) in use" in again.message


def test_an_engine_refusal_fails_with_its_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = fake_host()
    fake.refuse["sha256:dangling1"] = "image is being used by stopped container 42"
    install_fake(monkeypatch, fake)
    res = docker_pruned(target(), until="2026-11-22T12:00:00Z", labels=["remediations.test=prune"])
    assert res.status is Status.FAILED and "being used by stopped container 42" in res.evidence


def test_bad_filters_touch_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = fake_host()
    install_fake(monkeypatch, fake)
    with pytest.raises(InvalidInput):
        docker_pruned(target(), until="last week")
    with pytest.raises(InvalidInput):
        docker_pruned(target(), labels=["a b"])
    assert fake.calls == []
