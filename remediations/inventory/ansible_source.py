"""`ansible:` sources: inventories only Ansible can read, read by running `ansible-inventory`.

`ansible:PATH` is any source Ansible accepts: an executable inventory script, an
inventory plugin configuration (`aws_ec2.yml`, `plugin: constructed`), or a folder
of them mixed with YAML and INI files. Consecutive `ansible:` sources are read
together, as Ansible reads them (a `constructed` source sees the hosts of those
before it):

    ansible-inventory -i PATH [-i PATH2...] --list --export

in strict mode (`ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED` and
`ANSIBLE_INVENTORY_UNPARSED_FAILED`: otherwise a broken source comes back empty
with exit 0) and with vars plugins off (`ANSIBLE_VARS_ENABLED=,`), so the output
holds only what the source says: groups with their own variables, hosts with
theirs. That feeds this library's inventory like any other source; `group_vars/`
and `host_vars/` beside it are read by this library, with Ansible's precedence,
its vault handling and its secret marking, and patterns are this library's.

The output's JSON encoding is undone: `{"__ansible_unsafe": text}` becomes
`UnsafeText` (never templated), `{"__ansible_vault": ciphertext}` is decrypted
(`VaultText`, a secret). When the source is, or holds, a vault-encrypted file,
Ansible decrypts it and the output cannot tell its values apart: every variable
of the source is then taken as a secret.

The output is cached in `cache_dir` for `cache_ttl` seconds, keyed by the
source, the modification times of its files and of the `ansible.cfg` in use,
and the `ANSIBLE_*` environment; editing the source runs `ansible-inventory` again.

Limits: `ansible-inventory` does not say in which order hosts and groups were
first named, so they are taken in the order a walk from `all` meets them (a
glob matching several groups may list hosts in another order than Ansible);
groups with no hosts, children or variables do not appear; vars plugins other
than `group_vars/` and `host_vars/` are not run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from remediations.core.errors import InventoryError
from remediations.inventory.ansible_config import find_config_file
from remediations.inventory.builder import ALL, UNGROUPED
from remediations.inventory.markers import UnsafeText, VaultText
from remediations.inventory.vault import HEADER, INSTALL_HINT, PASSWORD_HINT

if TYPE_CHECKING:
    from remediations.inventory.builder import InventoryDraft
    from remediations.inventory.vault import Vault

TIMEOUT = 600.0
_STRICT = {
    "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "True",
    "ANSIBLE_INVENTORY_UNPARSED_FAILED": "True",
    "ANSIBLE_VARS_ENABLED": ",",  # no vars plugin: group_vars/ and host_vars/ are read here
    "ANSIBLE_NOCOLOR": "1",
    "ANSIBLE_DEPRECATION_WARNINGS": "False",
}
_SKIPPED = frozenset({"group_vars", "host_vars", "vars_plugins"})


@dataclass(frozen=True, slots=True)
class Cache:
    """Where `ansible-inventory`'s output is kept, and for how many seconds it is reused."""

    directory: str
    ttl: float


def read_ansible_source(sources: list[str], draft: InventoryDraft, *, vault: Vault | None,
                        cache: Cache | None) -> None:
    """Add what one `ansible-inventory -i SOURCE...` run reports for `sources` to `draft`.

    Errors name the first source; so does `Host.source` of the hosts found (the output
    does not say which source named a host).
    """
    source = sources[0]
    output = _cached_output(sources, vault, cache)
    try:
        data = json.loads(output)
    except ValueError as exc:
        raise InventoryError(f"ansible-inventory printed something that is not JSON: {exc}",
                             path=source) from None
    if not isinstance(data, dict):
        raise InventoryError("ansible-inventory printed JSON that is not an inventory",
                             path=source)
    draft.vaulted = any(_holds_encrypted_files(s) for s in sources)
    try:
        _feed(data, source, draft, vault)
    finally:
        draft.vaulted = False


