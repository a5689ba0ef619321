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

- Ansible's implicit localhost: a term `localhost`, `127.0.0.1` or `::1`
  that matches no host or group selects the inventory's first localhost-like
  host, or else a host of that name with `ansible_connection: local` and group
  `all`'s variables, which is in no group (`all` does not include it).

Deviations: Ansible warns and ignores a term that matches nothing; here the
whole selection raises `NoHostsMatched` if nothing is left, and with
`strict=True` any term that matches nothing raises.

This module reads the pattern language; `Inventory.select` (in `model`) evaluates it.
"""

from __future__ import annotations

import re

from remediations.core.errors import InventoryError
from remediations.inventory.hostrange import parse_address

_TERM = re.compile(r"(?:[^\s:\[\]]|\[[^\]]*\])+")
_SUBSCRIPT = re.compile(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$")
GLOB_CHARS = (".", "?", "*", "[")


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


def split_subscript(expr: str) -> tuple[str, tuple[int, int | None] | None]:
    """A term and its subscript: `web[0:2]` → `("web", (0, 2))`, `web[1]` → `("web", (1, None))`."""
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
