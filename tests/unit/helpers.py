"""Small builders shared by unit tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from remediations.inventory import Host, Inventory, load_inventory


def inventory(tmp: Path, hosts: dict[str, dict[str, Any]] | None = None,
              group_vars: dict[str, Any] | None = None) -> Inventory:
    import yaml

    hosts = hosts if hosts is not None else {"web1": {}, "web2": {}}
    data = {"all": {"vars": group_vars or {}, "children": {"web": {"hosts": hosts}}}}
    path = tmp / "inventory.yml"
    path.write_text(yaml.safe_dump(data))
    return load_inventory(str(path))


def host(name: str = "web1", **hostvars: Any) -> Host:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return inventory(Path(tmp), {name: hostvars}).get(name)


def ansible_list_hosts(output: str) -> list[str]:
    """The hosts `ansible PATTERN --list-hosts` printed, in its order."""
    lines = output.splitlines()
    header = next(i for i, line in enumerate(lines) if line.strip().startswith("hosts ("))
    count = int(lines[header].strip()[len("hosts ("):-2])
    return [line.strip() for line in lines[header + 1:header + 1 + count]]


def groups_as_ansible_lists_them(inv: Inventory) -> dict[str, Any]:
    """`inv`'s groups as `ansible-inventory --list` prints them (empty groups left out)."""
    listed: dict[str, Any] = {}
    for group in inv.groups.values():
        entry: dict[str, Any] = {"children": list(group.children)}
        if group.name != "all":
            entry["hosts"] = list(group.hosts)
        entry = {k: v for k, v in entry.items() if v}
        if entry:
            listed[group.name] = entry
    return listed
