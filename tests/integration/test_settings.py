"""Temporary .env settings on the lab: set with the config cache rebuilt, put back by the host
itself at expiry, and by a later run (env-revert); changed then ok, check mode exact."""

from __future__ import annotations

import shlex
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import LAB_INVENTORY, infra_host

pytestmark = pytest.mark.lab
INV = str(LAB_INVENTORY)
ENV = "/srv/app/shared/.env"
STATE = "/var/lib/remediations/env-settings"
APP = "/srv/app/current"
DEBUG = ("runuser -u www-data -- php -r "
         + shlex.quote(f"echo json_encode((require '{APP}/bootstrap/cache/config.php')['app']['debug']);"))


def task(cli: Any, *args: str) -> dict[str, Any]:
    res = cli(*args, "-i", INV, "-l", "web1", "--json")
    assert res.code == 0, res.stdout + res.stderr
    return res.by_host()["web1"]  # type: ignore[no-any-return]


@pytest.fixture
def web1(lab: Any) -> Iterator[Any]:
    """web1 with its config cached (so each change must rebuild it); as it was afterwards."""
    host = infra_host("web1")
    host.run(f"rm -rf {STATE}")
    host.check_output(f"runuser -u www-data -- php {APP}/artisan config:cache")
    before = host.file(ENV).content_string
    yield host
    host.run(f"systemctl stop 'remediations-env-revert-*.timer'; rm -rf {STATE}")
    if host.file(ENV).content_string != before:
        host.run(f"printf %s {shlex.quote(before)} > {ENV}")
    host.check_output(f"runuser -u www-data -- php {APP}/artisan config:clear")


def env_value(host: Any, name: str) -> str | None:
    for line in host.file(ENV).content_string.splitlines():
        if line.startswith(f"{name}="):
            return str(line.split("=", 1)[1])
    return None


def up(host: Any) -> str:
    return str(host.check_output("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1/up"))


def test_set_for_a_while_then_put_back_by_the_host_itself(cli: Any, web1: Any) -> None:
    mode = web1.file(ENV).mode, web1.file(ENV).user, web1.file(ENV).group
    rid = ["--run-id", f"test-{uuid.uuid4().hex[:8]}"]
    args = ("env-set", "--name", "APP_DEBUG", "--value", "true", "--minutes", "0.25", *rid)
    checked = task(cli, *args, "--check")
    assert checked["status"] == "changed" and checked["diff"]["before"] == "APP_DEBUG=false"
    assert env_value(web1, "APP_DEBUG") == "false" and not web1.file(STATE).exists

    first = task(cli, *args)
    assert first["status"] == "changed", first["message"]
    assert first["commands"] == checked["commands"]           # check mode was exact
    assert any(c.endswith("artisan config:cache") for c in first["commands"])
    assert env_value(web1, "APP_DEBUG") == "true" and web1.check_output(DEBUG) == "true"
    assert (web1.file(ENV).mode, web1.file(ENV).user, web1.file(ENV).group) == mode
    assert up(web1) == "200"
    state = web1.file(STATE)
    assert state.mode == 0o700 and state.user == "root"
    assert task(cli, *args)["status"] == "ok"                  # the same run again

    deadline = time.monotonic() + 45                          # 15 s, then the host's timer
    while env_value(web1, "APP_DEBUG") != "false" and time.monotonic() < deadline:
        time.sleep(1)
    assert env_value(web1, "APP_DEBUG") == "false"
    assert web1.check_output(DEBUG) == "false"                # config cache rebuilt by the host
    record = web1.check_output(f"cat {STATE}/*--APP_DEBUG.json")
    assert '"reverted_by":"expiry"' in record and '"outcome":"reverted"' in record
    assert task(cli, "env-revert")["status"] == "ok"
    again = task(cli, *args)
    assert again["status"] == "ok" and "put back" in again["message"]


def test_a_later_run_puts_back_what_is_left(cli: Any, web1: Any) -> None:
    set_args = ("env-set", "--name", "LOG_LEVEL", "--value", "debug", "--minutes", "30")
    assert task(cli, *set_args)["status"] == "changed"
    assert env_value(web1, "LOG_LEVEL") == "debug"
    waiting = task(cli, "env-revert")
    assert waiting["status"] == "ok" and "1 not expired yet" in waiting["message"]

    rid = ("--run-id", f"test-{uuid.uuid4().hex[:8]}")   # the revert names the run that did it
    checked = task(cli, "env-revert", "--all", "--check", *rid)
    assert checked["status"] == "changed" and checked["diff"]["after"] == "LOG_LEVEL=info"
    assert env_value(web1, "LOG_LEVEL") == "debug"
    reverted = task(cli, "env-revert", "--all", *rid)
    assert reverted["status"] == "changed", reverted["message"]
    assert reverted["commands"] == checked["commands"]
    assert reverted["data"]["reverted"][0]["outcome"] == "reverted"
    assert env_value(web1, "LOG_LEVEL") == "info"
    assert not web1.service("remediations-env-revert-x.timer").is_running
    assert web1.check_output("systemctl list-units --plain --no-legend "
                             "'remediations-env-revert-*.timer'") == ""
    assert task(cli, "env-revert", "--all", *rid)["status"] == "ok"


def test_app_key_is_refused_and_secrets_are_masked(cli: Any, web1: Any) -> None:
    res = cli("env-set", "-i", INV, "-l", "web1", "--name", "APP_KEY", "--value", "x", "--json")
    assert res.code == 1 and "APP_KEY" in res.stdout
    r = task(cli, "env-set", "--name", "MAIL_PASSWORD", "--value", "t3mp-s3cret-value",
             "--minutes", "5", "--check")
    assert r["status"] == "changed" and "t3mp-s3cret-value" not in str(r)


def test_on_the_apache_host_the_work_trees_env(cli: Any, apache: Any) -> None:
    env = "/var/www/app/.env"
    before = apache.file(env).content_string
    rid = ("--run-id", f"test-{uuid.uuid4().hex[:8]}")
    try:
        args = ("env-set", "--name", "APP_DEBUG", "--value", "true", "--minutes", "30", *rid)

        def on_apache(*more: str) -> dict[str, Any]:
            res = cli(*more, "-i", INV, "-l", "apache1", "--json")
            assert res.code == 0, res.stdout + res.stderr
            return res.by_host()["apache1"]  # type: ignore[no-any-return]

        first = on_apache(*args)
        assert first["status"] == "changed" and first["data"]["env"] == env, first["message"]
        assert "APP_DEBUG=true" in apache.file(env).content_string.splitlines()
        assert up(apache) == "200"
        assert on_apache(*args)["status"] == "ok"
        assert on_apache("env-revert", "--all", *rid)["status"] == "changed"
        assert apache.file(env).content_string == before
        assert on_apache("env-revert", "--all", *rid)["status"] == "ok"
    finally:
        apache.run(f"systemctl stop 'remediations-env-revert-*.timer'; rm -rf {STATE}")
