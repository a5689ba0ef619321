"""Redis on the lab: PING, and rate-limit-like keys deleted by pattern (SCAN) or by name."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import LAB_INVENTORY, inventory_text

pytestmark = pytest.mark.lab
INV = str(LAB_INVENTORY)
PASSWORD = "lab-redis-s3cret"
DB = "1"          # Laravel's cache database (REDIS_CACHE_DB), where rate limiters live
PREFIX = "remtest:"


def redis(host: Any, *args: str) -> str:
    return host.check_output("env REDISCLI_AUTH=%s redis-cli -n %s " + " ".join(["%s"] * len(args)),
                             PASSWORD, DB, *args)


def test_keys(host: Any) -> set[str]:
    out = host.check_output("env REDISCLI_AUTH=%s redis-cli -n %s --scan --pattern %s",
                            PASSWORD, DB, f"{PREFIX}*")
    return {k for k in out.splitlines() if k}


test_keys.__test__ = False  # type: ignore[attr-defined]


@pytest.fixture
def redis_hosts(web_hosts: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The web hosts; afterwards no test key is left in the cache database."""
    yield web_hosts
    for host in web_hosts.values():
        left = sorted(test_keys(host))
        if left:
            redis(host, "DEL", *left)


@pytest.mark.parametrize("connection", ["ssh", "docker"])
def test_redis_ping(cli: Any, redis_hosts: dict[str, Any], connection: str) -> None:
    res = cli("redis-ping", "-i", INV, "-l", "web", "--json", "--connection", connection)
    assert res.code == 0, res.stdout + res.stderr
    for r in res.by_host().values():
        assert r["status"] == "ok" and r["message"] == "redis answers PONG"
    assert PASSWORD not in res.stdout


def test_redis_ping_fails_with_the_error_when_the_password_is_wrong(
        cli: Any, redis_hosts: dict[str, Any], tmp_path: Any) -> None:
    inv = tmp_path / "inv.yml"
    inv.write_text(inventory_text().replace(PASSWORD, "not-the-password"))
    res = cli("redis-ping", "-i", str(inv), "-l", "web1", "--json")
    assert res.code == 2
    r = res.by_host()["web1"]
    assert r["status"] == "failed" and "NOAUTH" in r["message"]
    assert "not-the-password" not in res.stdout


@pytest.mark.parametrize("connection", ["ssh", "docker"])
def test_delete_keys_by_pattern(cli: Any, redis_hosts: dict[str, Any], connection: str) -> None:
    limited = {f"{PREFIX}throttle:{connection}:10.0.0.{i}" for i in range(50)}
    kept = {f"{PREFIX}throttle", f"{PREFIX}session:1", f"{PREFIX}throttlex:{connection}:1"}
    for host in redis_hosts.values():
        redis(host, "MSET", *[part for k in sorted(limited | kept) for part in (k, "1")])
        assert limited <= test_keys(host)
    pattern = f"{PREFIX}throttle:{connection}:*"
    args = ["delete-redis-keys", "--pattern", pattern, "--db", DB, "--yes", "-i", INV, "-l", "web",
            "--json", "--connection", connection]

    check = cli(*args, "--check")
    assert check.code == 0, check.stdout + check.stderr
    for h, r in check.by_host().items():
        assert r["status"] == "changed" and r["check"] is True
        assert r["data"]["count"] == 50 and set(r["data"]["keys"]) == limited
        assert r["message"] == f"would delete 50 keys (keys matching '{pattern}') in db 1"
        (command,) = r["commands"]
        head = "env REDISCLI_AUTH=******** redis-cli -e -n 1 UNLINK "
        assert command.startswith(head) and set(command[len(head):].split()) == limited
        assert limited <= test_keys(redis_hosts[h])                # nothing deleted
    assert PASSWORD not in check.stdout

    first = cli(*args)
    assert first.code == 0, first.stdout + first.stderr
    for h, r in first.by_host().items():
        assert r["status"] == "changed" and r["data"]["count"] == 50
        assert "none of them exists any more" in r["message"]
        left = test_keys(redis_hosts[h])
        assert not left & limited                                  # exactly those went
        assert kept <= left
    assert PASSWORD not in first.stdout

    again = cli(*args)
    assert again.code == 0
    for r in again.by_host().values():
        assert r["status"] == "ok" and r["commands"] == []
        assert r["message"] == f"no keys matching '{pattern}' in db 1"


@pytest.mark.parametrize("connection", ["ssh", "docker"])
def test_delete_one_key(cli: Any, redis_hosts: dict[str, Any], connection: str) -> None:
    key = f"{PREFIX}lock:{connection}"
    for host in redis_hosts.values():
        redis(host, "SET", key, "1")
        redis(host, "SET", f"{key}:other", "1")
    args = ["delete-redis-keys", "--key", key, "--db", DB, "--yes", "-i", INV, "-l", "web",
            "--json",
            "--connection", connection]
    first = cli(*args)
    assert first.code == 0, first.stdout + first.stderr
    for h, r in first.by_host().items():
        assert r["status"] == "changed"
        assert r["commands"] == [f"env REDISCLI_AUTH=******** redis-cli -e -n 1 UNLINK {key}"]
        assert redis(redis_hosts[h], "EXISTS", key) == "0"
        assert redis(redis_hosts[h], "EXISTS", f"{key}:other") == "1"
    assert all(r["status"] == "ok" for r in cli(*args).by_host().values())


@pytest.mark.parametrize("args,message", [
    (["--pattern", "*"], "matches every key"),
    (["--pattern", "a b*"], "not a valid redis key pattern"),
    (["--key", "a", "--pattern", "b*"], "exactly one of --key K or --pattern P"),
    ([], "exactly one of --key K or --pattern P"),
])
def test_bad_input_is_refused(cli: Any, args: list[str], message: str) -> None:
    res = cli("delete-redis-keys", *args, "-i", INV, "-l", "web")
    assert res.code == 1 and message in res.stderr
