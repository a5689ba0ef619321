"""Hosts, groups and the inventory that holds them, immutable once loaded; the hosts a pattern selects."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from remediations.core.errors import InventoryError, NoHostsMatched
from remediations.inventory import conventions
from remediations.inventory.hosts import Host, frozen
from remediations.inventory.patterns import GLOB_CHARS, order_terms, split_pattern, split_subscript

__all__ = ["LOCALHOST_NAMES", "Group", "Host", "Inventory", "implicit_localhost", "select",
           "select_names"]

# The names Ansible treats as the control machine (`C.LOCALHOST`).
LOCALHOST_NAMES = ("127.0.0.1", "localhost", "::1")


def implicit_localhost(name: str, variables: Mapping[str, Any]) -> Host:
    """Ansible's implicit localhost called `name`: local connection, in no group.

    `variables` are those Ansible gives it: group `all`'s (inventory file and
    `group_vars/all`), then `ansible_connection: local`, then `host_vars/NAME`.
    """
    return Host(name, {**variables}, (), "")


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
        object.__setattr__(self, "vars", frozen(self.vars))
        for name in ("children", "hosts", "parents"):
            object.__setattr__(self, name, tuple(getattr(self, name)))


class Inventory:
    """Hosts and groups from one or more inventory sources.

    Iterating yields hosts in inventory order (the order they were first named).
    `implicit` are Ansible's implicit localhosts by name (see `implicit_localhost`):
    a pattern term `localhost`, `127.0.0.1` or `::1` that matches nothing selects
    one, as in Ansible; they are never members of `all`. By default they get
    group `all`'s variables.
    """

    def __init__(self, hosts: Iterable[Host], groups: Iterable[Group],
                 sources: Iterable[str] = (), *,
                 implicit: Mapping[str, Host] | None = None) -> None:
        self._hosts: dict[str, Host] = {h.name: h for h in hosts}
        self._groups: dict[str, Group] = {g.name: g for g in groups}
        self.sources: tuple[str, ...] = tuple(sources)
        self._members: dict[str, tuple[str, ...]] = {}
        if implicit is None:
            top = self._groups.get("all")
            base = {**(top.vars if top is not None else {}), "ansible_connection": "local"}
            implicit = {name: implicit_localhost(name, base) for name in LOCALHOST_NAMES}
        self._implicit: dict[str, Host] = dict(implicit)
        # Ansible's localhost: the first localhost-like host the inventory names, if any.
        self.named_localhost: str | None = next(
            (h for h in self._hosts if h in LOCALHOST_NAMES), None)

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
        return [self._hosts.get(name) or self._implicit[name]
                for name in select_names(self, pattern, strict=strict)]

    def with_connection(self, connection: str) -> Inventory:
        """A copy where every host uses `connection`, like `ansible -c docker`.

        Unlike Ansible's `-c`, which `ansible_connection` in the inventory
        overrides, this replaces every host's `ansible_connection`.
        """
        if conventions.normalize_connection(connection) is None:
            raise InventoryError(f"unsupported connection {connection!r} "
                                 "(ssh, docker, local, kubernetes)")
        hosts = [h.with_vars(ansible_connection=connection) for h in self._hosts.values()]
        implicit = {n: h.with_vars(ansible_connection=connection)
                    for n, h in self._implicit.items()}
        return Inventory(hosts, self._groups.values(), self.sources, implicit=implicit)

    def secret_values(self) -> frozenset[str]:
        """Secret values of every host (vault-decrypted, or named like secrets), to redact."""
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
    localhost = [inventory.named_localhost]  # the first implicit one used stays, as in Ansible
    for term in terms:
        if term in inventory:  # a plain host name: Ansible does not look further
            selected.append(term)
            continue
        matched = _match_term(inventory, term, localhost)
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


def _match_term(inventory: Inventory, term: str, localhost: list[str | None]) -> list[str]:
    """Hosts one term matches, ignoring its `&`/`!`; may repeat a host."""
    expr = term[1:] if term[0] in "&!" else term
    if not expr:
        raise InventoryError(f"empty host pattern term {term!r}")
    expr, subscript = split_subscript(expr)
    hosts = _enumerate(inventory, expr)
    if not hosts and expr in LOCALHOST_NAMES:
        # Ansible's implicit localhost: the inventory's own localhost-like host if it
        # names one, else the first of these names the pattern used.
        name = localhost[0] = localhost[0] or expr
        hosts = [name]
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
