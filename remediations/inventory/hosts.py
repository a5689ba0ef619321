"""One inventory host: its merged variables, and Ansible's connection variables read from them."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from remediations.core.errors import InventoryError
from remediations.inventory import conventions
from remediations.inventory.templating import has_jinja, template


def frozen(variables: Mapping[str, Any]) -> Mapping[str, Any]:
    """`variables` as a read-only mapping (itself, when it already is one)."""
    return variables if isinstance(variables, MappingProxyType) else MappingProxyType(dict(variables))


@dataclass(frozen=True, slots=True)
class Host:
    """One inventory host with its final, merged variables.

    `vars` is read-only (nested values are shared with other hosts: do not
    mutate them). `groups` lists every group the host belongs to, ancestors and
    `all` included, in the order their variables apply (`all` first).
    `source` is the inventory file that first named the host (for a host an
    `ansible:` source reported, that source: a file or a folder).

    The typed properties read Ansible's connection variables; where Ansible has
    aliases (`ansible_port` / `ansible_ssh_port`) the one its connection plugin
    lists last wins, as in Ansible. `vars` holds the values as written (as
    `ansible-inventory --list` shows them); the properties and `var()` template
    `{{ variable }}` references and refuse any other Jinja (see `templating`).
    """

    name: str
    vars: Mapping[str, Any] = field(default_factory=dict, hash=False)
    groups: tuple[str, ...] = ("all",)
    source: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "vars", frozen(self.vars))
        object.__setattr__(self, "groups", tuple(self.groups))

    # -- helpers -----------------------------------------------------------
    def _lookup(self, *keys: str) -> tuple[str, Any]:
        found = keys[-1]
        for key in keys:
            if self.vars.get(key) is not None:
                found = key
        return found, self.var(found)

    def _invalid(self, key: str, value: Any, expected: str) -> InventoryError:
        return InventoryError(f"host {self.name!r}: {key}={value!r} is not {expected}",
                              path=self.source or None)

    def _bool(self, default: bool, *keys: str) -> bool:
        key, value = self._lookup(*keys)
        if value is None:
            return default
        parsed = conventions.parse_bool(value)
        if parsed is None:
            raise self._invalid(key, value, "a boolean (yes/no/true/false/1/0)")
        return parsed

    def _text(self, *keys: str) -> str | None:
        value = self._lookup(*keys)[1]
        return None if value is None else str(value)

    # -- connection variables -----------------------------------------------
    @property
    def address(self) -> str:
        """Where to connect: `ansible_host` (or `ansible_ssh_host`), else the name."""
        return self._text("ansible_host", "ansible_ssh_host") or self.name

    @property
    def port(self) -> int | None:
        """`ansible_port` / `ansible_ssh_port` as an int; None when unset."""
        key, value = self._lookup("ansible_port", "ansible_ssh_port")
        if value is None:
            return None
        port = -1
        if isinstance(value, (int, str)) and not isinstance(value, bool):
            try:
                port = int(str(value).strip())
            except ValueError:
                pass
        if not 0 < port < 65536:
            raise self._invalid(key, value, "a port number (1-65535)")
        return port

    @property
    def user(self) -> str | None:
        """`ansible_user` / `ansible_ssh_user`; None means the local user."""
        return self._text("ansible_user", "ansible_ssh_user")

    @property
    def connection(self) -> str:
        """`ssh` (default; also for `smart`, `paramiko`), `docker`, `local` or `kubernetes`."""
        value = self.var("ansible_connection")
        if value is None:
            return "ssh"
        kind = conventions.normalize_connection(str(value))
        if kind is None:
            raise self._invalid("ansible_connection", value,
                                "a supported connection (ssh, docker, local, kubernetes)")
        return kind

    @property
    def password(self) -> str | None:
        """`ansible_password` / `ansible_ssh_pass` / `ansible_ssh_password`."""
        return self._text("ansible_password", "ansible_ssh_pass", "ansible_ssh_password")

    @property
    def private_key_file(self) -> str | None:
        """`ansible_private_key_file` / `ansible_ssh_private_key_file`, as an absolute path.

        `~` is expanded; a relative path resolves against the folder of the
        inventory file that first named the host (Ansible resolves it against
        the working directory, which makes an inventory depend on where it is
        run from).
        """
        value = self._text("ansible_private_key_file", "ansible_ssh_private_key_file")
        if not value:
            return None
        path = os.path.expanduser(value)
        if not os.path.isabs(path):
            base = self.source or os.getcwd()
            if not os.path.isdir(base):  # a file; a folder read through `ansible:` is itself
                base = os.path.dirname(base)
            path = os.path.join(base, path)
        return os.path.normpath(path)

    @property
    def become(self) -> bool:
        """`ansible_become`, parsed like Ansible's booleans; False by default."""
        return self._bool(False, "ansible_become")

    @property
    def become_user(self) -> str:
        """`ansible_become_user`; `root` by default."""
        return self._text("ansible_become_user", "ansible_sudo_user") or "root"

    @property
    def become_password(self) -> str | None:
        """`ansible_become_password` / `ansible_become_pass` / `ansible_sudo_pass`."""
        return self._text("ansible_become_password", "ansible_become_pass", "ansible_sudo_pass")

    @property
    def host_key_checking(self) -> bool:
        """`ansible_host_key_checking` / `ansible_ssh_host_key_checking`; True by default."""
        return self._bool(True, "ansible_host_key_checking", "ansible_ssh_host_key_checking")

    @property
    def docker_container(self) -> str:
        """The container to `docker exec` into: `ansible_docker_host`, else the address."""
        return self._text("ansible_docker_host") or self.address

    @property
    def connect_timeout(self) -> float:
        """`ansible_timeout` / `ansible_ssh_timeout` in seconds; 10 by default."""
        key, value = self._lookup("ansible_timeout", "ansible_ssh_timeout")
        if value is None:
            return 10.0
        timeout = 0.0
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            try:
                timeout = float(str(value).strip())
            except ValueError:
                pass
        if not 0 < timeout <= 86400:  # also rejects NaN and inf
            raise self._invalid(key, value, "a number of seconds, more than 0 and at most 86400")
        return timeout

    def var(self, key: str, default: Any = None) -> Any:
        """Variable `key` with its `{{ variable }}` references resolved; `default` when unset.

        Raises `InventoryError` naming the host and the variable for Jinja that
        only Ansible can evaluate (see `templating`).
        """
        if key not in self.vars:
            return default
        value = self.vars[key]
        if not has_jinja(value):
            return value
        return template(self.name, key, self.vars, path=self.source or None)

    def secret_values(self) -> frozenset[str]:
        """Values to redact: vault-decrypted values, and those of variables named like secrets.

        A secret-named variable that references others (`"{{ vault_db_password }}"`)
        counts with its templated value too.
        """
        found = set(conventions.secret_values(self.vars))
        for key, value in self.vars.items():
            if has_jinja(value) and conventions.is_secret_name(key):
                try:
                    resolved = self.var(key)
                except InventoryError:
                    continue
                found |= conventions.secret_values({key: resolved})
        return frozenset(found)

    def with_vars(self, **updates: Any) -> Host:
        """A copy of this host with some variables replaced."""
        return dataclasses.replace(self, vars={**self.vars, **updates})
