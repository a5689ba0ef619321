"""The base image's package sources come from this machine's apt sources, never a named host."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab import build
from lab._run import LabError
from lab.apt_sources import debootstrap_mirror, image_sources

DEB822 = """\
Types: deb
# a comment between fields
URIs: http://mirror.example.test/debian
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example.test/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://src.example.test/debian
Suites: bookworm
Components: main

Enabled: no
Types: deb
URIs: http://disabled.example.test/debian
Suites: bookworm
Components: main
"""

ONE_LINE = """\
# the classic format
deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://one.example.test/debian bookworm main
deb http://one.example.test/debian bookworm-updates main
deb-src http://one.example.test/debian bookworm main
deb http://security.example.test/debian-security bookworm-security main
deb https://vendor.example.test/apt stable main
"""


def apt_dir(tmp_path: Path, files: dict[str, str]) -> Path:
    (tmp_path / "sources.list.d").mkdir(parents=True)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def test_deb822_sources(tmp_path: Path) -> None:
    apt = apt_dir(tmp_path, {"sources.list.d/debian.sources": DEB822})
    assert debootstrap_mirror(apt) == "http://mirror.example.test/debian"
    assert image_sources(apt) == (
        "deb http://mirror.example.test/debian bookworm main\n"
        "deb http://mirror.example.test/debian bookworm-updates main\n"
        "deb http://mirror.example.test/debian-security bookworm-security main\n"
    )


def test_one_line_sources(tmp_path: Path) -> None:
    apt = apt_dir(tmp_path, {"sources.list": ONE_LINE})
    assert debootstrap_mirror(apt) == "http://one.example.test/debian"
    assert image_sources(apt) == (
        "deb http://one.example.test/debian bookworm main\n"
        "deb http://one.example.test/debian bookworm-updates main\n"
        "deb http://security.example.test/debian-security bookworm-security main\n"
    )


def test_sources_list_comes_before_sources_list_d_and_disabled_files_are_ignored(
    tmp_path: Path,
) -> None:
    apt = apt_dir(tmp_path, {
        "sources.list": "deb http://first.example.test/debian bookworm main\n",
        "sources.list.d/debian.sources": DEB822,
        "sources.list.d/old.list.disabled": "deb http://off.example.test/debian bookworm main\n",
    })
    assert debootstrap_mirror(apt) == "http://first.example.test/debian"
    listed = image_sources(apt)
    assert listed.splitlines()[:2] == [
        "deb http://first.example.test/debian bookworm main",
        "deb http://mirror.example.test/debian bookworm main",
    ]
    assert "off.example.test" not in listed and "disabled.example.test" not in listed


def test_updates_and_security_are_optional_but_the_release_is_not(tmp_path: Path) -> None:
    apt = apt_dir(tmp_path, {"sources.list": "deb http://only.example.test/debian bookworm main\n"})
    assert image_sources(apt) == "deb http://only.example.test/debian bookworm main\n"

    empty = apt_dir(tmp_path / "empty", {"sources.list": "deb http://x.example.test/d trixie main\n"})
    with pytest.raises(LabError, match=r"no `deb \.\.\. bookworm main` entry"):
        debootstrap_mirror(empty)
    with pytest.raises(LabError, match="bookworm"):
        image_sources(empty)


def test_a_deb822_entry_without_main_is_not_the_mirror(tmp_path: Path) -> None:
    text = ("Types: deb\nURIs: http://contrib.example.test/debian\nSuites: bookworm\n"
            "Components: contrib\n\n"
            "Types: deb\nURIs: http://main.example.test/debian\nSuites: bookworm\n"
            "Components: main\n")
    apt = apt_dir(tmp_path, {"sources.list.d/debian.sources": text})
    assert debootstrap_mirror(apt) == "http://main.example.test/debian"


def test_the_build_code_names_no_package_host() -> None:
    source = Path(build.__file__).read_text()
    assert "debian.org" not in source
    assert not hasattr(build, "MIRROR") and not hasattr(build, "SOURCES")
