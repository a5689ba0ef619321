"""Disk remediations on the lab's web hosts, driven through the CLI and checked with testinfra."""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import LAB_INVENTORY, infra_host

pytestmark = pytest.mark.lab
INV = str(LAB_INVENTORY)
LOG = "/srv/app/current/storage/logs/laravel.log"
REAL_LOG = "/srv/app/shared/storage/logs/laravel.log"
BACKUPS = "/srv/app/shared/storage/backups"
OLD_LINES = 3_000_000       # 3 M lines of 71 bytes: a 213 MB laravel.log
KEEP = 1000


def run_id() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


def df_used(host: Any) -> int:
    return int(host.check_output("df -P -B1 / | awk 'NR==2 {print $3}'"))


@pytest.fixture
def laravel_log(lab: Any) -> Iterator[Any]:
    """web1's laravel.log, put back as it was afterwards (same inode: php-fpm may hold it)."""
    host = infra_host("web1")
    existed = host.file(REAL_LOG).exists
    if existed:
        host.check_output(f"cp -p {REAL_LOG} /root/laravel.log.saved")
    yield host
    host.run("[ -s /tmp/rem-writer.pid ] && kill $(cat /tmp/rem-writer.pid); rm -f /tmp/rem-writer.pid")
    if existed:
        host.check_output(f"cat /root/laravel.log.saved > {REAL_LOG} && rm /root/laravel.log.saved")
    else:
        host.check_output(f"rm -f {REAL_LOG}")


def start_writer(host: Any) -> None:
    """A writer holding laravel.log open with O_APPEND (`>>`), as monolog does: a numbered line every 5 ms."""
    host.check_output(
        "nohup setsid runuser -u www-data -- sh -c "
        "'echo $$ > /tmp/rem-writer.pid; exec >>\"$1\"; i=0; "
        "while :; do echo \"writer $i\"; i=$((i+1)); sleep 0.005; done' _ " + REAL_LOG +
        " >/dev/null 2>&1 &")
    for _ in range(50):
        if host.file(REAL_LOG).contains("^writer 20$"):
            break
        time.sleep(0.1)


def writer_pid(host: Any) -> int:
    return int(host.check_output("cat /tmp/rem-writer.pid"))


def stop_writer(host: Any) -> None:
    host.check_output("kill $(cat /tmp/rem-writer.pid) && rm /tmp/rem-writer.pid")


def truncate(cli: Any, *extra: str, connection: str = "ssh", rid: str = "") -> Any:
    res = cli("truncate-log", "--path", LOG, "--keep-lines", str(KEEP), "--yes", "-i", INV, "-l", "web1",
              "--json", "--connection", connection, "--run-id", rid or run_id(), *extra)
    return res


@pytest.mark.parametrize("connection", ["ssh", "docker"])
def test_truncate_a_200mb_log_while_a_writer_appends(cli: Any, laravel_log: Any,
                                                     connection: str) -> None:
    host = laravel_log
    host.check_output(
        f"seq -f 'old line %09.0f xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' 1 {OLD_LINES}"
        f" > {REAL_LOG} && chown www-data:www-data {REAL_LOG}")
    start_writer(host)
    pid = writer_pid(host)
    inode = host.file(REAL_LOG).inode
    size_before = host.file(REAL_LOG).size
    assert size_before > 200_000_000

    check = truncate(cli, "--check", connection=connection)
    assert check.code == 0, check.stderr
    (r,) = check.report()["results"]
    assert r["status"] == "changed" and r["check"] is True
    assert re.fullmatch(rf"would truncate {REAL_LOG} to its last {KEEP} lines, freeing about "
                        r"19\d\.\d MiB", r["message"]), r["message"]
    assert len(r["commands"]) == 1 and f" {REAL_LOG} {KEEP} {inode} " in r["commands"][0]
    assert host.file(REAL_LOG).inode == inode and host.file(REAL_LOG).size >= size_before

    written_before = int(host.check_output(f"grep -c '^writer ' {REAL_LOG}"))
    used_before = df_used(host)
    started = time.monotonic()
    res = truncate(cli, connection=connection)
    elapsed = time.monotonic() - started
    assert res.code == 0, res.stdout + res.stderr
    (r,) = res.report()["results"]
    assert r["status"] == "changed", r
    assert r["data"]["method"] == "collapse-range"      # overlayfs on ext4 supports it
    assert r["data"]["freed"] > 200_000_000
    written_at_end = int(host.check_output(f"grep -c '^writer ' {REAL_LOG}"))
    time.sleep(0.5)                                     # the writer keeps writing...
    fd = host.check_output(f"runuser -u www-data -- readlink /proc/{pid}/fd/1")
    assert fd == REAL_LOG                               # ...into the same file
    assert host.file(REAL_LOG).inode == inode
    stop_writer(host)
    used_after = df_used(host)
    assert used_before - used_after > 150_000_000, (used_before, used_after)

    lines = host.file(REAL_LOG).content_string.splitlines()
    assert lines[0].startswith("[remediations] log truncated by run test-")
    olds = [ln for ln in lines[1:] if ln.startswith("old line ")]
    writes = [int(ln.split()[1]) for ln in lines[1:] if ln.startswith("writer ")]
    assert len(olds) + len(writes) == len(lines) - 1
    # the kept old lines are exactly the last ones of the 200 MB, in order, untouched
    first = OLD_LINES - len(olds) + 1
    assert olds == [f"old line {i:09d} {'x' * 49}" for i in range(first, OLD_LINES + 1)]
    # the last KEEP lines before truncation were the old tail plus what the writer had
    # written by then, so the old lines kept make up KEEP minus those writer lines
    assert KEEP - written_at_end <= len(olds) <= KEEP - written_before
    # not one writer line lost: every number from the first to the last is there, and
    # it went on writing after the truncation
    assert writes[0] == 0 and writes == list(range(len(writes)))
    assert len(writes) > written_at_end
    assert elapsed < 60

    again = truncate(cli, connection=connection)       # the writer's lines beyond KEEP go
    assert again.by_host()["web1"]["status"] == "changed"
    tail = host.file(REAL_LOG).content_string.splitlines()
    assert tail[1:] == lines[-KEEP:]
    third = truncate(cli, connection=connection)
    assert third.by_host()["web1"]["status"] == "ok", third.stdout
    assert "already truncated" in third.by_host()["web1"]["message"]
    assert host.file(REAL_LOG).content_string.splitlines() == tail


