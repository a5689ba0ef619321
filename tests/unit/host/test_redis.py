"""redis_pong and redis_keys_deleted without a host: commands, SCAN, masking, validation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from remediations.connections.recording import RecordingConnection
from remediations.core.errors import InvalidInput
from remediations.core.result import Status
from remediations.host.redis import (
    cli_argv,
    glob_regex,
    redis_keys_deleted,
    redis_pattern,
    redis_pong,
    redis_text,
    scan_argv,
)
from remediations.run.target import RunContext, Target

PW = "s3cret-pass"


def target(conn: RecordingConnection, *, check: bool = False, **hostvars: object) -> Target:
    from tests.unit.helpers import host

    hostvars.setdefault("redis_password", PW)
    return Target(host("web1", **hostvars), conn,
                  RunContext("r1", datetime(2026, 11, 23, tzinfo=UTC), check=check))


def no_secret(result: object) -> None:
    text = repr(result)
    assert PW not in text, text


def test_password_travels_in_the_environment_never_as_dash_a() -> None:
    argv = cli_argv(target(RecordingConnection()), "PING")
    assert argv == ["env", f"REDISCLI_AUTH={PW}", "redis-cli", "-e", "PING"]
    assert "-a" not in argv
    assert cli_argv(target(RecordingConnection(), redis_password=None), "PING") == [
        "redis-cli", "-e", "PING"]
    t = target(RecordingConnection(), redis_host="10.0.0.5", redis_port=6380, redis_db=2)
    assert cli_argv(t, "PING")[3:] == ["-e", "-h", "10.0.0.5", "-p", "6380", "-n", "2", "PING"]
    with pytest.raises(InvalidInput):
        cli_argv(target(RecordingConnection(), redis_host="x;reboot"), "PING")


def test_pong_ok_and_failures_carry_redis_error_without_the_password() -> None:
    ok = redis_pong(target(RecordingConnection().on(r"PING", stdout="PONG\n")))
    assert ok.status is Status.OK and ok.data["reply"] == "PONG"
    down = redis_pong(target(RecordingConnection().on(
        r"PING", exit_code=1, stderr="Could not connect to Redis at 127.0.0.1:6379: Connection refused")))
    assert down.status is Status.FAILED and "Connection refused" in down.message
    auth = redis_pong(target(RecordingConnection().on(
        r"PING", exit_code=1, stdout="NOAUTH Authentication required.",
        stderr=f"AUTH failed: WRONGPASS (tried {PW})")))
    assert auth.status is Status.FAILED and "NOAUTH" in auth.message
    for r in (ok, down, auth):
        no_secret(r)


@pytest.mark.parametrize("pattern,key,matches", [
    ("rl:*", "rl:1.2.3.4", True),
    ("rl:*", "xrl:1", False),
    ("a?c", "abc", True),
    ("a[bc]d", "acd", True),
    ("a[^bc]d", "acd", False),
    ("a[a-c]d", "abd", True),
    ("a[c-a]d", "abd", True),           # redis swaps a reversed range
    ("a\\*b", "a*b", True),
    ("a\\*b", "axb", False),
    ("[]x", "x", False),                # an empty class matches nothing
    ("laravel_cache:*throttle*", "laravel_cache:abc:throttle:timer", True),
])
def test_glob_regex_follows_redis(pattern: str, key: str, matches: bool) -> None:
    assert bool(glob_regex(pattern).fullmatch(key)) is matches


@pytest.mark.parametrize("bad", ["", "a b", "a\nb", "a\tb", "x" * 1025, "a\x00b", "a\x1bb"])
def test_keys_and_patterns_are_validated(bad: str) -> None:
    with pytest.raises(InvalidInput):
        redis_text(bad, "key")


def test_match_everything_needs_allow_all() -> None:
    for bad in ("*", "**", "?*"):
        with pytest.raises(InvalidInput):
            redis_pattern(bad)
    assert redis_pattern("*", allow_all=True) == "*"
    assert redis_pattern("rl:*") == "rl:*"


def test_scan_is_one_round_trip_with_scan_match_count_never_keys() -> None:
    argv = scan_argv(target(RecordingConnection()), "rl:*", count=250)
    assert argv[:4] == ["env", f"REDISCLI_AUTH={PW}", "PATTERN=rl:*", "COUNT=250"]
    script = argv[argv.index("-c") + 1]
    assert 'SCAN "$c" MATCH "$PATTERN" COUNT "$COUNT"' in script
    assert "KEYS" not in " ".join(argv)


def keys_conn(keys: list[str], *, after: int = 0) -> RecordingConnection:
    conn = RecordingConnection()
    # A key with a newline splits in two lines; neither fragment matches rl:*.
    conn.on(r"redis-scan", stdout="\n".join([*keys, "rl:1", "other", ""]))
    conn.on(r" EXISTS ", stdout=f"{after}\n")
    return conn


def test_pattern_check_mode_lists_keys_and_deletes_nothing() -> None:
    keys = [f"rl:{i}" for i in range(3)]
    conn = keys_conn(keys)
    result = redis_keys_deleted(target(conn, check=True), pattern="rl:*")
    assert result.status is Status.CHANGED and result.check
    assert result.data["keys"] == ["rl:0", "rl:1", "rl:2"] and result.data["count"] == 3
    assert result.message == "would delete 3 keys (keys matching 'rl:*') in db 0"
    assert result.commands == ("env REDISCLI_AUTH=******** redis-cli -e UNLINK rl:0 rl:1 rl:2",)
    assert not conn.commands_matching("UNLINK")
    no_secret(result)


def test_pattern_deletes_in_batches_and_verifies_none_exists() -> None:
    keys = [f"rl:{i}" for i in range(1200)]
    conn = keys_conn(keys)
    result = redis_keys_deleted(target(conn), pattern="rl:*", db=1)
    assert result.status is Status.CHANGED, result.message
    unlinks = conn.commands_matching("UNLINK")
    assert [len(a) - a.index("UNLINK") - 1 for a in unlinks] == [500, 500, 200]
    assert all(a[4:6] == ("-n", "1") for a in unlinks)
    assert result.data["count"] == 1200 and len(result.data["keys"]) == 1000
    assert "none of them exists" in result.message
    no_secret(result)


def test_nothing_matching_is_ok_and_keys_that_stay_fail() -> None:
    ok = redis_keys_deleted(target(RecordingConnection().on("redis-scan", stdout="")),
                            pattern="rl:*")
    assert ok.status is Status.OK and ok.message == "no keys matching 'rl:*' in db 0"
    stuck = redis_keys_deleted(target(keys_conn(["rl:9"], after=1)), pattern="rl:*")
    assert stuck.status is Status.FAILED and "still exist" in stuck.message


def test_more_than_max_keys_is_refused_untouched() -> None:
    conn = keys_conn([f"rl:{i}" for i in range(20)])
    result = redis_keys_deleted(target(conn), pattern="rl:*", max_keys=10)
    assert result.status is Status.FAILED and "nothing deleted" in result.message
    assert not conn.commands_matching("UNLINK")


def test_exact_key_uses_exists_then_unlink() -> None:
    conn = RecordingConnection().on(r" EXISTS ", stdout="1\n", times=1).on(r" EXISTS ", stdout="0\n")
    result = redis_keys_deleted(target(conn), key="laravel_cache:lock")
    assert result.status is Status.CHANGED
    assert result.commands == ("env REDISCLI_AUTH=******** redis-cli -e UNLINK laravel_cache:lock",)
    again = redis_keys_deleted(target(conn), key="laravel_cache:lock")
    assert again.status is Status.OK and not again.commands


@pytest.mark.parametrize("password", ["it's a s3cret", "p@ss w0rd", "x"])
def test_awkward_passwords_never_show(password: str) -> None:
    conn = RecordingConnection().on(" EXISTS ", stdout="1\n", times=1)
    conn.on("UNLINK", exit_code=1, stderr="boom")
    result = redis_keys_deleted(target(conn, redis_password=password), key="k")
    assert result.status is Status.FAILED
    assert result.commands == ("env REDISCLI_AUTH=******** redis-cli -e UNLINK k",)
    for piece in {password, *password.split()}:
        if len(piece) > 1:
            assert piece not in result.message + result.evidence + "".join(result.commands)


def test_scan_error_is_a_failed_result_without_the_password() -> None:
    conn = RecordingConnection().on("redis-scan", exit_code=1,
                                    stderr=f"NOAUTH Authentication required. REDISCLI_AUTH={PW}")
    result = redis_keys_deleted(target(conn), pattern="rl:*")
    assert result.status is Status.FAILED and "NOAUTH" in result.message
    no_secret(result)


def test_key_or_pattern_exactly_one() -> None:
    with pytest.raises(InvalidInput):
        redis_keys_deleted(target(RecordingConnection()))
    with pytest.raises(InvalidInput):
        redis_keys_deleted(target(RecordingConnection()), key="a", pattern="b*")
    with pytest.raises(InvalidInput):
        redis_keys_deleted(target(RecordingConnection()), pattern="*")
