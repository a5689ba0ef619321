"""The lab's hosts per slot, and the inventory a slot writes for them."""

from __future__ import annotations

from pathlib import Path

import yaml

from lab.hosts import (
    APACHE,
    DB,
    WEB,
    slot_all_hosts,
    slot_apache_hosts,
    slot_db_hosts,
    slot_hosts,
    slot_inventory,
)

LAB_YML = Path(__file__).resolve().parents[3] / "inventories" / "lab.yml"


def test_slot_0_is_web1_web2_db1_apache1_on_the_documented_ports() -> None:
    rows = [(h.name, h.container, h.ssh_port, h.http_port, h.role) for h in slot_all_hosts(0)]
    assert rows == [
        ("web1", "rem-web1", 2201, 8001, WEB),
        ("web2", "rem-web2", 2202, 8002, WEB),
        ("db1", "rem-db1", 2203, 8003, DB),
        ("apache1", "rem-apache1", 2204, 8004, APACHE),
    ]
    assert [h.name for h in slot_hosts(0)] == ["web1", "web2"]
    assert slot_db_hosts(0)[0].health_url == "http://127.0.0.1:8003/up"


def test_a_slot_shifts_every_port_by_ten_and_renames_containers() -> None:
    (db1,) = slot_db_hosts(3)
    assert (db1.container, db1.ssh_port, db1.http_port) == ("rem3-db1", 2233, 8033)
    (apache1,) = slot_apache_hosts(5)
    assert (apache1.container, apache1.ssh_port, apache1.http_port) == (
        "rem5-apache1", 2254, 8054)


def _hosts(text: str) -> dict[str, dict[str, object]]:
    groups = yaml.safe_load(text)["all"]["children"]
    return {**groups["web"]["hosts"], **groups["db"]["hosts"], **groups["apache"]["hosts"]}


def test_the_lab_inventory_matches_the_hosts() -> None:
    hosts = _hosts(LAB_YML.read_text())
    for host in slot_all_hosts(0):
        assert hosts[host.name]["ansible_port"] == host.ssh_port
        assert hosts[host.name]["ansible_docker_host"] == host.container
        assert hosts[host.name]["health_url"] == host.health_url
    assert hosts["db1"]["pgbouncer_port"] == 6432
    lab = yaml.safe_load(LAB_YML.read_text())["all"]["children"]["lab"]
    assert lab == {"children": {"web": {}, "db": {}, "apache": {}}}
    # apache1 deploys by git checkout in its own app path.
    assert hosts["apache1"]["app_path"] == "/var/www/app"
    assert hosts["apache1"]["release_kind"] == "git"


def test_a_slot_inventory_maps_every_host_db1_and_apache1_included() -> None:
    text = slot_inventory(LAB_YML.read_text(), 2, "/abs/.lab/ssh")
    hosts = _hosts(text)
    for host in slot_all_hosts(2):
        assert hosts[host.name]["ansible_port"] == host.ssh_port
        assert hosts[host.name]["ansible_docker_host"] == host.container
        assert hosts[host.name]["health_url"] == host.health_url
    # In-container ports are the same in every slot.
    assert hosts["db1"]["pgbouncer_port"] == 6432
    assert yaml.safe_load(text)["all"]["vars"]["ansible_ssh_private_key_file"] == (
        "/abs/.lab/ssh/id_ed25519")