@pytest.fixture
def evil_link(lab: Any) -> Iterator[str]:
    host = infra_host("web1")
    link = "/srv/app/shared/storage/logs/evil.log"
    host.check_output(f"ln -sfn /etc/passwd {link}")
    yield link
    host.check_output(f"rm -f {link}")


def passwd_sha(host: Any) -> str:
    return hashlib.sha256(host.file("/etc/passwd").content).hexdigest()


@pytest.mark.parametrize("path", ["/etc/passwd", "../../etc/shadow", "/var/log/../../etc/shadow",
                                  "/srv/app/current/storage/logs/../../../../etc/passwd"])
def test_paths_outside_the_roots_are_rejected_before_any_host_is_touched(
        cli: Any, tmp_path: Path, path: str) -> None:
    host = infra_host("web1")
    before = passwd_sha(host)
    audit = tmp_path / "audit.jsonl"
    res = cli("truncate-log", "--path", path, "--keep-lines", "1", "--yes", "-i", INV, "-l", "web",
              "--audit-log", str(audit))
    assert res.code == 1, res.stdout
    assert "outside the allowed roots" in res.stderr or "absolute path" in res.stderr \
        or "'..'" in res.stderr
    assert not audit.exists()                          # no host was even locked
    assert passwd_sha(host) == before


@pytest.mark.parametrize("connection", ["ssh", "docker"])
def test_a_symlink_to_etc_passwd_is_refused_and_nothing_changes(cli: Any, evil_link: str,
                                                                connection: str) -> None:
    host = infra_host("web1")
    before = passwd_sha(host)
    res = cli("truncate-log", "--path", evil_link, "--keep-lines", "1", "--yes", "-i", INV, "-l", "web1",
              "--json", "--connection", connection)
    assert res.code == 2
    r = res.by_host()["web1"]
    assert r["status"] == "failed" and r["commands"] == []
    assert r["message"] == (f"refused: {evil_link} resolves to /etc/passwd, outside the allowed "
                            "roots (/srv/app/current/storage/logs, /srv/app/shared/storage/logs, "
                            "/var/log); nothing changed")
    assert passwd_sha(host) == before


@pytest.fixture
def backups(lab: Any) -> Iterator[Any]:
    host = infra_host("web1")
    if host.file(BACKUPS).exists:
        pytest.skip(f"{BACKUPS} exists on web1: not ours to fill and remove")
    host.check_output(f"mkdir -p {BACKUPS}")
    host.check_output(
        f"cd {BACKUPS} && head -c 1000 /dev/urandom > db-1.sql.gz && head -c 2000 /dev/urandom > "
        "db-2.sql.gz && echo new > db-3.sql.gz && echo notes > notes.txt && "
        "touch -d '10 days ago' db-1.sql.gz notes.txt && touch -d '9 days ago' db-2.sql.gz && "
        "mkdir -p sub && echo x > sub/db-0.sql.gz && touch -d '30 days ago' sub/db-0.sql.gz")
    yield host
    host.check_output(f"rm -rf {BACKUPS}")


