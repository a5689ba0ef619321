"""Hosts, groups and the inventory that holds them, immutable once loaded; the hosts a pattern selects."""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from remediations.core.errors import InventoryError, NoHostsMatched
from remediations.inventory import conventions
from remediations.inventory.patterns import GLOB_CHARS, order_terms, split_pattern, split_subscript


def _frozen(variables: Mapping[str, Any]) -> Mapping[str, Any]:
    return variables if isinstance(variables, MappingProxyType) else MappingProxyType(dict(variables))


@dataclass(frozen=True, slots=True)
class Host:
    """One inventory host with its final, merged variables.

    `vars` is read-only (nested values are shared with other hosts: do not
    mutate them). `groups` lists every group the host belongs to, ancestors and
    `all` included, in the order their variables apply (`all` first).
    `source` is the inventory file that first named the host.

    The typed properties read Ansible's connection variables; where Ansible has
    aliases (`ansible_port` / `ansible_ssh_port`) the one its connection plugin
    lists last wins, as in Ansible. Values are not templated.
    """

    name: str
    vars: Mapping[str, Any] = field(default_factory=dict, hash=False)
    groups: tuple[str, ...] = ("all",)
    source: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "vars", _frozen(self.vars))
        object.__setattr__(self, "groups", tuple(self.groups))

    # -- helpers -----------------------------------------------------------
    def _lookup(self, *keys: str) -> tuple[str, Any]:
        found: tuple[str, Any] = (keys[-1], None)
        for key in keys:
            value = self.vars.get(key)
            if value is not None:
                found = (key, value)
        return found

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
        value = self.vars.get("ansible_connection")
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
            base = os.path.dirname(self.source) if self.source else os.getcwd()
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
        if not timeout > 0:  # also rejects NaN
            raise self._invalid(key, value, "a positive number of seconds")
        return timeout

    def secret_values(self) -> frozenset[str]:
        """Values of variables whose names look secret (passwords, tokens, keys), to redact."""
        return conventions.secret_values(self.vars)

    def with_vars(self, **updates: Any) -> Host:
        """A copy of this host with some variables replaced."""
        return dataclasses.replace(self, vars={**self.vars, **updates})


@dataclass(frozen=True, slots=True)
class Group:
    """One inventory group: its own variables and its direct members.

    `vars` are the group's own variables (inventory file, then `group_vars/`);
    `depth` is the longest path from `all`, `priority` its
    `ansible_group_priority`; both order variable precedence.
    """

    name: str
    vars: Mapping[str, Any] = field(default_factory=dict, hash=False)
    children: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    parents: tuple[str, ...] = ()
    depth: int = 0
    priority: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "vars", _frozen(self.vars))
        for name in ("children", "hosts", "parents"):
            object.__setattr__(self, name, tuple(getattr(self, name)))


class Inventory:
    """Hosts and groups from one or more inventory sources.

    Iterating yields hosts in inventory order (the order they were first named).
    """

    def __init__(self, hosts: Iterable[Host], groups: Iterable[Group],
                 sources: Iterable[str] = ()) -> None:
        self._hosts: dict[str, Host] = {h.name: h for h in hosts}
        self._groups: dict[str, Group] = {g.name: g for g in groups}
        self.sources: tuple[str, ...] = tuple(sources)
        self._members: dict[str, tuple[str, ...]] = {}

    def __repr__(self) -> str:
        return f"<Inventory {len(self._hosts)} hosts, {len(self._groups)} groups>"

    def __iter__(self) -> Iterator[Host]:
        return iter(self._hosts.values())

    def __len__(self) -> int:
        return len(self._hosts)

    def __contains__(self, name: object) -> bool:
        return name in self._hosts

    def __getitem__(self, name: str) -> Host:
        return self._hosts[name]

    def get(self, name: str) -> Host | None:
        """The host called `name`, or None."""
        return self._hosts.get(name)

    @property
    def hosts(self) -> tuple[Host, ...]:
        return tuple(self._hosts.values())

    @property
    def groups(self) -> Mapping[str, Group]:
        """Groups by name, in the order they were first named (`all`, `ungrouped` first)."""
        return MappingProxyType(self._groups)

    def group_hosts(self, name: str) -> list[Host]:
        """Hosts of group `name` and its descendants, in Ansible's order; KeyError if unknown."""
        return [self._hosts[h] for h in self.member_names(name)]

    def member_names(self, name: str) -> tuple[str, ...]:
        """Names of the hosts of group `name` and its descendants, in Ansible's order.

        Ansible walks the group, then its children, then their children (level
        by level), listing each host once.
        """
        cached = self._members.get(name)
        if cached is None:
            cached = self._members[name] = tuple(_walk_members(self._groups, name))
        return cached

    def select(self, pattern: str | None = None, *, strict: bool = False) -> list[Host]:
        """Hosts matching an Ansible `--limit` pattern (None or "" = all); see `patterns`."""
        return [self._hosts[name] for name in select_names(self, pattern, strict=strict)]

    def with_connection(self, connection: str) -> Inventory:
        """A copy where every host uses `connection`, like `ansible -c docker`.

        Unlike Ansible's `-c`, which `ansible_connection` in the inventory
        overrides, this replaces every host's `ansible_connection`.
        """
        if conventions.normalize_connection(connection) is None:
            raise InventoryError(f"unsupported connection {connection!r} "
                                 "(ssh, docker, local, kubernetes)")
        hosts = [h.with_vars(ansible_connection=connection) for h in self._hosts.values()]
        return Inventory(hosts, self._groups.values(), self.sources)

    def secret_values(self) -> frozenset[str]:
        """Secret-looking values of every host, to redact from reports."""
        return frozenset().union(*(h.secret_values() for h in self._hosts.values()))


