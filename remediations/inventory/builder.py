"""The mutable draft the loaders fill in, and its conversion into an `Inventory`.

Variable precedence is Ansible's (lowest first), for every host:

1. inventory-file vars of `all`, then of the host's other groups sorted by
   (depth, `ansible_group_priority`, name) — deeper groups win;
2. `group_vars/all`, then `group_vars/<group>` in the same order (per
   inventory source, in the order the sources were given);
3. inventory-file host vars;
4. `host_vars/<host>`.

Top-level keys replace (Ansible's default `hash_behaviour = replace`).
`ansible_group_priority` counts only when set in an inventory file, as in Ansible.
Ansible's implicit localhost gets layers 1 and 2 of `all`, then
`ansible_connection: local`, then `host_vars/<name>`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from remediations.core.errors import InventoryError
from remediations.inventory.markers import vaulted
from remediations.inventory.model import LOCALHOST_NAMES, Group, Host, Inventory, implicit_localhost

if TYPE_CHECKING:
    from remediations.inventory.varsdirs import VarsDirs

ALL = "all"
UNGROUPED = "ungrouped"


@dataclass
class _GroupDraft:
    name: str
    vars: dict[str, Any] = field(default_factory=dict)
    children: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    priority: int = 1
    host_set: set[str] = field(default_factory=set)  # `hosts`, for fast membership tests


@dataclass
class _HostDraft:
    name: str
    source: str
    vars: dict[str, Any] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)  # direct memberships, in order


class InventoryDraft:
    """Groups and hosts as the loaders find them, before vars are merged.

    Methods raise `InventoryError` without a location; loaders add file and line.
    While `vaulted` is set (a loader reading a vault-encrypted inventory file),
    every variable value set is marked as a secret.
    """

    def __init__(self) -> None:
        self.groups: dict[str, _GroupDraft] = {}
        self.hosts: dict[str, _HostDraft] = {}
        self.vaulted = False
        self.add_group(ALL)
        self.add_group(UNGROUPED)
        self.add_child(ALL, UNGROUPED)

    def add_group(self, name: object) -> str:
        if not isinstance(name, str) or not name:
            raise InventoryError(f"group name must be a non-empty string, not {name!r}")
        if name not in self.groups:
            self.groups[name] = _GroupDraft(name)
        return name

    def add_host(self, name: object, *, group: str | None, port: int | None, source: str) -> str:
        if not isinstance(name, str) or not name:
            raise InventoryError(f"host name must be a non-empty string, not {name!r}")
        host = self.hosts.get(name)
        if host is None:
            host = self.hosts[name] = _HostDraft(name, source)
            if port is not None:  # as Ansible: a port given where the host already exists is ignored
                host.vars["ansible_port"] = port
        if group is not None:
            members = self.groups[group]
            if name not in members.host_set:
                members.host_set.add(name)
                members.hosts.append(name)
                host.groups.append(group)
        return name

    def add_child(self, parent: str, child: str) -> None:
        if child == ALL:
            raise InventoryError(f"group 'all' cannot be a child of {parent!r}")
        draft, kid = self.groups[parent], self.groups[child]
        if child in draft.children:
            return
        if child == parent or child in self._ancestors(parent):
            raise InventoryError(
                f"adding group {child!r} as a child of {parent!r} creates a dependency loop")
        draft.children.append(child)
        if parent not in kid.parents:
            kid.parents.append(parent)

    def set_group_var(self, group: str, key: object, value: Any) -> None:
        key = _var_name(key)
        if key == "ansible_group_priority":
            try:
                self.groups[group].priority = int(value)
            except (TypeError, ValueError):
                raise InventoryError(f"ansible_group_priority of group {group!r} must be an "
                                     f"integer, not {value!r}") from None
        else:
            self.groups[group].vars[key] = vaulted(value) if self.vaulted else value

    def set_host_var(self, host: str, key: object, value: Any) -> None:
        self.hosts[host].vars[_var_name(key)] = vaulted(value) if self.vaulted else value

    def _ancestors(self, name: str) -> set[str]:
        found: set[str] = set()
        todo = list(self.groups[name].parents)
        while todo:
            parent = todo.pop()
            if parent not in found:
                found.add(parent)
                todo.extend(self.groups[parent].parents)
        return found

    # -- conversion ---------------------------------------------------------
    def build(self, sources: Sequence[str], vars_dirs: VarsDirs) -> Inventory:
        """Reconcile like Ansible (ungrouped, parentless groups under `all`) and merge vars."""
        self._reconcile()
        depth = self._depths()
        ancestors = {name: self._ancestors(name) for name in self.groups}

        def order(names: set[str]) -> list[str]:
            return sorted(names, key=lambda g: (depth[g], self.groups[g].priority, g))

        group_layers: dict[tuple[str, ...], dict[str, Any]] = {}
        hosts: list[Host] = []
        for draft in self.hosts.values():
            member_of = set(draft.groups)
            for group in draft.groups:
                member_of |= ancestors[group]
            member_of.add(ALL)
            ordered = tuple(order(member_of))
            base = group_layers.get(ordered)
            if base is None:
                base = group_layers[ordered] = self._group_layer(ordered, vars_dirs)
            merged = dict(base)
            merged.update(draft.vars)
            merged.update(vars_dirs.host_vars(draft.name))
            hosts.append(Host(draft.name, merged, ordered, draft.source))

        groups = [Group(g.name, {**g.vars, **vars_dirs.group_vars(g.name)}, tuple(g.children),
                        tuple(g.hosts), tuple(g.parents), depth[g.name], g.priority)
                  for g in self.groups.values()]
        top = {**self._group_layer((ALL,), vars_dirs), "ansible_connection": "local"}
        implicit = {name: implicit_localhost(name, {**top, **vars_dirs.host_vars(name)})
                    for name in LOCALHOST_NAMES}
        return Inventory(hosts, groups, sources, implicit=implicit)

    def _group_layer(self, ordered: tuple[str, ...], vars_dirs: VarsDirs) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for name in ordered:  # `all` sorts first: depth 0
            merged.update(self.groups[name].vars)
        # Ansible merges group_vars/ per inventory source: all groups of one
        # source, then all groups of the next.
        for layer in vars_dirs.group_layers(ordered):
            merged.update(layer)
        return merged

    def _reconcile(self) -> None:
        ungrouped = self.groups[UNGROUPED]
        for name in list(ungrouped.hosts):
            host = self.hosts[name]
            if set(host.groups) - {ALL, UNGROUPED}:
                ungrouped.hosts.remove(name)
                ungrouped.host_set.discard(name)
                host.groups.remove(UNGROUPED)
        for host in self.hosts.values():
            if not set(host.groups) - {ALL} and UNGROUPED not in host.groups:
                ungrouped.hosts.append(host.name)
                ungrouped.host_set.add(host.name)
                host.groups.append(UNGROUPED)
        for group in list(self.groups.values()):
            if group.name != ALL and not group.parents:
                self.add_child(ALL, group.name)

    def _depths(self) -> dict[str, int]:
        depth: dict[str, int] = {}

        def visit(name: str) -> int:
            if name not in depth:
                parents = self.groups[name].parents
                depth[name] = max((visit(p) + 1 for p in parents), default=0)
            return depth[name]

        for name in self.groups:
            visit(name)
        return depth


def _var_name(key: object) -> str:
    if not isinstance(key, str) or not key:
        raise InventoryError(f"variable names must be non-empty strings, not {key!r}")
    return key
