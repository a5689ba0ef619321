"""Variable precedence, group_vars/ and host_vars/, formats, folders and several sources."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from remediations.core.errors import InventoryError
from remediations.inventory import load_inventory
from tests.unit.inventory.test_loaders import write

PRECEDENCE = {
    "inv.yml": """
        all:
          vars:
            v_all: inv-all
            v_grp: inv-all
            v_depth: inv-all
            v_host: inv-all
            v_prio: inv-all
          children:
            parent:
              vars: {v_grp: inv-parent, v_depth: inv-parent}
              children:
                child:
                  vars: {v_depth: inv-child, v_gv_host: inv-child}
                  hosts:
                    h1: {v_host: inv-host, v_gv_host: inv-host}
            alpha:
              vars: {v_prio: alpha}
              hosts: {h1: , h2: }
            beta:
              vars: {v_prio: beta}
              hosts: {h1: , h2: }
            zeta:
              vars: {v_prio: zeta, ansible_group_priority: 0}
              hosts: {h1: }
            aaa:
              vars: {v_prio: aaa, ansible_group_priority: 5}
              hosts: {h2: }
    """,
    "group_vars/all.yml": "v_gv_all: gv-all\nv_grp: gv-all\n",
    "group_vars/parent.yml": "v_depth: gv-parent\n",
    "group_vars/child.yml": "v_gv_host: gv-child\n",
    "group_vars/beta.yml": "ansible_group_priority: 100\n",
    "host_vars/h1.yml": "v_host: host_vars\n",
}


@pytest.mark.parametrize("host,var,value,why", [
    ("h1", "v_all", "inv-all", "only `all` sets it"),
    ("h1", "v_depth", "gv-parent", "group_vars/ files beat every inventory-file group var"),
    ("h2", "v_depth", "inv-all", "h2 is not in parent"),
    ("h1", "v_grp", "gv-all", "group_vars/all beats inventory-file vars of other groups"),
    ("h1", "v_gv_all", "gv-all", "group_vars/all"),
    ("h1", "v_prio", "beta", "same depth, same priority: later name wins; zeta has priority 0"),
    ("h2", "v_prio", "aaa", "ansible_group_priority 5 beats default priority 1"),
    ("h1", "v_gv_host", "inv-host", "inventory host vars beat group_vars/"),
    ("h1", "v_host", "host_vars", "host_vars/ beats inventory host vars"),
    ("h1", "ansible_group_priority", 100, "a plain variable when set in group_vars/"),
])
def test_precedence_is_ansibles(tmp_path: Path, host: str, var: str, value: object,
                                why: str) -> None:
    inv = load_inventory(write(tmp_path, PRECEDENCE))
    assert inv[host].vars.get(var) == value, why


def test_depth_and_priority_order_groups(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, PRECEDENCE))
    assert inv["h1"].groups == ("all", "zeta", "alpha", "beta", "parent", "child")
    assert inv.groups["beta"].priority == 1  # group_vars/ cannot set it, as in Ansible
    assert inv.groups["aaa"].priority == 5
    assert "ansible_group_priority" not in inv.groups["aaa"].vars
    assert inv.groups["parent"].vars == {"v_grp": "inv-parent", "v_depth": "gv-parent"}


def test_vars_folder_and_file_lookup(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, {
        "hosts.ini": "[web]\nweb1\n[db]\ndb1\n[cache]\nredis1\n",
        # a file without extension comes first; web.yml is then ignored
        "group_vars/web": "source: bare\n",
        "group_vars/web.yml": "source: yml\nignored: true\n",
        # a folder: files in name order, sub-folders too; hidden, backup, other extensions skipped
        "group_vars/db/10-base.yml": "a: base\nb: base\n",
        "group_vars/db/20-more.yaml": "b: more\n",
        "group_vars/db/nested/x.json": '{"c": "json"}',
        "group_vars/db/.hidden.yml": "a: hidden\n",
        "group_vars/db/30-old.yml~": "a: backup\n",
        "group_vars/db/notes.txt": "a: notes\n",
        "group_vars/cache.yml": "",  # empty files are fine
        "host_vars/db1.json": '{"ansible_host": "10.0.0.9"}',
        "host_vars/redis1.yml": "---\n# nothing\n",
    }))
    assert inv["web1"].vars == {"source": "bare"}
    assert inv["db1"].vars == {"a": "base", "b": "more", "c": "json", "ansible_host": "10.0.0.9"}
    assert inv["redis1"].vars == {}


def test_vault_encrypted_vars_file_is_refused(tmp_path: Path) -> None:
    inv = write(tmp_path, {"hosts.ini": "web1\n",
                           "host_vars/web1.yml": "$ANSIBLE_VAULT;1.1;AES256\n6162\n"})
    with pytest.raises(InventoryError, match="vault") as info:
        load_inventory(inv)
    assert info.value.path == str(tmp_path / "host_vars" / "web1.yml")


@pytest.mark.parametrize("name,text", [
    ("hosts", "web:\n  hosts:\n    web1:\n      x: 1\n"),
    ("hosts", "[web]\nweb1 x=1\n"),
    ("hosts", "web1 x=1\n"),
    ("inventory.cfg", "[web]\nweb1 x=1\n"),
    ("inventory.json", '{"web": {"hosts": {"web1": {"x": 1}}}}'),
    ("inventory.yaml", "web:\n  hosts:\n    web1: {x: 1}\n"),
])
def test_format_detection(tmp_path: Path, name: str, text: str) -> None:
    inv = load_inventory(write(tmp_path, {name: text}))
    assert inv["web1"].vars == {"x": 1}


def test_folder_source(tmp_path: Path) -> None:
    folder = tmp_path / "inventory"
    write(folder, {
        "10-web.yml": "web:\n  hosts:\n    web1:\n",
        "20-db.ini": "[db]\ndb1\n[web]\nweb2\n",
        "sub/30-cache": "[cache]\nredis1\n",
        "README.md": "# not an inventory\n",
        "ansible.cfg": "[defaults]\nforks = 5\n",
        ".hidden.yml": "nope: {hosts: {x: }}\n",
        "group_vars/web.yml": "http_port: 80\n",
    })
    inv = load_inventory(folder)
    assert [h.name for h in inv] == ["web1", "db1", "web2", "redis1"]
    assert inv["web2"].vars == {"http_port": 80}
    assert inv.sources == (str(folder),)


def test_several_sources_merge_like_repeated_i(tmp_path: Path) -> None:
    first = write(tmp_path / "a", {"hosts.yml": "web:\n  vars: {x: a, y: a}\n  hosts: {web1: }\n",
                                   "group_vars/web.yml": "gv: a\ngv_a: a\n"})
    second = write(tmp_path / "b", {"hosts.ini": "[web]\nweb2\n[web:vars]\nx=b\n",
                                    "group_vars/web.yml": "gv: b\n"})
    inv = load_inventory([first, str(second)])
    assert [h.name for h in inv.select("web")] == ["web1", "web2"]
    assert inv["web1"].vars == {"x": "b", "y": "a", "gv": "b", "gv_a": "a"}
    assert inv.sources == (str(first), str(second))


def test_host_list_source() -> None:
    inv = load_inventory("web1, web2:2222,")
    assert [h.name for h in inv] == ["web1", "web2"]
    assert inv["web2"].port == 2222
    assert inv["web1"].groups == ("all", "ungrouped")


def test_dynamic_inventory_scripts_are_refused(tmp_path: Path) -> None:
    script = write(tmp_path, {"ec2": "#!/bin/sh\necho '{}'\n"})
    os.chmod(script, 0o755)
    with pytest.raises(InventoryError, match="dynamic inventory scripts"):
        load_inventory(script)


def test_private_key_resolves_against_the_inventory_folder(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, {
        "inv/hosts.yml": "web:\n  hosts:\n    web1: {ansible_ssh_private_key_file: keys/id}\n"}))
    assert inv["web1"].private_key_file == str(tmp_path / "inv" / "keys" / "id")
