"""Where the lab's base image gets its Debian packages: from this machine's own apt sources.

The project names no package host: debootstrap is pointed at the URI this machine uses
for its release's main suite, and the base image's sources.list lists the machine's
entries for the release, -updates and -security suites (main only). The entry parsers
are lab/compose_v2.py's, which reads the same files for the same reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from ._run import LabError
from .compose_v2 import _deb822_entries, _one_line_entries

APT_DIR = Path("/etc/apt")
RELEASE = "bookworm"


def machine_entries(apt_dir: Path = APT_DIR) -> Iterator[dict[str, list[str]]]:
    """Every enabled entry of sources.list and sources.list.d/*.list|*.sources, in apt's order."""
    for path in [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*"))]:
        if path.suffix not in (".list", ".sources") or not path.is_file():
            continue
        text = path.read_text(errors="replace")
        yield from _deb822_entries(text) if path.suffix == ".sources" else _one_line_entries(text)


def _uris_for(entries: Iterable[dict[str, list[str]]], suite: str) -> list[str]:
    uris: list[str] = []
    for entry in entries:
        # One-line entries carry no Components (the parser drops them): take them as main.
        if "deb" not in entry.get("Types", []) or suite not in entry.get("Suites", []):
            continue
        if "main" not in entry.get("Components", ["main"]):
            continue
        uris += [uri for uri in entry["URIs"] if uri not in uris]
    return uris


def debootstrap_mirror(apt_dir: Path = APT_DIR, release: str = RELEASE) -> str:
    """The URI of this machine's first `deb URI RELEASE main` entry."""
    uris = _uris_for(machine_entries(apt_dir), release)
    if not uris:
        raise LabError(
            f"no `deb ... {release} main` entry in {apt_dir}/sources.list(.d): the lab's base "
            "image is bootstrapped from the mirror this machine already uses"
        )
    return uris[0]


def image_sources(apt_dir: Path = APT_DIR, release: str = RELEASE) -> str:
    """sources.list for the base image: the machine's release, -updates, -security (main)."""
    entries = list(machine_entries(apt_dir))
    lines: list[str] = []
    for suite in (release, f"{release}-updates", f"{release}-security"):
        lines += [f"deb {uri} {suite} main" for uri in _uris_for(entries, suite)]
    if not any(f" {release} " in line for line in lines):
        debootstrap_mirror(apt_dir, release)  # raises, saying what is missing
    return "\n".join(lines) + "\n"
