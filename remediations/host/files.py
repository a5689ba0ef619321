"""Files on a host, over any connection (docker exec has no stdin, so content travels as base64)."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from remediations.connections.base import Connection, sh
from remediations.core.result import Step

# One argv element may hold at most 128 KiB on Linux (MAX_ARG_STRLEN).
MAX_WRITE = 96 * 1024


@dataclass(frozen=True, slots=True)
class FileFact:
    """What `stat` says about a path; `exists` False when there is nothing there."""

    path: str
    exists: bool
    kind: str = ""          # "regular file", "directory", "symbolic link", ...
    size: int = 0
    mode: str = ""          # octal, e.g. "0644"
    owner: str = ""
    group: str = ""
    mtime: int = 0
    target: str = ""        # for a symbolic link: where it points


def stat(conn: Connection, path: str) -> FileFact:
    """Read one path's facts (one round trip)."""
    res = conn.run(["stat", "-c", "%F|%s|%a|%U|%G|%Y|%N", "--", path], check=False)
    if res.failed:
        return FileFact(path, False)
    kind, size, mode, owner, group, mtime, name = res.stdout.strip().split("|", 6)
    target = name.split(" -> ", 1)[1].strip("'\u2018\u2019\"") if " -> " in name else ""
    return FileFact(path, True, kind, int(size), mode.zfill(4), owner, group, int(mtime), target)


def read_text(conn: Connection, path: str) -> str | None:
    """The file's content, or None when it does not exist."""
    res = conn.run(["cat", "--", path], check=False)
    return res.stdout if res.succeeded else None


def write_step(path: str, content: str, *, mode: str = "0644", owner: str | None = None) -> Step:
    """A step that replaces `path` atomically (temp file + rename) with `content`."""
    data = content.encode()
    if len(data) > MAX_WRITE:
        raise ValueError(f"{path}: {len(data)} bytes is more than write_step carries ({MAX_WRITE})")
    encoded = base64.b64encode(data).decode()
    tmp = f"{path}.remediations.tmp"
    script = "printf %%s %s | base64 -d > %s && chmod %s %s"
    args: list[object] = [encoded, tmp, mode, tmp]
    if owner:
        script += " && chown %s %s"
        args += [owner, tmp]
    script += " && mv -f %s %s"
    args += [tmp, path]
    argv = sh(script, *args)
    return Step(argv, f"write {path} ({len(data)} bytes)")
