"""Host's typed connection properties, boolean parsing, secrets, and Inventory basics."""

from __future__ import annotations

import os
from typing import Any

import pytest

from remediations.core.errors import InventoryError
from remediations.inventory import Group, Host, Inventory
from remediations.inventory.conventions import is_secret_name, parse_bool


def host(**variables: Any) -> Host:
    return Host("web1", variables, ("all", "web"), "/srv/inv/production.yml")


@pytest.mark.parametrize("variables,prop,expected", [
    ({}, "address", "web1"),
    ({"ansible_host": "10.0.0.5"}, "address", "10.0.0.5"),
    ({"ansible_ssh_host": "10.0.0.6"}, "address", "10.0.0.6"),
    ({}, "port", None),
    ({"ansible_port": 2222}, "port", 2222),
    ({"ansible_port": "2222"}, "port", 2222),
    ({"ansible_ssh_port": 2200}, "port", 2200),
    ({"ansible_port": 22, "ansible_ssh_port": 2200}, "port", 2200),  # Ansible: the ssh alias wins
    ({}, "user", None),
    ({"ansible_user": "deploy"}, "user", "deploy"),
    ({"ansible_ssh_user": "ops"}, "user", "ops"),
    ({}, "connection", "ssh"),
    ({"ansible_connection": "ssh"}, "connection", "ssh"),
    ({"ansible_connection": "smart"}, "connection", "ssh"),
    ({"ansible_connection": "paramiko"}, "connection", "ssh"),
    ({"ansible_connection": "docker"}, "connection", "docker"),
    ({"ansible_connection": "community.docker.docker"}, "connection", "docker"),
    ({"ansible_connection": "local"}, "connection", "local"),
    ({"ansible_connection": "kubernetes"}, "connection", "kubernetes"),
    ({}, "password", None),
    ({"ansible_password": "pw1"}, "password", "pw1"),
    ({"ansible_ssh_pass": "pw2"}, "password", "pw2"),
    ({}, "become", False),
    ({"ansible_become": True}, "become", True),
    ({}, "become_user", "root"),
    ({"ansible_become_user": "www-data"}, "become_user", "www-data"),
    ({}, "become_password", None),
    ({"ansible_become_password": "bp"}, "become_password", "bp"),
    ({"ansible_become_pass": "bp2"}, "become_password", "bp2"),
    ({}, "host_key_checking", True),
    ({"ansible_host_key_checking": "no"}, "host_key_checking", False),
    ({"ansible_ssh_host_key_checking": False}, "host_key_checking", False),
    ({}, "docker_container", "web1"),
    ({"ansible_host": "app-web"}, "docker_container", "app-web"),
    ({"ansible_host": "app-web", "ansible_docker_host": "laravel_web_1"},
     "docker_container", "laravel_web_1"),
    ({}, "connect_timeout", 10.0),
    ({"ansible_timeout": 30}, "connect_timeout", 30.0),
    ({"ansible_ssh_timeout": "5"}, "connect_timeout", 5.0),
    ({}, "private_key_file", None),
    ({"ansible_ssh_private_key_file": "/keys/id"}, "private_key_file", "/keys/id"),
    ({"ansible_private_key_file": "keys/id"}, "private_key_file", "/srv/inv/keys/id"),
])
def test_connection_properties(variables: dict[str, Any], prop: str, expected: Any) -> None:
    assert getattr(host(**variables), prop) == expected


def test_private_key_file_expands_home() -> None:
    h = host(ansible_ssh_private_key_file="~/.ssh/deploy")
    assert h.private_key_file == os.path.expanduser("~/.ssh/deploy")


@pytest.mark.parametrize("variables,prop", [
    ({"ansible_connection": "winrm"}, "connection"),
    ({"ansible_port": "ssh"}, "port"),
    ({"ansible_port": 70000}, "port"),
    ({"ansible_port": True}, "port"),
    ({"ansible_become": "sometimes"}, "become"),
    ({"ansible_host_key_checking": "maybe"}, "host_key_checking"),
    ({"ansible_timeout": "soon"}, "connect_timeout"),
    ({"ansible_timeout": 0}, "connect_timeout"),
    ({"ansible_timeout": "inf"}, "connect_timeout"),
    ({"ansible_timeout": "nan"}, "connect_timeout"),
    ({"ansible_timeout": 1e9}, "connect_timeout"),
])
def test_invalid_connection_values_name_host_and_file(variables: dict[str, Any], prop: str) -> None:
    with pytest.raises(InventoryError) as info:
        getattr(host(**variables), prop)
    assert info.value.path == "/srv/inv/production.yml"
    assert "web1" in str(info.value) and next(iter(variables)) in str(info.value)


