"""A 5,000-host inventory loads and selects quickly (time printed, not asserted)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml

from remediations.inventory import load_inventory

DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def generate(path: Path) -> None:
    """4,000 web, 500 db and 500 queue hosts; 40 racks, prod/staging, roles: ~50 groups."""
    racks: dict[str, Any] = {
        f"rack{r:02d}": {"vars": {"rack": r, "ntp_server": f"ntp{r % 4}.internal"}, "hosts": {}}
        for r in range(40)
    }
    roles: dict[str, Any] = {
        role: {"vars": {"role": role, "http_port": 8000 + n}, "hosts": {}}
        for n, role in enumerate(["web", "db", "queue"])
    }
    envs: dict[str, Any] = {env: {"vars": {"app_env": env}, "hosts": {}}
                            for env in ("prod", "staging")}
    extras: dict[str, Any] = {f"team{t}": {"vars": {"team": t}, "hosts": {}} for t in range(5)}
    counts = {"web": 4000, "db": 500, "queue": 500}
    i = 0
    for role, count in counts.items():
        for n in range(count):
            name = f"{role}{n:04d}"
            roles[role]["hosts"][name] = {"ansible_host": f"10.{i // 65536}.{i // 256 % 256}."
                                                          f"{i % 256}", "host_id": i}
            racks[f"rack{i % 40:02d}"]["hosts"][name] = None
            envs["prod" if n % 2 == 0 else "staging"]["hosts"][name] = None
            extras[f"team{i % 5}"]["hosts"][name] = {"owner": f"team{i % 5}"}
            i += 1
    data = {"all": {"vars": {"ansible_user": "deploy"},
                    "children": {"datacenter": {"children": racks}, **roles, **envs, **extras}}}
    path.write_text(yaml.dump(data, Dumper=DUMPER, sort_keys=False))


def test_five_thousand_hosts(tmp_path: Path) -> None:
    path = tmp_path / "big.yml"
    generate(path)

    started = time.perf_counter()
    inv = load_inventory(path)
    loaded = time.perf_counter()
    selected = inv.select("web:&prod:!web3*")
    done = time.perf_counter()
    print(f"\n5,000-host inventory ({path.stat().st_size // 1024} KiB, {len(inv.groups)} groups): "
          f"load {loaded - started:.3f}s, select {done - loaded:.3f}s, "
          f"total {done - started:.3f}s")

    assert len(inv) == 5000
    assert len(inv.groups) == 53  # all, ungrouped, datacenter, 40 racks, 3 roles, 2 envs, 5 teams
    assert [h.name for h in selected] == [f"web{n:04d}" for n in range(0, 3000, 2)]
    host = inv["web0042"]
    assert host.vars["rack"] == 2 and host.vars["app_env"] == "prod"
    assert host.vars["role"] == "web" and host.vars["owner"] == "team2"
    assert host.address == "10.0.0.42" and host.user == "deploy"
    assert host.groups == ("all", "datacenter", "prod", "team2", "web", "rack02")
