"""A rollback's kinds of target: which kind a host is, what release it runs, how it moves.

- `systemd`: Envoyer/Deployer releases on the host (`releases/<tag>`, `current`), see
  `remediations.release.symlink`;
- `git`: the app deployed in place as a git work tree (Forge's way), checked out at the
  release's tag or commit, see `remediations.release.git`;
- `compose`: a compose project whose app services take their image tag from a variable
  (`APP_TAG`), see `compose_service_at_tag`;
- `kubernetes`: a Deployment, rolled back to the revision running the tag, see
  `deployment_at_release`.

A host is `kubernetes` when its connection is, `git` when the inventory says `release_kind:
git`, `compose` when it gives a `compose_project_dir`, else `systemd` (`release_kind:
symlink` says so explicitly). Decided from the inventory alone, without contacting the host.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from remediations.core import validate
from remediations.core.errors import InvalidInput
from remediations.core.result import Diff, Result, Status
from remediations.core.values import Release
from remediations.run.contract import reads_after_acting
from remediations.run.target import Target

if TYPE_CHECKING:
    from remediations.inventory import Host

__all__ = ["ReleaseState", "at_release", "compose_at_release", "import_clients", "release_services",
           "release_state", "target_kind"]


RELEASE_KINDS = {"git": "git", "symlink": "systemd"}


def target_kind(host: Host) -> str:
    """`kubernetes`, `git`, `compose` or `systemd`: how a rollback moves this host to a release.

    Raises `InvalidInput` for a `release_kind` other than `git` or `symlink`.
    """
    if host.connection == "kubernetes":
        return "kubernetes"
    declared = host.vars.get("release_kind")
    if declared not in (None, ""):
        if declared not in RELEASE_KINDS:
            raise InvalidInput(f"{host.name}: release_kind must be one of "
                               f"{', '.join(sorted(RELEASE_KINDS))}, got {declared!r}")
        return RELEASE_KINDS[str(declared)]
    if host.vars.get("compose_project_dir"):
        return "compose"
    return "systemd"


def import_clients(hosts: Iterable[Host]) -> None:
    """Import the client libraries these hosts need, once, in this thread.

    Two worker threads importing `docker` and `kubernetes` at the same time can each see
    the other's half-initialised `requests`; importing up front avoids it.
    """
    import importlib

    kinds = {target_kind(h) for h in hosts}
    for kind, modules in (("compose", ("docker", "remediations.docker.compose")),
                          ("kubernetes", ("kubernetes.client", "remediations.kubernetes.deployments")),
                          ("systemd", ("remediations.release.symlink",)),
                          ("git", ("remediations.release.git",))):
        if kind in kinds:
            for module in modules:
                importlib.import_module(module)


@dataclass(frozen=True, slots=True)
class ReleaseState:
    """One target before a rollback: its kind, the release it runs, and whether it has `release`.

    `blocked`: why the target refuses to move although it has the release (a git work tree
    with local changes); "" when it may move.
    """

    host: str
    kind: str
    release: str
    current: str | None
    available: tuple[str, ...]
    has_release: bool
    detail: str = ""
    blocked: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"host": self.host, "kind": self.kind, "release": self.release,
                "current": self.current, "available": list(self.available),
                "has_release": self.has_release, "detail": self.detail,
                "blocked": self.blocked}


def release_state(t: Target, release: str) -> ReleaseState:
    """Read-only: what `t` runs and whether `release` can be put on it (works in check mode)."""
    release = Release.parse(release)
    kind = target_kind(t.host)
    if kind == "kubernetes":
        return _kube_state(t, release)
    if kind == "compose":
        return _compose_state(t, release)
    if kind == "git":
        return _git_state(t, release)
    from remediations.release.symlink import release_facts

    facts = release_facts(t)
    has = release in facts.available
    detail = "" if has else (f"no {facts.root}/releases/{release} "
                             f"(it has {', '.join(facts.available) or 'no release'})")
    return ReleaseState(t.name, kind, release, facts.current, tuple(facts.available), has, detail)


@reads_after_acting  # the symlink kind releases the lock with its read-back (the others never
# send a final batch, so for them nothing changes)
def at_release(t: Target, release: str, *, maintenance: bool = False, reason: str = "rollback",
               timeout: float = 300.0) -> Result:
    """Leave `t` on `release`, verified by its health check, whatever its kind.

    Example: `at_release(t, "v1.2.2")`; over many hosts use `remediations.rollback`.
    """
    timeout = validate.seconds(timeout, "timeout")
    kind = target_kind(t.host)
    release = Release.parse(release)
    if kind == "kubernetes":
        from remediations.kubernetes.deployments import deployment_at_release

        return deployment_at_release(t, release, timeout=timeout)
    if kind == "compose":
        return compose_at_release(t, release, timeout=timeout)
    if kind == "git":
        from remediations.release.git import git_at_release

        return git_at_release(t, release, maintenance=maintenance, reason=reason,
                              health_timeout=_health_wait(timeout))
    from remediations.release.symlink import release_current

    return release_current(t, release, maintenance=maintenance, reason=reason,
                           health_timeout=_health_wait(timeout))


def _health_wait(timeout: float) -> float:
    """How long a switched host's health check may poll: half the host's time (the switch
    and the reads after the wait need the rest), at most two minutes."""
    return min(timeout / 2, 120.0)


# -- git ------------------------------------------------------------------------------------

def _git_state(t: Target, release: Release) -> ReleaseState:
    from remediations.release.git_facts import git_facts

    facts = git_facts(t, release)
    why = facts.why_not()
    return ReleaseState(t.name, "git", release, facts.current, facts.tags, not why, why,
                        "" if why else facts.refusal())


# -- kubernetes -------------------------------------------------------------------------------

def _kube_state(t: Target, release: Release) -> ReleaseState:
    from remediations.kubernetes.deployments import deployment_releases

    facts = deployment_releases(t)
    known = tuple(dict.fromkeys([*facts["history"], *facts["listed"]]))
    has = release in known
    detail = "" if has else (f"no revision of deployment {facts['deployment']} runs {release} "
                             f"(history: {', '.join(facts['history']) or 'none'}) and the "
                             "inventory's `releases` does not list it")
    return ReleaseState(t.name, "kubernetes", release, facts["current"], known, has, detail)


# -- compose ----------------------------------------------------------------------------------

def release_services(t: Target) -> list[str]:
    """The services that run the app's code: `release_services`, else `app_service` and
    `worker_service` (a worker must run the same release as the web service)."""
    from remediations.docker.project import service_names

    listed = t.var("release_services")
    if listed is None:
        listed = [s for s in (t.var("app_service"), t.var("worker_service")) if s]
    if not isinstance(listed, list) or not listed:
        raise InvalidInput(f"{t.name}: set `release_services` (a list) or `app_service` in the "
                           "inventory: the compose services a rollback moves")
    return service_names([str(s) for s in listed])


def _tag_var(t: Target) -> str:
    from remediations.docker.project import env_name

    return env_name(str(t.var("release_tag_var") or "APP_TAG"))


def _compose_state(t: Target, release: Release) -> ReleaseState:
    from remediations.docker.engine import engine
    from remediations.docker.project import open_compose
    from remediations.kubernetes.revisions import image_tag

    services = release_services(t)
    with engine(t) as eng:
        comp = open_compose(t, eng)
        config = comp.config({_tag_var(t): release}).get("services") or {}
        lacking: list[str] = []
        repositories: set[str] = set()
        for service in services:
            image = str((config.get(service) or {}).get("image") or "")
            if not image:
                raise InvalidInput(f"{t.name}: no service {service} in {comp.proj.file}")
            repositories.add(image.rsplit(":", 1)[0])
            if image_tag(image) != release:
                lacking.append(f"{service}'s image does not take its tag from ${_tag_var(t)}")
            elif eng.image_id(image) is None:
                lacking.append(f"no image {image} on the engine")
        running = {image_tag(c.image) for s in services for c in comp.containers(s) if c.running}
        available = sorted({tag.split(":", 1)[1] for img in eng.images()
                            for tag in img.get("RepoTags") or []
                            if tag.rsplit(":", 1)[0] in repositories and ":" in tag})
    current = next(iter(running)) if len(running) == 1 else None
    return ReleaseState(t.name, "compose", release, current, tuple(available), not lacking,
                        "; ".join(dict.fromkeys(lacking)))


def compose_at_release(t: Target, release: str, *, timeout: float = 180.0) -> Result:
    """Every app service of the compose project runs `release`, healthy, `/up` agreeing.

    Service by service (`release_services`, web first), each with `compose_service_at_tag`;
    the first that fails stops the others. `ok` when all already run it.
    Example: `compose_at_release(t, "v1.2.2")`.
    """
    from remediations.docker.compose import compose_service_at_tag

    timeout = validate.seconds(timeout, "timeout")
    release = Release.parse(release)
    parts: list[Result] = []
    for service in release_services(t):
        parts.append(compose_service_at_tag(t, service, release, timeout=timeout,
                                            tag_var=_tag_var(t)))
        if parts[-1].failed:
            break
    return combined(t, "compose_at_release", parts)


def combined(t: Target, name: str, parts: list[Result]) -> Result:
    """One result of several: the worst status, every command, each part's message."""
    worst = next((r for r in parts if r.failed), None)
    status = Status.FAILED if worst else (
        Status.CHANGED if any(r.status is Status.CHANGED for r in parts) else Status.OK)
    message = "; ".join(r.message for r in parts if r.message)
    diffs = [r.diff for r in parts if r.diff is not None]
    diff = Diff("\n".join(d.before for d in diffs), "\n".join(d.after for d in diffs)) if diffs else None
    return t.result(name, status, message, commands=[c for r in parts for c in r.commands],
                    diff=diff, evidence=worst.evidence if worst else "",
                    data={"parts": [r.to_dict() for r in parts]})
