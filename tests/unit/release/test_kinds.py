"""A compose host at a release: each app service at the tag, in order, the first failure stopping the rest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from remediations.core.result import Status
from remediations.release.kinds import compose_at_release
from tests.unit.docker.test_compose import PROJ, backend, compose_lines, recording, target
from tests.unit.docker.test_engine import RUN_START, FakeDocker, inspect_doc, install_fake

CONFIG = """services:
  backend:
    image: remediations-lab/app:{tag}
  worker:
    image: remediations-lab/app:{tag}
"""
SERVICES = {"app_service": "backend", "worker_service": "worker"}
V122 = "sha256:" + "2" * 64


@pytest.fixture
def use_fake(monkeypatch: pytest.MonkeyPatch) -> Callable[[FakeDocker], None]:
    return lambda fake: install_fake(monkeypatch, fake)


def engine_at(tag: str) -> FakeDocker:
    image = f"remediations-lab/app:{tag}"
    ids = V122 if tag == "v1.2.2" else "sha256:" + "3" * 64
    fake = FakeDocker([backend(RUN_START, image=image, image_id=ids),
                       inspect_doc("remlab_worker_1", service="worker", image=image, image_id=ids)])
    fake.image_ids["remediations-lab/app:v1.2.2"] = V122
    return fake


def conn(tag: str) -> Any:
    return recording().on(r"config$", stdout=CONFIG.format(tag=tag))


def test_every_service_already_at_the_release_is_ok(use_fake: Any) -> None:
    use_fake(engine_at("v1.2.2"))
    c = conn("v1.2.2")
    res = compose_at_release(target(c, **SERVICES), "v1.2.2")
    assert res.status is Status.OK, res
    assert [p["remediation"] for p in res.data["parts"]] == ["compose_service_at_tag"] * 2
    assert compose_lines(c) == []


def test_check_mode_lists_the_up_of_each_service_and_touches_nothing(use_fake: Any) -> None:
    use_fake(engine_at("v1.2.3"))
    c = conn("v1.2.2")
    res = compose_at_release(target(c, check=True, **SERVICES), "v1.2.2")
    assert res.status is Status.CHANGED, res
    assert list(res.commands) == [f"env APP_TAG=v1.2.2 docker-compose {PROJ} up -d --no-deps backend",
                                  f"env APP_TAG=v1.2.2 docker-compose {PROJ} up -d --no-deps worker"]
    assert not any(" up " in line for line in compose_lines(c))


def test_the_first_service_that_fails_stops_the_others(use_fake: Any) -> None:
    use_fake(engine_at("v1.2.3"))
    res = compose_at_release(target(conn("v9.9.9"), **SERVICES), "v9.9.9")
    assert res.status is Status.FAILED and "not on the engine" in res.message
    assert len(res.data["parts"]) == 1
