"""Disk remediations: parsing and decisions without a host, then the real scripts run locally."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from remediations.connections.local import LocalConnection
from remediations.connections.recording import RecordingConnection
from remediations.core.errors import InvalidInput
from remediations.core.result import Status
from remediations.host import disk
from remediations.host.disk import (
    FileEntry,
    Resolved,
    absolute_path,
    delete_steps,
    disk_usage,
    glob_pattern,
    log_roots,
    old_files_removed,
    parse_df,
    parse_du,
    parse_find,
    path_in_roots,
    plan_old_files,
)
from remediations.host.logs import MARKER, LogFacts, log_truncated, plan_log_truncated
from remediations.run.target import RunContext, Target
from tests.unit.helpers import host

RUN_START = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)
ROOTS = ("/srv/app/current/storage/logs", "/srv/app/shared/storage/logs", "/var/log")


def target(conn: Any, *, check: bool = False, run_id: str = "r1", **hostvars: Any) -> Target:
    return Target(host("web1", **hostvars), conn, RunContext(run_id, RUN_START, check=check))


# --- input ---------------------------------------------------------------------------

@pytest.mark.parametrize("value,expected", [
    ("/var/log/nginx/error.log", "/var/log/nginx/error.log"),
    ("//var/log/./x.log", "/var/log/x.log"),
    ("/var/log/", "/var/log"),
    ("/", "/"),
])
def test_absolute_path_normalises(value: str, expected: str) -> None:
    assert absolute_path(value) == expected


@pytest.mark.parametrize("value", ["", "var/log/x", "../../etc/shadow", "/var/log/../../etc/shadow",
                                   "/var/log/x\n/etc/passwd", "/var/\0log", 42, None])
def test_absolute_path_rejects(value: Any) -> None:
    with pytest.raises(InvalidInput):
        absolute_path(value)


@pytest.mark.parametrize("path", ["/etc/passwd", "/var/logs/x", "/srv/app/shared/storage/log",
                                  "/srv/app/current/storage/logs/../../../../etc/shadow",
                                  "../../etc/shadow"])
def test_paths_outside_the_roots_are_refused(path: str) -> None:
    with pytest.raises(InvalidInput):
        path_in_roots(path, ROOTS)


def test_paths_inside_the_roots_pass() -> None:
    assert path_in_roots("/var/log/nginx/error.log", ROOTS) == "/var/log/nginx/error.log"
    assert path_in_roots("/srv/app/current/storage/logs/laravel.log", ROOTS)


@pytest.mark.parametrize("value,ok", [("*", True), ("*.sql.gz", True), ("backup-[0-9]*", True),
                                      ("a/b", False), ("", False), ("x\ny", False)])
def test_glob_pattern(value: str, ok: bool) -> None:
    if ok:
        assert glob_pattern(value) == value
    else:
        with pytest.raises(InvalidInput):
            glob_pattern(value)


def test_roots_come_from_the_inventory_or_the_app_path() -> None:
    conn = RecordingConnection()
    assert log_roots(target(conn, app_path="/opt/app")) == (
        "/opt/app/storage/logs", "/srv/app/shared/storage/logs", "/var/log")
    assert log_roots(target(conn, log_roots=["/data/logs/"])) == ("/data/logs",)
    with pytest.raises(InvalidInput):
        log_roots(target(conn, log_roots=["/"]))
    with pytest.raises(InvalidInput):
        disk.cleanup_roots(target(conn, cleanup_roots=["relative/dir"]))


# --- disk usage ----------------------------------------------------------------------

DF = """Filesystem         1-blocks        Used   Available Capacity Mounted on
/dev/vda1       100000000000 85000000000 15000000000      85% /srv/data dir
"""


def test_parse_df() -> None:
    u = parse_df("/srv/data dir/x", DF)
    assert (u.filesystem, u.size, u.used, u.avail, u.mount) == (
        "/dev/vda1", 100000000000, 85000000000, 15000000000, "/srv/data dir")
    assert u.percent == 85.0


def test_parse_du_biggest_first_without_duplicates() -> None:
    text = "10\t/a\n300\t/b\n300\t/b\n20\t/c\nnoise\n"
    assert parse_du(text, limit=2) == [(300, "/b"), (20, "/c")]


def test_disk_usage_under_the_limit_is_ok_and_runs_only_df() -> None:
    conn = RecordingConnection().on(r"^df ", stdout=DF)
    r = disk_usage(target(conn), "/srv/data dir", max_percent=90)
    assert r.status is Status.OK and r.data["percent"] == 85.0
    assert conn.command_lines == ["df -P -B1 -- '/srv/data dir'"]


def test_disk_usage_above_the_limit_fails_with_the_biggest_directories() -> None:
    conn = RecordingConnection().on(r"^df ", stdout=DF.replace("/srv/data dir", "/"))
    conn.on(r"du -x", stdout="900\t/\n700\t/var/log\n100\t/srv\n")
    r = disk_usage(target(conn), "/", max_percent=80)
    assert r.status is Status.FAILED and "above 80%" in r.message
    assert r.data["biggest"][1] == {"path": "/var/log", "bytes": 700}
    assert "/var/log" in r.evidence
    du = conn.commands[1]
    assert du[:2] == ("sh", "-c") and du[-1] == "/" and "/var/log" in du


# --- old files -----------------------------------------------------------------------

def entry(path: str, mtime: float, old: bool, size: int = 10) -> FileEntry:
    return FileEntry(path, size, mtime, old)


@pytest.mark.parametrize("keep_last,expected", [
    (0, ["/b/1", "/b/2", "/b/3"]),
    (1, ["/b/1", "/b/2", "/b/3"]),        # the newest file is a new one: every old one goes
    (3, ["/b/1", "/b/2"]),                # the 3 newest overall include old /b/3
    (10, []),
])
def test_plan_old_files_keeps_the_newest(keep_last: int, expected: list[str]) -> None:
    files = [entry("/b/1", 100, True), entry("/b/2", 200, True), entry("/b/3", 300, True),
             entry("/b/new", 900, False), entry("/b/new2", 800, False)]
    assert [f.path for f in plan_old_files(files, keep_last=keep_last)] == expected


def test_parse_find_drops_paths_outside_the_root_and_undecodable_names() -> None:
    text = ("1\t1700000000.5\t42\t/b/a b.sql\0"
            "0\t1700000001.0\t7\t/b/x\ny\0"
            "1\t1\t1\t/elsewhere/z\0"
            "1\t1\t1\t/b/\ufffdbad\0")
    files = parse_find(text, "/b")
    assert [(f.path, f.size, f.old) for f in files] == [("/b/a b.sql", 42, True), ("/b/x\ny", 7, False)]


def test_delete_steps_recheck_age_per_file_and_stay_under_arg_max() -> None:
    victims = [entry(f"/b/{'x' * 200}{i}", 1, True) for i in range(1000)]
    steps = delete_steps(victims, 7)
    assert len(steps) > 1
    assert sum(len(s.argv) - 8 for s in steps) == 1000
    for s in steps:
        assert s.argv[0] == "find" and s.argv[-7:] == (
            "-maxdepth", "0", "-type", "f", "-mtime", "+7", "-delete")
        assert sum(len(a) + 1 for a in s.argv) < 128 * 1024


def find_reply(records: list[tuple[str, int, float, bool]]) -> str:
    return "".join(f"{int(o)}\t{m}\t{s}\t{p}\0" for p, s, m, o in records)


def resolve_reply(real: str, roots: tuple[str, ...], kind: str = "directory") -> str:
    return "".join(f"root={r}\0" for r in roots) + f"real={real}\0stat={kind}|4096|12|0\0"


def test_old_files_check_mode_lists_exactly_the_files_and_touches_nothing() -> None:
    roots = disk.DEFAULT_CLEANUP_ROOTS
    conn = RecordingConnection().on(r"realpath", stdout=resolve_reply(roots[0], roots))
    conn.on(r"^find ", stdout=find_reply([(f"{roots[0]}/a.sql", 100, 1, True),
                                          (f"{roots[0]}/b.sql", 50, 2, True),
                                          (f"{roots[0]}/new.sql", 70, 9e9, False)]))
    r = old_files_removed(target(conn, check=True), roots[0], days=7)
    assert r.status is Status.CHANGED and r.check
    assert [f["path"] for f in r.data["files"]] == [f"{roots[0]}/a.sql", f"{roots[0]}/b.sql"]
    assert (r.data["count"], r.data["bytes"]) == (2, 150)
    assert "2 file(s) (150 B)" in r.message
    assert r.commands == (f"find {roots[0]}/a.sql {roots[0]}/b.sql -maxdepth 0 -type f -mtime +7 -delete",)
    assert not conn.commands_matching("-delete")


def test_old_files_refuses_a_root_that_resolves_elsewhere() -> None:
    roots = disk.DEFAULT_CLEANUP_ROOTS
    conn = RecordingConnection().on(r"realpath", stdout=resolve_reply("/etc", roots))
    r = old_files_removed(target(conn), roots[0], days=7)
    assert r.status is Status.FAILED and "outside the allowed roots" in r.message
    assert len(conn.commands) == 1


@pytest.mark.parametrize("kwargs", [dict(root="/etc", days=7), dict(root="/var/backups/app", days=-1),
                                    dict(root="/var/backups/app", days=7, pattern="../x"),
                                    dict(root="/var/backups/app/../../etc", days=7)])
def test_old_files_bad_input_touches_no_host(kwargs: dict[str, Any]) -> None:
    conn = RecordingConnection()
    with pytest.raises(InvalidInput):
        old_files_removed(target(conn), **kwargs)
    assert conn.commands == []


def test_old_files_for_real_on_local_files(tmp_path: Path) -> None:
    root = tmp_path / "backups"
    root.mkdir()
    now = time.time()
    for name, age_days in [("old1.sql.gz", 10), ("old2.sql.gz", 12), ("new.sql.gz", 1),
                           ("old.txt", 30), ("a b\nc.sql.gz", 11)]:
        p = root / name
        p.write_bytes(b"x" * 100)
        os.utime(p, (now - age_days * 86400, now - age_days * 86400))
    (tmp_path / "outside.sql.gz").write_text("x")
    (root / "link.sql.gz").symlink_to(tmp_path / "outside.sql.gz")
    t = target(LocalConnection(), cleanup_roots=[str(root)])
    plan = old_files_removed(target(LocalConnection(), check=True, cleanup_roots=[str(root)]),
                             str(root), days=7, pattern="*.sql.gz")
    assert sorted(f["path"] for f in plan.data["files"]) == sorted(
        str(root / n) for n in ("old1.sql.gz", "old2.sql.gz", "a b\nc.sql.gz"))
    assert len(list(root.iterdir())) == 6
    (root / "sub").mkdir()                    # directories never count among the newest
    kept = old_files_removed(target(LocalConnection(), check=True, cleanup_roots=[str(root)]),
                             str(root), days=7, pattern="*.sql.gz", keep_last=2)
    assert sorted(f["path"] for f in kept.data["files"]) == sorted(
        str(root / n) for n in ("old2.sql.gz", "a b\nc.sql.gz"))
    (root / "sub").rmdir()
    done = old_files_removed(t, str(root), days=7, pattern="*.sql.gz")
    assert done.status is Status.CHANGED, done.message + done.evidence
    assert sorted(p.name for p in root.iterdir()) == ["link.sql.gz", "new.sql.gz", "old.txt"]
    assert (tmp_path / "outside.sql.gz").exists()
    again = old_files_removed(t, str(root), days=7, pattern="*.sql.gz")
    assert again.status is Status.OK and again.commands == ()


# --- logs ----------------------------------------------------------------------------

def facts(size: int, keep: int, keep1: int, first: str = "x", n: int = 10) -> LogFacts:
    where = Resolved("/var/log/a.log", "/var/log/a.log", ROOTS, "regular file", size, 99)
    return LogFacts(where, n, keep, keep1, first)


@pytest.mark.parametrize("f,min_size,acts,why", [
    (facts(100, 100, 100), None, False, "at most 10 lines"),
    (facts(5000, 100, 120), 10000, False, "below"),
    (facts(5000, 100, 5000, first=f"{MARKER} r0; earlier lines removed   "), None, False,
     "already truncated"),
    (facts(5000, 100, 120, first=f"{MARKER} r0"), None, True, ""),   # marker, but more lines
    (facts(5000, 100, 120), None, True, ""),
    (facts(5000, 100, 120), 4000, True, ""),
])
def test_plan_log_truncated(f: LogFacts, min_size: int | None, acts: bool, why: str) -> None:
    steps, reason = plan_log_truncated(f, min_size=min_size, marker="m")
    assert bool(steps) is acts
    assert why in reason
    if acts:
        assert steps[0].argv[:2] == ("sh", "-c")
        assert steps[0].argv[3:8] == ("_", "/var/log/a.log", "10", "99", "m")


def log_reply(real: str, size: int, keep: int, keep1: int, kind: str = "regular file",
              first: str = "line") -> str:
    return ("".join(f"root={r}\0" for r in ROOTS) + f"real={real}\0stat={kind}|{size}|77|0\0"
            f"keep={keep}\0keep1={keep1}\0first={first}\0")


@pytest.mark.parametrize("path", ["/etc/passwd", "../../etc/shadow", "/var/log/../etc/shadow",
                                  "relative.log"])
def test_truncate_outside_the_roots_is_refused_before_any_command(path: str) -> None:
    conn = RecordingConnection()
    with pytest.raises(InvalidInput):
        log_truncated(target(conn), path)
    assert conn.commands == []


def test_truncate_refuses_a_symlink_to_a_file_outside_the_roots() -> None:
    conn = RecordingConnection().on(r"realpath", stdout=log_reply("/etc/passwd", 3000, 10, 20))
    r = log_truncated(target(conn), "/var/log/evil.log", keep_lines=1)
    assert r.status is Status.FAILED
    assert "resolves to /etc/passwd, outside the allowed roots" in r.message
    assert len(conn.commands) == 1 and r.commands == ()


def test_truncate_refuses_a_directory() -> None:
    conn = RecordingConnection().on(r"realpath", stdout=log_reply("/var/log/nginx", 4096, 0, 0,
                                                                  kind="directory"))
    r = log_truncated(target(conn), "/var/log/nginx")
    assert r.status is Status.FAILED and "not a regular file" in r.message


def test_truncate_check_mode_says_what_it_frees_and_runs_only_the_inspection() -> None:
    real = "/srv/app/shared/storage/logs/laravel.log"
    conn = RecordingConnection().on(r"realpath", stdout=log_reply(real, 200 * 2**20, 50_000, 50_100))
    r = log_truncated(target(conn, check=True), "/srv/app/current/storage/logs/laravel.log",
                      keep_lines=1000)
    assert r.status is Status.CHANGED and r.check
    assert r.message == (f"would truncate {real} to its last 1000 lines, freeing about 199.95 MiB"
                         .replace("199.95", f"{(200 * 2**20 - 50_000) / 2**20:.1f}"))
    assert r.data["bytes_to_free"] == 200 * 2**20 - 50_000
    assert len(r.commands) == 1 and real in r.commands[0]
    assert len(conn.commands) == 1


def test_truncate_missing_file_is_ok() -> None:
    conn = RecordingConnection().on(r"realpath", stdout="".join(f"root={r}\0" for r in ROOTS))
    r = log_truncated(target(conn), "/var/log/none.log")
    assert r.status is Status.OK and r.data["exists"] is False


def _writer(path: Path, stop: threading.Event) -> list[int]:
    written: list[int] = []
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    i = 0
    while not stop.is_set():
        os.write(fd, f"writer {i}\n".encode())
        written.append(i)
        i += 1
        time.sleep(0.002)
    os.close(fd)
    return written


def _collapses(directory: Path) -> bool:
    """Whether the file system under `directory` supports fallocate --collapse-range."""
    probe = directory / "probe"
    probe.write_bytes(b"x" * 3 * 65536)
    try:
        return subprocess.run(["fallocate", "--collapse-range", "--offset", "0", "--length",
                               "65536", str(probe)], capture_output=True).returncode == 0
    finally:
        probe.unlink()


def _no_perl_path(tmp_path: Path) -> str:
    """A PATH with the tools the script needs, but no perl: forces the shell fallback."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sh", "stat", "dd", "tail", "wc", "head", "tr", "fallocate", "truncate", "realpath"):
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


