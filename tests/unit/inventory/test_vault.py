"""Vault data in native inventories: `!vault` values and encrypted files, decrypted and kept secret."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from remediations.core.errors import InventoryError
from remediations.core.redact import MASK, Redactor
from remediations.inventory import load_inventory
from remediations.inventory.markers import VaultInt, VaultText

vault = pytest.importorskip("ansible.parsing.vault")
PASSWORD = "tr0ub4dor&3"


def encrypt(text: str, password: str = PASSWORD) -> str:
    lib = vault.VaultLib([("default", vault.VaultSecret(password.encode()))])
    return str(lib.encrypt(text).decode())


def vault_scalar(text: str, indent: int) -> str:
    return "!vault |\n" + textwrap.indent(encrypt(text), " " * indent)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    inv = tmp_path / "inv"
    (inv / "group_vars").mkdir(parents=True)
    (inv / "host_vars").mkdir()
    (inv / "hosts.yml").write_text(
        "web:\n  hosts:\n    web1:\n      ansible_host: 10.0.0.1\n"
        "      deploy_key_text: " + vault_scalar("host-inline-secret", 8) + "\n")
    (inv / "group_vars" / "web.yml").write_text(encrypt(
        "ansible_become_pass: become-secret\napp_env: production\nworkers: 12345\n"
        "debug: false\n"))
    (inv / "host_vars" / "web1.yml").write_text(
        "plain: visible\nredis_auth: " + vault_scalar("redis-secret", 2) + "\n")
    (tmp_path / "vault-pass").write_text(PASSWORD + "\n")
    return inv


def test_vaulted_values_are_decrypted_and_marked_secret(folder: Path) -> None:
    inv = load_inventory(folder, vault_password_file=folder.parent / "vault-pass")
    web1 = inv["web1"]
    assert web1.vars["deploy_key_text"] == "host-inline-secret"
    assert web1.vars["redis_auth"] == "redis-secret"
    assert web1.become_password == "become-secret"
    assert web1.vars["app_env"] == "production" and isinstance(web1.vars["app_env"], VaultText)
    assert web1.vars["workers"] == 12345 and isinstance(web1.vars["workers"], VaultInt)
    assert web1.vars["debug"] is False
    assert isinstance(web1.vars["plain"], str) and not isinstance(web1.vars["plain"], VaultText)
    # Secret whatever the variable is called: `redis_auth` and `deploy_key_text` are not
    # names that look secret; everything in an encrypted file is.
    assert web1.secret_values() == {"host-inline-secret", "redis-secret", "become-secret",
                                    "production", "12345"}
    masked = Redactor(inv.secret_values()).text("AUTH redis-secret on production")
    assert masked == f"AUTH {MASK} on {MASK}"
    assert "secret" not in repr(dict(web1.vars))


def test_without_a_password_vault_data_is_an_error_naming_file_and_line(folder: Path) -> None:
    with pytest.raises(InventoryError, match="needs the vault password") as info:
        load_inventory(folder)
    assert (info.value.path, info.value.line) == (str(folder / "hosts.yml"), 5)
    (folder / "hosts.yml").write_text("web:\n  hosts:\n    web1:\n")
    with pytest.raises(InventoryError, match="vault-encrypted") as info:
        load_inventory(folder)
    assert (info.value.path, info.value.line) == (str(folder / "group_vars" / "web.yml"), 1)


def test_a_wrong_password_names_the_file_and_line(folder: Path, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("not the password\n")
    with pytest.raises(InventoryError, match="cannot decrypt vault data") as info:
        load_inventory(folder, vault_password_file=wrong)
    assert (info.value.path, info.value.line) == (str(folder / "hosts.yml"), 5)


def test_a_missing_password_file_is_an_error_at_once(tmp_path: Path) -> None:
    (tmp_path / "hosts.yml").write_text("web: {hosts: {web1: }}\n")
    with pytest.raises(InventoryError, match="vault password file not found"):
        load_inventory(tmp_path / "hosts.yml", vault_password_file=tmp_path / "nope")


@pytest.mark.parametrize("name,expected_args", [("vault-pass.sh", ""),
                                                 ("vault-client.sh", "--vault-id default")])
def test_an_executable_password_file_is_run(folder: Path, tmp_path: Path, name: str,
                                            expected_args: str) -> None:
    script = tmp_path / name
    log = tmp_path / "args"
    script.write_text(f'#!/bin/sh\necho "$*" > {log}\nprintf "%s\\r\\n" \'{PASSWORD}\'\n')
    script.chmod(0o755)
    inv = load_inventory(folder, vault_password_file=script)
    assert inv["web1"].vars["redis_auth"] == "redis-secret"
    assert log.read_text().strip() == expected_args


def test_a_wholly_encrypted_inventory_file(tmp_path: Path) -> None:
    (tmp_path / "hosts.ini").write_text(encrypt("[db]\ndb1 ansible_host=10.0.0.9 pin=4242\n"))
    (tmp_path / "pw").write_text(PASSWORD)
    inv = load_inventory(tmp_path / "hosts.ini", vault_password_file=tmp_path / "pw")
    db1 = inv["db1"]
    assert db1.address == "10.0.0.9" and db1.vars["pin"] == 4242
    assert {"10.0.0.9", "4242"} <= db1.secret_values()


def test_without_ansible_core_vault_data_says_what_to_install(
        folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ansible.parsing.vault", None)  # import fails
    with pytest.raises(InventoryError, match=r"needs ansible-core: pip install") as info:
        load_inventory(folder, vault_password_file=folder.parent / "vault-pass")
    assert info.value.path == str(folder / "hosts.yml")
