"""An Ansible user's inventory folder, read as Ansible reads it, compared with Ansible itself.

The folder (built once for the module): an `ansible.cfg` naming the inventory and the
vault password file, with `[remediations] inventory_kind = ansible`; an INI file, an
executable inventory script, a `constructed` configuration (ansible-core's plugin), a
YAML file with `!unsafe` and `!vault` values, `group_vars/` with a vaulted value and a
wholly encrypted file, `host_vars/`. Ansible's answers (`ansible-inventory --list`,
`ansible PATTERN --list-hosts`) are collected in parallel, once.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from remediations.core.errors import InventoryError
from remediations.inventory import Inventory, ansible_source, inventory_settings, load_inventory
from remediations.inventory.markers import UnsafeText, VaultText
from tests.unit.helpers import ansible_list_hosts, groups_as_ansible_lists_them

pytestmark = pytest.mark.skipif(
    shutil.which("ansible") is None or shutil.which("ansible-inventory") is None,
    reason="the ansible / ansible-inventory CLIs are not on PATH (pip install ansible-core)",
)

ROOT = Path(__file__).resolve().parents[3]
PASSWORD = "correct horse battery"
SECRETS = {"db_password": "s3cret-db-pw", "api_token": "tok-7f3a9c", "nested_key": "deep-secret",
           "inline_token": "inline-tok-42"}
# Each is one `ansible` run (about a second of CPU): the acceptance pattern, the order of
# `all`, groups made by `constructed`, exclusion, a regex, the implicit localhost.
PATTERNS = ["web:&prod", "all", "role_*:!role_none", "tens:!web", "~web[34]",
            "web:localhost"]
# Host names matched by a regex or glob come in the order hosts were first named, which
# ansible-inventory does not report (an `ansible:` source takes the order of Ansible's walk
# from `all`): the same hosts, maybe in another order.
UNORDERED = {"~web[34]"}


def encrypt(text: str) -> str:
    from ansible.parsing.vault import VaultLib, VaultSecret

    lib = VaultLib([("default", VaultSecret(PASSWORD.encode()))])
    return str(lib.encrypt(text).decode())


def vault_scalar(text: str, indent: int) -> str:
    """`!vault |` and the ciphertext, indented for a YAML value."""
    return "!vault |\n" + textwrap.indent(encrypt(text), " " * indent)


def free_port() -> int:
    """A loopback port nothing listens on: a connection to it is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build_project(root: Path) -> Path:
    inv = root / "inventory"
    (inv / "group_vars" / "web").mkdir(parents=True)
    (inv / "host_vars").mkdir()
    (root / "ansible.cfg").write_text(textwrap.dedent("""\
        [defaults]
        inventory = ./inventory
        vault_password_file = ./vault-pass

        [remediations]
        inventory_kind = ansible
        """))
    (root / "vault-pass").write_text(PASSWORD + "\n")
    (inv / "01-static.ini").write_text(textwrap.dedent("""\
        [web]
        web1
        web2 http_port=81
        [db]
        db1
        [prod:children]
        web
        [web:vars]
        http_port=80
        """))
    script = inv / "02-cloud.py"
    script.write_text(f"#!{sys.executable}\n" + textwrap.dedent("""\
        import json, sys
        if sys.argv[1:2] == ["--host"]:
            print("{}")
            raise SystemExit
        print(json.dumps({
            "web": {"hosts": ["web3"], "vars": {"http_port": 8080}},
            "prod": {"hosts": ["db1"]},
            "staging": {"hosts": ["web4"], "vars": {"motd": "hello"}},
            "_meta": {"hostvars": {"web3": {"role": "web", "rack": "r1"},
                                   "web4": {"role": "web"}}},
        }))
        """))
    script.chmod(0o755)
    (inv / "03-constructed.yml").write_text(textwrap.dedent("""\
        plugin: ansible.builtin.constructed
        strict: true
        compose:
          fqdn: inventory_hostname ~ '.example.com'
        groups:
          tens: role is defined
        keyed_groups:
          - key: role | default('none')
            prefix: role
        """))
    (inv / "04-extra.yml").write_text(
        "edge:\n  hosts:\n    web4:\n      banner: !unsafe '{{ not templated }}'\n"
        "      inline_token: " + vault_scalar(SECRETS["inline_token"], 8) + "\n")
    (inv / "group_vars" / "all.yml").write_text(
        f"ansible_host: 127.0.0.1\nansible_port: {free_port()}\n"
        "ansible_host_key_checking: false\n")
    (inv / "group_vars" / "web" / "plain.yml").write_text(
        "app_name: shop\ndb_password: " + vault_scalar(SECRETS["db_password"], 2) + "\n")
    (inv / "group_vars" / "web" / "vault.yml").write_text(encrypt(
        f"api_token: {SECRETS['api_token']}\nnested:\n  key: {SECRETS['nested_key']}\n"
        "port_num: 43210\n"))
    (inv / "host_vars" / "web3.yml").write_text("rack: r9\n")
    return root


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ANSIBLE_", "REMEDIATIONS_"))}
    env.update(HOME=str(home), ANSIBLE_HOME=str(home / ".ansible"),
               ANSIBLE_LOCAL_TEMP=str(home / "tmp"), ANSIBLE_NOCOLOR="1",
               REMEDIATIONS_STATE_DIR=str(home / "state"))
    return env


