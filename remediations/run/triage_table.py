"""What the reporters show for a `triage` run: per host, its findings worst first, or all is well."""

from __future__ import annotations

from collections.abc import Iterator

from remediations.core.result import Result, Status
from remediations.run.report import Report

COLUMNS = ("host", "severity", "what", "detail")
STYLE = {"critical": "bold red", "warning": "yellow", "ok": "green", "failed": "bold red",
         "unreachable": "bold magenta", "unknown": "bold yellow", "skipped": "cyan"}


def is_triage(report: Report) -> bool:
    """Whether every result of `report` carries a triage snapshot's findings."""
    return bool(report.results) and all("findings" in r.data or r.failed for r in report) \
        and any("findings" in r.data for r in report)


def _order(r: Result) -> tuple[int, str]:
    found = r.data.get("findings") or []
    if "findings" not in r.data:
        return (0, r.host)                       # unreachable, unknown: nothing was read
    if any(f.get("severity") == "critical" for f in found):
        return (1, r.host)
    return (2 if found else 3, r.host)


def rows(report: Report) -> Iterator[tuple[str, str, str, str]]:
    """(host, severity, what, detail): hosts with critical findings first, healthy ones last."""
    for r in sorted(report, key=_order):
        if "findings" not in r.data:
            yield (r.host, r.status.value, "triage", " ".join(r.message.split()))
            continue
        found = r.data.get("findings") or []
        if not found:
            yield (r.host, "ok", "all is well", _healthy(r))
        for f in found:
            yield (r.host, str(f.get("severity", "")), str(f.get("what", "")),
                   " ".join(str(f.get("detail", "")).split()))


def _healthy(r: Result) -> str:
    d = r.data
    kind = d.get("kind", "")
    if kind == "kubernetes":
        rep = d.get("replicas") or {}
        return f"{rep.get('ready')}/{rep.get('desired')} ready, image {d.get('image')}"
    if kind == "compose":
        return f"{len(d.get('services') or {})} service(s) running"
    active = sum(1 for u in d.get("units") or () if u.get("active") == "active")
    disk = max((x.get("percent", 0) for x in d.get("disk") or ()), default=0)
    release = (d.get("app") or {}).get("release")
    return (f"{active} unit(s) active, disk at most {disk:g}%"
            + (f", release {release}" if release else ""))


def saved_to(report: Report) -> str:
    """The folder `--save` wrote the snapshots to, or empty."""
    return next((str(r.data["saved_to"]) for r in report if r.data.get("saved_to")), "")


def footer(report: Report) -> str:
    """One line: hosts with critical findings, with warnings only, and healthy."""
    crit = sum(1 for r in report if r.status is Status.FAILED)
    warn = sum(1 for r in report if r.status is Status.OK and r.data.get("findings"))
    well = sum(1 for r in report if r.status is Status.OK and not r.data.get("findings"))
    other = len(report) - crit - warn - well
    return (f"{crit} host(s) critical, {warn} with warnings, {well} all is well"
            + (f", {other} not read" if other else ""))
