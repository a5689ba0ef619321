"""The Laravel application: its caches, the storage link and storage permissions.

Caches are cleared on the host by one PHP process that boots the app once, reads, clears
and reads back (`caches_on_host`). Their freshness comes from the files the framework
writes (`bootstrap/cache/*.php`) read with `find`, and, where only the framework knows
(view freshness), from the PHP probe that boots the app as artisan does (`php.probe`).
Artisan as the app user, PHP-FPM settings, opcache and Octane are in `php.py` (and
re-exported here); maintenance mode is in `maintenance.py`, the scheduler in `scheduler.py`.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from remediations.connections.base import CommandResult, Connection, HostGuard, capability, sh
from remediations.connections.batch import run_batch
from remediations.core.errors import InvalidInput
from remediations.core.result import Result, Status, Step
from remediations.laravel import caches_on_host
from remediations.laravel.caches_on_host import RUNTIME_KINDS, present_caches
from remediations.laravel.php import (
    app_checked,
    app_path,
    app_user,
    artisan_argv,
    as_app_user,
    effective_user,
    octane_reloaded,
    opcache_reset,
    php_settings,
    probe,
    user_name,
)
from remediations.run import markers
from remediations.run.contract import Probe, Verification, apply, reads_after_acting
from remediations.run.target import Target

__all__ = [  # the area's API; maintenance and the scheduler have modules of their own
    "app_checked", "app_path", "app_user", "artisan_argv", "as_app_user", "caches_cleared", "caches_rebuilt",
    "effective_user", "octane_reloaded", "opcache_reset", "php_settings", "probe",
    "storage_link_present", "storage_permissions", "user_name",
]

CACHE_KINDS = ("cache", "config", "route", "view", "event")
REBUILD_KINDS = ("config", "route", "view", "event")
# Runtime caches (RUNTIME_KINDS: cache, view): the running app refills them by itself (a
# page renders a view, code calls Cache::put), so "cleared" is judged once per run, not by
# their being empty.
# config first: every later command (cache:clear above all) then runs with the
# configuration the app will use once the caches are gone.
_CLEAR_ORDER = ("config", "route", "event", "view", "cache")
_BUILD_ORDER = ("config", "route", "event", "view")
_CACHES_TIMEOUT = 300.0  # one PHP process booting the app and running up to five clears
_CACHE_FILES = {"config": ("config.php",), "route": ("routes-v7.php", "routes.php"),
                "event": ("events.php",)}
_SOURCES = {"config": ("config/", ".env"), "route": ("routes/",),
            "event": ("app/Providers/", "app/Listeners/")}

# -- caches -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CacheFiles:
    """mtimes of the framework's cache files and of the sources they derive from."""

    app: str
    mtimes: Mapping[str, float] = field(default_factory=dict)

    def cache_file(self, kind: str) -> str | None:
        for name in _CACHE_FILES[kind]:
            path = f"{self.app}/bootstrap/cache/{name}"
            if path in self.mtimes:
                return path
        return None

    def newest_source(self, kind: str) -> tuple[str, float] | None:
        """The most recently changed file `kind` derives from (PHP files, and .env)."""
        found = [(p, m) for p, m in self.mtimes.items()
                 if any(_derives(p.removeprefix(self.app + "/"), s) for s in _SOURCES[kind])]
        return max(found, key=lambda pm: pm[1]) if found else None


def _derives(rel: str, source: str) -> bool:
    if source.endswith("/"):
        return rel.startswith(source) and rel.endswith(".php")
    return rel == source


def cache_files_argv(app: str) -> list[str]:
    """`find` listing cache files and what they derive from, with mtimes."""
    roots = [f"{app}/bootstrap/cache", *(f"{app}/{s}" for kind in _SOURCES.values() for s in kind)]
    return ["find", "-L", *roots, "-type", "f", "-printf", "%T@ %p\\n"]


def parse_find_mtimes(app: str, text: str) -> CacheFiles:
    mtimes: dict[str, float] = {}
    for line in text.splitlines():
        stamp, _, path = line.partition(" ")
        try:
            mtimes[posixpath.normpath(path)] = float(stamp)
        except ValueError:
            continue
    return CacheFiles(app, mtimes)


def read_cache_files(t: Target) -> CacheFiles:
    app = app_path(t)
    # Missing roots (no app/Listeners) make find exit 1; what it did list is still right.
    res = t.conn.run(cache_files_argv(app), check=False)
    return parse_find_mtimes(app, res.stdout)


