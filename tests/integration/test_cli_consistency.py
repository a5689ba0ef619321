"""A task that removes data refuses without --yes and touches nothing; with --yes it runs.

Driven through the CLI on the lab's web hosts and checked with testinfra.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import LAB_INVENTORY, WEB_HOSTS, infra_host

pytestmark = pytest.mark.lab
INV = str(LAB_INVENTORY)
LOG = f"/var/log/rem-cli-yes-{uuid.uuid4().hex[:8]}.log"
LINES = 200
KEEP = 5


def snapshot(host: Any) -> tuple[str, int, str]:
    """The log's checksum, inode and mtime: all three stay put when nothing touched it."""
    return (host.check_output(f"sha256sum {LOG}").split()[0],
            int(host.check_output(f"stat -c %i {LOG}")),
            host.check_output(f"stat -c %y {LOG}"))


@pytest.fixture
def app_log(lab: Any) -> Iterator[dict[str, Any]]:
    """A 200-line log on every web host, removed afterwards."""
    hosts = {name: infra_host(name) for name in WEB_HOSTS}
    for host in hosts.values():
        host.check_output(f"seq -f 'line %g' 1 {LINES} > {LOG}")
    yield hosts
    for host in hosts.values():
        host.run(f"rm -f {LOG}")


def test_truncate_log_refuses_without_yes_then_runs_with_it(cli: Any, app_log: dict[str, Any],
                                                            tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    argv = ["truncate-log", "--path", LOG, "--keep-lines", str(KEEP), "-i", INV, "-l", "web",
            "--audit-log", str(audit)]
    before = {name: snapshot(host) for name, host in app_log.items()}

    refused = cli(*argv)
    assert refused.code == 1, refused.stdout + refused.stderr
    assert refused.stderr.splitlines() == [
        "error: truncate-log drops all but the last --keep-lines lines of the log: "
        "re-run with --yes, or --check to see what it would run"]
    assert refused.stdout == "" and not audit.exists()
    assert {name: snapshot(host) for name, host in app_log.items()} == before

    check = cli(*argv, "--check", "--json")
    assert check.code == 0, check.stdout + check.stderr
    assert {h: r["status"] for h, r in check.by_host().items()} == dict.fromkeys(WEB_HOSTS,
                                                                                   "changed")
    assert {name: snapshot(host) for name, host in app_log.items()} == before

    rid = f"test-{uuid.uuid4().hex[:10]}"
    done = cli(*argv, "--yes", "--json", "--run-id", rid)
    assert done.code == 0, done.stdout + done.stderr
    assert {h: r["status"] for h, r in done.by_host().items()} == dict.fromkeys(WEB_HOSTS, "changed")
    for host in app_log.values():
        log = host.file(LOG)
        assert log.exists and log.content_string.splitlines() == [
            f"[remediations] log truncated by run {rid}; earlier lines removed",
            *(f"line {n}" for n in range(LINES - KEEP + 1, LINES + 1))]
    assert audit.exists() and rid in audit.read_text()

    again = cli(*argv, "-y", "--json", "--run-id", rid)
    assert again.code == 0, again.stdout + again.stderr
    assert {h: r["status"] for h, r in again.by_host().items()} == dict.fromkeys(WEB_HOSTS, "ok")
    for host in app_log.values():
        assert len(host.file(LOG).content_string.splitlines()) == KEEP + 1
