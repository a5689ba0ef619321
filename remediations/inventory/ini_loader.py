"""Ansible's INI inventory format.

```ini
bastion ansible_host=203.0.113.5      # before any section: group `ungrouped`
[web]
web[01:03] ansible_user=deploy        # ranges; values shlex-split
web04:2222 http_port=8080             # name:port
[web:vars]
ansible_become=true
[prod:children]
web
```

Values are read as Ansible 2.19 reads them: the text after `=` is tried as a
Python literal (`ast.literal_eval`; `8080` → int, `True` → bool, `[1, 2]` →
list) and kept as a string otherwise (`yes` stays `"yes"`). On a host line
quotes are removed by shell-splitting first, so `x="1"` is the int 1 and
`x="'1'"` the string "1". Ansible's documentation says values in `:vars`
sections stay strings, but Ansible itself literal-evaluates them too; this
follows Ansible's behaviour, checked against `ansible-inventory`.

A `[g:children]` entry may name a group declared later; a group that is never
declared (by `[g]` or `[g:children]`) is an error, and so is `[g:vars]` for a
group never declared, as in Ansible 2.19. Comments start with `#` or `;` at
the start of a line; `#` also ends a host line, section header or child name.
"""

from __future__ import annotations

import ast
import re
import shlex
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from remediations.core.errors import InventoryError
from remediations.inventory.hostrange import HostRangeError, expand_host_pattern

if TYPE_CHECKING:
    from remediations.inventory.builder import InventoryDraft

_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$")
_GROUP_NAME = re.compile(r"^([^:\]\s]+)\s*(?:#.*)?$")
_KINDS = ("hosts", "children", "vars")


@dataclass
class _Pending:
    """A group named before it was declared: as a child, or by `[g:vars]`."""

    line: int
    kind: str
    parents: list[str] = field(default_factory=list)


def parse_ini_value(text: str) -> Any:
    """An INI value as Ansible reads it: a Python literal if it is one, else the string.

    >>> parse_ini_value("8080"), parse_ini_value("True"), parse_ini_value("yes")
    (8080, True, 'yes')
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text
    return _plain(value)


def _plain(value: Any) -> Any:
    # Only types that YAML/JSON can hold, as Ansible converts them.
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if value is Ellipsis:
        return "..."
    if isinstance(value, complex):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return value


def parse_ini_inventory(text: str, path: str, draft: InventoryDraft) -> None:
    """Add the groups and hosts of an INI inventory to `draft`."""
    _IniParser(path, draft).parse(text)


class _IniParser:
    def __init__(self, path: str, draft: InventoryDraft) -> None:
        self.path, self.draft = path, draft
        self.pending: dict[str, _Pending] = {}
        self.line = 0

    def error(self, message: str, line: int | None = None) -> InventoryError:
        return InventoryError(message, path=self.path, line=line or self.line)

    def parse(self, text: str) -> None:
        group, kind = "ungrouped", "hosts"
        for self.line, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            section = _SECTION.match(line)
            if section:
                group, kind = section.group(1), section.group(2) or "hosts"
                self.section(group, kind)
            elif line.startswith("[") and line.endswith("]"):
                raise self.error(f"invalid section header {line!r}: expected [group], "
                                 "[group:vars] or [group:children], without spaces")
            else:
                try:
                    if kind == "hosts":
                        self.host_line(line, group)
                    elif kind == "vars":
                        self.var_line(line, group)
                    else:
                        self.child_line(line, group)
                except InventoryError as exc:
                    if exc.path is not None:
                        raise
                    raise self.error(exc.reason) from None
        for name, pending in self.pending.items():
            if pending.kind == "vars":
                raise self.error(f"section [{name}:vars] names group {name!r}, which is "
                                 "never declared", pending.line)
            raise self.error(f"section [{pending.parents[-1]}:children] includes group "
                             f"{name!r}, which is never declared", pending.line)

    def section(self, group: str, kind: str) -> None:
        if kind not in _KINDS:
            raise self.error(f"section [{group}:{kind}] has unknown type {kind!r} "
                             "(expected vars or children)")
        if group not in self.draft.groups:
            if kind == "vars" and group not in self.pending:
                self.pending[group] = _Pending(self.line, "vars")
            self.draft.add_group(group)
        pending = self.pending.get(group)
        if pending is not None and kind != "vars":
            if pending.kind == "children":
                for parent in pending.parents:
                    try:
                        self.draft.add_child(parent, group)
                    except InventoryError as exc:
                        raise self.error(exc.reason) from None
            del self.pending[group]

    def host_line(self, line: str, group: str) -> None:
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError as exc:
            raise self.error(f"cannot parse host line {line!r}: {exc}") from None
        if not tokens:  # e.g. a line that is only a quoted empty string followed by a comment
            raise self.error(f"cannot parse host line {line!r}")
        pattern = tokens[0]
        try:
            names, port = expand_host_pattern(pattern)
        except HostRangeError as exc:
            raise self.error(str(exc)) from None
        if pattern.strip().endswith(":") and port is None:
            raise self.error(f"invalid host {pattern!r}: a trailing ':' must be followed by a port")
        if any(name.strip() == "---" for name in names):
            raise self.error(f"invalid host {pattern!r}: '---' suggests this file is YAML")
        variables: dict[str, Any] = {}
        for token in tokens[1:]:
            key, sep, value = token.partition("=")
            if not sep:
                raise self.error(f"expected key=value after host {pattern!r}, got {token!r}")
            variables[key] = parse_ini_value(value)
        for name in names:
            self.draft.add_host(name, group=group, port=port, source=self.path)
            for key, value in variables.items():
                self.draft.set_host_var(name, key, value)

    def var_line(self, line: str, group: str) -> None:
        key, sep, value = line.partition("=")
        if not sep:
            raise self.error(f"expected key=value in [{group}:vars], got {line!r}")
        self.draft.set_group_var(group, key.strip(), parse_ini_value(value.strip()))

    def child_line(self, line: str, group: str) -> None:
        match = _GROUP_NAME.match(line)
        if not match:
            raise self.error(f"expected a group name in [{group}:children], got {line!r}")
        child = match.group(1)
        if child in self.draft.groups:
            self.draft.add_child(group, child)
        elif child in self.pending:
            self.pending[child].parents.append(group)
        else:
            self.pending[child] = _Pending(self.line, "children", [group])