def listing(host: Any) -> list[str]:
    return sorted(host.check_output(f"cd {BACKUPS} && find . -type f").split())


@pytest.mark.parametrize("connection", ["ssh", "docker"])
def test_old_backups_are_removed_exactly(cli: Any, backups: Any, connection: str) -> None:
    host = backups
    before = listing(host)
    args = ["remove-old-files", "--root", BACKUPS, "--days", "7", "--pattern", "*.sql.gz", "--yes",
            "-i", INV, "-l", "web1", "--json", "--connection", connection]
    old = [f"{BACKUPS}/db-1.sql.gz", f"{BACKUPS}/db-2.sql.gz", f"{BACKUPS}/sub/db-0.sql.gz"]

    check = cli(*args, "--check")
    assert check.code == 0, check.stderr
    r = check.by_host()["web1"]
    assert r["status"] == "changed" and r["check"] is True
    assert [(f["path"], f["size"]) for f in r["data"]["files"]] == [
        (old[0], 1000), (old[1], 2000), (old[2], 2)]
    assert r["message"].startswith("would remove 3 file(s) (2.9 KiB)")
    assert r["commands"] == [f"find {' '.join(old)} -maxdepth 0 -type f -mtime +7 -delete"]
    assert listing(host) == before

    kept = cli(*args, "--check", "--keep-last", "3")   # the 3 newest: db-3, db-2, db-1
    assert [f["path"] for f in kept.by_host()["web1"]["data"]["files"]] == [old[2]]

    done = cli(*args)
    assert done.code == 0, done.stderr
    r = done.by_host()["web1"]
    assert r["status"] == "changed", r
    assert r["commands"] == [f"find {' '.join(old)} -maxdepth 0 -type f -mtime +7 -delete"]
    assert listing(host) == ["./db-3.sql.gz", "./notes.txt"]

    again = cli(*args)
    assert again.by_host()["web1"]["status"] == "ok" and again.by_host()["web1"]["commands"] == []
    assert listing(host) == ["./db-3.sql.gz", "./notes.txt"]


def test_remove_old_files_refuses_a_root_outside_the_cleanup_roots(cli: Any, tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    res = cli("remove-old-files", "--root", "/etc", "--days", "0", "--yes", "-i", INV, "-l", "web",
              "--audit-log", str(audit))
    assert res.code == 1 and "outside the allowed roots" in res.stderr
    assert not audit.exists()
    assert infra_host("web1").file("/etc/passwd").exists


def test_disk_usage_fact_and_threshold(cli: Any, lab: Any) -> None:
    ok = cli("disk-usage", "--path", "/srv/app", "--max-percent", "99", "-i", INV, "-l", "web",
             "--json")
    assert ok.code == 0, ok.stderr
    host = infra_host("web1")
    size = int(host.check_output("df -P -B1 /srv/app | awk 'NR==2 {print $2}'"))
    for r in ok.by_host().values():
        assert r["status"] == "ok" and r["data"]["mount"] == "/" and r["data"]["size"] == size
        assert 0 < r["data"]["percent"] < 99
    low = cli("disk-usage", "--max-percent", "1", "-i", INV, "-l", "web1", "--json")
    assert low.code == 2
    r = low.by_host()["web1"]
    assert r["status"] == "failed" and "above 1%" in r["message"]
    assert "/usr" in [b["path"] for b in r["data"]["biggest"]]
    assert "/usr" in r["evidence"]


def test_large_logs_lists_the_big_ones(cli: Any, lab: Any) -> None:
    host = infra_host("web1")
    host.check_output("mkdir -p /var/log/remtest && head -c 3000000 /dev/zero > /var/log/remtest/big.log"
                      " && echo small > /var/log/remtest/small.log")
    try:
        res = cli("large-logs", "--root", "/var/log", "--min-size-mb", "2", "-i", INV, "-l", "web1",
                  "--json", "--connection", "docker")
        assert res.code == 0, res.stderr
        r = res.by_host()["web1"]
        paths = [f["path"] for f in r["data"]["files"]]
        assert "/var/log/remtest/big.log" in paths and "/var/log/remtest/small.log" not in paths
        assert all(f["size"] > 2 * 2**20 for f in r["data"]["files"])
    finally:
        host.check_output("rm -rf /var/log/remtest")
