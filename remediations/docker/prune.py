"""Docker pruned: stopped containers, unused images, build cache and (only when asked) volumes.

Unlike `docker system prune`, the plan is computed here from the engine's own
accounting (`docker system df -v` through the SDK) and shown object by object: check
mode lists the exact ids and sizes, and the real run removes exactly that list, one
object at a time by id (`docker container rm ID`, `docker image rm ID`), never with the
engine's blind prune. An image used by any container that stays (running or stopped)
is never a candidate, whatever the filters say; nor is an image other images are built
on. Build cache has no per-record delete in the API: it is pruned with the same
`until` filter (as an age), and verified by the listed records being gone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from remediations.core.errors import InvalidInput
from remediations.core.result import Result, Step
from remediations.docker.engine import engine, engine_target, parse_time
from remediations.host.disk import human
from remediations.run.contract import Verification, apply
from remediations.run.target import Target

_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?(?:h|m|s|ms))+$")
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_LABEL_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$")
_BUSY = ("running", "paused", "restarting", "removing")


@dataclass(frozen=True, slots=True)
class LabelFilter:
    """`label=key`, `label=key=value`, or negated: `label!=key`, `label!=key=value`."""

    key: str
    value: str | None = None
    negate: bool = False

    def hit(self, labels: Mapping[str, str]) -> bool:
        return self.key in labels and (self.value is None or labels[self.key] == self.value)

    def __str__(self) -> str:
        return f"label{'!=' if self.negate else '='}{self.key}" + (
            f"={self.value}" if self.value is not None else "")


def parse_label_filter(text: str) -> LabelFilter:
    """`k`, `k=v`, `!k`, `!k=v`, or docker's own `label=k=v` / `label!=k`."""
    raw = text.strip()
    negate = raw.startswith(("!", "label!="))
    raw = raw.removeprefix("label!=").removeprefix("label=").removeprefix("!")
    key, sep, value = raw.partition("=")
    if not _LABEL_KEY.fullmatch(key) or any(c in value for c in "\0\n\r"):
        raise InvalidInput(f"not a valid label filter: {text!r} (k, k=v, !k or !k=v)")
    return LabelFilter(key, value if sep else None, negate)


def parse_until(value: str, now: datetime) -> datetime:
    """The cutoff: a Go duration before `now` (`24h`, `1h30m`), a Unix time, or an ISO date/time."""
    text = str(value).strip()
    if _DURATION.fullmatch(text):
        units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
        return now - timedelta(seconds=sum(float(n) * units[u] for n, u in _PART.findall(text)))
    if re.fullmatch(r"\d{9,11}(\.\d+)?", text):
        return datetime.fromtimestamp(float(text), UTC)
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"not a valid until: {value!r} (24h, 1h30m, a Unix time or "
                           "2026-11-23T10:00:00Z)") from None
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Filters:
    until: datetime | None = None
    labels: tuple[LabelFilter, ...] = ()

    def match(self, labels: Mapping[str, str] | None, created: datetime | None) -> bool:
        have = labels or {}
        if self.until is not None and (created is None or created >= self.until):
            return False
        return all(f.hit(have) != f.negate for f in self.labels)


@dataclass(frozen=True, slots=True)
class Doomed:
    """One object the plan removes: its kind, id, a readable name, size and creation time."""

    kind: str           # container, image, volume, build-cache
    id: str
    name: str
    size: int
    created: datetime | None = None
    refs: tuple[str, ...] = ()      # what `docker image rm` is given (tags of a multi-tag image)

    def step(self) -> Step | None:
        if self.kind == "container":
            return Step(["docker", "container", "rm", self.id], f"{self.name}, {human(self.size)}")
        if self.kind == "image":
            return Step(["docker", "image", "rm", *(self.refs or (self.id,))],
                        f"{self.name}, {human(self.size)}")
        if self.kind == "volume":
            return Step(["docker", "volume", "rm", self.id], f"volume, {human(self.size)}")
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "size": self.size,
                "created": self.created.isoformat() if self.created else None}