def ansible_inventory_command() -> str:
    """The `ansible-inventory` to run: on PATH, else beside this Python; `InventoryError` if none."""
    found = shutil.which("ansible-inventory")
    if found is None:
        beside = os.path.join(os.path.dirname(sys.executable), "ansible-inventory")
        found = beside if os.access(beside, os.X_OK) else None
    if found is None:
        raise InventoryError(f"`ansible:` inventory sources are read by ansible-inventory, which "
                             f"is not installed (not on PATH nor beside {sys.executable}): "
                             f"{INSTALL_HINT}")
    return found


def _run(command: str, sources: list[str], vault: Vault | None) -> str:
    env = {**os.environ, **_STRICT}
    if vault is not None:
        env["ANSIBLE_VAULT_PASSWORD_FILE"] = vault.password_file
    args = [command, *(arg for s in sources for arg in ("-i", s)), "--list", "--export"]
    source = sources[0]
    try:
        done = subprocess.run(args, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise InventoryError(f"ansible-inventory did not finish within {TIMEOUT:g}s",
                             path=source) from None
    except OSError as exc:
        raise InventoryError(f"cannot run {command}: {exc.strerror or exc}", path=source) from None
    if done.returncode != 0:
        raise InventoryError(f"ansible-inventory failed (exit {done.returncode}): "
                             f"{_why(done.stderr)}", path=source)
    return done.stdout


def _why(stderr: str) -> str:
    """Ansible's error and warning lines, once each, shortened: what went wrong."""
    lines = [line.strip() for line in stderr.splitlines()
             if line.startswith(("[ERROR]", "[WARNING]", "ERROR!"))]
    lines = list(dict.fromkeys(lines))[-6:] or stderr.strip().splitlines()[-6:]
    return "; ".join(lines) or "no error message"


# -- cache ----------------------------------------------------------------------
def _cached_output(sources: list[str], vault: Vault | None, cache: Cache | None) -> str:
    command = ansible_inventory_command()
    if cache is None or cache.ttl <= 0:
        return _run(command, sources, vault)
    key = json.dumps({
        "command": command, "sources": sources, "cwd": os.getcwd(),
        "files": [_signature(s) for s in sources],
        "config": _signature(find_config_file(os.environ, os.getcwd())),
        "env": sorted((k, v) for k, v in os.environ.items() if k.startswith("ANSIBLE_")),
        "vault": vault.password_file if vault is not None else None,
    }, sort_keys=True)
    path = os.path.join(cache.directory, hashlib.sha256(key.encode()).hexdigest()[:40] + ".json")
    now = time.time()
    try:
        with open(path, encoding="utf-8") as fh:
            entry = json.load(fh)
        if (entry.get("key") == key and isinstance(entry.get("output"), str)
                and 0 <= now - float(entry.get("created", 0)) < cache.ttl):
            return str(entry["output"])
    except (OSError, ValueError, TypeError, AttributeError):
        pass  # no usable entry: run it
    output = _run(command, sources, vault)
    _store(cache.directory, path, {"key": key, "created": now, "output": output})
    return output


def _store(directory: str, path: str, entry: dict[str, Any]) -> None:
    """Write `entry` atomically, readable by this user only; a cache that cannot be written is skipped."""
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        temp = f"{path}.{os.getpid()}.tmp"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(entry, fh)
        os.replace(temp, path)
    except OSError:
        pass


def _signature(source: str | None) -> list[tuple[str, int, int, int]]:
    """(path, mtime, size, mode) of the files a source is made of."""
    if source is None or not os.path.exists(source):
        return []
    found: list[tuple[str, int, int, int]] = []
    for path in _files(source):
        try:
            st = os.stat(path)
        except OSError:
            continue
        found.append((path, st.st_mtime_ns, st.st_size, st.st_mode))
    return found


def _files(source: str) -> list[str]:
    """The files of a source as Ansible walks them (hidden files and vars folders left out)."""
    if not os.path.isdir(source):
        return [source]
    found: list[str] = []
    for root, dirs, files in os.walk(source):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIPPED)
        found.extend(os.path.join(root, f) for f in sorted(files) if not f.startswith("."))
    return found


