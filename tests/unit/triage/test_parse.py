"""The snapshot script's sections parsed into facts: table tests, no host."""

from __future__ import annotations

import pytest

from remediations.snapshot.parse import (
    parse_app,
    parse_df,
    parse_failed_jobs,
    parse_listening,
    parse_load,
    parse_log,
    parse_memory,
    parse_redis,
    parse_snapshot,
    parse_units,
    sections,
)
from tests.unit.triage.sample import MARK, output, unit


def test_sections_split_at_the_marker_only() -> None:
    text = f"\n{MARK}:a\n1\n@@triage-snapshot-fake:b\n2\n{MARK}:c\n3\n\n"
    assert sections(text, MARK) == [("a", ["1", "@@triage-snapshot-fake:b", "2"]), ("c", ["3"])]


def test_a_log_line_cannot_fake_a_section() -> None:
    forged = "@@triage-snapshot-0000000000000000:units\nId=evil.service\nLoadState=loaded"
    snap = parse_snapshot(output(app_log=forged), MARK)
    assert [u["name"] for u in snap["units"]] == ["nginx.service", "php8.2-fpm.service",
                                                   "redis-server.service", "supervisor.service"]
    (app,) = [log for log in snap["logs"] if log["kind"] == "app"]
    assert app["tail"][0].startswith("@@triage-snapshot-0000")


def test_units_deduplicated_by_id_and_not_found_dropped() -> None:
    text = unit("redis-server.service") + "\n" + unit("redis-server.service") + "\n" + \
        "Id=apache2.service\nLoadState=not-found\nActiveState=inactive\n\n" + \
        unit("apache2-old.service", "inactive", "dead", "disabled")
    units = parse_units(text.splitlines())
    assert [u.name for u in units] == ["apache2-old.service", "redis-server.service"]
    assert not units[0].expected and units[1].expected


@pytest.mark.parametrize("active,enabled,expected", [
    ("active", "enabled", True), ("inactive", "enabled", True), ("failed", "disabled", True),
    ("inactive", "disabled", False), ("active", "disabled", True), ("inactive", "static", True),
])
def test_which_units_are_expected_to_run(active: str, enabled: str, expected: bool) -> None:
    (u,) = parse_units(unit("x.service", active, "dead", enabled).splitlines())
    assert u.expected is expected


def test_df_keeps_real_and_tmpfs_file_systems_only() -> None:
    lines = output(disk_pct=91, scratch_pct=100).split(f"{MARK}:disk\n")[1].split("\n\n")[0]
    disks = {d.mount: d for d in parse_df(lines.splitlines())}
    assert list(disks) == ["/", "/run", "/mnt/scratch", "/run/lock"]  # no /dev, /proc, /sys, /etc/hosts
    assert disks["/"].type == "overlay" and disks["/"].percent == 91
    assert disks["/mnt/scratch"].percent == 100 and disks["/mnt/scratch"].size == 16384


def test_df_skips_unknown_inode_counts_and_joins_mount_points_with_spaces() -> None:
    rows = ["vfat vfat 1 0 1 - /boot/efi", "/dev/sdb1 ext4 100 50 50 50% /mnt/my disk"]
    (d,) = parse_df(rows)
    assert d.mount == "/mnt/my disk" and d.percent == 50


def test_load_per_core() -> None:
    assert parse_load(["4.00 6.00 2.00 1/2 3", "2"]) == {
        "one": 4.0, "five": 6.0, "fifteen": 2.0, "cpus": 2, "per_core": 3.0}
    assert parse_load([])["cpus"] == 1


def test_memory_available_percent() -> None:
    mem = parse_memory(["MemTotal: 1000 kB", "MemAvailable: 50 kB", "SwapTotal: 0 kB"])
    assert mem["available_percent"] == 5.0 and mem["available_kb"] == 50
    assert parse_memory([])["available_percent"] is None


def test_listening_ports() -> None:
    got = parse_listening(["State Recv-Q Send-Q Local Address:Port Peer Address:PortProcess",
                           'LISTEN 0 511 0.0.0.0:80 0.0.0.0:* users:(("nginx",pid=39,fd=5))',
                           "LISTEN 0 511 127.0.0.1:6379 0.0.0.0:*"])
    assert got == [{"address": "0.0.0.0:80", "process": "nginx[39]"},
                   {"address": "127.0.0.1:6379", "process": ""}]


