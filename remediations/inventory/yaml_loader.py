"""Ansible's YAML inventory format, read with a SafeLoader that remembers line numbers.

```yaml
all:
  vars: {ansible_user: deploy}
  children:
    web:
      hosts:
        web[01:03].example.com:      # a range; the value may be empty
        web04.example.com: {ansible_port: 2222}
```

Any top-level key is a group; a host named in several groups is one host.
The file is read by `yamlfile`, which records the line of every mapping key,
so structural errors name the file and line. Ansible only warns about (and skips) unknown keys in a
group and groups that are not mappings; here they are errors, because a
mistyped `host:` would otherwise silently drop hosts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from remediations.core.errors import InventoryError
from remediations.inventory.hostrange import HostRangeError, expand_host_pattern
from remediations.inventory.yamlfile import YamlDocument

if TYPE_CHECKING:
    from remediations.inventory.builder import InventoryDraft

_SECTIONS = ("hosts", "vars", "children")


def is_group_mapping(data: Any) -> bool:
    """True for a mapping whose values could all be groups (how YAML inventories look)."""
    return (isinstance(data, dict) and "plugin" not in data
            and all(v is None or isinstance(v, dict) for v in data.values()))


def parse_yaml_inventory(doc: YamlDocument, path: str, draft: InventoryDraft) -> None:
    """Add the groups and hosts of a parsed YAML inventory to `draft`."""
    data = doc.data
    if data is None:  # empty, or only comments: no hosts (Ansible accepts it too)
        return
    if not isinstance(data, dict):
        raise InventoryError(f"YAML inventory must be a mapping of group names, "
                             f"not a {type(data).__name__}", path=path, line=doc.root_line)
    if "plugin" in data:
        raise InventoryError("this is an inventory plugin configuration, which only Ansible "
                             "can read: name the source `ansible:PATH` to read it with "
                             "ansible-inventory (see the README, Inventory)", path=path,
                             line=doc.line_of(data, "plugin"))
    _Walker(doc, path, draft).groups(data)


class _Walker:
    def __init__(self, doc: YamlDocument, path: str, draft: InventoryDraft) -> None:
        self.doc, self.path, self.draft = doc, path, draft

    def error(self, message: str, mapping: Any, key: Any) -> InventoryError:
        return InventoryError(message, path=self.path, line=self.doc.line_of(mapping, key))

    def groups(self, data: dict[Any, Any]) -> None:
        for name in data:
            self.group(name, data, parent=None)

    def group(self, name: Any, container: dict[Any, Any], parent: str | None) -> None:
        body = container[name]
        if not isinstance(name, str) or not name:
            raise self.error(f"group name must be a non-empty string, not {name!r}",
                             container, name)
        if body is not None and not isinstance(body, dict):
            raise self.error(f"group {name!r} must be a mapping of hosts, vars and children, "
                             f"not a {type(body).__name__}", container, name)
        self.draft.add_group(name)
        for key, value in (body or {}).items():
            if key not in _SECTIONS:
                raise self.error(f"unexpected key {key!r} in group {name!r} "
                                 "(expected hosts, vars or children)", body, key)
            if isinstance(value, str):  # Ansible accepts `hosts: web1` for one entry
                value = {value: None}
            if value is None:
                continue
            if not isinstance(value, dict):
                raise self.error(f"{key!r} of group {name!r} must be a mapping, "
                                 f"not a {type(value).__name__}", body, key)
            if key == "hosts":
                self.hosts(name, value)
            elif key == "vars":
                self.vars(name, value)
            else:
                self.children(name, value)
        if parent is not None:
            try:
                self.draft.add_child(parent, name)
            except InventoryError as exc:
                raise self.error(exc.reason, container, name) from None

    def vars(self, group: str, variables: dict[Any, Any]) -> None:
        for key, value in variables.items():
            try:
                self.draft.set_group_var(group, key, value)
            except InventoryError as exc:
                raise self.error(exc.reason, variables, key) from None

    def children(self, group: str, children: dict[Any, Any]) -> None:
        for child in children:
            self.group(child, children, parent=group)

    def hosts(self, group: str, hosts: dict[Any, Any]) -> None:
        for pattern, variables in hosts.items():
            if not isinstance(pattern, str):
                raise self.error(f"host {pattern!r} in group {group!r} must be a string; "
                                 "quote numbers and addresses", hosts, pattern)
            if variables is not None and not isinstance(variables, dict):
                raise self.error(f"variables of host {pattern!r} in group {group!r} must be a "
                                 f"mapping, not a {type(variables).__name__}", hosts, pattern)
            try:
                names, port = expand_host_pattern(pattern)
                for name in names:
                    self.draft.add_host(name, group=group, port=port, source=self.path)
                    for key, value in (variables or {}).items():
                        self.draft.set_host_var(name, key, value)
            except (HostRangeError, InventoryError) as exc:
                reason = exc.reason if isinstance(exc, InventoryError) else str(exc)
                raise self.error(reason, hosts, pattern) from None
