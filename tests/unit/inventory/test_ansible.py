"""Compare remediations.inventory with the real Ansible on the same inventories.

`ansible-inventory --list` gives merged host vars and group membership;
`ansible -i FILE PATTERN --list-hosts` gives the hosts (and their order) a
pattern selects. Both must agree with `load_inventory` / `Inventory.select`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from remediations.core.errors import NoHostsMatched
from remediations.inventory import Inventory, load_inventory
from tests.unit.helpers import ansible_list_hosts, groups_as_ansible_lists_them

DATA = Path(__file__).parent / "inventory_data"
FIXTURES = {
    "yaml": DATA / "yaml" / "inventory.yml",
    "ini": DATA / "ini" / "hosts.ini",
}
PATTERNS = [
    "all",
    "*",
    "web",
    "web:db",
    "db:web",
    "web,db",
    "web:&prod",
    "web:!web2",
    "web*",
    "~web[12]",
    "~^(db|queue)",
    "*.example.com",
    "all:!db",
    "&prod",
    "!web1",
    "web[0]",
    "web[0:1]",
    "web[-1]",
    "web[1:]",
    "prod:&web:!web3",
    "staging:&web",
    "web3:db1:bastion",
    "queue*:stage*",
    "ungrouped",
]

pytestmark = pytest.mark.skipif(
    shutil.which("ansible") is None or shutil.which("ansible-inventory") is None,
    reason="the ansible / ansible-inventory CLIs are not on PATH (pip install ansible-core)",
)


@pytest.fixture(scope="module")
def ansible_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("ansible-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        ANSIBLE_INVENTORY_UNPARSED_WARNING="False",
        ANSIBLE_LOCALHOST_WARNING="False",
        ANSIBLE_HOME=str(home),
        ANSIBLE_LOCAL_TEMP=str(home / "tmp"),
        ANSIBLE_CONFIG=str(home / "none.cfg"),  # ignore any ansible.cfg around
        ANSIBLE_NOCOLOR="1",
    )
    env["PWD"] = str(home)
    return env


def _run(args: list[str], env: dict[str, str]) -> str:
    # cwd is a scratch folder so no playbook-adjacent group_vars/ are picked up.
    done = subprocess.run(args, env=env, cwd=env["PWD"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module", params=sorted(FIXTURES))
def ansible_view(request: pytest.FixtureRequest,
                 ansible_env: dict[str, str]) -> tuple[Inventory, dict[str, Any]]:
    """Our inventory, and everything Ansible says about the same file."""
    path = str(FIXTURES[request.param])
    jobs: dict[str, list[str]] = {
        "list": ["ansible-inventory", "-i", path, "--list"],
        "export": ["ansible-inventory", "-i", path, "--list", "--export"],
    }
    for pattern in [*PATTERNS, "nomatch"]:
        jobs[pattern] = ["ansible", "-i", path, pattern, "--list-hosts"]
    with ThreadPoolExecutor(max_workers=(os.cpu_count() or 2) * 2) as pool:
        futures = {key: pool.submit(_run, args, ansible_env) for key, args in jobs.items()}
        outputs = {key: future.result() for key, future in futures.items()}
    view: dict[str, Any] = {
        "list": json.loads(outputs.pop("list")),
        "export": json.loads(outputs.pop("export")),
        "patterns": {p: ansible_list_hosts(out) for p, out in outputs.items()},
    }
    return load_inventory(path), view


@pytest.mark.parametrize("pattern", PATTERNS)
def test_select_matches_ansible(ansible_view: tuple[Inventory, dict[str, Any]],
                                pattern: str) -> None:
    inventory, view = ansible_view
    expected = view["patterns"][pattern]
    assert expected, f"fixture problem: Ansible selects nothing for {pattern!r}"
    assert [h.name for h in inventory.select(pattern)] == expected


def test_pattern_matching_nothing(ansible_view: tuple[Inventory, dict[str, Any]]) -> None:
    inventory, view = ansible_view
    assert view["patterns"]["nomatch"] == []
    with pytest.raises(NoHostsMatched, match="nomatch"):
        inventory.select("nomatch")


def test_host_vars_match_ansible(ansible_view: tuple[Inventory, dict[str, Any]]) -> None:
    inventory, view = ansible_view
    hostvars = view["list"]["_meta"]["hostvars"]
    assert sorted(hostvars) == sorted(h.name for h in inventory)
    for host in inventory:
        assert dict(host.vars) == hostvars[host.name], host.name


def test_groups_match_ansible(ansible_view: tuple[Inventory, dict[str, Any]]) -> None:
    inventory, view = ansible_view
    listed = {k: v for k, v in view["list"].items() if k != "_meta"}
    assert groups_as_ansible_lists_them(inventory) == listed


def test_group_vars_match_ansible_export(ansible_view: tuple[Inventory, dict[str, Any]]) -> None:
    inventory, view = ansible_view
    exported = {k: v.get("vars", {}) for k, v in view["export"].items() if k != "_meta"}
    for name, expected in exported.items():
        group = inventory.groups[name]
        ours = dict(group.vars)
        if group.priority != 1:
            ours["ansible_group_priority"] = group.priority
        assert ours == expected, name
