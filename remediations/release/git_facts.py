"""An app deployed in place as a git work tree (Laravel Forge's way), read in one command.

The host is of release kind `git` when its inventory says `release_kind: git`; the app is
the work tree at `app_path` (`/var/www/app`). A release is a tag (`v1.2.2`) or a commit
(7 to 40 hex digits). The release it runs is the highest version tag at HEAD, else HEAD's
commit. `remediations.release.git` moves it.

Marks and history, written by `git_at_release` inside the repository's `.git` folder (never
in the work tree, so `git status` and the next deploy do not see them):
`.git/.remediations-bad-<release>` holds one JSON object (by, at, run_id, reason,
replaced_by) when a switch left that release; `.git/.remediations-releases.jsonl` has one
JSON line per switch, in the same format as the symlink kind's history.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from remediations.core.errors import RemediationError
from remediations.core.scripts import script
from remediations.core.values import Release
from remediations.laravel import php
from remediations.release.listing import ReleaseFacts, describe_bad, version_key
from remediations.run import markers
from remediations.run.target import RunContext, Target

if TYPE_CHECKING:
    from remediations.inventory import Host

__all__ = ["GitFacts", "bad_file", "git_app", "git_facts", "history_file", "inspect_argv",
           "is_commit", "is_git_host", "parse_git"]

BAD_PREFIX = ".remediations-bad-"
HISTORY_NAME = ".remediations-releases.jsonl"
_COMMIT = re.compile(r"^[0-9a-f]{7,40}$")
_INSPECT = script("release-git-inspect.sh")


def is_git_host(host: Host) -> bool:
    """Whether the inventory makes `host` a `git` release kind (`release_kind: git`)."""
    return host.connection != "kubernetes" and host.vars.get("release_kind") == "git"


def is_commit(release: str) -> bool:
    """Whether `release` names a commit (7 to 40 lower-case hex digits) rather than a tag."""
    return bool(_COMMIT.fullmatch(release))


@dataclass(frozen=True, slots=True)
class GitFacts:
    """One git work tree as the inspection read it, with the release asked about."""

    app: str                                  # "/var/www/app"
    release: str                              # the release asked about ("v1.2.2")
    owner: str = ""                           # user:group of .git: git and composer run as it
    head: str | None = None                   # HEAD's commit
    head_tags: tuple[str, ...] = ()           # tags at HEAD, version-sorted
    dirty: tuple[str, ...] = ()               # `git status --porcelain` lines, tracked files
    release_commit: str | None = None         # the release's commit (None: no such tag/commit)
    release_is_tag: bool = False
    release_tags: tuple[str, ...] = ()        # tags at the release's commit, version-sorted
    lock_changed: bool = False                # composer.lock differs between HEAD and release
    tags: tuple[str, ...] = ()                # the newest 100 tags, version-sorted
    bad: Mapping[str, str] = field(default_factory=dict)
    markers: Mapping[str, str] = field(default_factory=dict)
    error: str = ""                           # why it could not be read ("" = it was)

    @property
    def user(self) -> str:
        """The user that owns the repository (left of `user:group`)."""
        return self.owner.partition(":")[0]

    @property
    def current(self) -> str | None:
        """The release running: the highest version tag at HEAD, else HEAD's commit."""
        return self.head_tags[-1] if self.head_tags else self.head

    @property
    def at_release(self) -> bool:
        return self.head is not None and self.head == self.release_commit

    @property
    def version(self) -> str | None:
        """The version /up reports for the release: the tag, or a tag at the commit."""
        if self.release_is_tag:
            return self.release
        return self.release_tags[-1] if self.release_tags else None

    def why_not(self) -> str:
        """Why the release cannot be checked out here ("" when it can)."""
        if self.error:
            return self.error
        if self.release_commit is None:
            have = ", ".join(self.tags[-8:]) or "no tags"
            return f"no tag or commit {self.release} in {self.app} (newest tags: {have})"
        if not self.release_is_tag and not is_commit(self.release):
            return (f"{self.release} is not a tag or a commit in {self.app} (a branch?): "
                    "name a tag or a commit")
        return ""

    def refusal(self) -> str:
        """Why the work tree may not be switched ("" when it may): tracked local changes."""
        if not self.dirty:
            return ""
        shown = "; ".join(self.dirty[:20]) + (f" (+{len(self.dirty) - 20} more)"
                                               if len(self.dirty) > 20 else "")
        return (f"{self.app} has local changes to tracked files ({shown}): commit or discard "
                "them first (a rollback never stashes or discards them)")

    def facts(self) -> ReleaseFacts:
        """As the symlink kind's `ReleaseFacts`: root, current, available tags, bad marks."""
        return ReleaseFacts(self.app, self.current, self.tags, dict(self.bad))

    def to_dict(self) -> dict[str, Any]:
        return {"app": self.app, "owner": self.owner, "head": self.head,
                "head_tags": list(self.head_tags), "current": self.current,
                "dirty": list(self.dirty), "release": self.release,
                "release_commit": self.release_commit, "lock_changed": self.lock_changed,
                "bad": dict(self.bad)}


