"""`load_inventory`: read one or more inventory sources, like Ansible's repeated `-i`.

A source is a YAML or INI file, a folder of them, or a comma-separated host
list (`"web1,web2:2222,"`, when no such path exists). Formats are chosen the
way Ansible's plugins choose them: `.yml` / `.yaml` / `.json` are YAML;
`.ini` / `.cfg` are INI; any other name is YAML when it parses as a mapping
of groups, INI otherwise. In a folder, files are read in name order,
sub-folders recursively; hidden files, `group_vars/`, `host_vars/`,
`vars_plugins/` and Ansible's ignored extensions (`.cfg`, `.md`, `.txt`,
`.retry`, `.bak`, ...) are skipped. A vault-encrypted file is decrypted (its
values are secrets), and so are `!vault` values, given a vault password file.

Executable files (dynamic inventory scripts) and inventory plugin
configurations are refused, not run, unless the source is named `ansible:PATH`:
then `ansible-inventory` reads it (see `ansible_source`; needs ansible-core).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Union

from remediations.core import validate
from remediations.core.errors import InventoryError
from remediations.inventory.ansible_config import ANSIBLE_PREFIX
from remediations.inventory.builder import UNGROUPED, InventoryDraft
from remediations.inventory.hostrange import parse_address
from remediations.inventory.ini_loader import parse_ini_inventory
from remediations.inventory.model import Inventory
from remediations.inventory.varsdirs import VarsDirs
from remediations.inventory.vault import PASSWORD_HINT, Vault, is_encrypted
from remediations.inventory.yaml_loader import is_group_mapping, parse_yaml_inventory
from remediations.inventory.yamlfile import YamlDocument, load_yaml_file

PathLike = Union[str, "os.PathLike[str]"]

_YAML_EXTENSIONS = frozenset({".yml", ".yaml", ".json"})
_INI_EXTENSIONS = frozenset({".ini", ".cfg"})
# Ansible's INVENTORY_IGNORE_EXTS default (REJECT_EXTS + .orig, .cfg, .retry), for folders.
_IGNORED_IN_FOLDERS = (".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst",
                       ".orig", ".cfg", ".retry")
_YAML_KEY_LINE = re.compile(r"^[^\s\[=:]+:\s*(?:#.*)?$")  # `all:`, `web:` with nothing after
_IGNORED_NAMES = frozenset({"group_vars", "host_vars", "vars_plugins"})


def load_inventory(sources: PathLike | Iterable[PathLike], *,
                   vault_password_file: PathLike | None = None,
                   cache_dir: PathLike | None = None,
                   cache_ttl: float = 300.0) -> Inventory:
    """Load and merge inventory sources; raise `InventoryError` naming file and line.

    Later sources add hosts and groups and override variables of earlier ones.
    `group_vars/` and `host_vars/` beside each source (inside it, for a folder)
    apply on top; see `remediations.inventory.builder` for the precedence. A
    source given again applies its variables again, last, as in Ansible.

    `vault_password_file` decrypts vault data (as Ansible's `--vault-password-file`);
    an `ansible:` source's output is reused from `cache_dir` for `cache_ttl`
    seconds (0 to 86400; no cache without a `cache_dir`).

        inv = load_inventory("inventories/production.yml")
        inv = load_inventory(["inventories/base.ini", "inventories/extra/"])
        inv = load_inventory("ansible:inventories/aws_ec2.yml", vault_password_file="~/.vault-pass")
    """
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    texts = [os.fspath(source) for source in sources]
    cache_ttl = validate.number(cache_ttl, "cache_ttl", low=0, high=validate.MAX_SECONDS)
    vault = Vault(vault_password_file) if vault_password_file else None
    draft = InventoryDraft()
    names: list[str] = []
    folders: list[str] = []
    for text, batch in _runs_of_ansible_sources(texts):
        if batch:
            names += _load_with_ansible(batch, draft, folders, vault, cache_dir, cache_ttl)
            continue
        path = os.path.abspath(os.path.expanduser(text))
        if os.path.isdir(path):
            _load_folder(path, draft, vault)
            folders.append(path)
        elif os.path.exists(path):
            _load_file(path, draft, vault)
            folders.append(os.path.dirname(path))
        elif "," in text:
            _load_host_list(text, draft)
        else:
            raise InventoryError("no such inventory file or folder", path=path)
        names.append(path if os.path.exists(path) else text)
    if not names:
        raise InventoryError("no inventory source given")
    return draft.build(names, VarsDirs(folders, vault))


def _runs_of_ansible_sources(texts: list[str]) -> list[tuple[str, list[str]]]:
    """Each source, with consecutive `ansible:` ones gathered: (text, []) or ("", [paths])."""
    runs: list[tuple[str, list[str]]] = []
    for text in texts:
        if not text.startswith(ANSIBLE_PREFIX):
            runs.append((text, []))
        elif runs and runs[-1][1]:
            runs[-1][1].append(text[len(ANSIBLE_PREFIX):])
        else:
            runs.append(("", [text[len(ANSIBLE_PREFIX):]]))
    return runs


def _load_with_ansible(texts: list[str], draft: InventoryDraft, folders: list[str],
                       vault: Vault | None, cache_dir: PathLike | None,
                       cache_ttl: float) -> list[str]:
    """Consecutive `ansible:` sources, read by one `ansible-inventory` run, as Ansible reads `-i a -i b`.

    One run, so that a `constructed` source sees the hosts of the sources before it.
    """
    from remediations.inventory.ansible_source import Cache, read_ansible_source

    paths: list[str] = []
    for text in texts:
        path = os.path.abspath(os.path.expanduser(text)) if text else ""
        if not os.path.exists(path):
            if "," not in text:
                raise InventoryError("no such inventory file or folder", path=path or text)
            path = text  # a host list, which Ansible reads too
        paths.append(path)
    cache = Cache(os.fspath(cache_dir), cache_ttl) if cache_dir is not None else None
    read_ansible_source(paths, draft, vault=vault, cache=cache)
    folders += [p if os.path.isdir(p) else os.path.dirname(p) for p in paths if os.path.exists(p)]
    return [ANSIBLE_PREFIX + path for path in paths]


def _load_folder(folder: str, draft: InventoryDraft, vault: Vault | None) -> None:
    try:
        entries = sorted(os.listdir(folder))
    except OSError as exc:
        raise InventoryError(f"cannot read folder: {exc.strerror}", path=folder) from None
    for entry in entries:
        if entry.startswith(".") or entry in _IGNORED_NAMES or entry.endswith(_IGNORED_IN_FOLDERS):
            continue
        path = os.path.join(folder, entry)
        if os.path.isdir(path):
            _load_folder(path, draft, vault)
        else:
            _load_file(path, draft, vault)


def _load_file(path: str, draft: InventoryDraft, vault: Vault | None) -> None:
    ext = os.path.splitext(path)[1].lower()
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryError(f"cannot read inventory: {exc}", path=path) from None
    if is_encrypted(text):
        if vault is None:
            raise InventoryError(f"this inventory file is vault-encrypted: {PASSWORD_HINT}",
                                 path=path, line=1)
        text = vault.decrypt(text, path=path, line=1)
        draft.vaulted = True  # every value in it is a secret
    try:
        _parse_file(text, ext, path, draft, vault)
    finally:
        draft.vaulted = False


def _parse_file(text: str, ext: str, path: str, draft: InventoryDraft, vault: Vault | None) -> None:
    if ext in _INI_EXTENSIONS:
        parse_ini_inventory(text, path, draft)
    elif ext in _YAML_EXTENSIONS:
        parse_yaml_inventory(load_yaml_file(text, path, vault), path, draft)
    elif text.startswith("#!") and os.access(path, os.X_OK):
        raise InventoryError("dynamic inventory scripts are only run when asked: "
                             f"name the source `{ANSIBLE_PREFIX}PATH` to read it with "
                             "ansible-inventory (see the README, Inventory)", path=path, line=1)
    else:
        _load_sniffed(text, path, draft, vault)


def _load_sniffed(text: str, path: str, draft: InventoryDraft, vault: Vault | None) -> None:
    """YAML if the file reads as a mapping of groups; INI otherwise."""
    yaml_error: InventoryError | None = None
    doc: YamlDocument | None = None
    try:
        doc = load_yaml_file(text, path, vault)
    except InventoryError as exc:
        yaml_error = exc
    if doc is not None and is_group_mapping(doc.data):
        parse_yaml_inventory(doc, path, draft)
        return
    try:
        parse_ini_inventory(text, path, draft)
    except InventoryError:
        # Neither format: report the one the file was more likely meant to be.
        if yaml_error is not None and _looks_like_yaml(text):
            raise yaml_error from None
        if doc is not None and isinstance(doc.data, dict):
            parse_yaml_inventory(doc, path, InventoryDraft())
        raise


def _looks_like_yaml(text: str) -> bool:
    for line in text.splitlines():
        line = line.strip()
        if line and line[0] not in "#;":
            return line == "---" or _YAML_KEY_LINE.match(line) is not None
    return False


def _load_host_list(text: str, draft: InventoryDraft) -> None:
    """Ansible's `-i 'web1,web2:2222,'`: hosts in `ungrouped`, optional ports."""
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        parsed = parse_address(item)
        name, port = parsed if parsed is not None else (item, None)
        draft.add_host(name, group=UNGROUPED, port=port, source="")
