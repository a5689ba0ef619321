"""Disk space: usage facts, runaway logs kept to their tail, old backups removed.

Every path from a user or an inventory is checked twice: its text before any host
is touched (absolute, no `..`, inside an allowed root), and its real path on the
host (`realpath`, symlinks resolved) before anything is changed.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from remediations.connections.base import Connection
from remediations.core import validate
from remediations.core.errors import InvalidInput
from remediations.core.result import Diff, Result, Status, Step
from remediations.core.scripts import script as load_script
from remediations.run.contract import Verification, apply
from remediations.run.target import Target

if TYPE_CHECKING:
    from remediations.inventory import Host

DEFAULT_CLEANUP_ROOTS = ("/srv/app/shared/storage/backups", "/var/backups/app")
SHARED_LOGS = "/srv/app/shared/storage/logs"
MAX_BYTES = 2**62      # a size or a threshold in bytes above this is a typo
MAX_DAYS = 36500       # a hundred years
MAX_FILES = 10**6      # files kept by old_files_removed
_MAX_ARGS_BYTES = 96 * 1024  # one batch of paths per command, well under ARG_MAX
_DF_LINE = re.compile(r"^(?P<fs>.+?)\s+(?P<size>\d+)\s+(?P<used>\d+)\s+(?P<avail>\d+)\s+"
                      r"(?P<pct>\d+%|-)\s+(?P<mount>/.*)$")


# --- input ----------------------------------------------------------------------------

def absolute_path(value: object, what: str = "path") -> str:
    """An absolute path without `..`, NUL or line breaks, normalised (`//a/./b/` -> `/a/b`)."""
    if not isinstance(value, str) or not value.startswith("/") or any(c in value for c in "\0\n\r"):
        raise InvalidInput(f"{what} must be an absolute path: {value!r}")
    if ".." in value.split("/"):
        raise InvalidInput(f"{what} may not contain '..': {value!r}")
    return "/" + posixpath.normpath(value).lstrip("/")


def inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def inside_any(path: str, roots: Iterable[str]) -> str | None:
    """The first root that holds `path`, or None."""
    return next((r for r in roots if inside(path, r)), None)


def glob_pattern(value: object) -> str:
    """A `find -name` glob: one path component, no `/`, no control characters."""
    if (not isinstance(value, str) or not value or "/" in value or len(value) > 255
            or any(ord(c) < 32 for c in value)):
        raise InvalidInput(f"pattern must be a file-name glob without '/': {value!r}")
    return value


def whole_number(value: object, what: str, *, minimum: int = 0, maximum: int = 10**9) -> int:
    """A whole number from `minimum` to `maximum` (`validate.count`)."""
    return validate.count(value, what, low=minimum, high=maximum)


def _var(t: Target | Host, key: str, default: Any = None) -> Any:
    return t.var(key, default) if isinstance(t, Target) else t.vars.get(key, default)


def _roots(t: Target | Host, key: str, default: Sequence[str]) -> tuple[str, ...]:
    raw: Any = _var(t, key)
    if raw is None or raw == "" or raw == []:
        raw = list(default)
    if isinstance(raw, str):
        raw = [p for p in raw.split(",") if p.strip()]
    if not isinstance(raw, (list, tuple)) or not raw:
        raise InvalidInput(f"{t.name}: inventory var {key} must be a list of absolute paths")
    roots = tuple(absolute_path(str(r).strip(), f"{key} entry") for r in raw)
    if "/" in roots:
        raise InvalidInput(f"{t.name}: {key} may not contain '/' (that allows every file)")
    return roots


def log_roots(t: Target | Host) -> tuple[str, ...]:
    """Where logs may be truncated: inventory `log_roots`, else the app's logs and /var/log."""
    app = str(_var(t, "app_path", "/srv/app/current")).rstrip("/")
    return _roots(t, "log_roots", (f"{app}/storage/logs", SHARED_LOGS, "/var/log"))


def cleanup_roots(t: Target | Host) -> tuple[str, ...]:
    """Where old files may be removed: inventory `cleanup_roots`, else the backup folders."""
    return _roots(t, "cleanup_roots", DEFAULT_CLEANUP_ROOTS)


def path_in_roots(path: object, roots: Sequence[str], what: str = "path") -> str:
    """`path` validated and inside one of `roots` (textually); raises InvalidInput."""
    clean = absolute_path(path, what)
    if inside_any(clean, roots) is None:
        raise InvalidInput(f"{what} {clean} is outside the allowed roots: {', '.join(roots)}")
    return clean


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


