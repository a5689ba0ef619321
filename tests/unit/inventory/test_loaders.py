"""Reading YAML and INI inventories, group_vars/host_vars, precedence, and errors."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from remediations.core.errors import InventoryError
from remediations.inventory import Inventory, load_inventory
from remediations.inventory.hostrange import HostRangeError, expand_host_pattern
from remediations.inventory.ini_loader import parse_ini_value


def write(root: Path, files: dict[str, str]) -> Path:
    """Write `files` under `root`; return the path of the first one."""
    first = None
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        first = first or path
    assert first is not None
    return first


def load(tmp_path: Path, files: dict[str, str]) -> Inventory:
    return load_inventory(write(tmp_path, files))


def names(inv: Inventory, pattern: str | None = None) -> list[str]:
    return [h.name for h in inv.select(pattern)]


# -- host ranges ---------------------------------------------------------------
@pytest.mark.parametrize("pattern,hosts,port", [
    ("web1", ["web1"], None),
    ("web[1:3]", ["web1", "web2", "web3"], None),
    ("web[01:03].example.com", ["web01.example.com", "web02.example.com", "web03.example.com"],
     None),
    ("db-[a:c]", ["db-a", "db-b", "db-c"], None),
    ("node[1:10:3]", ["node1", "node4", "node7", "node10"], None),
    ("x[a:e:2]", ["xa", "xc", "xe"], None),
    ("h[1:2]-[a:b]", ["h1-a", "h1-b", "h2-a", "h2-b"], None),
    ("[:2]w", ["0w", "1w", "2w"], None),
    ("web1:2222", ["web1"], 2222),
    ("web[1:2]:2222", ["web1", "web2"], 2222),
    ("10.0.0.[1:3]", ["10.0.0.1", "10.0.0.2", "10.0.0.3"], None),
    ("10.0.0.1:22", ["10.0.0.1"], 22),
    ("[fe80::1]:2222", ["fe80::1"], 2222),
    ("fe80::1", ["fe80::1"], None),
])
def test_host_patterns(pattern: str, hosts: list[str], port: int | None) -> None:
    assert expand_host_pattern(pattern) == (hosts, port)


@pytest.mark.parametrize("pattern", [
    "web[1]", "web[1:2:3:4]", "web[1:]", "web[01:3]", "web[c:a]", "web[a:9]", "web[1:3:0]",
    "web[1:3",
])
def test_bad_host_ranges(pattern: str) -> None:
    with pytest.raises(HostRangeError):
        expand_host_pattern(pattern)


# -- YAML ----------------------------------------------------------------------
YAML_BASIC = """
    all:
      vars:
        ansible_user: deploy
      hosts:
        bastion:
      children:
        web:
          hosts:
            web[1:2]:
            web3.example.com:2222:
              http_port: 8080
        db:
          hosts: db1
        prod:
          children:
            web:
            db:
          hosts:
            web1:
              role: primary
    staging:
      hosts:
        web2:
