"""Jinja in inventory values: `{{ variable }}` references templated as Ansible does, other Jinja refused."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from remediations.core.errors import InventoryError
from remediations.inventory import Host, load_inventory
from remediations.inventory.markers import UnsafeText, VaultText

INVENTORY = """\
all:
  vars:
    base_user: deploy
  hosts:
    web1.example.com:
      ansible_host: "{{ inventory_hostname_short }}.internal"
      ansible_port: "{{ ssh_port }}"
      ssh_port: 2222
      ansible_user: "{{ deploy_user }}"
      deploy_user: "{{ base_user }}"
      ansible_become_password: "{{ vault_become_pass }}"
      vault_become_pass: pw-from-vault
      mixed: "a {{ ssh_port }} b {{ inventory_hostname }}"
      listed: "{{ items }}"
      items: [1, 2]
      fancy: "{{ items | length }}"
"""
EXPRESSIONS = ["ansible_host", "ansible_port", "ansible_user", "ansible_become_password",
               "mixed", "listed"]


@pytest.fixture
def web1(tmp_path: Path) -> Host:
    (tmp_path / "inv.yml").write_text(INVENTORY)
    return load_inventory(tmp_path / "inv.yml")["web1.example.com"]


def test_references_are_templated_with_their_types(web1: Host) -> None:
    assert web1.address == "web1.internal"
    assert web1.port == 2222 and web1.var("ansible_port") == 2222  # one reference: its type
    assert web1.user == "deploy"  # through two references
    assert web1.become_password == "pw-from-vault"
    assert web1.var("mixed") == "a 2222 b web1.example.com"
    assert web1.var("listed") == [1, 2]
    assert web1.vars["ansible_host"] == "{{ inventory_hostname_short }}.internal"  # as written
    assert "pw-from-vault" in web1.secret_values()


@pytest.mark.skipif(shutil.which("ansible") is None, reason="the ansible CLI is not on PATH")
def test_ansible_templates_them_the_same(tmp_path: Path, web1: Host) -> None:
    (tmp_path / "inv.yml").write_text(INVENTORY)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_CONFIG=str(tmp_path / "none.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_HOME=str(tmp_path / "home"), ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"))
    msg = "{{ [" + ", ".join(EXPRESSIONS) + "] }}"
    done = subprocess.run(["ansible", "-i", str(tmp_path / "inv.yml"), "all", "-m", "debug",
                           "-a", f"msg={msg}"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    found = re.search(r"^\S+ \| SUCCESS => (\{.*?^\})", done.stdout, re.M | re.S)
    assert found, done.stdout
    theirs: list[Any] = json.loads(found.group(1))["msg"]
    assert [web1.var(name) for name in EXPRESSIONS] == theirs


@pytest.mark.parametrize("value,message", [
    ("{{ items | length }}", "uses Jinja that only Ansible can evaluate"),
    ("{{ lookup('env', 'HOST') }}", "uses Jinja that only Ansible can evaluate"),
    ("{% if true %}10.0.0.1{% endif %}", "uses Jinja that only Ansible can evaluate"),
    ("{{ hostvars['db1'].ansible_host }}", "uses Jinja that only Ansible can evaluate"),
    ("{{ private_ip }}", "refers to 'private_ip', which is not defined"),
    ("{{ ansible_host }}", "refers to itself through ansible_host -> ansible_host"),
])
def test_other_jinja_is_refused_naming_host_and_variable(value: str, message: str) -> None:
    host = Host("web1", {"ansible_host": value, "items": [1]}, source="/inv/hosts.yml")
    with pytest.raises(InventoryError, match=re.escape(message)) as info:
        host.address  # noqa: B018
    assert str(info.value).startswith("/inv/hosts.yml: host 'web1': ansible_host=")
    assert info.value.path == "/inv/hosts.yml"


def test_a_loop_through_other_variables_is_named() -> None:
    host = Host("web1", {"ansible_user": "{{ a }}", "a": "{{ b }}", "b": "x{{ a }}"})
    with pytest.raises(InventoryError, match=r"refers to itself through a -> b -> a"):
        host.user  # noqa: B018


def test_unsafe_text_and_unused_jinja_stay_as_written(tmp_path: Path) -> None:
    (tmp_path / "inv.yml").write_text(
        "web:\n  hosts:\n    web1:\n      motd: !unsafe '{{ not templated }}'\n"
        "      nginx_sites: \"{{ lookup('file', 'sites.json') }}\"\n")
    web1 = load_inventory(tmp_path / "inv.yml")["web1"]
    assert isinstance(web1.vars["motd"], UnsafeText)
    assert web1.var("motd") == "{{ not templated }}"
    assert web1.address == "web1"  # Jinja elsewhere does not stop the host being used
    with pytest.raises(InventoryError, match="nginx_sites"):
        web1.var("nginx_sites")


def test_a_reference_to_a_vaulted_value_is_a_secret() -> None:
    host = Host("web1", {"ansible_password": "{{ pw }}!", "pw": VaultText("hunter22")})
    assert host.password == "hunter22!"
    assert {"hunter22", "hunter22!"} <= host.secret_values()
    assert isinstance(host.var("ansible_password"), VaultText)