def parse_git(app: str, release: str, text: str) -> GitFacts:
    """Parse the inspection's output (tab-separated lines; see `release-git-inspect.sh`)."""
    one: dict[str, str] = {}
    many: dict[str, list[str]] = {k: [] for k in ("tag", "dirty", "release-tag", "tags")}
    bad: dict[str, str] = {}
    marks: dict[str, str] = {}
    for line in text.splitlines():
        kind, _, rest = line.partition("\t")
        if kind in many:
            if rest.strip():
                many[kind].append(rest if kind == "dirty" else rest.strip())
        elif kind == "bad":
            name, _, mark = rest.partition("\t")
            bad[name] = describe_bad(mark)
        elif kind == "marker":
            name, _, content = rest.partition("\t")
            marks[name] = content
        elif kind:
            one[kind] = rest.strip()
    if "error" in one or "head" not in one:
        return GitFacts(app, release, error=one.get("error") or
                        f"could not read the git work tree at {app}: {text.strip()[:300]!r}")
    commit = one.get("release", "-")
    return GitFacts(
        app, release, owner=one.get("owner", ""), head=one["head"] or None,
        head_tags=_sorted(many["tag"]), dirty=tuple(many["dirty"]),
        release_commit=None if commit in ("", "-") else commit,
        release_is_tag=one.get("is-tag") == "yes", release_tags=_sorted(many["release-tag"]),
        lock_changed=one.get("lock") == "changed", tags=_sorted(many["tags"]),
        bad=bad, markers=marks)


def _sorted(tags: list[str]) -> tuple[str, ...]:
    return tuple(sorted(dict.fromkeys(tags), key=version_key))


def git_app(t: Target) -> str:
    """The work tree of a `git` host: the inventory's `app_path`, validated."""
    return php.app_path(t)


def inspect_argv(app: str, release: str, run: RunContext) -> list[str]:
    """The inspection command: `sh -c _INSPECT _ APP RELEASE RUN_MARKERS`."""
    return ["sh", "-c", _INSPECT, "_", app, release, f"{markers.ROOT}/{run.run_id}"]


def git_facts(t: Target, release: str) -> GitFacts:
    """A fact: the work tree of `t` and whether `release` can be checked out (one command).

    Example: `git_facts(t, "v1.2.2").current == "v1.2.3"`.
    """
    release = Release.parse(release)
    app = git_app(t)
    res = t.conn.run(inspect_argv(app, release, t.run), check=False, timeout=120)
    if res.failed:
        raise RemediationError(f"{t.name}: could not read the git work tree at {app}:\n{res.tail(8)}")
    return parse_git(app, release, res.stdout)


def history_file(app: str) -> str:
    """Where a git host's switches are recorded (inside .git, out of the work tree)."""
    return f"{app}/.git/{HISTORY_NAME}"


def bad_file(app: str, release: str) -> str:
    """Where the bad mark of `release` is kept on a git host."""
    return f"{app}/.git/{BAD_PREFIX}{release}"
