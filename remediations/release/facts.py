"""The releases of a host in the Envoyer/Deployer layout, read in one command; their history.

Layout: `<root>/releases/<tag>/` (each with its `artisan`), `<root>/current -> releases/<tag>`
(a relative symlink) and `<root>/shared/`. `root` is the host's `deploy_path`, else the
parent of an `app_path` that ends in `/current`. A release is a folder of `releases/` with
an `artisan` file. `remediations.release.symlink` switches between them.

A host of release kind `git` (`release_kind: git`, an in-place work tree) has no releases
folder: `release_facts` and `release_history` read its work tree and `.git` instead (see
`remediations.release.git_facts`), so both work on either kind.

Marks and history, written by `release_current`: `releases/<tag>/.remediations-bad` holds
one JSON object (by, at, run_id, reason, replaced_by) when a switch left that release;
`<root>/.remediations-releases.jsonl` has one JSON line per switch.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from remediations.core.errors import InvalidInput
from remediations.core.scripts import script
from remediations.core.values import Release
from remediations.host.disk import absolute_path
from remediations.host.files import read_text
from remediations.host.systemd import UnitState, parse_unit_state, show_argv
from remediations.laravel import php
from remediations.release.listing import ReleaseFacts as ReleaseFacts  # re-exported
from remediations.release.listing import describe_bad as describe_bad
from remediations.release.listing import version_key as version_key
from remediations.run import markers
from remediations.run.target import RunContext, Target

BAD_FILE = ".remediations-bad"
HISTORY_FILE = ".remediations-releases.jsonl"
# Read-only, one round trip: the root's owner, `current`, the releases (with their
# BAD_FILE marks) and this run's markers; then, when asked, `systemctl show` of the php-fpm unit.
_INSPECT = script("release-inspect.sh")


@dataclass(frozen=True, slots=True)
class Inspection:
    """`ReleaseFacts` plus what a switch needs: the link, its owner, this run's markers."""

    facts: ReleaseFacts
    link: str | None                     # what `current` points at; None when no symlink
    owner: str                           # user:group the new link gets ("" = leave it)
    markers: Mapping[str, str]           # marker file name -> its first line, this run
    unit: UnitState | None = None


def _release_of(link: str, root: str, available: Sequence[str]) -> str | None:
    for prefix in (f"{root}/releases/", "releases/", "./releases/"):
        if link.startswith(prefix):
            tag = link[len(prefix):].rstrip("/")
            return tag if tag in available else None
    return None


def parse_inspection(root: str, text: str, unit: str | None = None) -> Inspection:
    """Parse the output of the inspection command (tab-separated lines; see `_INSPECT`)."""
    head, _, unit_text = text.partition("\nunit\n") if unit else (text, "", "")
    root_owner, link, link_owner = "", None, ""
    available: list[str] = []
    bad: dict[str, str] = {}
    marks: dict[str, str] = {}
    for line in head.splitlines():
        kind, _, rest = line.partition("\t")
        if kind == "root":
            root_owner = rest
        elif kind == "link":
            link_owner, _, link = rest.partition("\t")
        elif kind == "release" and _is_tag(rest):
            available.append(rest)
        elif kind == "bad":
            name, _, mark = rest.partition("\t")
            bad[name] = describe_bad(mark)
        elif kind == "marker":
            name, _, content = rest.partition("\t")
            marks[name] = content
    ordered = tuple(sorted(available, key=version_key))
    current = _release_of(link, root, ordered) if link is not None else None
    facts = ReleaseFacts(root, current, ordered, {k: v for k, v in bad.items() if k in ordered})
    state = parse_unit_state(unit, unit_text) if unit else None
    return Inspection(facts, link, link_owner or root_owner, marks, state)


def _is_tag(name: str) -> bool:
    try:
        Release.parse(name)
    except InvalidInput:
        return False
    return True


def inspect_argv(root: str, run: RunContext, unit: str | None = None) -> list[str]:
    """The inspection command: `sh -c _INSPECT _ ROOT RUN_MARKERS [systemctl show UNIT]`."""
    show = show_argv(unit) if unit else []
    return ["sh", "-c", _INSPECT, "_", root, f"{markers.ROOT}/{run.run_id}", *show]


def inspect(t: Target, root: str, unit: str | None = None) -> Inspection:
    """Read the releases, `current`, this run's markers (and `unit`) in one command."""
    return parse_inspection(root, t.conn.run(inspect_argv(root, t.run, unit)).stdout, unit)


def releases_root(t: Target) -> str:
    """The folder holding `releases/` and `current`: `deploy_path`, else app_path's parent.

    Example: with `app_path: /srv/app/current`, `releases_root(t) == "/srv/app"`.
    """
    deploy = t.var("deploy_path")
    if deploy:
        root = absolute_path(deploy, f"{t.name}: deploy_path")
    else:
        app = t.var("app_path")
        if not isinstance(app, str) or posixpath.basename(app.rstrip("/")) != "current":
            raise InvalidInput(
                f"{t.name}: cannot tell where the releases are: set deploy_path (the folder "
                f"holding releases/ and current) or an app_path ending in /current "
                f"(app_path is {app!r})")
        root = posixpath.dirname(php.app_path(t))
    if root == "/":
        raise InvalidInput(f"{t.name}: the releases root may not be '/': set deploy_path")
    return root


def _is_git(t: Target) -> bool:
    from remediations.release.git_facts import is_git_host

    return is_git_host(t.host)


def release_facts(t: Target) -> ReleaseFacts:
    """A fact: the releases on `t`, the current one and the bad marks (one read-only command).

    On a `git` host: the work tree's path, the tag at HEAD (else its commit), the newest
    tags and the bad marks. Example: `release_facts(t).current == "v1.2.3"`.
    """
    if _is_git(t):
        from remediations.release.git_facts import git_facts

        return git_facts(t, "HEAD").facts()
    return inspect(t, releases_root(t)).facts


def release_history(t: Target) -> list[dict[str, Any]]:
    """The switches recorded on `t`, oldest first (from, to, who, when, run_id, reason, hooks).

    Example: `release_history(t)[-1]["to"] == "v1.2.2"`.
    """
    if _is_git(t):
        from remediations.release.git_facts import git_app, history_file

        path = history_file(git_app(t))
    else:
        path = f"{releases_root(t)}/{HISTORY_FILE}"
    text = read_text(t.conn, path) or ""
    entries: list[dict[str, Any]] = []
    for line in filter(None, (raw.strip() for raw in text.splitlines())):
        try:
            entry = json.loads(line)
        except ValueError:
            entry = None
        entries.append(entry if isinstance(entry, dict) else {"unreadable": line})
    return entries
