"""Which inventory is read when -i is not given: ansible.cfg found as Ansible finds it, ANSIBLE_INVENTORY.

Where ansible-core is importable, its own `find_ini_config_file` and `ConfigManager`
answer the same questions in-process, and must agree.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from remediations.core.errors import InventoryError
from remediations.inventory import inventory_settings
from remediations.inventory.ansible_config import find_config_file, read_config


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME of our own, no ANSIBLE_*/REMEDIATIONS_* variables, cwd a private folder."""
    for key in [k for k in os.environ if k.startswith(("ANSIBLE_", "REMEDIATIONS_"))]:
        monkeypatch.delenv(key)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    work = tmp_path / "work"
    work.mkdir(mode=0o755)
    monkeypatch.chdir(work)
    return home


def cfg(folder: Path, text: str, name: str = "ansible.cfg") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def ansibles_choice() -> str | None:
    manager = pytest.importorskip("ansible.config.manager")
    found: str | None = manager.find_ini_config_file()
    return found


SETUPS = ["env-file", "env-folder", "env-missing", "cwd", "cwd-world-writable", "home", "none"]


@pytest.mark.parametrize("setup", SETUPS)
def test_the_config_file_is_the_one_ansible_reads(setup: str, home: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    work = Path.cwd()
    cfg(work, "[defaults]\n")
    cfg(home, "[defaults]\n", ".ansible.cfg")
    elsewhere = cfg(tmp_path / "elsewhere", "[defaults]\n")
    if setup == "env-file":
        monkeypatch.setenv("ANSIBLE_CONFIG", str(elsewhere))
    elif setup == "env-folder":
        monkeypatch.setenv("ANSIBLE_CONFIG", str(elsewhere.parent))
    elif setup == "env-missing":
        monkeypatch.setenv("ANSIBLE_CONFIG", str(tmp_path / "nope.cfg"))
    elif setup == "cwd-world-writable":
        work.chmod(0o777)
    elif setup == "home":
        (work / "ansible.cfg").unlink()
    elif setup == "none":
        (work / "ansible.cfg").unlink()
        (home / ".ansible.cfg").unlink()
    expected = {"env-file": elsewhere, "env-folder": elsewhere, "env-missing": work / "ansible.cfg",
                "cwd": work / "ansible.cfg", "cwd-world-writable": home / ".ansible.cfg",
                "home": home / ".ansible.cfg"}.get(setup)
    ours = find_config_file(os.environ, os.getcwd())
    if expected is None and os.path.exists("/etc/ansible/ansible.cfg"):
        expected = Path("/etc/ansible/ansible.cfg")
    assert ours == (str(expected) if expected else None)
    assert ours == ansibles_choice()


def test_inventory_paths_resolve_as_ansibles_config_manager_resolves_them(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INV_ROOT", "/srv/inventories")
    path = cfg(Path.cwd() / "project", """\
        [defaults]
        inventory = ./hosts.yml, $INV_ROOT/prod , ~/more,/abs/x.ini  ; a comment
        vault_password_file = ../secrets/vault-pass
        """)
    config = read_config(str(path))
    assert config.inventory == (str(path.parent / "hosts.yml"), "/srv/inventories/prod",
                                str(home / "more"), "/abs/x.ini")
    assert config.vault_password_file == str(path.parent.parent / "secrets" / "vault-pass")
    manager = pytest.importorskip("ansible.config.manager")
    theirs = manager.ConfigManager(str(path))
    assert tuple(theirs.get_config_value("DEFAULT_HOST_LIST")) == config.inventory
    assert theirs.get_config_value("DEFAULT_VAULT_PASSWORD_FILE") == config.vault_password_file


def test_sources_come_from_i_then_env_then_ansible_settings(home: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    work = Path.cwd()
    cfg(work, "[defaults]\ninventory = inv/\n")
    settings = inventory_settings()
    assert (settings.sources, settings.origin) == ((str(work / "inv"),), str(work / "ansible.cfg"))
    monkeypatch.setenv("ANSIBLE_INVENTORY", "a.yml,/b")
    settings = inventory_settings()
    assert (settings.sources, settings.origin) == ((str(work / "a.yml"), "/b"),
                                                   "$ANSIBLE_INVENTORY")
    monkeypatch.setenv("REMEDIATIONS_INVENTORY", "r.yml")
    assert inventory_settings().sources == ("r.yml",)
    assert inventory_settings("x.yml,ansible:y").sources == ("x.yml", "ansible:y")
    assert inventory_settings("x.yml").origin == "-i"


def test_ansible_settings_are_read_with_ansible_inventory_only_when_the_cfg_says_so(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = Path.cwd()
    cfg(work, "[defaults]\ninventory = inv\n\n[remediations]\ninventory_kind = ansible\n")
    assert inventory_settings().sources == (f"ansible:{work / 'inv'}",)
    monkeypatch.setenv("ANSIBLE_INVENTORY", "aws_ec2.yml")
    assert inventory_settings().sources == (f"ansible:{work / 'aws_ec2.yml'}",)
    assert inventory_settings("hosts.yml").sources == ("hosts.yml",)  # -i says what it is
    cfg(work, "[remediations]\ninventory_kind = plugins\n")
    with pytest.raises(InventoryError, match="inventory_kind must be 'native' or 'ansible'") as info:
        inventory_settings()
    assert info.value.path == str(work / "ansible.cfg")


def test_no_inventory_anywhere(home: Path) -> None:
    settings = inventory_settings()
    if not os.path.exists("/etc/ansible/ansible.cfg"):
        assert settings.sources == () and settings.origin == ""


def test_vault_password_file_from_option_env_or_cfg(home: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    work = Path.cwd()
    for name in ("from-cfg", "from-env", "from-option"):
        (work / name).write_text("pw\n")
    cfg(work, "[defaults]\nvault_password_file = from-cfg\n")
    assert inventory_settings().vault_password_file == str(work / "from-cfg")
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", "from-env")
    assert inventory_settings().vault_password_file == str(work / "from-env")
    given = inventory_settings(vault_password_file="from-option")
    assert given.vault_password_file == str(work / "from-option")
    with pytest.raises(InventoryError, match=r"\(given\) does not exist") as info:
        inventory_settings(vault_password_file="missing")
    assert info.value.path == str(work / "missing")
    with pytest.raises(InventoryError, match="is a folder"):
        inventory_settings(vault_password_file=str(tmp_path))


@pytest.mark.parametrize("text,expected", [("", 300.0), ("0", 0.0), ("90.5", 90.5)])
def test_cache_ttl(home: Path, monkeypatch: pytest.MonkeyPatch, text: str, expected: float) -> None:
    monkeypatch.setenv("REMEDIATIONS_INVENTORY_CACHE_TTL", text)
    assert inventory_settings().cache_ttl == expected


@pytest.mark.parametrize("text", ["-1", "nan", "inf", "soon"])
def test_bad_cache_ttl(home: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv("REMEDIATIONS_INVENTORY_CACHE_TTL", text)
    with pytest.raises(InventoryError, match="REMEDIATIONS_INVENTORY_CACHE_TTL"):
        inventory_settings()


@pytest.mark.parametrize("text,message", [
    ("[defaults\ninventory = x\n", "invalid Ansible configuration"),
    ("inventory = x\n", "invalid Ansible configuration"),
    ("[defaults]\ninventory = a\ninventory = b\n", "invalid Ansible configuration"),
])
def test_a_broken_cfg_is_an_error_naming_it(home: Path, text: str, message: str) -> None:
    path = cfg(Path.cwd(), text)
    with pytest.raises(InventoryError, match=message) as info:
        inventory_settings()
    assert info.value.path == str(path)
