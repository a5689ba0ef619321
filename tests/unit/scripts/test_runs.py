"""The scripts only the lab runs otherwise, run here in `sh` against temporary folders and fakes.

Each is sent exactly as the library builds it (same argv), with the host's paths pointed
at `tmp_path`. The systemd guard has its own (tests/unit/host/test_systemd_guard.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from remediations.core.commands import CommandResult
from remediations.core.scripts import script
from tests.unit.scripts.helpers import RUN


class Here:
    """The part of a connection the fact readers use: run argv here, with `env`."""

    name = "here"

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.env = {**os.environ, **(env or {})}

    def run(self, argv: Sequence[str], *, timeout: float | None = None,
            check: bool = True) -> CommandResult:
        res = subprocess.run(list(argv), capture_output=True, text=True, env=self.env,
                             timeout=timeout or 60, check=False)
        return CommandResult(" ".join(argv), res.returncode, res.stdout, res.stderr)


def run(argv: Sequence[str], **env: str) -> CommandResult:
    return Here(env).run(argv)


def fake_bin(tmp: Path, name: str, body: str) -> Path:
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / name).write_text("#!/bin/sh\n" + body)
    (bin_dir / name).chmod(0o755)
    return bin_dir


def only_bin(tmp: Path, tools: Sequence[str]) -> str:
    """A PATH holding `tools` only (links to the real ones): what a host without the rest has."""
    bin_dir = tmp / "only"
    bin_dir.mkdir()
    for tool in tools:
        real = shutil.which(tool)
        assert real, tool
        (bin_dir / tool).symlink_to(real)
    return str(bin_dir)


# -- release-inspect.sh ---------------------------------------------------------------------

def test_release_inspect_reads_releases_current_bad_marks_and_this_run_s_markers(
        tmp_path: Path) -> None:
    from remediations.release.facts import inspect_argv, parse_inspection
    from remediations.run import markers

    root = tmp_path / "srv app"
    for tag in ("v1.2.9", "v1.2.10", "no-artisan"):
        (root / "releases" / tag).mkdir(parents=True)
    (root / "releases" / "v1.2.9" / "artisan").write_text("")
    (root / "releases" / "v1.2.10" / "artisan").write_text("")
    (root / "releases" / "v1.2.9" / ".remediations-bad").write_text(
        '{"by": "ops", "at": "2026-11-23T10:00:00+00:00", "run_id": "r1", "reason": "500s"}\n')
    (root / "current").symlink_to("releases/v1.2.10")
    argv = inspect_argv(str(root), RUN, None)
    assert argv[:3] == ["sh", "-c", script("release-inspect.sh")]
    assert argv[5] == f"{markers.ROOT}/{RUN.run_id}"
    # The run's marker folder lives under /var/lib on a host: pointed at tmp_path here.
    marks = tmp_path / "marks"
    marks.mkdir()
    (marks / "release-v1.2.10-switch").write_text("v1.2.9\n")
    (marks / "other").write_text("")
    res = run([*argv[:5], str(marks), "echo", "unit-state"])
    assert res.exit_code == 0, res.stderr
    ins = parse_inspection(str(root), res.stdout, "php8.2-fpm.service")
    assert ins.facts.current == "v1.2.10"
    assert ins.facts.available == ("v1.2.9", "v1.2.10")
    assert list(ins.facts.bad) == ["v1.2.9"] and "500s" in ins.facts.bad["v1.2.9"]
    assert ins.link == "releases/v1.2.10" and ins.owner.count(":") == 1
    assert dict(ins.markers) == {"release-v1.2.10-switch": "v1.2.9"}
    assert res.stdout.endswith("\nunit\nunit-state\n")


def test_release_inspect_of_a_missing_root_prints_nothing_but_an_empty_owner(
        tmp_path: Path) -> None:
    res = run(["sh", "-c", script("release-inspect.sh"), "_", str(tmp_path / "none"),
               str(tmp_path / "marks")])
    assert (res.exit_code, res.stdout) == (0, "root\t\n")


# -- release-hook.sh, release-record.sh ------------------------------------------------------

def test_release_hook_reports_each_action_and_stops_at_the_first_failure(tmp_path: Path) -> None:
    fail = tmp_path / "failed"
    text = "; ".join([f"set -e; F='{fail}'", script("release-hook.sh"),
                      "h ok echo done", "h quiet true",
                      "h broken sh -c 'echo oops; exit 4'", "h never echo no"])
    res = run(["sh", "-c", text])
    assert res.exit_code == 4
    assert res.stdout == "== ok\ndone\n== quiet\n== broken\n"
    assert res.stderr == "oops\n"
    assert fail.read_text() == "broken\noops\n"


def test_release_record_marks_bad_clears_the_new_release_appends_history_writes_marker(
        tmp_path: Path) -> None:
    bad_old = tmp_path / "releases" / "v1" / ".remediations-bad"
    bad_new = tmp_path / "releases" / "v2" / ".remediations-bad"
    bad_old.parent.mkdir(parents=True)
    bad_new.parent.mkdir(parents=True)
    bad_new.write_text("{}\n")
    history = tmp_path / ".remediations-releases.jsonl"
    history.write_text('{"to": "v1"}\n')
    marker = tmp_path / "run" / "r1" / "release-v2-record"
    argv = ["sh", "-c", script("release-record.sh"), "_", str(bad_old), '{"by": "ops"}',
            str(bad_new), '{"to": "v2"}', str(history), str(marker)]
    for _ in range(2):  # again: the same files (the history gains a line, as today)
        res = run(argv)
        assert res.exit_code == 0, res.stderr
    assert bad_old.read_text() == '{"by": "ops"}\n' and not bad_new.exists()
    assert history.read_text() == '{"to": "v1"}\n{"to": "v2"}\n{"to": "v2"}\n'
    assert marker.exists() and not (bad_old.parent / ".remediations-bad.tmp").exists()
    none = run(["sh", "-c", script("release-record.sh"), "_", "", "", str(bad_new), "{}",
                str(history), str(marker)])
    assert none.exit_code == 0 and bad_old.exists()


# -- lock-acquire.sh, lock-peek.sh, lock-release.sh -----------------------------------------

def test_the_lock_is_taken_once_seen_held_and_dropped_only_by_its_run(tmp_path: Path) -> None:
    from remediations.core.runs import LockOwner, RunContext
    from remediations.run.locks import acquire_argv, peek_argv, release_argv

    lock = tmp_path / "it's a lock; rm -rf x"
    path = str(lock)
    other = RunContext("other-run", RUN.started_at, user="someone")
    assert run(peek_argv(path)).stdout == "FREE\n"
    took = run(acquire_argv(RUN, path))
    assert (took.exit_code, took.stdout) == (0, "ACQUIRED\n")
    written = (lock / "owner").read_text()
    owner = LockOwner.parse(written)  # the line is stamped when the command is built
    assert (owner.run_id, owner.who, written.count("\n")) == (RUN.run_id, RUN.user, 1)
    for argv in (acquire_argv(other, path), peek_argv(path)):
        held = run(argv)
        lines = held.stdout.splitlines()
        assert held.exit_code == 3 and lines[0] == "HELD", held
        assert lines[1] == f"owner={written.strip()}"
        assert lines[2].startswith("now=") and lines[3].startswith("mtime=")
    assert run(release_argv(other, path)).exit_code == 0 and lock.is_dir()
    assert run(release_argv(RUN, path)).exit_code == 0 and not lock.exists()
    assert run(release_argv(RUN, path)).exit_code == 0  # gone already: nothing to do
    assert run(peek_argv(path)).stdout == "FREE\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# -- disk-resolve.sh, log-facts.sh, log-truncate.sh, log-move.pl --------------------------

def test_disk_resolve_reports_real_paths_and_stat_and_nothing_for_a_missing_path(
        tmp_path: Path) -> None:
    from remediations.host.disk import resolve

    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log").write_text("x" * 10)
    (tmp_path / "link.log").symlink_to(logs / "app.log")
    roots = [str(tmp_path / "logs" / "."), str(tmp_path / "nowhere")]
    found = resolve(Here(), str(tmp_path / "link.log"), roots)  # type: ignore[arg-type]
    assert found.real == str(logs / "app.log")
    assert found.real_roots == (str(logs), str(tmp_path / "nowhere"))
    assert (found.kind, found.size) == ("regular file", 10)
    assert found.inode == (logs / "app.log").stat().st_ino
    missing = resolve(Here(), str(tmp_path / "gone.log"), roots)  # type: ignore[arg-type]
    assert missing.real is None and missing.real_roots == found.real_roots


def _log(path: Path, lines: int) -> list[str]:
    text = [f"[2026-11-23 10:00:00] local.INFO: line {i} {'x' * (i % 50)}" for i in range(lines)]
    path.write_text("\n".join(text) + "\n")
    return text


@pytest.mark.parametrize("tools", ["host", "no perl, no fallocate"])
def test_log_truncate_keeps_the_last_lines_in_place(tmp_path: Path, tools: str) -> None:
    from remediations.host.logs import log_facts, marker_line, plan_log_truncated

    path = tmp_path / "laravel.log"
    text = _log(path, 20000)
    inode = path.stat().st_ino
    facts = log_facts(Here(), str(path), [str(tmp_path)], 500)  # type: ignore[arg-type]
    assert facts.size == path.stat().st_size and facts.keep_lines == 500
    assert facts.keep_bytes == len("\n".join(text[-500:])) + 1
    assert facts.first_line == text[0]
    marker = marker_line(RUN.run_id)
    steps, why = plan_log_truncated(facts, min_size=None, marker=marker)
    assert len(steps) == 1 and why == ""
    env = {}
    if tools != "host":  # the shell's copy loop: what a host without perl and fallocate runs
        env["PATH"] = only_bin(tmp_path, ["sh", "stat", "dd", "tail", "wc", "head", "tr",
                                          "truncate"])
    res = run(steps[0].argv, **env)
    assert res.exit_code == 0, res.stderr
    method = res.stdout.split()[0]
    assert method in ("collapse", "copy") and (tools == "host" or method == "copy")
    kept = path.read_text().splitlines()
    assert kept[0].startswith(marker) and kept[1:] == text[-500:]
    assert path.stat().st_ino == inode
    # Done: the facts now say so, and the plan is empty.
    again = log_facts(Here(), str(path), [str(tmp_path)], 500)  # type: ignore[arg-type]
    assert plan_log_truncated(again, min_size=None, marker=marker)[0] == []


def test_log_truncate_refuses_a_file_replaced_since_it_was_inspected(tmp_path: Path) -> None:
    path = tmp_path / "laravel.log"
    _log(path, 100)
    res = run(["sh", "-c", script("log-truncate.sh"), "_", str(path), "10",
               str(path.stat().st_ino + 1), "marker", script("log-move.pl")])
    assert res.exit_code == 1 and "was replaced" in res.stderr
    assert len(path.read_text().splitlines()) == 100


def test_log_move_moves_the_tail_left_and_truncates(tmp_path: Path) -> None:
    if shutil.which("perl") is None:
        pytest.skip("perl not installed here")
    path = tmp_path / "f"
    path.write_bytes(b"0123456789abcdef")
    res = run(["perl", "-e", script("log-move.pl"), str(path), "10", "6"])
    assert res.exit_code == 0, res.stderr
    assert path.read_bytes() == b"0123abcdef"


# -- compose-save.sh -----------------------------------------------------------------------

def test_compose_save_writes_the_output_whole_or_not_at_all(tmp_path: Path) -> None:
    folder = tmp_path / "incidents" / "r1"
    dest = folder / "web.log"
    ok = run(["sh", "-c", script("compose-save.sh"), "_", str(folder), str(dest),
              "printf", "%s\n", "one", "two"])
    assert ok.exit_code == 0, ok.stderr
    assert dest.read_text() == "one\ntwo\n" and not (folder / "web.log.part").exists()
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert oct(dest.stat().st_mode & 0o777) == "0o600"
    bad = run(["sh", "-c", script("compose-save.sh"), "_", str(folder), str(folder / "b.log"),
               "sh", "-c", "echo half; exit 5"])
    assert bad.exit_code == 5 and not (folder / "b.log").exists()


def test_compose_save_takes_compose_v2_26s_erase_line_off_each_line(tmp_path: Path) -> None:
    """`docker compose logs` 2.24-2.26 starts each line with ESC [2K, even into a file."""
    dest = tmp_path / "v2.log"
    lines = ["\x1b[2Kbackend-1  | 2026-11-23T10:00:00Z GET /up", "\x1b[2Kdb-1  | ready",
             "worker-1  | keeps \x1b[2K inside a line", "\x1b[31mcolour stays"]
    ok = run(["sh", "-c", script("compose-save.sh"), "_", str(tmp_path), str(dest),
              "printf", "%s\n", *lines])
    assert ok.exit_code == 0, ok.stderr
    assert dest.read_text().splitlines() == [
        "backend-1  | 2026-11-23T10:00:00Z GET /up", "db-1  | ready",
        "worker-1  | keeps \x1b[2K inside a line", "\x1b[31mcolour stays"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v2.log"]


# -- redis-scan.sh -------------------------------------------------------------------------

def test_redis_scan_walks_every_cursor_and_passes_the_flags(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    bin_dir = fake_bin(tmp_path, "redis-cli", f"""printf '%s\\n' "$*" >> '{calls}'
case "$*" in
  *"SCAN 0 "*) printf '17\\nqueues:a\\nqueues:b\\n';;
  *"SCAN 17 "*) printf '0\\nqueues:c\\n';;
  *) echo "ERR unexpected" ; exit 1;;