"""


def test_yaml_inventory(tmp_path: Path) -> None:
    inv = load(tmp_path, {"inv.yml": YAML_BASIC})
    assert [h.name for h in inv] == ["bastion", "web1", "web2", "web3.example.com", "db1"]
    assert list(inv.groups) == ["all", "ungrouped", "web", "db", "prod", "staging"]
    web1 = inv["web1"]
    assert web1.vars == {"ansible_user": "deploy", "role": "primary"}
    assert web1.groups == ("all", "prod", "web")  # precedence order: all first, deeper last
    assert inv["web2"].groups == ("all", "prod", "staging", "web")
    assert inv["bastion"].groups == ("all", "ungrouped")
    assert inv["web3.example.com"].port == 2222
    assert inv["web3.example.com"].vars["http_port"] == 8080
    assert inv["web1"].source == str(tmp_path / "inv.yml")
    assert inv.groups["web"].depth == 2 and inv.groups["prod"].depth == 1
    assert inv.groups["prod"].children == ("web", "db")
    assert inv.groups["web"].parents == ("all", "prod")
    assert inv.groups["ungrouped"].hosts == ("bastion",)
    assert names(inv, "prod") == ["web1", "web2", "web3.example.com", "db1"]


def test_yaml_anchors_merge_keys_and_unsafe(tmp_path: Path) -> None:
    inv = load(tmp_path, {"inv.yaml": """
        web:
          vars:
            defaults: &defaults {ansible_user: deploy, http_port: 80}
          hosts:
            web1:
              <<: *defaults
              http_port: 8080
              motd: !unsafe '{{ not templated }}'
    """})
    assert inv["web1"].vars["ansible_user"] == "deploy"
    assert inv["web1"].vars["http_port"] == 8080
    assert inv["web1"].vars["motd"] == "{{ not templated }}"


def test_a_host_in_several_groups_is_one_host(tmp_path: Path) -> None:
    inv = load(tmp_path, {"inv.yml": """
        a: {hosts: {h1: {x: 1}}}
        b: {hosts: {h1: {y: 2}, h2: }}
    """})
    assert len(inv) == 2
    assert inv["h1"].vars == {"x": 1, "y": 2}
    assert inv["h1"].groups == ("all", "a", "b")


# -- INI -----------------------------------------------------------------------
@pytest.mark.parametrize("text,value", [
    ("8080", 8080), ("-1", -1), ("1.5", 1.5), ("True", True), ("False", False), ("None", None),
    ("yes", "yes"), ("true", "true"), ("[1, 'a']", [1, "a"]), ("(1, 2)", [1, 2]),
    ("{'a': 1}", {"a": 1}), ("'07'", "07"), ("07", "07"), ("0x10", 16), ("1_000", 1000),
    ("hello world", "hello world"), ("/srv/app", "/srv/app"), ("1+2j", "(1+2j)"), ("...", "..."),
    ("b'x'", "x"), ("", ""), ("1 # comment", 1), ("foo # bar", "foo # bar"), ("{1,}", [1]),
])
def test_ini_values_are_python_literals(text: str, value: Any) -> None:
    assert parse_ini_value(text) == value
    assert type(parse_ini_value(text)) is type(value)


INI_BASIC = """
    bastion ansible_host=203.0.113.10   # before any section: ungrouped
    [web]
    web[1:2] ansible_user=deploy quoted="1" twice="'1'" spaced='a b' list="[1, 2]"
    web3.example.com:2222
    ; a comment
    # another
    [web:vars]
    http_port=8080
    flag = True
    word=yes
    path=/srv/app # not a comment here
    [prod:children]
    web
    db
    [db]
    db1
    [all:vars]
    ntp=pool.ntp.org
