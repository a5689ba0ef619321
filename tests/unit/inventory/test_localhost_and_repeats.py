"""Two Ansible behaviours: the implicit localhost, and a source given twice applying its vars again.

Expected values were read from ansible-core 2.19 (`ansible PATTERN --list-hosts`,
`ansible-inventory --host`); where the CLIs are installed, one run of each checks
them again.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from remediations.core.errors import NoHostsMatched
from remediations.inventory import Group, Host, Inventory, load_inventory


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture
def inv_dir(tmp_path: Path) -> Path:
    return write(tmp_path / "lh", {
        "hosts.ini": "[web]\nw1\nw2\n[db]\nd1\n[all:vars]\ninv_all=1\n",
        "group_vars/all.yml": "ansible_connection: ssh\nansible_user: deploy\nallv: 1\n",
        "host_vars/localhost.yml": "hv: lh\n",
        "host_vars/127.0.0.1.yml": "hv: ip\n",
    })


@pytest.mark.parametrize("pattern,expected", [
    ("localhost", ["localhost"]),
    ("127.0.0.1", ["127.0.0.1"]),
    ("::1", ["::1"]),
    ("localhost:web", ["localhost", "w1", "w2"]),
    ("web:localhost", ["w1", "w2", "localhost"]),
    ("localhost,127.0.0.1", ["localhost"]),  # the first implicit one stands for all three
    ("localhost[0]", ["localhost"]),
    ("all:!localhost", ["w1", "w2", "d1"]),
])
def test_implicit_localhost_is_selected_as_ansible_selects_it(inv_dir: Path, pattern: str,
                                                              expected: list[str]) -> None:
    assert [h.name for h in load_inventory(inv_dir).select(pattern)] == expected


@pytest.mark.parametrize("pattern", ["web:&localhost", "localhost:!localhost", "local*",
                                     "~localhost"])
def test_implicit_localhost_is_only_for_plain_names(inv_dir: Path, pattern: str) -> None:
    with pytest.raises(NoHostsMatched):
        load_inventory(inv_dir).select(pattern)


def test_implicit_localhost_is_local_with_alls_vars_and_in_no_group(inv_dir: Path) -> None:
    inv = load_inventory(inv_dir)
    (host,) = inv.select("localhost")
    assert host.connection == "local"  # its own variable beats group_vars/all's ssh
    assert host.vars == {"inv_all": 1, "ansible_connection": "local", "ansible_user": "deploy",
                         "allv": 1, "hv": "lh"}
    assert host.groups == ()
    assert "localhost" not in inv and len(inv) == 3
    assert [h.name for h in inv.select("all")] == ["w1", "w2", "d1"]
    assert inv.select("127.0.0.1")[0].vars["hv"] == "ip"
    assert inv.with_connection("docker").select("localhost")[0].connection == "docker"


def test_a_localhost_the_inventory_names_stands_for_all_three(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, {"hosts.ini": "[web]\nw1\n127.0.0.1 x=1\n"}))
    assert [h.name for h in inv.select("localhost")] == ["127.0.0.1"]
    assert [h.name for h in inv.select("::1")] == ["127.0.0.1"]
    assert inv.select("localhost")[0].vars == {"x": 1}


def test_an_inventory_made_by_hand_has_an_implicit_localhost() -> None:
    inv = Inventory([Host("w1", {}, ("all",))], [Group("all", {"v": 1}, hosts=("w1",))])
    (host,) = inv.select("localhost")
    assert host.vars == {"v": 1, "ansible_connection": "local"}


# -- a source given twice --------------------------------------------------------------
REPEATS = {
    ("a", "b"): {"x": "b", "y": "b-all", "z": "a-host"},
    ("a", "b", "a"): {"x": "a-web", "y": "b-all", "z": "a-host"},
    ("b", "a", "b"): {"x": "b", "y": "b-all", "z": "a-host"},
    ("a", "a", "b"): {"x": "b", "y": "b-all", "z": "a-host"},
}


@pytest.fixture
def two_sources(tmp_path: Path) -> Path:
    return write(tmp_path / "rep", {
        "a/hosts.ini": "[web]\nw1\n", "b/hosts.ini": "[web]\nw1\n",
        "a/group_vars/all.yml": "x: a\ny: a-all\n", "a/group_vars/web.yml": "x: a-web\n",
        "b/group_vars/web.yml": "x: b\ny: b-all\n", "a/host_vars/w1.yml": "z: a-host\n",
    })


@pytest.mark.parametrize("order", list(REPEATS))
def test_a_source_given_again_applies_its_vars_again_last(two_sources: Path,
                                                          order: tuple[str, ...]) -> None:
    inv = load_inventory([two_sources / name for name in order])
    assert dict(inv["w1"].vars) == REPEATS[order]


@pytest.mark.skipif(shutil.which("ansible") is None or shutil.which("ansible-inventory") is None,
                    reason="the ansible CLIs are not on PATH")
def test_ansible_agrees(inv_dir: Path, two_sources: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_CONFIG=str(tmp_path / "none.cfg"), ANSIBLE_HOME=str(tmp_path / "home"),
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_LOCALHOST_WARNING="False",
               ANSIBLE_NOCOLOR="1")
    repeat = ["ansible-inventory", "--host", "w1"]
    for name in ("a", "b", "a"):
        repeat += ["-i", str(two_sources / name)]
    jobs = {"repeat": repeat,
            "pattern": ["ansible", "-i", str(inv_dir), "web:localhost", "--list-hosts"]}

    def run(args: list[str]) -> str:
        done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    with ThreadPoolExecutor(max_workers=2) as pool:
        out = dict(zip(jobs, pool.map(run, jobs.values()), strict=True))
    assert json.loads(out["repeat"]) == REPEATS[("a", "b", "a")]
    assert out["pattern"].split()[2:] == ["w1", "w2", "localhost"]
