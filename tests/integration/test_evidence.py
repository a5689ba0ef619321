"""Incident evidence on the lab's web hosts: archived once per run, fetched with a matching sha256."""

from __future__ import annotations

import hashlib
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import LAB_INVENTORY, infra_host

pytestmark = pytest.mark.lab
INV = str(LAB_INVENTORY)
INCIDENTS = "/var/lib/remediations/incidents"
REAL_LOG = "/srv/app/shared/storage/logs/laravel.log"


@pytest.fixture
def incident(lab: Any) -> Iterator[str]:
    """A run id, a known line in laravel.log, and no archive of this run left behind."""
    rid = f"test-{uuid.uuid4().hex[:10]}"
    hosts = [infra_host("web1"), infra_host("web2")]
    before = {}
    for h in hosts:
        before[h] = (h.file(REAL_LOG).size if h.file(REAL_LOG).exists else None,
                     h.file(INCIDENTS).exists)
        h.check_output(f"runuser -u www-data -- sh -c 'echo \"[evidence] {rid}\" >> {REAL_LOG}'")
        h.check_output("curl -s -o /dev/null http://127.0.0.1/up")   # an nginx access-log line
        h.check_output("systemctl reload nginx")                    # a journal line
    yield rid
    for h, (size, had_dir) in before.items():
        h.run(f"rm -f {INCIDENTS}/*-{rid}.tar.gz")
        h.run(f"truncate -s {size} {REAL_LOG}" if size is not None else f"rm -f {REAL_LOG}")
        if not had_dir:
            h.run(f"rmdir {INCIDENTS} /var/lib/remediations")


def archives(host: Any, rid: str) -> list[str]:
    return host.check_output(f"ls {INCIDENTS} 2>/dev/null | grep -- '-{rid}.tar.gz$' || true").split()


@pytest.mark.parametrize("connection", ["ssh", "docker"])
def test_evidence_archived_once_per_run_and_fetched(cli: Any, incident: str, tmp_path: Path,
                                                    connection: str) -> None:
    rid = incident
    args = ["preserve-evidence", "-i", INV, "-l", "web", "--json", "--run-id", rid,
            "--fetch-to", str(tmp_path), "--connection", connection]

    check = cli(*args, "--check")
    assert check.code == 0, check.stderr
    for name, r in check.by_host().items():
        assert r["status"] == "changed" and r["check"] is True
        assert r["message"].startswith("would archive /srv/app/current/storage/logs/laravel.log")
        assert "and the journal of nginx.service, php8.2-fpm.service" in r["message"]
        assert r["message"].endswith(f"; would fetch it to {tmp_path / name}/" +
                                     r["message"].split(f"{INCIDENTS}/")[1].split(";")[0])
        assert len(r["commands"]) == 1 and r["commands"][0].startswith("sh -c")
        assert archives(infra_host(name), rid) == []
    assert not any(tmp_path.iterdir())

    first = cli(*args)
    assert first.code == 0, first.stdout + first.stderr
    for name, r in first.by_host().items():
        host = infra_host(name)
        assert r["status"] == "changed", r
        (archive,) = archives(host, rid)
        path = f"{INCIDENTS}/{archive}"
        assert r["data"]["archive"] == path
        on_host = host.check_output(f"sha256sum {path}").split()[0]
        fetched = tmp_path / name / archive
        local = hashlib.sha256(fetched.read_bytes()).hexdigest()
        assert on_host == local == r["data"]["sha256"]
        assert fetched.stat().st_size == host.file(path).size == r["data"]["size"]
        assert host.file(path).mode == 0o600 and host.file(INCIDENTS).mode == 0o700
        with tarfile.open(fetched) as tar:
            names = set(tar.getnames())
            log = tar.extractfile("srv/app/current/storage/logs/laravel.log").read()  # type: ignore[union-attr]
            journal = tar.extractfile("journal.txt").read().decode()  # type: ignore[union-attr]
            manifest = tar.extractfile("MANIFEST.txt").read().decode()  # type: ignore[union-attr]
        assert {"MANIFEST.txt", "journal.txt", "var/log/nginx/access.log",
                "var/log/nginx/error.log", "var/log/php8.2-fpm.log"} <= names
        assert f"[evidence] {rid}".encode() in log
        assert "Reloaded nginx.service" in journal
        assert f"archive: {archive}" in manifest and f"host: {name}" in manifest

    again = cli(*args)
    assert again.code == 0, again.stderr
    for name, r in again.by_host().items():
        assert r["status"] == "ok" and r["commands"] == []
        assert "already preserved" in r["message"] and "identical copy" in r["message"]
        assert len(archives(infra_host(name), rid)) == 1


def test_evidence_paths_are_validated_before_any_host_is_touched(cli: Any, tmp_path: Path,
                                                                 lab: Any) -> None:
    audit = tmp_path / "audit.jsonl"
    res = cli("preserve-evidence", "--paths", "/var/log/syslog,../../etc/shadow", "-i", INV,
              "-l", "web", "--audit-log", str(audit))
    assert res.code == 1 and "absolute path" in res.stderr
    assert not audit.exists()


def test_evidence_with_chosen_paths(cli: Any, incident: str, tmp_path: Path) -> None:
    res = cli("preserve-evidence", "--paths", "/etc/hostname,/var/log/none.log", "-i", INV,
              "-l", "web1", "--json", "--run-id", incident, "--fetch-to", str(tmp_path))
    assert res.code == 0, res.stderr
    r = res.by_host()["web1"]
    assert r["data"]["files"] == ["/etc/hostname"] and r["data"]["missing"] == ["/var/log/none.log"]
    (fetched,) = (tmp_path / "web1").glob("*.tar.gz")
    with tarfile.open(fetched) as tar:
        assert sorted(tar.getnames()) == ["MANIFEST.txt", "etc/hostname", "journal.txt"]
        manifest = tar.extractfile("MANIFEST.txt").read().decode()  # type: ignore[union-attr]
    assert "missing: /var/log/none.log" in manifest
