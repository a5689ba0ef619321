"""Ansible host patterns (`--limit`), evaluated as Ansible 2.19 evaluates them.

- Terms are separated by `,` or, when there is no comma, by `:` (`web:db`);
  a term may be a host or group name, `all`, a glob (`web*`, `*.example.com`,
  matched against group and host names) or `~regex` (`re.match`: anchored at
  the start only, as in Ansible), with an optional subscript on non-regex
  terms: `web[0]`, `web[-1]`, `web[0:2]` (inclusive), `web[1:]`.
- `&term` intersects, `!term` excludes. Terms are reordered as Ansible does:
  plain terms first, then `&`, then `!`; with only `&`/`!` terms the
  selection starts from `all`.
- A term that names a group selects its hosts and its descendants' hosts;
  if no group matches (or the term is a glob/regex) it matches host names.
- Order is Ansible's: the order terms are evaluated in, each group's hosts
  in Ansible's walk order; never twice the same host.

Deviations: Ansible warns and ignores a term that matches nothing; here the
whole selection raises `NoHostsMatched` if nothing is left, and with
`strict=True` any term that matches nothing raises. Ansible's implicit
`localhost` is not created.
"""

from __future__ import annotations

import fnmatch
import re
from typing import TYPE_CHECKING

from remediations.core.errors import InventoryError, NoHostsMatched
from remediations.inventory.hostrange import parse_address

if TYPE_CHECKING:
    from remediations.inventory.model import Host, Inventory

_TERM = re.compile(r"(?:[^\s:\[\]]|\[[^\]]*\])+")
_SUBSCRIPT = re.compile(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$")
_GLOB_CHARS = (".", "?", "*", "[")


def split_pattern(pattern: str) -> list[str]:
    """The terms of a pattern: `"web:&prod:!web3"` → `["web", "&prod", "!web3"]`.

    With a comma, only commas separate. Without, a whole pattern that reads as
    one host (`web[1:3]`, `db1:5432`, an IPv6 address) is one term; otherwise
    `:` separates terms, keeping `[x:y]` ranges whole.
    """
    if "," in pattern:
        terms = pattern.split(",")
    elif parse_address(pattern) is not None:
        terms = [pattern]
    else:
        terms = _TERM.findall(pattern)
        # What no term took must be separators only: `~[` or `web[1` is a typo, not `all`.
        if _TERM.sub("", pattern).strip(": \t"):
            raise InventoryError(f"invalid host pattern {pattern!r}: unbalanced '[' or ']'")
    return [t.strip() for t in terms if t.strip()]


def order_terms(terms: list[str]) -> list[str]:
    """Plain terms, then `&` terms, then `!` terms; `all` first if there is no plain term."""
    plain = [t for t in terms if t[0] not in "&!"]
    return (plain or ["all"]) + [t for t in terms if t[0] == "&"] + [t for t in terms if t[0] == "!"]


def select_names(inventory: Inventory, pattern: str | None, *,
                 strict: bool = False) -> list[str]:
    """Names of the hosts `pattern` selects; None or "" selects all."""
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
    """Hosts of `inventory` matching `pattern`; see the module docstring."""
    return inventory.select(pattern, strict=strict)


def _match_term(inventory: Inventory, term: str) -> list[str]:
    """Hosts one term matches, ignoring its `&`/`!`; may repeat a host."""
    expr = term[1:] if term[0] in "&!" else term
    if not expr:
        raise InventoryError(f"empty host pattern term {term!r}")
    expr, subscript = _split_subscript(expr)
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


def _split_subscript(expr: str) -> tuple[str, tuple[int, int | None] | None]:
    if expr[0] == "~":
        return expr, None
    match = _SUBSCRIPT.match(expr)
    if not match:
        return expr, None
    base, index, start, _sep, end = match.groups()
    if index is not None:
        return base, (int(index), None)
    # `web[1:]` runs to the end; Ansible treats `web[0:0]` like `web[0]`.
    stop = int(end) if end else -1
    return base, (int(start), stop if stop != 0 else None)


def _enumerate(inventory: Inventory, expr: str) -> list[str]:
    try:
        regex = re.compile(expr[1:] if expr[0] == "~" else fnmatch.translate(expr))
    except re.error as exc:
        raise InventoryError(f"invalid host pattern {expr!r}: {exc}") from None
    groups = [name for name in inventory.groups if regex.match(name)]
    hosts: list[str] = []
    for group in groups:
        hosts.extend(inventory.member_names(group))
    if not groups or expr[0] == "~" or any(c in expr for c in _GLOB_CHARS):
        hosts.extend(h.name for h in inventory if regex.match(h.name))
    return hosts
