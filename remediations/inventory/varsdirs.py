"""`group_vars/` and `host_vars/` beside each inventory source, found as Ansible finds them.

For an entity `NAME` the first of `NAME` (a file, or a folder), `NAME.yml`,
`NAME.yaml`, `NAME.json` that exists is used. A folder contributes every file
in it (sorted, recursively; hidden files, `~` backups and other extensions
skipped), later files overriding earlier ones. Files are YAML (JSON is YAML).
A vault-encrypted file is decrypted with the inventory's `Vault` and every value
in it marked as a secret (`markers.vaulted`); so are `!vault` values.

The folders are kept in the order the sources were given, repeats included:
`-i a -i b -i a` applies a's variables again, last, as Ansible does.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

from remediations.core.errors import InventoryError
from remediations.inventory.markers import vaulted
from remediations.inventory.vault import PASSWORD_HINT, Vault, is_encrypted
from remediations.inventory.yamlfile import load_yaml_file

_EXTENSIONS = ("", ".yml", ".yaml", ".json")


class VarsDirs:
    """Variables from the `group_vars/` and `host_vars/` folders of some inventory folders."""

    def __init__(self, folders: Iterable[str], vault: Vault | None = None) -> None:
        # A folder repeated at once changes nothing (each layer would be applied
        # twice in a row); a folder given again later is applied again, last.
        listed: list[str] = []
        for folder in folders:
            if not listed or listed[-1] != folder:
                listed.append(folder)
        self.folders: tuple[str, ...] = tuple(listed)
        self.vault = vault
        self._listings: dict[str, frozenset[str] | None] = {}
        self._loaded: dict[tuple[str, str, str], dict[str, Any]] = {}

    def group_vars(self, name: str) -> dict[str, Any]:
        """`group_vars/NAME` of every folder merged, later folders winning."""
        merged: dict[str, Any] = {}
        for folder in self.folders:
            merged.update(self._vars(folder, "group_vars", name))
        return merged

    def host_vars(self, name: str) -> dict[str, Any]:
        """`host_vars/NAME` of every folder merged, later folders winning."""
        merged: dict[str, Any] = {}
        for folder in self.folders:
            merged.update(self._vars(folder, "host_vars", name))
        return merged

    def group_layers(self, ordered_groups: Sequence[str]) -> list[dict[str, Any]]:
        """The group_vars layers for a host in Ansible's order, lowest precedence first.

        `all` of every folder, then the other groups (in precedence order) of
        the first folder, then of the next folder...
        """
        layers = [self._vars(f, "group_vars", "all") for f in self.folders]
        layers += [self._vars(f, "group_vars", g)
                   for f in self.folders for g in ordered_groups if g != "all"]
        return [layer for layer in layers if layer]

    def _vars(self, folder: str, kind: str, name: str) -> dict[str, Any]:
        key = (folder, kind, name)
        cached = self._loaded.get(key)
        if cached is None:
            cached = self._loaded[key] = self._load(folder, kind, name)
        return cached

    def _load(self, folder: str, kind: str, name: str) -> dict[str, Any]:
        if name.startswith(os.sep):  # Ansible skips chroot-style names like /srv/chroot
            return {}
        base = os.path.join(folder, kind)
        entries = self._listing(base)
        if entries is None:
            return {}
        for ext in _EXTENSIONS:
            candidate = name + ext
            if candidate in entries or (os.sep in name and os.path.exists(
                    os.path.join(base, candidate))):
                path = os.path.join(base, candidate)
                files = _folder_files(path) if os.path.isdir(path) else [path]
                merged: dict[str, Any] = {}
                for file in files:
                    merged.update(_load_vars_file(file, self.vault))
                return merged
        return {}

    def _listing(self, base: str) -> frozenset[str] | None:
        if base not in self._listings:
            try:
                self._listings[base] = frozenset(os.listdir(base)) if os.path.isdir(base) else None
            except OSError as exc:
                raise InventoryError(f"cannot read folder: {exc.strerror}", path=base) from None
        return self._listings[base]


def _folder_files(folder: str) -> list[str]:
    found: list[str] = []
    for entry in sorted(os.listdir(folder)):
        if entry.startswith(".") or entry.endswith("~"):
            continue
        path = os.path.join(folder, entry)
        ext = os.path.splitext(entry)[1]
        if os.path.isdir(path) and not ext:
            found.extend(_folder_files(path))
        elif os.path.isfile(path) and ext in _EXTENSIONS:
            found.append(path)
    return found


def _load_vars_file(path: str, vault: Vault | None) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryError(f"cannot read vars file: {exc}", path=path) from None
    encrypted = is_encrypted(text)
    if encrypted:
        if vault is None:
            raise InventoryError(f"this vars file is vault-encrypted: {PASSWORD_HINT}",
                                 path=path, line=1)
        text = vault.decrypt(text, path=path, line=1)
    doc = load_yaml_file(text, path, vault)
    if not doc.data:  # an empty file, or `---` alone
        return {}
    if not isinstance(doc.data, dict):
        raise InventoryError(f"vars file must be a mapping of names to values, "
                             f"not a {type(doc.data).__name__}", path=path, line=doc.root_line)
    for key in doc.data:
        if not isinstance(key, str):
            raise InventoryError(f"variable names must be strings, not {key!r}",
                                 path=path, line=doc.line_of(doc.data, key))
    return vaulted(doc.data) if encrypted else dict(doc.data)