# --- host facts -----------------------------------------------------------------------

# $1: a value for the extra script (`$x`), $2: the path, then the roots.
_RESOLVE = load_script("disk-resolve.sh")


def fields(text: str) -> list[tuple[str, str]]:
    """NUL-separated `key=value` records (NUL because paths may hold any other byte)."""
    return [tuple(r.split("=", 1)) for r in text.split("\0") if "=" in r]  # type: ignore[misc]


@dataclass(frozen=True, slots=True)
class Resolved:
    """A path as the host sees it: its real path and what sits there."""

    path: str
    real: str | None
    real_roots: tuple[str, ...]
    kind: str = ""
    size: int = 0
    inode: int = 0
    extra: tuple[tuple[str, str], ...] = ()

    def refusal(self, roots: Sequence[str], *, kind: str) -> str | None:
        """Why the real path may not be touched, or None when it may."""
        if self.real is None:
            return None
        if any(c in self.real for c in "\n\r") or inside_any(self.real, self.real_roots) is None:
            return (f"refused: {self.path} resolves to {self.real}, outside the allowed roots "
                    f"({', '.join(roots)}); nothing changed")
        if self.kind != kind:
            return f"refused: {self.real} is a {self.kind or 'missing file'}, not a {kind}"
        return None


def resolve(conn: Connection, path: str, roots: Sequence[str], extra: str = "",
            x: object = "") -> Resolved:
    """realpath of `path` and of every root, and `stat` of the real path (one round trip).

    `extra` is more shell run once the real path exists (`$real`; `$x` holds `x`),
    printing NUL-terminated `key=value` records.
    """
    script = _RESOLVE + ("; " + extra if extra else "")
    res = conn.run(["sh", "-c", script, "_", str(x), path, *roots], check=False)
    recs = fields(res.stdout)
    real_roots = tuple(v for k, v in recs if k == "root")
    reals = [v for k, v in recs if k == "real"]
    if len(reals) != 1:
        return Resolved(path, None, real_roots)
    kind, size, inode = "", 0, 0
    for k, v in recs:
        if k == "stat":
            kind, size_s, inode_s, _ = v.split("|", 3)
            size, inode = int(size_s), int(inode_s)
    rest = tuple((k, v) for k, v in recs if k not in ("root", "real", "stat"))
    return Resolved(path, reals[0], real_roots, kind, size, inode, rest)


# --- disk usage -----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DiskUsage:
    """What `df -P -B1` says about the file system holding a path."""

    path: str
    filesystem: str
    size: int
    used: int
    avail: int
    mount: str

    @property
    def percent(self) -> float:
        """Used share as df counts it: used / (used + available), one decimal."""
        total = self.used + self.avail
        return round(100.0 * self.used / total, 1) if total else 0.0

    def describe(self) -> str:
        return (f"{self.mount}: {self.percent:g}% used ({human(self.used)} of {human(self.size)}, "
                f"{human(self.avail)} free)")

    def to_data(self) -> dict[str, Any]:
        return {"path": self.path, "filesystem": self.filesystem, "mount": self.mount,
                "size": self.size, "used": self.used, "avail": self.avail,
                "percent": self.percent}


def parse_df(path: str, text: str) -> DiskUsage:
    """The last line of `df -P -B1 PATH`."""
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    m = _DF_LINE.match(lines[-1]) if len(lines) >= 2 else None
    if m is None:
        raise ValueError(f"cannot parse df output: {text!r}")
    return DiskUsage(path, m["fs"], int(m["size"]), int(m["used"]), int(m["avail"]), m["mount"])


def parse_du(text: str, limit: int = 15) -> list[tuple[int, str]]:
    """`du -B1` lines (size TAB path), biggest first, duplicates dropped."""
    seen: dict[str, int] = {}
    for line in text.splitlines():
        size, _, p = line.partition("\t")
        if size.isdigit() and p:
            seen[p] = max(seen.get(p, 0), int(size))
    return sorted(((s, p) for p, s in seen.items()), key=lambda x: (-x[0], x[1]))[:limit]