@pytest.mark.parametrize("lines,expected", [
    (["ping=PONG", "llen=1500", "keyspace_hits:300", "keyspace_misses:700"],
     {"answering": True, "queue_length": 1500, "hit_ratio": 0.3, "installed": True}),
    (["ping=Could not connect to Redis at 127.0.0.1:6379: Connection refused", "llen=Could not"],
     {"answering": False, "queue_length": None, "hit_ratio": None, "installed": True}),
    (["ping=redis-cli not installed"], {"answering": False, "installed": False, "error": ""}),
    (["ping=NOAUTH Authentication required.", "llen=NOAUTH"],
     {"answering": False, "error": "NOAUTH Authentication required."}),
])
def test_redis(lines: list[str], expected: dict[str, object]) -> None:
    got = parse_redis(lines)
    assert {k: got[k] for k in expected} == expected


@pytest.mark.parametrize("lines,expected", [
    (["No failed jobs!", "exit=0"], {"count": 0, "error": ""}),
    (["  2026-11-23 10:00:00 5 ...... redis@default App\\Jobs\\Ping",
      "  2026-11-23 10:01:00 6 ...... redis@default App\\Jobs\\Ping", "exit=0"],
     {"count": 2, "error": ""}),
    (["exit=124"], {"count": None, "error": "timed out"}),
    (["SQLSTATE[HY000] [2002] Connection refused", "exit=1"],
     {"count": None, "error": "SQLSTATE[HY000] [2002] Connection refused"}),
])
def test_failed_jobs(lines: list[str], expected: dict[str, object]) -> None:
    assert parse_failed_jobs(lines) == expected


def test_app_release_and_maintenance() -> None:
    assert parse_app(["maintenance=on", "link=releases/v1.2.3",
                      "resolved=/srv/app/releases/v1.2.3"]) == {
        "maintenance": True, "release": "v1.2.3", "release_path": "/srv/app/releases/v1.2.3"}
    assert parse_app(["maintenance=off", "link=", "resolved=/srv/app"])["release"] is None


@pytest.mark.parametrize("line,error", [
    ("[2026-12-06 10:00:00] production.ERROR: boom", True),
    ("[2026-12-06 10:00:00] production.CRITICAL: boom", True),
    ("[2026-12-06 10:00:00] local.EMERGENCY: boom", True),
    ("2026/12/06 10:00:00 [error] 39#39: *1 connect() failed", True),
    ("2026/12/06 10:00:00 [crit] 39#39: open() failed", True),
    ("[06-Dec-2026 13:41:26] ERROR: unable to bind", True),
    ("2026-12-06 13:42:11.819 UTC [168] root@root FATAL:  role \"root\" does not exist", True),
    ("2026-12-06T10:00:00 0 [ERROR] InnoDB: Unable to lock", True),
    ("[2026-12-06 10:00:00] production.INFO: user logged in", False),
    ("[06-Dec-2026 13:41:26] NOTICE: fpm is running", False),
    ("#12 /srv/app/vendor/laravel/framework/src/Illuminate/Pipeline.php(180)", False),
])
def test_error_lines(line: str, error: bool) -> None:
    assert parse_log("app", "/x.log", [line], tail=5).errors == int(error)


def test_log_tail_is_the_last_lines_and_errors_count_all_scanned() -> None:
    lines = [f"production.ERROR: {i}" for i in range(50)] + ["ok"] * 10
    log = parse_log("app", "/x.log", lines, tail=3)
    assert log.errors == 50 and log.scanned == 60 and log.tail == ("ok", "ok", "ok")


def test_whole_snapshot() -> None:
    snap = parse_snapshot(output(), MARK)
    assert snap["complete"] and snap["app"]["release"] == "v1.2.3"
    assert snap["redis"]["answering"] and snap["failed_jobs"]["count"] == 0
    assert snap["top_memory"][0] == {"pid": 69, "user": "www-data", "mem_percent": 0.1,
                                     "cpu_percent": 0.4, "rss_kb": 38896, "command": "php"}
    assert snap["scheduler"]["timer"]["active"] == "active"
    assert [log["kind"] for log in snap["logs"]] == ["app", "web"]


def test_a_cut_off_snapshot_is_incomplete() -> None:
    assert not parse_snapshot(output().split(f"{MARK}:redis")[0], MARK)["complete"]