def _walk_members(groups: Mapping[str, Group], name: str) -> Iterator[str]:
    top = groups[name]
    ordered = [top] + [groups[c] for c in top.children]
    seen = {g.name for g in ordered}
    level = ordered
    while level:
        following: list[Group] = []
        for group in level:
            for child in group.children:
                if child not in seen:
                    seen.add(child)
                    following.append(groups[child])
        ordered.extend(following)
        level = following
    listed: set[str] = set()
    for group in ordered:
        for host in group.hosts:
            if host not in listed:
                listed.add(host)
                yield host


def select_names(inventory: Inventory, pattern: str | None, *,
                 strict: bool = False) -> list[str]:
    """Names of the hosts `pattern` (see `patterns`) selects; None or "" selects all."""
    text = pattern if pattern and pattern.strip() else "all"
    terms = order_terms(split_pattern(text))
    selected: list[str] = []
    for term in terms:
        if term in inventory:  # a plain host name: Ansible does not look further
            selected.append(term)
            continue
        matched = _match_term(inventory, term)
        if strict and not matched:
            raise NoHostsMatched(f"{term!r} in pattern {text!r} matches no host or group")
        if term[0] == "!":
            excluded = set(matched)
            selected = [h for h in selected if h not in excluded]
        elif term[0] == "&":
            kept = set(matched)
            selected = [h for h in selected if h in kept]
        else:
            already = set(selected)
            selected.extend(h for h in matched if h not in already)
    result = list(dict.fromkeys(selected))
    if not result:
        raise NoHostsMatched(f"no hosts matched pattern {text!r}")
    return result


def select(inventory: Inventory, pattern: str | None = None, *, strict: bool = False) -> list[Host]:
    """Hosts of `inventory` matching an Ansible `--limit` pattern; see `patterns`."""
    return inventory.select(pattern, strict=strict)


def _match_term(inventory: Inventory, term: str) -> list[str]:
    """Hosts one term matches, ignoring its `&`/`!`; may repeat a host."""
    expr = term[1:] if term[0] in "&!" else term
    if not expr:
        raise InventoryError(f"empty host pattern term {term!r}")
    expr, subscript = split_subscript(expr)
    hosts = _enumerate(inventory, expr)
    if not hosts or subscript is None:
        return hosts
    start, end = subscript
    try:
        if end is None:
            return [hosts[start]]
        return hosts[start:(len(hosts) - 1 if end == -1 else end) + 1]
    except IndexError:
        raise NoHostsMatched(f"no hosts matched the subscripted pattern {expr}[{start}] "
                             f"({len(hosts)} hosts)") from None


def _enumerate(inventory: Inventory, expr: str) -> list[str]:
    try:
        regex = re.compile(expr[1:] if expr[0] == "~" else fnmatch.translate(expr))
    except re.error as exc:
        raise InventoryError(f"invalid host pattern {expr!r}: {exc}") from None
    groups = [name for name in inventory.groups if regex.match(name)]
    hosts: list[str] = []
    for group in groups:
        hosts.extend(inventory.member_names(group))
    if not groups or expr[0] == "~" or any(c in expr for c in GLOB_CHARS):
        hosts.extend(h.name for h in inventory if regex.match(h.name))
    return hosts