@pytest.mark.parametrize("where", ["disk", "tmpfs", "tmpfs-no-perl"])
def test_truncate_for_real_keeps_the_tail_and_the_writer(tmp_path: Path, where: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    base = tmp_path
    if where.startswith("tmpfs"):
        if not Path("/dev/shm").is_dir():
            pytest.skip("no /dev/shm")
        base = Path(subprocess.check_output(["mktemp", "-d", "-p", "/dev/shm"], text=True).strip())
    if where == "tmpfs-no-perl":
        monkeypatch.setenv("PATH", _no_perl_path(tmp_path))
    try:
        log = base / "laravel.log"
        with open(log, "w") as fh:
            fh.writelines(f"old {i} {'x' * 60}\n" for i in range(200_000))
        ino = log.stat().st_ino
        stop = threading.Event()
        out: list[list[int]] = []
        th = threading.Thread(target=lambda: out.append(_writer(log, stop)))
        th.start()
        time.sleep(0.2)
        t = target(LocalConnection(), log_roots=[str(base)])
        r = log_truncated(t, str(log), keep_lines=500)
        time.sleep(0.2)
        stop.set()
        th.join()
        assert r.status is Status.CHANGED, (r.message, r.evidence)
        assert r.data["method"] == ("collapse-range" if _collapses(base) else "copy")
        assert log.stat().st_ino == ino and log.stat().st_size < 200_000
        lines = log.read_text().splitlines()
        assert lines[0].startswith(MARKER)
        olds = [ln for ln in lines if ln.startswith("old ")]
        # the last old lines are exactly there, in order, as the head of what was kept
        assert olds == [f"old {i} {'x' * 60}" for i in range(200_000 - len(olds), 200_000)]
        news = [int(ln.split()[1]) for ln in lines if ln.startswith("writer ")]
        assert 0 < len(olds) <= 500
        assert news[-1] == out[0][-1]
        missing = sorted(set(range(news[0], news[-1] + 1)) - set(news))
        # collapse-range loses nothing; the copy may lose what is written between its
        # last size check and the truncate: microseconds in perl (one line at most, seen
        # once on a loaded machine), a millisecond in the shell loop
        allowed = 0 if r.data["method"] == "collapse-range" else 3 if where == "tmpfs-no-perl" else 1
        assert len(missing) <= allowed, missing
        # the writer has stopped: one more run cuts what it appended, the next finds it done
        assert log_truncated(t, str(log), keep_lines=500).status is Status.CHANGED
        tail = log.read_text().splitlines()
        assert tail[0].startswith(MARKER) and tail[1:] == lines[-500:]
        again = log_truncated(t, str(log), keep_lines=500)
        assert again.status is Status.OK and again.commands == ()
        assert "already truncated" in again.message
    finally:
        if base != tmp_path:
            shutil.rmtree(base)


# --- large logs (a fact), on this machine's own files ------------------------------------

def test_large_logs_lists_the_files_above_the_size_biggest_first(tmp_path: Path) -> None:
    from remediations.host.disk import large_logs

    (tmp_path / "small.log").write_bytes(b"x" * 1024)
    (tmp_path / "big.log").write_bytes(b"x" * 3 * 1024 * 1024)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "bigger.log").write_bytes(b"x" * 5 * 1024 * 1024)
    t = Target(host("web1"), LocalConnection(), RunContext.new())
    res = large_logs(t, str(tmp_path), min_size_mb=2)
    assert res.status is Status.OK and res.commands == ()
    assert [f["path"] for f in res.data["files"]] == [str(tmp_path / "sub" / "bigger.log"),
                                                     str(tmp_path / "big.log")]
    assert res.data["bytes"] == 8 * 1024 * 1024
    assert res.message.startswith(f"2 file(s) above 2 MiB under {tmp_path} (8.0 MiB)")
    none = large_logs(t, str(tmp_path / "missing"), min_size_mb=2)
    assert none.message == f"{tmp_path / 'missing'} does not exist" and none.data["files"] == []
    with pytest.raises(InvalidInput):
        large_logs(t, str(tmp_path), min_size_mb=-1)
