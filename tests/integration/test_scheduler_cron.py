"""A cron-driven scheduler on the lab's apache1 (Forge's line in www-data's crontab, no timer):
found by the status fact, paused and resumed idempotently, check mode exact."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import LAB_INVENTORY

pytestmark = pytest.mark.lab
INV = str(LAB_INVENTORY)
FORGE = "* * * * * cd /var/www/app && php artisan schedule:run >> /dev/null 2>&1"
CRONTAB = "crontab -u www-data -l"


def task(cli: Any, *args: str) -> dict[str, Any]:
    res = cli(*args, "-i", INV, "-l", "apache1", "--json")
    assert res.code == 0, res.stdout + res.stderr
    return res.by_host()["apache1"]  # type: ignore[no-any-return]


@pytest.fixture
def forge(apache: Any) -> Iterator[Any]:
    """apache1, its crontab as Forge left it afterwards."""
    assert apache.check_output(CRONTAB) == FORGE
    yield apache
    apache.run(f"echo '{FORGE}' | crontab -u www-data -")


def test_the_status_fact_names_the_cron_line_and_the_schedule(cli: Any, forge: Any) -> None:
    r = task(cli, "scheduler-status")
    assert r["status"] == "ok" and r["data"]["active"] == 1
    (trigger,) = r["data"]["triggers"]
    assert trigger == {"kind": "cron", "source": "crontab:www-data", "line_number": 1,
                       "line": FORGE, "paused": False, "paused_by": "", "app_dir": "/var/www/app"}
    assert {t["command"].split()[-1] for t in r["data"]["schedule"]} >= {"lab:heartbeat"}


def test_pause_and_resume_the_cron_line(cli: Any, forge: Any) -> None:
    run = f"test-{uuid.uuid4().hex[:8]}"
    rid = ("--run-id", run)
    paused_line = f"#remediations-paused:{run}: {FORGE}"
    checked = task(cli, "pause-scheduler", "--check", *rid)
    assert checked["status"] == "changed"
    assert checked["diff"]["after"].splitlines()[-1] == paused_line
    assert forge.check_output(CRONTAB) == FORGE                     # check mode changed nothing

    first = task(cli, "pause-scheduler", *rid)
    assert first["status"] == "changed" and first["commands"] == checked["commands"]
    assert forge.check_output(CRONTAB) == paused_line
    assert task(cli, "pause-scheduler", *rid)["status"] == "ok"
    status = task(cli, "scheduler-status")
    assert status["data"]["active"] == 0 and status["data"]["triggers"][0]["paused_by"] == run

    checked = task(cli, "resume-scheduler", "--check", *rid)
    assert checked["status"] == "changed" and forge.check_output(CRONTAB) == paused_line
    resumed = task(cli, "resume-scheduler", *rid)
    assert resumed["status"] == "changed" and resumed["commands"] == checked["commands"]
    assert forge.check_output(CRONTAB) == FORGE                     # exactly the line it was
    assert task(cli, "resume-scheduler", *rid)["status"] == "ok"