def run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=180,
                          check=False)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stderr}"
    return done.stdout


def unwrap(value: Any) -> Any:
    """Ansible's JSON with its vault and unsafe wrappers undone by Ansible's own library."""
    from ansible.parsing.vault import VaultLib, VaultSecret

    if isinstance(value, dict):
        if set(value) == {"__ansible_vault"}:
            lib = VaultLib([("default", VaultSecret(PASSWORD.encode()))])
            return lib.decrypt(value["__ansible_vault"]).decode()
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("project")
    root.chmod(0o755)  # not world-writable: Ansible reads ./ansible.cfg only then
    build_project(root)
    return root, clean_env(tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="module")
def ansible_view(project: tuple[Path, dict[str, str]]) -> dict[str, Any]:
    root, env = project
    jobs = {"list": ["ansible-inventory", "--list"]}
    jobs.update({p: ["ansible", p, "--list-hosts"] for p in PATTERNS})
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = {key: pool.submit(run, args, root, env) for key, args in jobs.items()}
        out = {key: future.result() for key, future in futures.items()}
    return {"list": unwrap(json.loads(out.pop("list"))),
            "patterns": {p: ansible_list_hosts(text) for p, text in out.items()}}


@pytest.fixture(scope="module")
def ours(project: tuple[Path, dict[str, str]]) -> Iterator[Inventory]:
    root, env = project
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        for key in [k for k in os.environ if k.startswith(("ANSIBLE_", "REMEDIATIONS_"))]:
            mp.delenv(key)
        mp.setenv("HOME", env["HOME"])
        settings = inventory_settings()
        assert settings.sources == (f"ansible:{root / 'inventory'}",)
        assert settings.vault_password_file == str(root / "vault-pass")
        assert settings.origin == str(root / "ansible.cfg")
        yield load_inventory(settings.sources, vault_password_file=settings.vault_password_file)


def test_hosts_and_variables_are_ansibles(ours: Inventory, ansible_view: dict[str, Any]) -> None:
    hostvars = ansible_view["list"]["_meta"]["hostvars"]
    assert sorted(h.name for h in ours) == sorted(hostvars)
    for host in ours:
        assert dict(host.vars) == hostvars[host.name], host.name
    assert ours["web3"].vars["rack"] == "r9"  # host_vars/ over the script's own


def test_groups_are_ansibles(ours: Inventory, ansible_view: dict[str, Any]) -> None:
    listed = {k: v for k, v in ansible_view["list"].items() if k != "_meta"}
    assert groups_as_ansible_lists_them(ours) == listed
    assert {"role_web", "role_none", "tens", "staging", "edge"} <= set(ours.groups)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_patterns_select_what_ansible_selects(ours: Inventory, ansible_view: dict[str, Any],
                                              pattern: str) -> None:
    expected = ansible_view["patterns"][pattern]
    assert expected, f"fixture problem: Ansible selects nothing for {pattern!r}"
    selected = [h.name for h in ours.select(pattern)]
    assert (sorted(selected) if pattern in UNORDERED else selected) == (
        sorted(expected) if pattern in UNORDERED else expected)


def test_the_inventory_lists_hosts_in_ansibles_order(ours: Inventory,
                                                     ansible_view: dict[str, Any]) -> None:
    assert [h.name for h in ours] == ansible_view["patterns"]["all"]


def test_vaulted_values_are_secrets_and_unsafe_text_is_kept(ours: Inventory) -> None:
    web3, web4 = ours["web3"], ours["web4"]
    assert isinstance(web3.vars["db_password"], VaultText)
    assert isinstance(web3.vars["api_token"], VaultText)  # from the encrypted file
    assert isinstance(web4.vars["inline_token"], VaultText)  # `!vault` inside an ansible: source
    assert "s3cret" not in repr(dict(web3.vars))
    assert {SECRETS["db_password"], SECRETS["api_token"], SECRETS["nested_key"],
            "43210"} <= web3.secret_values()
    assert SECRETS["inline_token"] in ours.secret_values()
    assert isinstance(web4.vars["banner"], UnsafeText)
    assert web4.var("banner") == "{{ not templated }}"


