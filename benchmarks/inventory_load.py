"""Parse time of a generated 5,000-host inventory, and of `--limit` patterns over it.

    python -m benchmarks.inventory_load        # prints the measurement as JSON

Two inventories are written to a temporary folder, the two ways a large shop keeps one:
- "ranges": host ranges (`web[0001:4000]`, `db[001:500]`, `queue[001:500]`), 40 racks
  and two environments as groups of ranges, `children`, group variables in the file and
  in `group_vars/`, host variables inline and in `host_vars/`;
- "listed": the same 5,000 hosts each written out with its own variables
  (`ansible_host`, an id, an owner), as a generated inventory is: ~0.8 MB of YAML.
Each figure is the median of `ROUNDS` loads (or selections) in this process, after one
untimed warm-up.
"""

from __future__ import annotations

import functools
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROUNDS = 5
HOSTS = {"web": 4000, "db": 500, "queue": 500}
PATTERNS = ("web:&prod:!web0007", "web:&rack07", "db:queue:!staging", "~web00[0-4]\\d",
            "web[0:99]", "web01*")


def generate(folder: Path) -> Path:
    """Write the inventory (and its group_vars/, host_vars/) into `folder`; its path."""
    import yaml

    width = {"web": 4, "db": 3, "queue": 3}
    roles: dict[str, Any] = {}
    for n, (role, count) in enumerate(HOSTS.items()):
        rng = f"{role}[{1:0{width[role]}d}:{count:0{width[role]}d}]"
        roles[role] = {"hosts": {rng: None}, "vars": {"role": role, "http_port": 8000 + n}}
    # Racks and environments: groups made of ranges that cut across the roles.
    racks: dict[str, Any] = {}
    for r in range(40):
        first, last = r * 100 + 1, r * 100 + 100
        racks[f"rack{r:02d}"] = {"hosts": {f"web[{first:04d}:{last:04d}]": None},
                                 "vars": {"rack": r}}
    envs = {
        "prod": {"hosts": {"web[0001:2000]": None, "db[001:250]": None, "queue[001:250]": None},
                 "vars": {"app_env": "production"}},
        "staging": {"hosts": {"web[2001:4000]": None, "db[251:500]": None,
                              "queue[251:500]": None},
                    "vars": {"app_env": "staging"}},
    }
    # A few hosts with inline variables, as an inventory that grew by hand has.
    roles["web"]["hosts"].update({f"web{n:04d}": {"ansible_port": 2200 + n % 100}
                                  for n in range(1, 4001, 37)})
    data = {"all": {"vars": {"ansible_user": "deploy", "ansible_host_key_checking": False},
                    "children": {"datacenter": {"children": racks}, **roles, **envs}}}
    path = folder / "hosts.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    group_vars = folder / "group_vars"
    group_vars.mkdir()
    (group_vars / "all.yml").write_text(yaml.safe_dump({"ntp_server": "ntp.internal"}))
    (group_vars / "prod.yml").write_text(yaml.safe_dump({"health_url": "http://localhost/up"}))
    for r in range(0, 40, 4):
        (group_vars / f"rack{r:02d}.yml").write_text(yaml.safe_dump({"row": r // 4}))
    host_vars = folder / "host_vars"
    host_vars.mkdir()
    for n in range(1, 4001, 100):
        (host_vars / f"web{n:04d}.yml").write_text(yaml.safe_dump({"canary": True}))
    return path


def generate_listed(folder: Path) -> Path:
    """Every host written out with its variables, in its role, rack and environment."""
    import yaml

    groups: dict[str, Any] = {f"rack{r:02d}": {"hosts": {}, "vars": {"rack": r}}
                              for r in range(40)}
    groups.update({env: {"hosts": {}, "vars": {"app_env": env}} for env in ("prod", "staging")})
    roles: dict[str, Any] = {role: {"hosts": {}, "vars": {"role": role}} for role in HOSTS}
    i = 0
    for role, count in HOSTS.items():
        for n in range(1, count + 1):
            name = f"{role}{n:04d}"
            roles[role]["hosts"][name] = {
                "ansible_host": f"10.{i // 65536}.{i // 256 % 256}.{i % 256}",
                "host_id": i, "owner": f"team{i % 5}"}
            groups[f"rack{i % 40:02d}"]["hosts"][name] = None
            groups["prod" if n <= count // 2 else "staging"]["hosts"][name] = None
            i += 1
    data = {"all": {"vars": {"ansible_user": "deploy"}, "children": {**roles, **groups}}}
    path = folder / "listed.yml"
    dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    path.write_text(yaml.dump(data, Dumper=dumper, sort_keys=False))
    return path


def _median(fn: Callable[[], Any], rounds: int) -> tuple[float, Any]:
    fn()  # warm-up: imports, page cache
    times, value = [], None
    for _ in range(rounds):
        started = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), value


def measure(rounds: int = ROUNDS) -> dict[str, Any]:
    """Load and select times (seconds, medians) of both inventories, and what they found."""
    from remediations.inventory import Inventory, load_inventory

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="rem-inv-") as tmp:
        for shape, make in (("ranges", generate), ("listed", generate_listed)):
            folder = Path(tmp) / shape
            folder.mkdir()
            path = make(folder)
            load_s, inv = _median(functools.partial(load_inventory, path), rounds)
            slowest, slowest_pattern = 0.0, ""
            for pattern in PATTERNS:
                took, _ = _median(functools.partial(Inventory.select, inv, pattern), rounds)
                if took >= slowest:
                    slowest, slowest_pattern = took, pattern
            out[f"{shape}: hosts/groups/KiB"] = (f"{len(inv)}/{len(inv.groups)}/"
                                                 f"{path.stat().st_size // 1024}")
            out[f"{shape}: load s"] = round(load_s, 3)
            out[f"{shape}: slowest select s"] = f"{slowest:.4f} ({slowest_pattern})"
            out[f"{shape}: load + select s"] = round(load_s + slowest, 3)
    out["target s"] = 1.0
    return out


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
