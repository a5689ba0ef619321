"""Ansible-compatible inventories: YAML and INI files, group_vars/host_vars, `--limit` patterns;
vault data, and (`ansible:` sources) anything `ansible-inventory` reads.

    from remediations.inventory import load_inventory

    inv = load_inventory("inventories/production.yml")
    for host in inv.select("web:&production:!web3"):
        print(host.name, host.address, host.connection)
"""

from remediations.inventory.ansible_config import InventorySettings, inventory_settings
from remediations.inventory.loader import load_inventory
from remediations.inventory.model import Group, Host, Inventory, select
from remediations.inventory.patterns import split_pattern

__all__ = ["Group", "Host", "Inventory", "InventorySettings", "inventory_settings",
           "load_inventory", "select", "split_pattern"]
