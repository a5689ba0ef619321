"""Ansible host patterns: splitting, ordering, globs, regexes, subscripts, no-match errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from remediations.core.errors import InventoryError, NoHostsMatched
from remediations.inventory import Inventory, load_inventory, select, split_pattern
from remediations.inventory.patterns import order_terms
from tests.unit.inventory.test_loaders import write

INVENTORY = """
    all:
      hosts:
        bastion:
      children:
        web:
          hosts:
            web[1:4]:
        db:
          hosts:
            db[1:2]:
        prod:
          children:
            web:
            db:
        canary:
          hosts:
            web3:
            web9.example.com:
"""


@pytest.fixture(scope="module")
def inv(tmp_path_factory: pytest.TempPathFactory) -> Inventory:
    return load_inventory(write(tmp_path_factory.mktemp("patterns"), {"inv.yml": INVENTORY}))


@pytest.mark.parametrize("pattern,terms", [
    ("web", ["web"]),
    ("web:db", ["web", "db"]),
    ("web,db", ["web", "db"]),
    (" web , db ,", ["web", "db"]),
    ("web:&prod:!web3", ["web", "&prod", "!web3"]),
    ("web,&prod,!web3", ["web", "&prod", "!web3"]),
    ("web[0:2]", ["web[0:2]"]),
    ("web[0:2]:db", ["web[0:2]", "db"]),
    ("web1:2222", ["web1:2222"]),  # reads as host:port, so one term (as in Ansible)
    ("fe80::1", ["fe80::1"]),
    ("web,db:prod", ["web", "db:prod"]),  # with a comma, only commas separate
    ("", []),
])
def test_split_pattern(pattern: str, terms: list[str]) -> None:
    assert split_pattern(pattern) == terms


def test_order_terms_puts_plain_then_and_then_not() -> None:
    assert order_terms(["!a", "&b", "c", "!d", "e"]) == ["c", "e", "&b", "!a", "!d"]
    assert order_terms(["!a", "&b"]) == ["all", "&b", "!a"]


@pytest.mark.parametrize("pattern,expected", [
    (None, ["bastion", "web1", "web2", "web3", "web4", "db1", "db2", "web9.example.com"]),
    ("", ["bastion", "web1", "web2", "web3", "web4", "db1", "db2", "web9.example.com"]),
    ("all", ["bastion", "web1", "web2", "web3", "web4", "db1", "db2", "web9.example.com"]),
    ("web", ["web1", "web2", "web3", "web4"]),
    ("db:web", ["db1", "db2", "web1", "web2", "web3", "web4"]),  # term order, not inventory
    ("web:&canary", ["web3"]),
    ("&canary:web", ["web3"]),  # reordered: plain terms first
    ("!web1:web", ["web2", "web3", "web4"]),
    ("!web*", ["bastion", "db1", "db2"]),  # only exclusions: start from all
    ("web*", ["web1", "web2", "web3", "web4", "web9.example.com"]),
    ("*.example.com", ["web9.example.com"]),
    ("~web[13]", ["web1", "web3"]),
    ("~.eb1", ["web1"]),  # re.match: anchored at the start only
    ("~^(db|bas)", ["db1", "db2", "bastion"]),  # groups match first, then hosts
    ("web[0]", ["web1"]),
    ("web[-1]", ["web4"]),
    ("web[1:2]", ["web2", "web3"]),
    ("web[2:]", ["web3", "web4"]),
    ("web[0:0]", ["web1"]),  # Ansible reads [x:0] as [x]
    ("prod:!canary", ["web1", "web2", "web4", "db1", "db2"]),
    ("web9.example.com:bastion", ["web9.example.com", "bastion"]),
    ("web1:web1:web", ["web1", "web2", "web3", "web4"]),  # never twice
    ("web:nosuchgroup", ["web1", "web2", "web3", "web4"]),  # Ansible ignores unmatched terms
    ("ungrouped", ["bastion"]),
])
def test_select(inv: Inventory, pattern: str | None, expected: list[str]) -> None:
    assert [h.name for h in inv.select(pattern)] == expected
    assert [h.name for h in select(inv, pattern)] == expected


@pytest.mark.parametrize("pattern", ["nosuch", "web:&db", "web:!web", "nosuch*", "~zz", "~eb1"])
def test_no_match_raises_naming_the_pattern(inv: Inventory, pattern: str) -> None:
    with pytest.raises(NoHostsMatched) as info:
        inv.select(pattern)
    assert repr(pattern) in str(info.value)
    assert isinstance(info.value, InventoryError)


def test_strict_rejects_any_term_that_matches_nothing(inv: Inventory) -> None:
    assert [h.name for h in inv.select("web:!web9")] == ["web1", "web2", "web3", "web4"]
    with pytest.raises(NoHostsMatched, match="'!web9'"):
        inv.select("web:!web9", strict=True)


def test_subscript_out_of_range(inv: Inventory) -> None:
    with pytest.raises(NoHostsMatched, match="subscripted"):
        inv.select("web[7]")


def test_invalid_regex(inv: Inventory) -> None:
    with pytest.raises(InventoryError, match="invalid host pattern"):
        inv.select("~web(")


def test_group_and_host_globs_cover_both(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, {"hosts.ini": "[app]\nweb1\n[apple]\nx1\n[db]\napp9\n"}))
    # `app*` matches groups app and apple, and host app9 in db
    assert [h.name for h in inv.select("app*")] == ["web1", "x1", "app9"]
    # a plain name matching a group does not also look for hosts
    assert [h.name for h in inv.select("app")] == ["web1"]