def biggest_dirs(t: Target, mount: str, *, timeout: int = 60) -> list[tuple[int, str]]:
    """The biggest directories one level below the likely culprits on `mount`, then the mount."""
    candidates = [p for p in dict.fromkeys([*log_roots(t), *cleanup_roots(t), mount])
                  if inside(p, mount) or p == mount]
    script = 't=$1; shift; for d; do timeout "$t" du -x -D -d1 -B1 -- "$d"; done 2>/dev/null'
    res = t.conn.run(["sh", "-c", script, "_", str(timeout), *candidates], check=False,
                     timeout=timeout * len(candidates) + 10)
    return parse_du(res.stdout)


def disk_usage(t: Target, path: str = "/", *, max_percent: float | None = None) -> Result:
    """A fact: how full the file system holding `path` is; failed above `max_percent`.

    Above the threshold the evidence lists the biggest directories under the app's
    logs, the backup folders and the mount itself (`du -x -d1`).
    Example: `disk_usage(t, "/", max_percent=80)`.
    """
    if max_percent is not None:
        max_percent = validate.number(max_percent, "max_percent", low=0, high=100, low_open=True)
    path = absolute_path(path)
    res = t.conn.run(["df", "-P", "-B1", "--", path], check=False)
    try:
        usage = parse_df(path, res.stdout)
    except ValueError:
        return t.result("disk_usage", Status.FAILED, f"df {path} failed", evidence=res.tail())
    data: dict[str, Any] = usage.to_data()
    if max_percent is None or usage.percent <= float(max_percent):
        limit = "" if max_percent is None else f" (limit {float(max_percent):g}%)"
        return t.result("disk_usage", Status.OK, usage.describe() + limit,
                        data={**data, "max_percent": max_percent})
    big = biggest_dirs(t, usage.mount)
    evidence = "biggest directories (du -x -d1):\n" + "\n".join(
        f"{human(s):>10}  {p}" for s, p in big)
    return t.result("disk_usage", Status.FAILED,
                    f"{usage.describe()}: above {float(max_percent):g}%", evidence=evidence,
                    data={**data, "max_percent": max_percent,
                                         "biggest": [{"path": p, "bytes": s} for s, p in big]})


# --- files under a root ---------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class FileEntry:
    """One file found under a root: path, size in bytes, mtime (epoch seconds), old or not."""

    path: str
    size: int
    mtime: float
    old: bool = False

    def to_data(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "mtime": int(self.mtime)}


def parse_find(text: str, root: str) -> list[FileEntry]:
    """`find -printf 'OLD\\tMTIME\\tSIZE\\tPATH\\0'` records; paths outside `root` are dropped."""
    out: list[FileEntry] = []
    for rec in text.split("\0"):
        parts = rec.lstrip("\n").split("\t", 3)
        if len(parts) != 4 or "\ufffd" in parts[3] or not inside(parts[3], root):
            continue
        try:
            out.append(FileEntry(parts[3], int(parts[2]), float(parts[1]), parts[0] == "1"))
        except ValueError:
            continue
    return out


def find_argv(real_root: str, pattern: str, days: int) -> list[str]:
    fmt = "%T@\t%s\t%p\\0"
    return ["find", real_root, "-xdev", "-type", "f", "-name", pattern,
            "(", "-mtime", f"+{days}", "-printf", "1\t" + fmt, "-o", "-printf", "0\t" + fmt, ")"]


def plan_old_files(files: Sequence[FileEntry], *, keep_last: int) -> list[FileEntry]:
    """The old files to remove: every old one except the `keep_last` newest files overall."""
    newest = sorted(files, key=lambda f: (-f.mtime, f.path))[:keep_last]
    kept = {f.path for f in newest}
    return sorted((f for f in files if f.old and f.path not in kept), key=lambda f: f.path)


def delete_steps(victims: Sequence[FileEntry], days: int) -> list[Step]:
    """`find EXACT-PATHS -maxdepth 0 -type f -mtime +D -delete`, batched under ARG_MAX.

    Each path is re-checked at delete time: a file touched since it was listed,
    or replaced by a symlink or a directory, stays.
    """
    steps: list[Step] = []
    batch: list[str] = []
    size = 0
    for f in victims:
        if batch and size + len(f.path) + 1 > _MAX_ARGS_BYTES:
            steps.append(_delete_step(batch, days))
            batch, size = [], 0
        batch.append(f.path)
        size += len(f.path) + 1
    if batch:
        steps.append(_delete_step(batch, days))
    return steps


