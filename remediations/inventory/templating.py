"""Jinja in inventory values: `{{ variable }}` references resolved, any other Jinja refused.

Ansible templates a connection variable when it uses it, so an inventory may say
`ansible_host: "{{ private_ip }}"` or `ansible_become_password: "{{ vault_become_pass }}"`
(the usual way to keep a vaulted password in its own file). This module resolves
exactly that much, as Ansible would:

- `{{ name }}` names another variable of the host, or `inventory_hostname` /
  `inventory_hostname_short`; the value it names is templated in turn;
- a value that is one reference and nothing else keeps the type of what it
  names (`ansible_port: "{{ ssh_port }}"` is the int 2222); in longer text each
  reference is replaced by the text of its value;
- `!unsafe` text (`UnsafeText`) is never templated.

Anything else in `{{ }}`, `{% %}` or `{# #}` (filters, lookups, expressions,
`hostvars[...]`) needs Ansible's own templating: it is refused with an
`InventoryError` naming the host and the variable, never used as literal text.
An undefined name is an error too, as in Ansible.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from remediations.core.errors import InventoryError
from remediations.inventory.markers import UnsafeText, VaultText, is_vaulted

_MARKERS = ("{{", "{%", "{#")
_REFERENCE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_MAX_DEPTH = 32


def has_jinja(value: Any) -> bool:
    """True for text Ansible would template (not `!unsafe`) that contains Jinja markers."""
    return (isinstance(value, str) and not isinstance(value, UnsafeText)
            and any(marker in value for marker in _MARKERS))


def template(host: str, key: str, variables: Mapping[str, Any], *,
             path: str | None = None) -> Any:
    """The value of variable `key` of `host`, templated; None when it is not set.

    Raises `InventoryError` naming the host and the variable when the value uses
    Jinja other than `{{ variable }}`, names an undefined variable, or refers to itself.
    """
    return _Templar(host, variables, path).value(key, ())


class _Templar:
    def __init__(self, host: str, variables: Mapping[str, Any], path: str | None) -> None:
        self.host, self.variables, self.path = host, variables, path

    def error(self, key: str, value: Any, why: str) -> InventoryError:
        return InventoryError(f"host {self.host!r}: {key}={value!r} {why}", path=self.path)

    def lookup(self, name: str, chain: tuple[str, ...]) -> Any:
        if name == "inventory_hostname":
            return self.host
        if name == "inventory_hostname_short":
            return self.host.split(".", 1)[0]
        if name not in self.variables:
            raise KeyError(name)
        return self.value(name, chain)

    def value(self, key: str, chain: tuple[str, ...]) -> Any:
        value = self.variables.get(key)
        if not has_jinja(value):
            return value
        if key in chain:
            cycle = " -> ".join((*chain[chain.index(key):], key))
            raise self.error(chain[0], self.variables.get(chain[0]),
                             f"refers to itself through {cycle}")
        if len(chain) >= _MAX_DEPTH:
            raise self.error(chain[0], self.variables.get(chain[0]),
                             f"nests references more than {_MAX_DEPTH} deep")
        chain = (*chain, key)
        text = str(value)
        if any(marker in _REFERENCE.sub("", text) for marker in _MARKERS):
            raise self.error(key, value, "uses Jinja that only Ansible can evaluate (this "
                             "library resolves {{ variable }} references only): give it a "
                             "literal value, or compute it in the inventory (a constructed "
                             "`compose:` read through an `ansible:` source)")
        parts: list[Any] = []
        pos = 0
        for match in _REFERENCE.finditer(text):
            parts.append(text[pos:match.start()])
            name = match.group(1)
            try:
                parts.append(self.lookup(name, chain))
            except KeyError:
                raise self.error(key, value, f"refers to {name!r}, which is not defined") from None
            pos = match.end()
        parts.append(text[pos:])
        if len(parts) == 3 and parts[0] == "" and parts[2] == "":
            return parts[1]  # one reference alone keeps its value's type, as Ansible's does
        result = "".join(str(part) for part in parts)
        secret = is_vaulted(value) or any(is_vaulted(p) for p in parts)
        return VaultText(result) if secret else result