@pytest.mark.parametrize("value,expected", [
    (True, True), (False, False), ("yes", True), ("no", False), ("Yes", True), ("NO", False),
    ("true", True), ("False", False), ("on", True), ("off", False), ("y", True), ("n", False),
    ("t", True), ("f", False), ("1", True), ("0", False), (1, True), (0, False), (1.0, True),
    (" true ", True), ("2", None), (2, None), ("", None), (None, None), ([], None),
])
def test_parse_bool_like_ansible(value: Any, expected: bool | None) -> None:
    assert parse_bool(value) is expected


@pytest.mark.parametrize("value,expected", [("yes", True), ("0", False), ("TRUE", True)])
def test_become_parses_strings(value: str, expected: bool) -> None:
    assert host(ansible_become=value).become is expected


@pytest.mark.parametrize("name,secret", [
    ("ansible_password", True), ("ansible_ssh_pass", True), ("ansible_become_pass", True),
    ("ansible_become_password", True), ("db_passwd", True), ("redis_secret", True),
    ("github_token", True), ("api_key", True), ("APP_KEY", True), ("appKey", True),
    ("stripe_private", True), ("DB_PASSWORD", True), ("ssh_key", True),
    ("ansible_ssh_private_key_file", False), ("ansible_private_key_file", False),
    ("ansible_host_key_checking", False), ("vault_password_file", False),
    ("key_path", False), ("ansible_user", False), ("passenger_root", False),
    ("monkey", False), ("http_port", False), ("token_url", False),
])
def test_secret_names(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


def test_secret_values_collects_nested_values_and_skips_non_secrets() -> None:
    h = host(
        ansible_become_pass="b3come!",
        ansible_ssh_private_key_file="/keys/id_rsa",
        ansible_host_key_checking=False,
        laravel_env={"APP_KEY": "base64:abcd", "APP_NAME": "shop", "DB_PASSWORD": 123456},
        api_tokens=["t1-long", "t2-long"],
        use_private_network=True,
        redis_secret="",
    )
    assert h.secret_values() == frozenset(
        {"b3come!", "base64:abcd", "123456", "t1-long", "t2-long"})


def test_host_vars_are_read_only() -> None:
    h = host(ansible_user="deploy")
    with pytest.raises(TypeError):
        h.vars["ansible_user"] = "root"  # type: ignore[index]


def test_host_is_hashable_and_compares_by_value() -> None:
    assert host(a=1) == host(a=1)
    assert host(a=1) != host(a=2)
    assert len({host(a=1), host(a=2)}) == 2


def _inventory() -> Inventory:
    hosts = [
        Host("web1", {"ansible_connection": "ssh"}, ("all", "web"), "/inv/a.yml"),
        Host("web2", {}, ("all", "web"), "/inv/a.yml"),
        Host("db1", {"db_password": "dbpw-123"}, ("all", "db"), "/inv/a.yml"),
    ]
    groups = [
        Group("all", children=("ungrouped", "web", "db")),
        Group("ungrouped", parents=("all",), depth=1),
        Group("web", hosts=("web1", "web2"), parents=("all",), depth=1),
        Group("db", hosts=("db1",), parents=("all",), depth=1),
    ]
    return Inventory(hosts, groups, ["/inv/a.yml"])


def test_inventory_container_protocol() -> None:
    inv = _inventory()
    assert len(inv) == 3
    assert [h.name for h in inv] == ["web1", "web2", "db1"]
    assert "web1" in inv and "nope" not in inv
    assert inv.get("db1") is inv["db1"]
    assert inv.get("nope") is None
    with pytest.raises(KeyError):
        inv["nope"]
    assert list(inv.groups) == ["all", "ungrouped", "web", "db"]
    assert [h.name for h in inv.group_hosts("all")] == ["web1", "web2", "db1"]
    assert inv.secret_values() == frozenset({"dbpw-123"})


def test_with_connection_overrides_every_host() -> None:
    inv = _inventory().with_connection("docker")
    assert {h.connection for h in inv} == {"docker"}
    assert inv["db1"].vars["db_password"] == "dbpw-123"
    assert [h.name for h in inv.select("web")] == ["web1", "web2"]
    with pytest.raises(InventoryError, match="winrm"):
        inv.with_connection("winrm")
