"""Which compose CLI a host uses: v2 where both exist, `compose_version` in the inventory, and
results that name the one that ran; over a recording connection and a fake engine."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from remediations.connections.recording import RecordingConnection
from remediations.core.errors import InvalidInput
from remediations.core.result import Status
from remediations.docker.compose import compose_service_restarted, compose_services_stopped
from remediations.docker.project import ComposeCli, ComposeMissing, compose_version, detect
from tests.unit.docker.test_compose import PROJ, backend, restart_on_fake, target
from tests.unit.docker.test_engine import RUN_START, FakeDocker, install_fake

V1 = ("docker-compose",)
V2 = ("docker", "compose")
ASK_V2 = "docker compose version --short"
ASK_V1 = "docker-compose version --short"


@pytest.fixture
def use_fake(monkeypatch: pytest.MonkeyPatch) -> Callable[[FakeDocker], None]:
    return lambda fake: install_fake(monkeypatch, fake)


def host_with(*, plugin: str | None = None, standalone: str | None = None) -> RecordingConnection:
    """A host whose `docker compose` and `docker-compose` report these versions (None: absent)."""
    conn = RecordingConnection("dockerhost")
    for pattern, version in ((r"^docker compose version", plugin),
                             (r"^docker-compose version", standalone)):
        if version is None:
            conn.on(pattern, exit_code=127, stderr="not found")
        else:
            conn.on(pattern, stdout=f"{version}\n")
    return conn


BOTH = {"plugin": "2.26.1-4", "standalone": "1.29.2"}


@pytest.mark.parametrize("cli,label", [
    (ComposeCli(V2, "2.26.1"), "docker compose v2.26.1"),
    (ComposeCli(V1, "1.29.2"), "docker-compose 1.29.2"),
    (ComposeCli(V1, "2.24.5"), "docker-compose v2.24.5"),   # the standalone v2 binary
])
def test_label_names_the_command_and_its_version(cli: ComposeCli, label: str) -> None:
    assert cli.label == label


@pytest.mark.parametrize("value,major", [
    (None, None), ("", None), ("auto", None), ("AUTO", None),
    ("v1", 1), ("v2", 2), ("V2", 2), (" v1 ", 1), ("1", 1), (2, 2),
])
def test_compose_version_reads_the_inventory(value: Any, major: int | None) -> None:
    assert compose_version(target(host_with(), compose_version=value)) == major


@pytest.mark.parametrize("value", ["v3", "docker compose", "2.26", True, False, 1.0, ["v2"], 0])
def test_compose_version_refuses_anything_else(value: Any) -> None:
    with pytest.raises(InvalidInput, match=r"dockerhost: compose_version must be v1, v2 or auto"):
        compose_version(target(host_with(), compose_version=value))


@pytest.mark.parametrize("want,present,expected,asked", [
    # auto: v2 when both exist, asked first and only
    (None, BOTH, ComposeCli(V2, "2.26.1"), [ASK_V2]),
    (None, {"standalone": "1.29.2"}, ComposeCli(V1, "1.29.2"), [ASK_V2, ASK_V1]),
    # the inventory says v1: `docker-compose` 1.x, `docker compose` never asked
    (1, BOTH, ComposeCli(V1, "1.29.2"), [ASK_V1]),
    # the inventory says v2: the plugin, else a `docker-compose` that is 2.x
    (2, BOTH, ComposeCli(V2, "2.26.1"), [ASK_V2]),
    (2, {"standalone": "2.24.5"}, ComposeCli(V1, "2.24.5"), [ASK_V2, ASK_V1]),
])
def test_detect_picks(want: int | None, present: dict[str, str], expected: ComposeCli,
                      asked: list[str]) -> None:
    conn = host_with(**present)
    assert detect(conn, want) == expected
    assert detect(conn, want) == expected   # once per connection
    assert conn.command_lines == asked


@pytest.mark.parametrize("want,present,match", [
    (2, {"standalone": "1.29.2"},
     r"compose_version: v2, but no `docker compose` and `docker-compose` is 1.29.2 there"),
    (1, {"plugin": "2.26.1"}, r"compose_version: v1, but no `docker-compose` there"),
    (1, {"plugin": "2.26.1", "standalone": "2.24.5"},
     r"compose_version: v1, but `docker-compose` is 2.24.5 there"),
    (None, {}, r"neither `docker compose` nor `docker-compose`"),
])
def test_detect_says_what_the_host_has_when_the_asked_one_is_missing(
        want: int | None, present: dict[str, str], match: str) -> None:
    with pytest.raises(ComposeMissing, match=match):
        detect(host_with(**present), want)


def test_each_choice_is_kept_apart_on_one_connection() -> None:
    conn = host_with(**BOTH)
    assert detect(conn, 1).argv == V1
    assert detect(conn).argv == V2
    assert detect(conn, 1).argv == V1
    assert conn.command_lines == [ASK_V1, ASK_V2]


@pytest.mark.parametrize("hostvars,cli,label", [
    ({}, "docker compose", "docker compose v2.26.1"),
    ({"compose_version": "v1"}, "docker-compose", "docker-compose 1.29.2"),
    ({"compose_version": "v2"}, "docker compose", "docker compose v2.26.1"),
])
def test_a_remediation_runs_the_chosen_cli_and_names_it(
        use_fake: Any, hostvars: dict[str, Any], cli: str, label: str) -> None:
    fake = FakeDocker([backend(RUN_START - timedelta(hours=1))])
    use_fake(fake)
    conn = host_with(**BOTH)
    conn.on(r" restart backend$", reply=restart_on_fake(fake, RUN_START))
    res = compose_service_restarted(target(conn, **hostvars), "backend", timeout=5)
    assert res.status is Status.CHANGED, res
    assert list(res.commands) == [f"{cli} {PROJ} restart backend"]
    assert res.message.startswith(f"restarted backend with {label}; "), res.message
    assert res.data["compose"] == label
    check = compose_services_stopped(target(host_with(**BOTH), check=True, **hostvars),
                                     ["backend"])
    assert check.message == f"would stop backend with {label}"
    assert check.data["compose"] == label


def test_a_bad_compose_version_runs_no_command(use_fake: Any) -> None:
    use_fake(FakeDocker([backend(RUN_START - timedelta(hours=1))]))
    conn = host_with(**BOTH)
    with pytest.raises(InvalidInput, match="compose_version must be"):
        compose_service_restarted(target(conn, compose_version="v3"), "backend")
    assert conn.commands == []


def test_the_asked_cli_missing_fails_before_acting(use_fake: Any) -> None:
    use_fake(FakeDocker([backend(RUN_START - timedelta(hours=1))]))
    conn = host_with(standalone="1.29.2")
    with pytest.raises(ComposeMissing, match="compose_version: v2"):
        compose_service_restarted(target(conn, compose_version="v2"), "backend")
    assert conn.command_lines == [ASK_V2, ASK_V1]