@dataclass(frozen=True, slots=True)
class PrunePlan:
    containers: tuple[Doomed, ...] = ()
    images: tuple[Doomed, ...] = ()
    volumes: tuple[Doomed, ...] = ()
    build_cache: tuple[Doomed, ...] = ()
    kept: tuple[tuple[str, str, str], ...] = ()     # (id, name, why) of images matched but kept
    build_cache_filter: str | None = None

    @property
    def every(self) -> tuple[Doomed, ...]:
        return self.containers + self.images + self.volumes + self.build_cache

    @property
    def bytes(self) -> int:
        return sum(d.size for d in self.every)

    def steps(self) -> list[Step]:
        steps = [s for d in self.containers + self.images + self.volumes if (s := d.step())]
        if self.build_cache:
            flt = ["--filter", self.build_cache_filter] if self.build_cache_filter else []
            steps.append(Step(["docker", "builder", "prune", "--all", "--force", *flt],
                              f"{len(self.build_cache)} build cache records, "
                              f"{human(sum(d.size for d in self.build_cache))}"))
        return steps

    def summary(self) -> str:
        parts = [f"{len(ds)} {kind}" for kind, ds in (
            ("container(s)", self.containers), ("image(s)", self.images),
            ("volume(s)", self.volumes), ("build cache record(s)", self.build_cache)) if ds]
        return f"{', '.join(parts) or 'nothing'} ({human(self.bytes)})"

    def listing(self) -> str:
        return "; ".join(f"{d.kind} {d.id.removeprefix('sha256:')[:12]} {d.name} {human(d.size)}"
                         for d in self.every)

    def to_dict(self) -> dict[str, Any]:
        return {"containers": [d.to_dict() for d in self.containers],
                "images": [d.to_dict() for d in self.images],
                "volumes": [d.to_dict() for d in self.volumes],
                "build_cache": [d.to_dict() for d in self.build_cache],
                "kept": [{"id": i, "name": n, "why": w} for i, n, w in self.kept],
                "bytes": self.bytes}