def test_invoke_restart_limit_selects_the_hosts_ansible_lists(
        project: tuple[Path, dict[str, str]], ansible_view: dict[str, Any]) -> None:
    """`invoke restart -l 'web:&prod'` in the project folder: the hosts Ansible lists.

    No -i: ./ansible.cfg names the inventory and the vault password file. Every host
    points at a refused port, so each is reported unreachable, by name.
    """
    root, env = project
    args = [sys.executable, "-m", "invoke", "-r", str(ROOT), "restart", "--service", "nginx",
            "-l", "web:&prod", "--check", "--json", "--timeout", "10"]
    done = subprocess.run(args, cwd=root, env=env, capture_output=True, text=True, timeout=180,
                          check=False)
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert events, done.stderr
    report = events[-1].get("report")
    assert report is not None, events[-1]
    assert [r["host"] for r in report["results"]] == ansible_view["patterns"]["web:&prod"]
    assert {r["status"] for r in report["results"]} == {"unreachable"}
    assert not any(secret in done.stdout + done.stderr for secret in SECRETS.values())


# -- strict mode, the cache, a missing ansible-core --------------------------------
def test_a_broken_source_is_an_error_not_an_empty_inventory(tmp_path: Path) -> None:
    script = tmp_path / "cloud.sh"
    script.write_text("#!/bin/sh\necho 'API token expired' >&2\nexit 3\n")
    script.chmod(0o755)
    with pytest.raises(InventoryError) as info:
        load_inventory(f"ansible:{script}")
    message = str(info.value)
    assert message.startswith(f"{script}: ansible-inventory failed (exit 1)")
    assert "non-zero exit code 3" in message


def test_consecutive_ansible_sources_are_read_together(project: tuple[Path, dict[str, str]],
                                                       ) -> None:
    """`-i ansible:static.ini,ansible:constructed.yml`: constructed groups the static hosts."""
    root, _ = project
    inv = load_inventory([f"ansible:{root / 'inventory' / '01-static.ini'}",
                          f"ansible:{root / 'inventory' / '03-constructed.yml'}"],
                         vault_password_file=root / "vault-pass")
    assert inv.groups["role_none"].hosts == ("web1", "web2", "db1")
    assert inv["db1"].vars["fqdn"] == "db1.example.com"
    assert inv.sources == (f"ansible:{root / 'inventory' / '01-static.ini'}",
                           f"ansible:{root / 'inventory' / '03-constructed.yml'}")


def test_the_native_loader_refuses_what_only_ansible_reads(
        project: tuple[Path, dict[str, str]]) -> None:
    root, _ = project
    with pytest.raises(InventoryError, match="ansible:PATH") as info:
        load_inventory(root / "inventory")
    assert info.value.path == str(root / "inventory" / "02-cloud.py")
    with pytest.raises(InventoryError, match="ansible:PATH"):
        load_inventory(root / "inventory" / "03-constructed.yml")


def test_output_is_cached_until_the_source_changes_or_the_ttl_ends(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runs: list[str] = []
    output = {"web": {"hosts": ["web1"]}, "_meta": {"hostvars": {"web1": {"x": 1}}}}

    def fake_run(command: str, sources: list[str], vault: Any) -> str:
        runs.append(sources[0])
        return json.dumps(output)

    monkeypatch.setattr(ansible_source, "_run", fake_run)
    source = tmp_path / "aws_ec2.yml"
    source.write_text("plugin: amazon.aws.aws_ec2\n")
    cache = tmp_path / "cache"
    for _ in range(2):
        inv = load_inventory(f"ansible:{source}", cache_dir=cache, cache_ttl=300)
        assert inv["web1"].vars == {"x": 1}
    assert len(runs) == 1
    (entry,) = cache.iterdir()
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    os.utime(source, ns=(1, 1))  # the configuration changed: run again
    load_inventory(f"ansible:{source}", cache_dir=cache, cache_ttl=300)
    assert len(runs) == 2
    load_inventory(f"ansible:{source}", cache_dir=cache, cache_ttl=0)  # 0: no cache
    load_inventory(f"ansible:{source}")  # no cache folder: no cache
    assert len(runs) == 4


def test_without_ansible_core_an_ansible_source_says_what_to_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "hosts.yml"
    source.write_text("web: {hosts: {web1: }}\n")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python3"))
    with pytest.raises(InventoryError, match=r"pip install 'remediations\[ansible\]'"):
        load_inventory(f"ansible:{source}")
    assert [h.name for h in load_inventory(source)] == ["web1"]  # the native loader needs none