"""


def test_ini_inventory(tmp_path: Path) -> None:
    inv = load(tmp_path, {"hosts.ini": INI_BASIC})
    assert [h.name for h in inv] == ["bastion", "web1", "web2", "web3.example.com", "db1"]
    assert inv["bastion"].groups == ("all", "ungrouped")
    assert inv["bastion"].address == "203.0.113.10"
    web1 = inv["web1"].vars
    assert web1["quoted"] == 1 and web1["twice"] == "1" and web1["spaced"] == "a b"
    assert web1["list"] == [1, 2]
    assert web1["http_port"] == 8080 and web1["flag"] is True and web1["word"] == "yes"
    assert web1["path"] == "/srv/app # not a comment here"
    assert web1["ntp"] == "pool.ntp.org"
    assert inv["web3.example.com"].port == 2222
    assert inv["db1"].groups == ("all", "prod", "db")
    assert inv.groups["prod"].children == ("web", "db")
    assert names(inv, "prod") == ["web1", "web2", "web3.example.com", "db1"]


def test_ini_hosts_before_sections_leave_ungrouped_when_grouped_later(tmp_path: Path) -> None:
    inv = load(tmp_path, {"hosts": "web1\nlone\n[web]\nweb1\n"})
    assert inv.groups["ungrouped"].hosts == ("lone",)
    assert inv["web1"].groups == ("all", "web")


# -- errors name the file and the line --------------------------------------------
@pytest.mark.parametrize("text,line,message", [
    # YAML syntax errors: the line from the parser's mark
    ("web:\n  hosts:\n    web1:\n    web2: x: y\n", 4, "invalid YAML"),
    ("web:\n  hosts:\n    web1: {ansible_host: [1\n", 4, "invalid YAML"),
    ("web:\n  hosts:\n\t web1:\n", 3, "invalid YAML"),
    ("web:\n  vars:\n    secret: !vault |\n      $ANSIBLE_VAULT;1.1;AES256\n", 3, "!vault"),
    # structure: the line of the offending key
    ("all:\n  children:\n    web:\n      hosts:\n        - web1\n", 4, "'hosts' of group 'web'"),
    ("all:\n  children:\n    web: webservers\n", 3, "group 'web' must be a mapping"),
    ("web:\n  hosts:\n    web1:\n  vars:\n    - a\n", 4, "'vars' of group 'web'"),
    ("web:\n  hosts:\n    web1:\n  host:\n    web2:\n", 4, "unexpected key 'host'"),
    ("web:\n  hosts:\n    web1: 22\n", 3, "variables of host 'web1'"),
    ("web:\n  hosts:\n    web1:\n    1234:\n", 4, "must be a string"),
    ("web:\n  hosts:\n    web[3:1]:\n", 3, "host range"),
    ("web:\n  vars:\n    ansible_group_priority: high\n", 3, "ansible_group_priority"),
    # children are read first, so the loop shows when `b` joins `a`
    ("a:\n  children:\n    b:\n      children:\n        a:\n", 3, "loop"),
    ("plugin: aws_ec2\nregions: [eu-west-1]\n", 1, "plugin"),
])
def test_yaml_errors_name_file_and_line(tmp_path: Path, text: str, line: int,
                                        message: str) -> None:
    path = tmp_path / "inv.yml"
    path.write_text(text)
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    assert info.value.path == str(path)
    assert info.value.line == line, str(info.value)
    assert message in str(info.value)
    assert str(info.value).startswith(f"{path}:{line}: ")


@pytest.mark.parametrize("text,line,message", [
    ("[web]\nweb1 port\n", 2, "expected key=value"),
    ("[web]\nweb1\nweb2 x='unclosed\n", 3, "cannot parse host line"),
    ("[web]\nweb1:\n", 2, "trailing ':'"),
    ("[web]\nweb[1:x]\n", 2, "host range"),
    ("[web]\nweb1\n[web:vars]\nno_equals_sign\n", 4, "expected key=value"),
    ("[web]\nweb1\n[web:kids]\n", 3, "unknown type"),
    ("[web]\nweb1\n[web servers]\n", 3, "invalid section header"),
    ("[prod:children]\nweb\n\ndb\n[web]\nweb1\n", 4, "'db', which is never declared"),
    ("[web]\nweb1\n\n[db:vars]\nx=1\n", 4, "[db:vars]"),
    ("[a:children]\nb\n[b:children]\na\n", 4, "loop"),
    ("[web:children]\nweb1 x=1\n", 2, "expected a group name"),
    ("---\nweb1\n", 1, "YAML"),
])
def test_ini_errors_name_file_and_line(tmp_path: Path, text: str, line: int,
                                       message: str) -> None:
    path = tmp_path / "hosts.ini"
    path.write_text(text)
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    assert (info.value.path, info.value.line) == (str(path), line), str(info.value)
    assert message in str(info.value)


def test_ini_vars_for_a_group_declared_later_is_fine(tmp_path: Path) -> None:
    inv = load(tmp_path, {"hosts.ini": "[web:vars]\nx=1\n[web]\nweb1\n"})
    assert inv["web1"].vars["x"] == 1


def test_sniffed_yaml_without_extension_reports_yaml_errors(tmp_path: Path) -> None:
    path = tmp_path / "hosts"
    path.write_text("all:\n  hosts:\n    web1: {a: [1}\n")
    with pytest.raises(InventoryError, match="invalid YAML") as info:
        load_inventory(path)
    assert info.value.line == 3


def test_vars_file_errors_name_file_and_line(tmp_path: Path) -> None:
    inv = write(tmp_path, {"inv.yml": "web: {hosts: {web1: }}\n",
                           "group_vars/web.yml": "a: 1\nb: [2\n"})
    with pytest.raises(InventoryError) as info:
        load_inventory(inv)
    assert info.value.path == str(tmp_path / "group_vars" / "web.yml")
    assert info.value.line == 3
    (tmp_path / "group_vars" / "web.yml").write_text("# vars\n- a\n- b\n")
    with pytest.raises(InventoryError, match="must be a mapping") as info:
        load_inventory(inv)
    assert info.value.line == 2


def test_missing_source(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="no such inventory"):
        load_inventory(tmp_path / "nope.yml")


@pytest.mark.parametrize("name,text", [
    ("empty.yml", ""), ("comments.yml", "# nothing yet\n"), ("empty.ini", "; nothing\n"),
    ("hosts", ""),
])
def test_empty_inventory_files_add_nothing(tmp_path: Path, name: str, text: str) -> None:
    other = write(tmp_path / "other", {"hosts.yml": "web: {hosts: {web1: }}\n"})
    inv = load_inventory([write(tmp_path, {name: text}), other])
    assert [h.name for h in inv] == ["web1"]
    assert inv["web1"].source == str(other)