def validate_kinds(kinds: Iterable[str], allowed: Sequence[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(kinds))
    bad = [k for k in chosen if k not in allowed]
    if not chosen or bad:
        raise InvalidInput(f"cache kinds must be among {', '.join(allowed)}; got {list(chosen)}")
    return chosen


def plan_caches_cleared(t: Target, present: Mapping[str, str],
                        done: Iterable[str] = ()) -> list[Step]:
    """artisan *:clear for each present cache, runtime caches at most once per run."""
    steps: list[Step] = []
    for kind in _CLEAR_ORDER:
        if kind in present and kind not in done:
            steps.append(Step(artisan_argv(t, f"{kind}:clear"), present[kind]))
    for kind in RUNTIME_KINDS:
        if kind in present and kind not in done:
            steps.append(markers.mark_step(t.run, f"caches_cleared.{kind}"))
    return steps


def caches_argv(t: Target, kinds: Sequence[str], *, act: bool) -> list[str]:
    """The one command that reads (and with `act`, clears) `kinds` on the host."""
    php = as_app_user(t, caches_on_host.php_argv(app_path(t), kinds, act=act))
    return caches_on_host.script_argv(
        php, cache_marker=markers.path(t.run, "caches_cleared.cache"),
        view_marker=markers.path(t.run, "caches_cleared.view"))


def _send(t: Target, argv: list[str]) -> CommandResult:
    """`argv` in one round trip; through the runner's lock, which it takes and drops with it."""
    guard = capability(t.conn, HostGuard)
    if guard is None:  # docker exec, a pod, a connection of one's own
        return t.conn.run(argv, check=False, timeout=_CACHES_TIMEOUT)
    ran = (guard.run_read_batch([argv], timeout=_CACHES_TIMEOUT) if t.check
           else run_batch(t.conn, [argv], timeout=_CACHES_TIMEOUT, last=True))
    return ran[0] if ran else CommandResult(shlex.join(argv), -1, "", "no answer from the host")


@reads_after_acting
def caches_cleared(t: Target, *, kinds: Iterable[str] = CACHE_KINDS) -> Result:
    """Leave the app's caches cleared: only those present are cleared, and reported.

    `kinds` among cache (the cache store), config, route, view, event; all five are
    what `optimize:clear` clears (its `clear-compiled` is left out: packages.php and
    services.php are rebuilt at every boot). The store and compiled views are refilled
    by the running app, so they are cleared at most once per run. The commands reported
    (`artisan config:clear`, ...) run on the host in ONE PHP process that boots the app
    once, with the configuration it will have once the caches are gone, reads, clears
    and reads back (`caches_on_host`): one round trip, lock included.
    Example: `caches_cleared(t, kinds=("config", "route"))`.
    """
    chosen = validate_kinds(kinds, CACHE_KINDS)
    app = app_checked(t)
    name = "caches_cleared"
    argv = caches_argv(t, chosen, act=not t.check)
    res = _send(t, argv)
    trip = caches_on_host.parse(res)
    if trip is None:
        return t.result(name, Status.FAILED, (
            f"could not read the caches of {app}: the app's PHP printed no answer "
            f"(exit {res.exit_code}); does the app boot (`php artisan about`)?"),
            evidence=res.tail(20), data={"kinds": list(chosen)})
    present = present_caches(trip.before, chosen)
    done = [k for k in RUNTIME_KINDS if k in present and k in trip.skipped]
    steps = plan_caches_cleared(t, present, done)
    to_clear = [k for k in _CLEAR_ORDER if k in present and k not in done]
    data = {"present": dict(present), "cleared": [] if t.check else to_clear, "kinds": list(chosen)}
    ran = None if t.check else caches_on_host.results(steps, to_clear, trip, res)

    def judge(answer: CommandResult) -> Verification:
        # Files are judged gone or not; the runtime caches only by their command succeeding,
        # as live traffic may refill them at once.
        if answer.failed:
            return Verification(False, f"the host's script exited {answer.exit_code}",
                                answer.tail(10))
        after = trip.after or {}
        left = [k for k in caches_on_host.FILE_KINDS if k in to_clear and after.get(k)]
        extra = {"compiled_views_after": after.get("view", 0)}
        if left:
            return Verification(False, f"still cached: {', '.join(left)}", "", extra)
        gone = [k for k in to_clear if k not in RUNTIME_KINDS]
        views = f"{extra['compiled_views_after']} compiled view(s) now" if "view" in to_clear else ""
        return Verification(True, ", ".join(filter(None, [
            f"{', '.join(gone)} gone" if gone else "", views])) or "cleared", "", extra)

    what = ", ".join(f"{k} ({present[k]})" for k in to_clear)
    ok_message = (f"already cleared by this run: {', '.join(done)}" if done
                  else f"no caches present ({', '.join(chosen)})")
    return apply(t, name, steps, verify=Probe(argv, judge), ok_message=ok_message,
                 action=f"clear {what}", done=f"cleared {what}", data=data, ran=ran)


def stale_caches(files: CacheFiles, views: Mapping[str, Any] | None,
                 kinds: Sequence[str]) -> dict[str, str]:
    """Which cached artefacts are missing or older than a source they derive from."""
    stale: dict[str, str] = {}
    for kind in kinds:
        if kind == "view":
            if views is not None and views.get("stale"):
                stale[kind] = f"{len(views['stale'])} of {views['count']} view(s) not compiled"
            continue
        cached = files.cache_file(kind)
        if cached is None:
            stale[kind] = "not cached"
            continue
        newest = files.newest_source(kind)
        if newest is not None and newest[1] >= files.mtimes[cached]:
            stale[kind] = f"{newest[0].removeprefix(files.app + '/')} is newer than the cache"
    return stale


def caches_rebuilt(t: Target, *, kinds: Iterable[str] = REBUILD_KINDS) -> Result:
    """Leave config, route, event and view caches built and newer than their sources.

    Fresh means: bootstrap/cache/config.php newer than config/**.php and .env,
    routes-v7.php newer than routes/**.php, events.php newer than app/Providers and
    app/Listeners, and every Blade view compiled and not expired (Laravel's own
    `isExpired`). Only stale caches are rebuilt. Example: `caches_rebuilt(t)`.
    """
    chosen = validate_kinds(kinds, REBUILD_KINDS)
    app_checked(t)

    def inspect() -> dict[str, str]:
        views = probe(t, "views")["views"] if "view" in chosen else None
        return stale_caches(read_cache_files(t), views, chosen)

    stale = inspect()
    order = [k for k in _BUILD_ORDER if k in stale]
    steps = [Step(artisan_argv(t, f"{k}:cache"), stale[k]) for k in order]

    def verify() -> Verification:
        left = inspect()
        if left:
            return Verification(False, "still stale: " + "; ".join(f"{k}: {v}" for k, v in left.items()))
        return Verification(True, f"fresh: {', '.join(chosen)}")

    return apply(t, "caches_rebuilt", steps, verify=verify,
                 ok_message=f"caches fresh ({', '.join(chosen)})",
                 action=f"rebuild {', '.join(order)}", done=f"rebuilt {', '.join(order)}",
                 data={"stale": stale, "kinds": list(chosen)})


# -- storage link -------------------------------------------------------------------------

def _resolved(conn: Connection, *paths: str) -> list[str]:
    """Each path fully resolved, or "" where it (or its link target) does not exist."""
    res = conn.run(sh("for p in" + " %s" * len(paths) +
                      '; do readlink -e -- "$p" || echo; done', *paths), check=False)
    lines = res.stdout.splitlines()
    return [*lines, *[""] * len(paths)][:len(paths)]


def storage_link_present(t: Target) -> Result:
    """Leave `public/storage` a link to `storage/app/public` (`artisan storage:link`).

    Runs as the connection's user (root in the usual setup: public/ belongs to the
    deployer, not the app user). A wrong or dangling link is replaced (`--force`); a
    real directory there is refused, never deleted. Example: `storage_link_present(t)`.
    """
    from remediations.host.files import stat

    app = app_path(t)
    link, target = f"{app}/public/storage", f"{app}/storage/app/public"
    name = "storage_link_present"
    fact = stat(t.conn, link)
    points_to, real_target = _resolved(t.conn, link, target)
    data = {"link": link, "target": real_target or target, "points_to": fact.target}
    if not real_target:
        return t.result(name, Status.FAILED, f"{target} does not exist; nothing to link to",
                        data=data)
    if fact.exists and fact.kind != "symbolic link":
        return t.result(name, Status.FAILED,
                        f"{link} is a {fact.kind}, not a link; move it away first (not deleted: "
                        "it may hold files)", data=data)
    steps: list[Step] = []
    if not fact.exists:
        steps = [Step(["php", f"{app}/artisan", "storage:link"], "no link")]
    elif points_to != real_target:
        steps = [Step(["php", f"{app}/artisan", "storage:link", "--force"],
                      f"link points to {fact.target!r}")]

    def verify() -> Verification:
        after = stat(t.conn, link)
        now, _ = _resolved(t.conn, link, target)
        if after.kind == "symbolic link" and now == real_target:
            return Verification(True, f"{link} -> {after.target}")
        return Verification(False, f"{link} resolves to {now or 'nothing'}, not {real_target}")

    return apply(t, name, steps, verify=verify,
                 ok_message=f"{link} -> {fact.target}",
                 action=f"link {link} to {target}", done=f"linked {link}", data=data)


# -- storage permissions ------------------------------------------------------------------

# Minimum modes, after the runbook's "755 / 775 on storage/app/public": bits are only added
# (and o+w taken away), so a setgid bit or group write stays, and files PHP creates under
# umask 022 (0644 / 0755) already comply: the state does not drift by itself.
_MODE_RULES = (  # category, what is wrong, find test, fix; "public" rules: storage/app/public
    ("dir", "directories below 0755 or world-writable", "d", "-0755", "u+rwx,go+rx,o-w"),
    ("file", "files not u+rw or world-writable", "f", "-0600", "u+rw,o-w"),
    ("public dir", "public directories below 0775 or world-writable", "d", "-0775",
     "ug+rwx,o+rx,o-w"),
    ("public file", "public files below 0644 or world-writable", "f", "-0644", "u+rw,go+r,o-w"),
)


def _glob_quote(path: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", path)


def permission_checks(public: str, user: str, group: str) -> list[tuple[str, str, list[str], list[str]]]:
    """(category, what is wrong, find predicate selecting offenders, fix for find -exec)."""
    checks = [("owner", f"not owned by {user}:{group}",
               ["(", "!", "-user", user, "-o", "!", "-group", group, ")"],
               ["chown", "-h", f"{user}:{group}"])]
    pub = ["(", "-path", _glob_quote(public), "-o", "-path", f"{_glob_quote(public)}/*", ")"]
    for category, what, kind, perm, mode in _MODE_RULES:
        if category.startswith("public") and not public:
            continue
        scope = (pub if category.startswith("public") else ["!", *pub]) if public else []
        checks.append((category, what, [*scope, "-type", kind, "(", "!", "-perm", perm,
                                        "-o", "-perm", "/0002", ")"], ["chmod", mode]))
    return checks


def offenders_argv(roots: Sequence[str], checks: Sequence[tuple[str, str, list[str], list[str]]]
                   ) -> list[str]:
    """One find printing `category<TAB>owner mode path` for every offender of every check."""
    argv = ["find", *roots]
    for i, (category, _, pred, _) in enumerate(checks):
        argv += [*([","] if i else []), "(", *pred, "-printf", f"{category}\\t%u:%g %m %p\\n", ")"]
    return argv


def parse_offenders(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        category, sep, rest = line.partition("\t")
        if sep:
            found.setdefault(category, []).append(rest)
    return found


def storage_permissions(t: Target, *, group: str | None = None) -> Result:
    """Leave storage/ and bootstrap/cache owned by `app_user` and writable by it.

    Owner `app_user`:`group` (default the inventory's `app_group`, else `app_user`);
    directories at least 0755, files at least 0600; under storage/app/public (served
    through public/storage) directories at least 0775 and files at least 0644; nothing
    world-writable. Only offenders are touched, one `find -exec` per category.
    Example: `storage_permissions(t)`.
    """
    app, user = app_path(t), app_user(t)
    grp = user_name(group or t.var("app_group") or user, "group")
    storage, cache, public = _resolved(t.conn, f"{app}/storage", f"{app}/bootstrap/cache",
                                       f"{app}/storage/app/public")
    if not storage:
        return t.result("storage_permissions", Status.FAILED, f"{app}/storage does not exist")
    roots = [p for p in (storage, cache) if p]  # real paths: chown -h must not stop at a link
    checks = permission_checks(public, user, grp)

    def offenders() -> dict[str, list[str]]:
        return parse_offenders(t.conn.run(offenders_argv(roots, checks), check=False).stdout)

    found = offenders()
    steps = [Step(["find", *roots, *pred, "-exec", *fix, "{}", "+"], f"{len(found[c])} {what}")
             for c, what, pred, fix in checks if c in found]
    summary = "; ".join(f"{len(found[c])} {what} (e.g. {found[c][0]})"
                        for c, what, _, _ in checks if c in found)
    data = {"wrong": {k: {"count": len(v), "examples": v[:5]} for k, v in found.items()},
            "roots": roots, "owner": f"{user}:{grp}"}

    def verify() -> Verification:
        left = offenders()
        if left:
            return Verification(False, "still wrong: " + ", ".join(f"{len(v)} {k}" for k, v in left.items()),
                                "\n".join(line for v in left.values() for line in v[:5]))
        return Verification(True, f"owned by {user}:{grp}, modes as required")

    return apply(t, "storage_permissions", steps, verify=verify,
                 ok_message=f"storage and bootstrap/cache owned by {user}:{grp}, modes as required",
                 action=f"fix {summary}", done=f"fixed {summary}", data=data)
