"""YAML files read with a SafeLoader that remembers the line of every mapping key.

Parsing uses libyaml (`CSafeLoader`) when available and records the line of
every mapping key on the side, which costs little, so errors in inventories
and vars files can name the file and line. Ansible's tags: `!unsafe` text
becomes `UnsafeText` (never templated); a `!vault` value is decrypted with the
`Vault` given (`VaultText`, a secret), and is an error naming its line without one.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from remediations.core.errors import InventoryError
from remediations.inventory.markers import UnsafeText, VaultText
from remediations.inventory.vault import PASSWORD_HINT, Vault

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineLoader(_Base):  # type: ignore[misc]
    """A safe loader that records, for every mapping it builds, the line of each key."""

    def __init__(self, stream: str, path: str, vault: Vault | None) -> None:
        super().__init__(stream)
        self.key_lines: dict[int, dict[Any, int]] = {}
        self.path = path
        self.vault = vault


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> Iterator[dict[Any, Any]]:
    data: dict[Any, Any] = {}
    yield data
    loader.flatten_mapping(node)  # `<<: *anchor` merge keys
    lines: dict[Any, int] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=False)
        if not isinstance(key, Hashable):
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark,
                "found unhashable key", key_node.start_mark)
        data[key] = loader.construct_object(value_node, deep=False)
        lines[key] = key_node.start_mark.line + 1
    loader.key_lines[id(data)] = lines


def _construct_unsafe(loader: _LineLoader, node: yaml.Node) -> Any:
    # Ansible's `!unsafe` marks text that must not be templated.
    if isinstance(node, yaml.ScalarNode):
        return UnsafeText(loader.construct_scalar(node))
    if isinstance(node, yaml.SequenceNode):
        return _unsafe(loader.construct_sequence(node, deep=True))
    return _unsafe(loader.construct_mapping(node, deep=True))


def _unsafe(value: Any) -> Any:
    if isinstance(value, str):
        return UnsafeText(value)
    if isinstance(value, list):
        return [_unsafe(item) for item in value]
    if isinstance(value, dict):
        return {key: _unsafe(item) for key, item in value.items()}
    return value


def _construct_vault(loader: _LineLoader, node: yaml.Node) -> Any:
    line = node.start_mark.line + 1
    if not isinstance(node, yaml.ScalarNode):
        raise yaml.constructor.ConstructorError(
            None, None, "a !vault value must be the encrypted text", node.start_mark)
    if loader.vault is None:
        raise InventoryError(f"an encrypted !vault value needs the vault password: {PASSWORD_HINT}",
                             path=loader.path, line=line)
    return VaultText(loader.vault.decrypt(loader.construct_scalar(node), path=loader.path,
                                          line=line))


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_LineLoader.add_constructor("!unsafe", _construct_unsafe)
_LineLoader.add_constructor("!vault", _construct_vault)


@dataclass(frozen=True)
class YamlDocument:
    """A parsed YAML document and where its mapping keys were."""

    data: Any
    root_line: int | None = None
    key_lines: dict[int, dict[Any, int]] = field(default_factory=dict, repr=False)

    def line_of(self, mapping: Any, key: Any) -> int | None:
        """The line of `key` in `mapping` (a mapping of this document), if known."""
        return self.key_lines.get(id(mapping), {}).get(key)


def load_yaml_file(text: str, path: str, vault: Vault | None = None) -> YamlDocument:
    """Parse one YAML document; syntax errors become `InventoryError` naming file and line.

    `!vault` values are decrypted with `vault`; without one they are an error.
    """
    loader = _LineLoader(text, path, vault)
    try:
        node = loader.get_single_node()
        if node is None:
            return YamlDocument(None)
        data = loader.construct_document(node)
        return YamlDocument(data, node.start_mark.line + 1, loader.key_lines)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise InventoryError(f"invalid YAML: {reason or exc}", path=path,
                             line=mark.line + 1 if mark is not None else None) from None
    except yaml.YAMLError as exc:
        raise InventoryError(f"invalid YAML: {exc}", path=path) from None
    finally:
        loader.dispose()
