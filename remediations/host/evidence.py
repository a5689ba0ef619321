"""Incident evidence: the logs copied into a timestamped archive on the host, once per run.

The archive can also be brought to the controller (`fetch_to`), over any connection:
it travels as base64 in chunks through `conn.run` (docker exec has no stdin and no
file API of its own here), and its size and sha256 are checked on arrival.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from remediations.connections.base import Connection
from remediations.core import validate
from remediations.core.errors import InvalidInput
from remediations.core.result import Result, Status, Step
from remediations.core.scripts import script
from remediations.host.disk import MAX_BYTES, absolute_path, fields, human
from remediations.run.contract import Verification, apply
from remediations.run.target import Target

ARCHIVE_DIR = "/var/lib/remediations/incidents"
FETCH_CHUNK = 4 * 1024 * 1024
MAX_FETCH = 256 * 1024 * 1024
JOURNAL_SINCE = "1 hour ago"

# $1 archive dir, $2 run id, then the paths. NUL-terminated key=value records.
_INSPECT = script("evidence-inspect.sh")

# $1 archive dir, $2 archive name, $3 journal units (comma-separated), $4 since, then paths.
# Written to a temp name and renamed, so an archive that exists is complete.
_CREATE = script("evidence-create.sh")


@dataclass(frozen=True, slots=True)
class Archive:
    path: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class EvidenceFacts:
    """What is on the host: this run's archive (if any) and which evidence files exist."""

    archive: Archive | None
    files: tuple[tuple[str, int], ...]
    missing: tuple[str, ...]


def parse_inspection(text: str) -> EvidenceFacts:
    archive: Archive | None = None
    files: list[tuple[str, int]] = []
    missing: list[str] = []
    for key, value in fields(text):
        if key == "archive" and archive is None:
            size, sha, path = value.split("|", 2)
            archive = Archive(path, int(size), sha)
        elif key == "file":
            size, path = value.split("|", 1)
            files.append((path, int(size)))
        elif key == "missing":
            missing.append(value)
    return EvidenceFacts(archive, tuple(files), tuple(missing))


def default_paths(t: Target) -> list[str]:
    """The app's laravel.log, nginx's error and access logs, php-fpm's log."""
    app = str(t.var("app_path", "/srv/app/current")).rstrip("/")
    fpm = _fpm_unit(t).removesuffix(".service")
    return [f"{app}/storage/logs/laravel.log", "/var/log/nginx/error.log",
            "/var/log/nginx/access.log", f"/var/log/{fpm}.log"]


def _fpm_unit(t: Target) -> str:
    return validate.unit_name(str(t.var("php_fpm_service", "php8.2-fpm")))


def archive_name(t: Target) -> str:
    """`<UTC start of the run>-<run id>.tar.gz`: the same name for every attempt of a run."""
    return f"{t.run.started_at:%Y%m%dT%H%M%SZ}-{validate.run_id(t.run.run_id)}.tar.gz"


def inspect(conn: Connection, archive_dir: str, run_id: str, paths: Sequence[str]) -> EvidenceFacts:
    res = conn.run(["sh", "-c", _INSPECT, "_", archive_dir, run_id, *paths], check=False)
    return parse_inspection(res.stdout)


def create_step(archive_dir: str, name: str, units: Sequence[str], paths: Sequence[str]) -> Step:
    return Step(["sh", "-c", _CREATE, "_", archive_dir, name, ",".join(units), JOURNAL_SINCE,
                 *paths], f"archive {len(paths)} log(s) and the journal into {archive_dir}/{name}")


