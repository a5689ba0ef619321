"""The lab's hosts and their ports, per slot.

A slot is an independent copy of the lab (own containers, ports shifted by 10 per slot,
own generated inventory), so several test runs or benchmarks can share one engine.
Host i of a slot listens on ssh 2200+i and http 8000+i (+10 per slot): web1, web2, db1,
apache1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

SLOT = int(os.environ.get("REMEDIATIONS_LAB_SLOT", "0") or 0)
WEB = "web"
DB = "db"
APACHE = "apache"


@dataclass(frozen=True)
class LabHost:
    """One host of the lab and how to reach it from this machine."""

    name: str
    container: str
    ssh_port: int
    http_port: int
    # web: nginx, php-fpm, redis, workers; db: all that plus PostgreSQL/PgBouncer/MariaDB;
    # apache: Apache + mod_php (no php-fpm), redis, cron, Horizon, the app a git work tree.
    role: str = WEB

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/up"


def _host(slot: int, name: str, index: int, role: str) -> LabHost:
    prefix = "rem" if slot == 0 else f"rem{slot}"
    return LabHost(name, f"{prefix}-{name}", 2200 + index + 10 * slot,
                   8000 + index + 10 * slot, role)


def slot_hosts(slot: int) -> tuple[LabHost, ...]:
    """The web hosts of `slot` (what tests iterate as "the lab's web hosts")."""
    return tuple(_host(slot, f"web{i}", i, WEB) for i in (1, 2))


def slot_db_hosts(slot: int) -> tuple[LabHost, ...]:
    """The database hosts of `slot`: db1 takes the port index after the web hosts."""
    return (_host(slot, "db1", 3, DB),)


def slot_apache_hosts(slot: int) -> tuple[LabHost, ...]:
    """The Forge-style Apache hosts of `slot`: apache1 takes the port index after db1."""
    return (_host(slot, "apache1", 4, APACHE),)


def slot_all_hosts(slot: int) -> tuple[LabHost, ...]:
    return slot_hosts(slot) + slot_db_hosts(slot) + slot_apache_hosts(slot)


HOSTS: tuple[LabHost, ...] = slot_hosts(SLOT)
DB_HOSTS: tuple[LabHost, ...] = slot_db_hosts(SLOT)
APACHE_HOSTS: tuple[LabHost, ...] = slot_apache_hosts(SLOT)
ALL_HOSTS: tuple[LabHost, ...] = HOSTS + DB_HOSTS + APACHE_HOSTS


def slot_inventory(text: str, slot: int, ssh_dir: str) -> str:
    """inventories/lab.yml rewritten for `slot`: its containers, ports and an absolute key."""
    for base, mine in zip(slot_all_hosts(0), slot_all_hosts(slot), strict=True):
        text = (text.replace(base.container, mine.container)
                .replace(f": {base.ssh_port},", f": {mine.ssh_port},")
                .replace(f":{base.http_port}/", f":{mine.http_port}/"))
    return text.replace("../.lab/ssh/", f"{ssh_dir}/")