def _delete_step(paths: list[str], days: int) -> Step:
    return Step(["find", *paths, "-maxdepth", "0", "-type", "f", "-mtime", f"+{days}", "-delete"],
                f"remove {len(paths)} file(s) older than {days} days")


def _list_files(t: Target, real_root: str, pattern: str, days: int) -> list[FileEntry]:
    res = t.conn.run(find_argv(real_root, pattern, days), check=False)
    return parse_find(res.stdout, real_root)


def old_files_removed(t: Target, root: str, *, days: int, pattern: str = "*",
                      keep_last: int = 0) -> Result:
    """No file matching `pattern` under `root` older than `days` days, but the newest `keep_last`.

    `root` must lie inside the inventory's `cleanup_roots` (default: the app's and
    /var/backups/app backup folders), also once symlinks are resolved on the host.
    "Older" is find's `-mtime +DAYS`. Check mode lists exactly the files that would go.
    Example: `old_files_removed(t, "/var/backups/app", days=7, pattern="*.sql.gz", keep_last=3)`.
    """
    days = whole_number(days, "days", maximum=MAX_DAYS)
    keep_last = whole_number(keep_last, "keep_last", maximum=MAX_FILES)
    roots = cleanup_roots(t)
    root = path_in_roots(root, roots, "root")
    pattern = glob_pattern(pattern)
    where = resolve(t.conn, root, roots)
    name = "old_files_removed"
    if where.real is None:
        return t.result(name, Status.OK, f"{root} does not exist; nothing to remove",
                        data={"root": root, "files": []})
    refusal = where.refusal(roots, kind="directory")
    if refusal:
        return t.result(name, Status.FAILED, refusal, data={"root": root})
    real = where.real
    files = _list_files(t, real, pattern, days)
    victims = plan_old_files(files, keep_last=keep_last)
    total = sum(f.size for f in victims)
    what = f"{len(victims)} file(s) ({human(total)}) matching {pattern!r} older than {days} days"
    data = {"root": root, "real_root": real, "files": [f.to_data() for f in victims],
            "count": len(victims), "bytes": total, "kept_newest": keep_last}

    def verify() -> Verification:
        left = plan_old_files(_list_files(t, real, pattern, days), keep_last=keep_last)
        if left:
            return Verification(False, f"{len(left)} old file(s) remain",
                                "\n".join(f.path for f in left[:50]), {"remaining": len(left)})
        return Verification(True, f"none older than {days} days left in {real}")

    before = "\n".join(f"{f.size:>12}  {f.path}" for f in victims)
    return apply(t, name, delete_steps(victims, days), verify=verify,
                 ok_message=f"no file matching {pattern!r} older than {days} days to remove "
                            f"under {root} ({len(files)} file(s), newest {keep_last} kept)",
                 action=f"remove {what} under {root}", done=f"removed {what}",
                 diff=Diff(before, ""), data=data)


def large_logs(t: Target, root: str, *, min_size_mb: float = 100) -> Result:
    """A fact: the files under `root` bigger than `min_size_mb` MiB, biggest first.

    Example: `large_logs(t, "/var/log", min_size_mb=500)`.
    """
    min_size_mb = validate.number(min_size_mb, "min_size_mb", low=0, high=MAX_BYTES / 2**20)
    root = absolute_path(root, "root")
    limit = int(min_size_mb * 1024 * 1024)
    res = t.conn.run(["find", root + "/", "-xdev", "-type", "f", "-size", f"+{limit}c",
                      "-printf", "0\t%T@\t%s\t%p\\0"], check=False)
    files = sorted(parse_find(res.stdout, root), key=lambda f: (-f.size, f.path))
    total = sum(f.size for f in files)
    listing = ", ".join(f"{f.path} ({human(f.size)})" for f in files[:5])
    msg = (f"{len(files)} file(s) above {min_size_mb:g} MiB under {root} ({human(total)})"
           + (f": {listing}" if files else ""))
    if res.failed and not files and "No such file" in res.stderr:
        msg = f"{root} does not exist"
    return t.result("large_logs", Status.OK, msg,
                    data={"root": root, "min_size_mb": min_size_mb, "bytes": total,
                          "files": [f.to_data() for f in files]})


# --- logs kept to their tail ----------------------------------------------------------

# Inspection ($x = lines to keep): bytes of the last N and N+1 lines, and the first line.
