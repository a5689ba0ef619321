"""Ansible Vault data in inventories: `!vault` values and encrypted files, decrypted with one password.

The password comes from a file, as with Ansible's `--vault-password-file`: its
content with surrounding whitespace removed, or, when the file is executable,
what it prints (a `NAME-client` script is given `--vault-id default`, as
Ansible does). Decryption is ansible-core's own vault library, imported only
when there is something to decrypt; without ansible-core installed that is a
clear error, and an inventory without vault data never needs it.

    vault = Vault("~/.vault-pass")
    text = vault.decrypt("$ANSIBLE_VAULT;1.1;AES256\\n6638...", path="group_vars/all.yml", line=3)
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

from remediations.core.errors import InventoryError

HEADER = "$ANSIBLE_VAULT"
INSTALL_HINT = "pip install 'remediations[ansible]'"
PASSWORD_HINT = "set ANSIBLE_VAULT_PASSWORD_FILE, or vault_password_file in ansible.cfg"
_SCRIPT_TIMEOUT = 60.0


def is_encrypted(text: str) -> bool:
    """True when `text` is Ansible Vault data (an encrypted file or `!vault` value), as Ansible tests it."""
    return text.startswith(HEADER)


class Vault:
    """Decrypts Ansible Vault data with the password held in (or printed by) one file.

    The file must exist when the Vault is made (Ansible also stops at once when
    it is missing); it is read, or run, the first time something is decrypted.
    """

    def __init__(self, password_file: str | os.PathLike[str]) -> None:
        path = os.path.abspath(os.path.expanduser(os.fspath(password_file)))
        if not os.path.exists(path):
            raise InventoryError("vault password file not found", path=path)
        if os.path.isdir(path):
            raise InventoryError("the vault password file is a folder", path=path)
        self.password_file = path
        self._lib: Any = None

    def __repr__(self) -> str:
        return f"Vault({self.password_file!r})"

    def decrypt(self, vaulttext: str, *, path: str | None = None,
                line: int | None = None) -> str:
        """The plaintext of `vaulttext`; `InventoryError` naming `path`/`line` if it cannot be had."""
        lib = self._vault_lib(path, line)
        from ansible.errors import AnsibleError  # imported by _vault_lib already

        try:
            plaintext: bytes = lib.decrypt(vaulttext.strip())
        except AnsibleError as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InventoryError(f"cannot decrypt vault data with the password from "
                                 f"{self.password_file}: {reason}", path=path, line=line) from None
        try:
            return plaintext.decode("utf-8")
        except UnicodeDecodeError:
            raise InventoryError("vault data decrypts to bytes that are not UTF-8 text",
                                 path=path, line=line) from None

    def _vault_lib(self, path: str | None, line: int | None) -> Any:
        if self._lib is None:
            try:
                from ansible.parsing.vault import VaultLib, VaultSecret
            except ImportError:
                raise InventoryError(f"decrypting Ansible Vault data needs ansible-core: "
                                     f"{INSTALL_HINT}", path=path, line=line) from None
            except Exception as exc:  # noqa: BLE001 - ansible-core reads its ansible.cfg on import
                raise InventoryError(f"ansible-core's vault library did not load: {exc}",
                                     path=path, line=line) from None
            self._lib = VaultLib([("default", VaultSecret(self._password()))])
        return self._lib

    def _password(self) -> bytes:
        path = self.password_file
        if os.access(path, os.X_OK):
            secret = self._run_script(path)
        else:
            try:
                with open(path, "rb") as fh:
                    secret = fh.read().strip()
            except OSError as exc:
                raise InventoryError(f"cannot read the vault password file: {exc.strerror}",
                                     path=path) from None
        secret = secret.strip(b"\r\n")
        if not secret:
            raise InventoryError("the vault password file gives an empty password", path=path)
        return secret

    @staticmethod
    def _run_script(path: str) -> bytes:
        command = [path]
        if os.path.splitext(os.path.basename(path))[0].endswith("-client"):
            command += ["--vault-id", "default"]
        try:
            # stderr is left to the terminal, as Ansible does: a script may prompt there.
            done = subprocess.run(command, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                  timeout=_SCRIPT_TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise InventoryError(f"cannot run the vault password script: {exc}",
                                 path=path) from None
        if done.returncode != 0:
            raise InventoryError(f"the vault password script exited {done.returncode}",
                                 path=path)
        return done.stdout
