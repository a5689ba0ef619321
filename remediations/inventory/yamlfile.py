"""YAML files read with a SafeLoader that remembers the line of every mapping key.

Parsing uses libyaml (`CSafeLoader`) when available and records the line of
every mapping key on the side, which costs little, so errors in inventories
and vars files can name the file and line.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from remediations.core.errors import InventoryError

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineLoader(_Base):  # type: ignore[misc]
    """A safe loader that records, for every mapping it builds, the line of each key."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.key_lines: dict[int, dict[Any, int]] = {}


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
    # Ansible's `!unsafe` marks a string that must not be templated; nothing is templated here.
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


def _construct_vault(loader: _LineLoader, node: yaml.Node) -> Any:
    raise yaml.constructor.ConstructorError(
        None, None, "encrypted !vault values are not supported", node.start_mark)


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


def load_yaml_file(text: str, path: str) -> YamlDocument:
    """Parse one YAML document; syntax errors become `InventoryError` naming file and line."""
    loader = _LineLoader(text)
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