def _epoch(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _tags(image: Mapping[str, Any]) -> list[str]:
    return [t for t in image.get("RepoTags") or () if t and t != "<none>:<none>"]


def plan_prune(df: Mapping[str, Any], all_images: Iterable[Mapping[str, Any]], *,
               filters: Filters, containers: bool = True, images: bool = True,
               dangling_only: bool = True, volumes: bool = False, build_cache: bool = False,
               now: datetime | None = None) -> PrunePlan:
    """What goes, from `docker system df -v` and every image's parent: a pure function."""
    df_containers = list(df.get("Containers") or ())
    gone_containers: list[Doomed] = []
    if containers:
        for c in df_containers:
            created = _epoch(c.get("Created"))
            if c.get("State") in _BUSY or not filters.match(c.get("Labels"), created):
                continue
            name = ((c.get("Names") or ["?"])[0]).lstrip("/")
            gone_containers.append(Doomed("container", str(c["Id"]), name,
                                          int(c.get("SizeRw") or 0), created))
    leaving = {d.id for d in gone_containers}
    staying = [c for c in df_containers if c.get("Id") not in leaving]
    users: dict[str, list[str]] = {}
    for c in staying:
        users.setdefault(str(c.get("ImageID")), []).append(((c.get("Names") or ["?"])[0]).lstrip("/"))
    parents = {str(i.get("ParentId")) for i in all_images if i.get("ParentId")}
    gone_images: list[Doomed] = []
    kept: list[tuple[str, str, str]] = []
    if images:
        for img in df.get("Images") or ():
            iid, tags = str(img["Id"]), _tags(img)
            created = _epoch(img.get("Created"))
            if (dangling_only and tags) or not filters.match(img.get("Labels"), created):
                continue
            name = ", ".join(tags) or "<none>"
            if iid in users:
                kept.append((iid, name, f"used by container(s) {', '.join(sorted(users[iid]))}"))
                continue
            if iid in parents:
                kept.append((iid, name, "other images are built on it"))
                continue
            shared = int(img.get("SharedSize", -1) if img.get("SharedSize") is not None else -1)
            size = int(img.get("Size") or 0) - max(0, shared)
            gone_images.append(Doomed("image", iid, name, max(0, size), created,
                                      tuple(tags) if len(tags) > 1 else ()))
    gone_volumes: list[Doomed] = []
    if volumes:
        mounted = {str(m.get("Name")) for c in staying for m in c.get("Mounts") or ()
                   if m.get("Type") == "volume"}
        for v in df.get("Volumes") or ():
            usage = v.get("UsageData") or {}
            created = parse_time(v.get("CreatedAt"))
            if v["Name"] in mounted:
                continue
            if not filters.match(v.get("Labels"), created):
                continue
            gone_volumes.append(Doomed("volume", str(v["Name"]), str(v["Name"]),
                                       max(0, int(usage.get("Size", 0) or 0)), created))
    gone_cache: list[Doomed] = []
    cache_filter: str | None = None
    if build_cache:
        if filters.labels:
            raise InvalidInput("build cache records carry no labels: leave build_cache out "
                               "when filtering by label")
        for r in df.get("BuildCache") or ():
            used = parse_time(r.get("LastUsedAt")) or parse_time(r.get("CreatedAt"))
            if r.get("InUse") or not filters.match({}, used):
                continue
            gone_cache.append(Doomed("build-cache", str(r["ID"]), str(r.get("Type") or "cache"),
                                     int(r.get("Size") or 0), used))
        if filters.until is not None:
            age = (now or datetime.now(UTC)) - filters.until
            cache_filter = f"until={max(0, int(age.total_seconds()))}s"
    return PrunePlan(tuple(gone_containers), tuple(gone_images), tuple(gone_volumes),
                     tuple(gone_cache), tuple(kept), cache_filter)


def docker_pruned(t: Target, *, containers: bool = True, images: bool = True,
                  build_cache: bool = False, until: str | None = None,
                  labels: Sequence[str] = (), dangling_only: bool = True,
                  volumes: bool = False) -> Result:
    """Stopped containers, unused images (dangling only unless `dangling_only=False`), and
    when asked build cache and unused volumes, removed; filtered by `until` and `labels`.

    Never removes an image a remaining container uses, running or stopped. Check mode
    lists the exact ids and sizes (`data`: containers, images, volumes, build_cache, kept,
    bytes); the result reports the bytes freed, as the engine accounts them (an image's
    unique size, a container's writable layer).
    Example: `docker_pruned(t, until="24h", labels=["com.example.team=web"])`.
    """
    now = datetime.now(UTC)
    filters = Filters(parse_until(until, now) if until else None,
                      tuple(parse_label_filter(x) for x in labels))
    name = "docker_pruned"
    with engine(t) as eng:
        plan = plan_prune(eng.disk_usage(), eng.images(), filters=filters, containers=containers,
                          images=images, dangling_only=dangling_only, volumes=volumes,
                          build_cache=build_cache, now=now)
        data = {**plan.to_dict(), "filters": [str(f) for f in filters.labels],
                "until": filters.until.isoformat() if filters.until else None}

        def verify() -> Verification:
            df = eng.disk_usage()
            present = {str(c["Id"]) for c in df.get("Containers") or ()}
            present |= {str(i["Id"]) for i in eng.images()}
            present |= {str(v["Name"]) for v in df.get("Volumes") or ()}
            cache = {str(r["ID"]) for r in df.get("BuildCache") or ()}
            left = [d for d in plan.every if d.id in (cache if d.kind == "build-cache" else present)]
            lost = [k for k in plan.kept if k[0] not in present]
            freed = sum(d.size for d in plan.every if d not in left)
            info = {"bytes_freed": freed, "left": [d.to_dict() for d in left]}
            if lost:
                return Verification(False, f"kept image(s) gone: {lost}", "", info)
            if left:
                return Verification(False, f"still there: {', '.join(d.id[:19] for d in left)}",
                                    "", info)
            return Verification(True, f"{human(freed)} freed", "", info)

        what = ", ".join(k for k, on in (("containers", containers), ("images", images),
                                         ("volumes", volumes), ("build cache", build_cache)) if on)
        result = apply(engine_target(t, eng), name, plan.steps(), verify=verify, data=data,
                       ok_message=f"nothing to prune ({what}"
                                  f"{', until ' + until if until else ''}"
                                  f"{', ' + ', '.join(map(str, filters.labels)) if labels else ''})"
                                  + (f"; kept {len(plan.kept)} image(s) in use" if plan.kept else ""),
                       action=f"remove {plan.summary()}: {plan.listing()}",
                       done=f"removed {plan.summary()}")
    return result
