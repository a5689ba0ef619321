"""Evidence archives: decisions with a recording connection, then the real scripts run locally."""

from __future__ import annotations

import hashlib
import tarfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from remediations.connections.local import LocalConnection
from remediations.connections.recording import RecordingConnection
from remediations.core.errors import InvalidInput
from remediations.core.result import Status
from remediations.host import evidence
from remediations.host.evidence import (
    archive_name,
    default_paths,
    evidence_preserved,
    fetch_file,
    parse_inspection,
)
from remediations.run.target import RunContext, Target
from tests.unit.helpers import host

RUN_START = datetime(2026, 11, 23, 10, 4, 5, tzinfo=UTC)


def target(conn: Any, *, check: bool = False, run_id: str = "incident-42", **hostvars: Any) -> Target:
    return Target(host("web1", **hostvars), conn, RunContext(run_id, RUN_START, check=check))


def test_archive_name_is_the_runs_start_and_id() -> None:
    assert archive_name(target(RecordingConnection())) == "20261123T100405Z-incident-42.tar.gz"


def test_default_paths_follow_the_inventory() -> None:
    t = target(RecordingConnection(), app_path="/opt/app", php_fpm_service="php8.1-fpm")
    assert default_paths(t) == ["/opt/app/storage/logs/laravel.log", "/var/log/nginx/error.log",
                                "/var/log/nginx/access.log", "/var/log/php8.1-fpm.log"]


def test_parse_inspection() -> None:
    text = ("archive=120|abc|/a/20261123T100405Z-r.tar.gz\0file=10|/var/log/x.log\0"
            "missing=/var/log/none.log\0file=0|/var/log/a|b.log\0")
    facts = parse_inspection(text)
    assert facts.archive == evidence.Archive("/a/20261123T100405Z-r.tar.gz", 120, "abc")
    assert facts.files == (("/var/log/x.log", 10), ("/var/log/a|b.log", 0))
    assert facts.missing == ("/var/log/none.log",)


@pytest.mark.parametrize("kwargs", [dict(paths=["relative.log"]), dict(paths=["/var/log/../../etc"]),
                                    dict(paths=[]), dict(archive_dir="tmp"), dict(archive_dir="/")])
def test_bad_input_touches_no_host(kwargs: dict[str, Any]) -> None:
    conn = RecordingConnection()
    with pytest.raises(InvalidInput):
        evidence_preserved(target(conn), **kwargs)
    assert conn.commands == []


def test_an_archive_of_this_run_makes_it_ok_without_creating_another() -> None:
    conn = RecordingConnection().on(
        r"^sh -c 'dir=", stdout="archive=9|f00|/var/lib/remediations/incidents/x-incident-42.tar.gz\0")
    r = evidence_preserved(target(conn))
    assert r.status is Status.OK and "already preserved" in r.message
    assert r.commands == () and len(conn.commands) == 1
    assert conn.commands[0][4:6] == ("/var/lib/remediations/incidents", "incident-42")


def test_check_mode_lists_the_files_and_the_create_command() -> None:
    conn = RecordingConnection().on(r"^sh -c 'dir=", stdout="file=2048|/var/log/nginx/error.log\0"
                                                           "missing=/var/log/php8.2-fpm.log\0")
    r = evidence_preserved(target(conn, check=True), ["/var/log/nginx/error.log",
                                                       "/var/log/php8.2-fpm.log"])
    assert r.status is Status.CHANGED and r.check
    assert r.message.startswith("would archive /var/log/nginx/error.log (2.0 KiB) and the journal")
    assert "/var/lib/remediations/incidents/20261123T100405Z-incident-42.tar.gz" in r.message
    assert r.data["missing"] == ["/var/log/php8.2-fpm.log"]
    (cmd,) = r.commands
    assert cmd.endswith("_ /var/lib/remediations/incidents 20261123T100405Z-incident-42.tar.gz "
                        "nginx.service,php8.2-fpm.service '1 hour ago' /var/log/nginx/error.log "
                        "/var/log/php8.2-fpm.log")
    assert len(conn.commands) == 1


def test_fetch_file_in_chunks(tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    data = bytes(range(256)) * 1000 + b"tail"
    src.write_bytes(data)
    got = fetch_file(LocalConnection(), str(src), len(data), tmp_path / "out" / "copy.bin",
                     chunk=10_000)
    assert (tmp_path / "out" / "copy.bin").read_bytes() == data
    assert got == hashlib.sha256(data).hexdigest()
    assert not list((tmp_path / "out").glob(".*part"))


def test_for_real_locally_once_per_run_and_fetched(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "laravel.log").write_text("[2026-11-23] production.ERROR: boom\n" * 100)
    (logs / "link.log").symlink_to(logs / "laravel.log")
    archive_dir = tmp_path / "incidents"
    fetch_to = tmp_path / "controller"
    paths = [str(logs / "laravel.log"), str(logs / "link.log"), str(logs / "missing.log")]
    t = target(LocalConnection())

    first = evidence_preserved(t, paths, archive_dir=str(archive_dir), fetch_to=fetch_to)
    assert first.status is Status.CHANGED, first.message + first.evidence
    (made,) = archive_dir.glob("*.tar.gz")
    assert made.name == "20261123T100405Z-incident-42.tar.gz"
    local = fetch_to / "web1" / made.name
    assert local.read_bytes() == made.read_bytes()
    assert first.data["sha256"] == hashlib.sha256(made.read_bytes()).hexdigest()
    with tarfile.open(made) as tar:
        names = tar.getnames()
        manifest = tar.extractfile("MANIFEST.txt").read().decode()  # type: ignore[union-attr]
        linked = tar.extractfile(str(logs / "link.log").lstrip("/")).read()  # type: ignore[union-attr]
    assert {"MANIFEST.txt", "journal.txt", str(logs / "laravel.log").lstrip("/")} <= set(names)
    assert linked.startswith(b"[2026-11-23]")       # a symlink is archived as its content
    assert f"missing: {logs / 'missing.log'}" in manifest
    assert not list(archive_dir.glob(".stage*"))

    again = evidence_preserved(t, paths, archive_dir=str(archive_dir), fetch_to=fetch_to)
    assert again.status is Status.OK and again.commands == ()
    assert "identical copy" in again.message
    assert len(list(archive_dir.glob("*.tar.gz"))) == 1

    local.unlink()
    refetch = evidence_preserved(t, paths, archive_dir=str(archive_dir), fetch_to=fetch_to)
    assert refetch.status is Status.CHANGED and refetch.commands == ()
    assert local.read_bytes() == made.read_bytes()

    other_run = target(LocalConnection(), run_id="incident-43")
    assert evidence_preserved(other_run, paths, archive_dir=str(archive_dir)).changed
    assert len(list(archive_dir.glob("*.tar.gz"))) == 2


def test_fetch_cap(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text("x" * 5000)
    r = evidence_preserved(target(LocalConnection()), [str(tmp_path / "a.log")],
                           archive_dir=str(tmp_path / "inc"), fetch_to=tmp_path / "c",
                           max_fetch_bytes=10)
    assert r.status is Status.FAILED and "above the 10 B cap" in r.message
    assert not (tmp_path / "c" / "web1").exists()