esac
""")
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "PATTERN": "queues:*", "COUNT": "500"}
    res = run(["sh", "-c", script("redis-scan.sh"), "redis-scan", "-h", "10.0.0.5", "-n", "2"],
              **env)
    assert res.exit_code == 0, res.stderr
    assert res.stdout == "queues:a\nqueues:b\nqueues:c\n"
    assert calls.read_text().splitlines() == [
        "-e -h 10.0.0.5 -n 2 SCAN 0 MATCH queues:* COUNT 500",
        "-e -h 10.0.0.5 -n 2 SCAN 17 MATCH queues:* COUNT 500"]


def test_redis_scan_stops_with_redis_s_error(tmp_path: Path) -> None:
    bin_dir = fake_bin(tmp_path, "redis-cli", "echo 'NOAUTH Authentication required.'; exit 1\n")
    res = run(["sh", "-c", script("redis-scan.sh"), "redis-scan"],
              PATH=f"{bin_dir}:{os.environ['PATH']}", PATTERN="*", COUNT="1")
    assert res.exit_code == 1 and res.stdout == ""
    assert res.stderr == "NOAUTH Authentication required.\n"


# -- cgroup-memory.sh ----------------------------------------------------------------------

def cgroup_text(root: Path) -> str:
    """The script with its cgroup root (its first line, `c=/sys/fs/cgroup`) pointed at `root`."""
    text = script("cgroup-memory.sh")
    first, _, rest = text.partition("\n")
    assert first == "c=/sys/fs/cgroup"
    return f"c='{root}'\n{rest}"


def _cgroup(root: Path, files: dict[str, str]) -> None:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)


V2 = {"memory.current": "1000\n", "memory.max": "max\n", "pids.current": "7\n",
      "memory.stat": "anon 500\ninactive_file 100\nactive_file 50\n"}
V1 = {"memory/memory.usage_in_bytes": "2000\n", "memory/memory.limit_in_bytes": "4000\n",
      "memory/memory.stat": "cache 10\ntotal_inactive_file 300\n", "pids/pids.current": "3\n"}


@pytest.mark.parametrize("files,usage,limit,pids", [(V2, 900, 8000, 7), (V1, 1700, 4000, 3)],
                         ids=["v2", "v1"])
def test_cgroup_memory_reads_usage_less_the_page_cache_limit_and_pids(
        tmp_path: Path, files: dict[str, str], usage: int, limit: int, pids: int) -> None:
    from remediations.docker.facts import parse_cgroup_memory

    _cgroup(tmp_path, files)
    res = run(["sh", "-c", cgroup_text(tmp_path)])
    assert res.exit_code == 0, res.stderr
    stats = parse_cgroup_memory(res.stdout, 8000)
    assert stats is not None
    assert (stats.memory_bytes, stats.memory_limit, stats.pids) == (usage, limit, pids)
    assert stats.source == "cgroup"


def test_cgroup_memory_subtracts_the_inactive_page_cache(tmp_path: Path) -> None:
    from remediations.docker.facts import parse_cgroup_memory

    _cgroup(tmp_path, V2)
    stats = parse_cgroup_memory(run(["sh", "-c", cgroup_text(tmp_path)]).stdout, 8000)
    assert stats is not None and stats.memory_bytes == 900


# -- proc-times.sh ---------------------------------------------------------------------------

def test_proc_times_reads_the_clock_and_each_pid_s_start(tmp_path: Path) -> None:
    if not Path("/proc/uptime").exists():
        pytest.skip("no /proc here")
    from remediations.host.supervisor import parse_start_times

    me = os.getpid()
    res = run(["sh", "-c", script("proc-times.sh"), "proc-times", str(me), "999999999"])
    assert res.exit_code == 0, res.stderr
    lines = res.stdout.splitlines()
    assert len(lines) == 5 and lines[2].isdigit()
    assert lines[3].startswith(f"{me} {me} (") and lines[4] == "999999999 "
    assert set(parse_start_times(res.stdout)) == {me}


# -- evidence-create.sh, evidence-inspect.sh -------------------------------------------------

def test_evidence_archive_is_created_whole_and_then_found(tmp_path: Path) -> None:
    from remediations.host.evidence import create_step, parse_inspection

    bin_dir = fake_bin(tmp_path, "journalctl", 'printf "journal %s\\n" "$*"\n')
    env: dict[str, Any] = {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "laravel.log").write_text("boom\n")
    folder = tmp_path / "incidents"
    name = f"20261123T100000Z-{RUN.run_id}.tar.gz"
    paths = [str(logs / "laravel.log"), str(logs / "missing.log")]
    step = create_step(str(folder), name, ["nginx.service", "php8.2-fpm.service"], paths)
    res = run(step.argv, **env)
    assert res.exit_code == 0, res.stderr
    with tarfile.open(folder / name) as tar:
        names = tar.getnames()
        manifest = tar.extractfile("MANIFEST.txt").read().decode()  # type: ignore[union-attr]
        journal = tar.extractfile("journal.txt").read().decode()  # type: ignore[union-attr]
    assert names[:2] == ["MANIFEST.txt", "journal.txt"]
    assert str(logs / "laravel.log").lstrip("/") in names
    assert f"archive: {name}" in manifest and f"missing: {logs}/missing.log" in manifest
    assert journal == ("journal -u nginx.service -u php8.2-fpm.service --since 1 hour ago "
                       "--no-pager -o short-iso-precise\n")
    assert [p.name for p in folder.iterdir()] == [name]  # no stage folder left
    found = run(["sh", "-c", script("evidence-inspect.sh"), "_", str(folder), RUN.run_id,
                 *paths])
    facts = parse_inspection(found.stdout)
    assert facts.archive is not None and facts.archive.path == str(folder / name)
    assert facts.archive.size == (folder / name).stat().st_size
    assert facts.files == ((str(logs / "laravel.log"), 5),)
    assert facts.missing == (str(logs / "missing.log"),)