def _holds_encrypted_files(source: str) -> bool:
    if not os.path.exists(source):
        return False  # a host list
    for path in _files(source):
        try:
            with open(path, "rb") as fh:
                if fh.read(len(HEADER)) == HEADER.encode():
                    return True
        except OSError:
            continue
    return False


# -- the output, into the draft --------------------------------------------------
def _feed(data: dict[str, Any], source: str, draft: InventoryDraft, vault: Vault | None) -> None:
    meta = data.get("_meta")
    hostvars = meta.get("hostvars") if isinstance(meta, dict) else None
    groups = {name: body for name, body in data.items() if name != "_meta"}
    for name, body in [("_meta.hostvars", hostvars or {}), *groups.items()]:
        if not isinstance(body, dict):
            raise InventoryError(f"ansible-inventory reported {name!r} as a "
                                 f"{type(body).__name__}, not a mapping", path=source)
    fed = _HostFeed(draft, source, hostvars or {}, vault)
    for name in _walk(groups):
        body = groups.get(name) or {}
        draft.add_group(name)
        for key, value in (body.get("vars") or {}).items():
            draft.set_group_var(name, key, _decode(value, vault, source,
                                                   f"variable {key!r} of group {name!r}"))
        for child in body.get("children") or []:
            draft.add_group(child)
            draft.add_child(name, child)
        for host in body.get("hosts") or []:
            fed.add(host, name)
    for host in fed.hostvars:  # a host in no group (Ansible lists every host in one)
        if host not in fed.done:
            fed.add(host, UNGROUPED)


class _HostFeed:
    """Adds hosts to groups, setting each host's variables the first time this source names it."""

    def __init__(self, draft: InventoryDraft, source: str, hostvars: dict[str, Any],
                 vault: Vault | None) -> None:
        self.draft, self.source, self.hostvars, self.vault = draft, source, hostvars, vault
        self.done: set[str] = set()

    def add(self, host: str, group: str) -> None:
        self.draft.add_host(host, group=group, port=None, source=self.source)
        if host in self.done:
            return
        self.done.add(host)
        variables = self.hostvars.get(host) or {}
        if not isinstance(variables, dict):
            raise InventoryError(f"ansible-inventory reported the variables of host {host!r} "
                                 f"as a {type(variables).__name__}", path=self.source)
        for key, value in variables.items():
            self.draft.set_host_var(host, key, _decode(value, self.vault, self.source,
                                                       f"variable {key!r} of host {host!r}"))


def _walk(groups: dict[str, Any]) -> list[str]:
    """Group names in the order Ansible walks them from `all`: level by level, children in order."""
    ordered = [ALL] if ALL in groups else []
    seen = set(ordered)
    level = list(ordered)
    while level:
        following: list[str] = []
        for name in level:
            for child in (groups.get(name) or {}).get("children") or []:
                if child not in seen:
                    seen.add(child)
                    following.append(child)
        ordered.extend(following)
        level = following
    return ordered + [name for name in groups if name not in seen]


def _decode(value: Any, vault: Vault | None, source: str, where: str) -> Any:
    """A value with Ansible's JSON wrappers (`__ansible_unsafe`, `__ansible_vault`) undone."""
    if isinstance(value, dict):
        if len(value) == 1 and isinstance(value.get("__ansible_unsafe"), str):
            return UnsafeText(value["__ansible_unsafe"])
        if len(value) == 1 and isinstance(value.get("__ansible_vault"), str):
            if vault is None:
                raise InventoryError(f"{where} is vault-encrypted: {PASSWORD_HINT}",
                                     path=source)
            try:
                return VaultText(vault.decrypt(value["__ansible_vault"], path=source))
            except InventoryError as exc:
                raise InventoryError(f"{where}: {exc.reason}", path=source) from None
        return {k: _decode(v, vault, source, where) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v, vault, source, where) for v in value]
    return value