def fetch_file(conn: Connection, path: str, size: int, dest: Path, *,
               chunk: int = FETCH_CHUNK) -> str:
    """Copy `path` (of `size` bytes) from the host to `dest`; returns the sha256 of what came."""
    digest = hashlib.sha256()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.part")
    with open(tmp, "wb") as out:
        for i in range(0, max(1, -(-size // chunk))):
            res = conn.run(["sh", "-c", 'dd if="$1" bs="$2" skip="$3" count=1 status=none | base64 -w0',
                            "_", path, str(chunk), str(i)], timeout=120)
            data = base64.b64decode(res.stdout.strip() or b"")
            digest.update(data)
            out.write(data)
    os.replace(tmp, dest)
    return digest.hexdigest()


def local_sha256(path: Path) -> str | None:
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def evidence_preserved(t: Target, paths: Sequence[str] | None = None, *,
                       archive_dir: str = ARCHIVE_DIR, fetch_to: str | Path | None = None,
                       max_fetch_bytes: int = MAX_FETCH) -> Result:
    """This run's logs are archived on the host (`<archive_dir>/<UTC>-<run id>.tar.gz`), once.

    Default paths: the app's laravel.log, nginx's error/access logs, php-fpm's log;
    the journal of nginx and php-fpm for the last hour is always added. Missing
    files are listed in the archive's MANIFEST.txt. With `fetch_to` (a directory on
    the controller) the archive is also copied to `<fetch_to>/<host>/<name>` and its
    size and sha256 checked. Example: `evidence_preserved(t, fetch_to="incidents/")`.
    """
    max_fetch_bytes = validate.count(max_fetch_bytes, "max_fetch_bytes", high=MAX_BYTES)
    wanted = [absolute_path(p) for p in (paths if paths is not None else default_paths(t))]
    if not wanted:
        raise InvalidInput("no paths to preserve")
    archive_dir = absolute_path(archive_dir, "archive_dir")
    if archive_dir == "/":
        raise InvalidInput("archive_dir may not be /")
    name = archive_name(t)
    units = ["nginx.service", _fpm_unit(t)]
    facts = inspect(t.conn, archive_dir, t.run.run_id, wanted)
    present = ", ".join(f"{p} ({human(s)})" for p, s in facts.files) or "none"
    data: dict[str, Any] = {"files": [p for p, _ in facts.files], "missing": list(facts.missing)}
    steps = [] if facts.archive else [create_step(archive_dir, name, units, wanted)]

    def verify() -> Verification:
        after = inspect(t.conn, archive_dir, t.run.run_id, [])
        if after.archive is None:
            return Verification(False, f"no archive {archive_dir}/{name} after creating it")
        listing = t.conn.run(["tar", "-tzf", after.archive.path], check=False)
        if listing.failed or "MANIFEST.txt" not in listing.stdout:
            return Verification(False, f"{after.archive.path} is not a readable archive",
                                listing.tail())
        return Verification(True, f"{human(after.archive.size)}, sha256 {after.archive.sha256[:12]}",
                            "", _archive_data(after.archive))

    ok_msg = (f"evidence of run {t.run.run_id} already preserved in {facts.archive.path}"
              if facts.archive else "")
    result = apply(t, "evidence_preserved", steps, verify=verify, ok_message=ok_msg,
                   action=f"archive {present} and the journal of {', '.join(units)} into "
                          f"{archive_dir}/{name}",
                   done=f"archived {len(facts.files)} file(s) and the journal into "
                        f"{archive_dir}/{name}",
                   data={**data, **(_archive_data(facts.archive) if facts.archive else {})})
    if fetch_to is None or result.failed:
        return result
    return _fetched(t, result, Path(fetch_to), max_fetch_bytes)


def _archive_data(archive: Archive) -> dict[str, Any]:
    return {"archive": archive.path, "size": archive.size, "sha256": archive.sha256}


def _fetched(t: Target, result: Result, fetch_to: Path, max_bytes: int) -> Result:
    """Bring the archive to `fetch_to/<host>/`; ok when an identical copy is already there."""
    archive = result.data.get("archive")
    dest = fetch_to / t.name / Path(str(archive or archive_name(t))).name
    if t.check:
        have = dest.is_file()
        suffix = "" if have else f"; would fetch it to {dest}"
        return result.replace(message=result.message + suffix,
                              status=result.status if have else Status.CHANGED)
    size, sha = int(result.data["size"]), str(result.data["sha256"])
    data = {**result.data, "fetched_to": str(dest)}
    if local_sha256(dest) == sha:
        return result.replace(message=f"{result.message}; identical copy at {dest}", data=data)
    if size > max_bytes:
        return result.replace(status=Status.FAILED, data=data,
                              message=f"{result.message}; not fetched: {human(size)} is above "
                                      f"the {human(max_bytes)} cap")
    got = fetch_file(t.conn, str(archive), size, dest)
    if got != sha or dest.stat().st_size != size:
        return result.replace(status=Status.FAILED, data={**data, "fetched_sha256": got},
                              message=f"{result.message}; fetched copy {dest} does not match "
                                      f"(sha256 {got[:12]} != {sha[:12]})")
    return result.replace(status=Status.CHANGED, data=data,
                          message=f"{result.message}; fetched to {dest} (sha256 matches)")
