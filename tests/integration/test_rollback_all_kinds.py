"""`invoke rollback --release TAG` over all four kinds of target in one run, as a user runs it.

One inventory, composed from the lab slot's generated inventory (the git host apache1 and
the symlink hosts web1, web2), the compose stack's (dockerhost-local, `APP_TAG`) and a
Deployment on the Kubernetes API test double (k8s-web). Each starts at v1.2.3 with v1.2.2
and a broken v1.2.4 available. Verified with testinfra and /up: HEAD's tag on apache1,
the `current` link on the web hosts, the backend container's image, the Deployment's
template.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import lab.stack as stack
from remediations.host.health import fetch
from tests.integration.conftest import ALL_LAB_HOSTS, infra_host, inventory_text
from tests.integration.test_kubernetes import Lab as KubeLab
from tests.integration.test_kubernetes import img
from tests.integration.test_rollback import switch_systemd
from tests.integration.test_rollback_git import Apache, put_at

pytestmark = [pytest.mark.lab, pytest.mark.kube]

GIT, SYMLINK, COMPOSE, KUBE = "apache1", ("web1", "web2"), "dockerhost-local", "k8s-web"
HOSTS = (GIT, *SYMLINK, COMPOSE, KUBE)
IN_ORDER = ":".join(HOSTS)  # batches in this order: the git host first


def _log(line: str) -> None:
    print(f"all kinds: {line}")


def fleet_inventory(folder: Path, kube: Any) -> Path:
    """One inventory with every kind: groups git (apache1), symlink (web1, web2), compose, k8s."""
    lab = yaml.safe_load(inventory_text())["all"]
    docker = yaml.safe_load(stack.INVENTORY.read_text())["all"]["children"]["docker_hosts"]
    docker_vars = dict(docker["vars"])
    docker_vars["compose_project_dir"] = str((stack.INVENTORY.parent / docker_vars[
        "compose_project_dir"]).resolve())
    data = {"all": {"children": {
        "git": {"vars": lab["vars"], "hosts": {GIT: lab["children"]["apache"]["hosts"][GIT]}},
        "symlink": {"vars": lab["vars"], "children": {"web": lab["children"]["web"]}},
        "compose": {"vars": docker_vars, "hosts": {COMPOSE: docker["hosts"][COMPOSE]}},
        "k8s": {"vars": {"ansible_connection": "kubernetes", "kubeconfig": str(kube.kubeconfig),
                         "namespace": "default", "releases": ["v1.2.2", "v1.2.3", "v1.2.4"]},
                "hosts": {KUBE: {"deployment": "web", "container": "app"}}},
    }}}
    path = folder / "all-kinds.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


class Fleet:
    def __init__(self, kube: Any, folder: Path) -> None:
        self.kube = KubeLab(kube, folder)
        self.inventory = fleet_inventory(folder, kube)
        self.apache = Apache()

    def at_v123(self) -> None:
        put_at("v1.2.3")
        for host in SYMLINK:
            switch_systemd(host, "v1.2.3")
        stack.reset(_log)
        self.kube.kube.reset()
        self.kube.kube.break_image(img("v1.2.4"))
        self.kube.create("web", "v1.2.2")
        self.kube.create("web", "v1.2.3")

    def served(self, host: str) -> str:
        url = stack.BACKEND_URL if host == COMPOSE else ALL_LAB_HOSTS[host].health_url
        answer = fetch(url)
        try:
            version = json.loads(answer.body or "{}").get("version", "")
        except ValueError:
            version = "?"
        return f"{answer.status} {str(version).removeprefix('v')}"

    def backend_image(self) -> str:
        import testinfra

        local = testinfra.get_host("local://")
        (cid,) = local.check_output(
            "docker ps -q --filter label=com.docker.compose.project=%s "
            "--filter label=com.docker.compose.service=backend", stack.PROJECT).split()
        return str(json.loads(local.check_output("docker inspect %s", cid))[0]["Config"]["Image"])

    def releases(self) -> dict[str, str]:
        """What each target runs, read from the target itself (not from the rollback)."""
        out = {GIT: self.apache.tag()}
        for host in SYMLINK:
            out[host] = infra_host(host).file("/srv/app/current").linked_to.rsplit("/", 1)[-1]
        out[COMPOSE] = self.backend_image().rsplit(":", 1)[-1]
        out[KUBE] = self.kube.image("web").rsplit(":", 1)[-1]
        return out

    def state(self) -> dict[str, Any]:
        """Everything a rollback could change, to compare before and after."""
        return {"releases": self.releases(), "apache": self.apache.state(),
                "k8s": self.kube.revisions("web")}


@pytest.fixture
def fleet(lab: Any, kube_api: Any, tmp_path: Path) -> Iterator[Fleet]:
    stack.up(_log)
    f = Fleet(kube_api, tmp_path)
    f.at_v123()
    yield f
    put_at("v1.2.3")
    for host in SYMLINK:
        switch_systemd(host, "v1.2.3")
    stack.reset(_log)


def rollback(cli: Any, fleet: Fleet, *args: str) -> Any:
    return cli("rollback", "-i", str(fleet.inventory), "--json", *args, timeout=900)


def test_one_run_moves_every_kind_to_v122_then_ok_then_back(cli: Any, fleet: Fleet) -> None:
    assert fleet.releases() == dict.fromkeys(HOSTS, "v1.2.3")
    first = rollback(cli, fleet, "--release", "v1.2.2")
    assert first.code == 0, first.stderr
    results = first.by_host()
    assert {h: r["status"] for h, r in results.items()} == dict.fromkeys(HOSTS, "changed"), \
        {h: r["message"] for h, r in results.items()}
    assert {h: r["remediation"] for h, r in results.items() if h in (GIT, "web1")} == {
        GIT: "git_at_release", "web1": "release_current"}
    assert fleet.releases() == dict.fromkeys(HOSTS, "v1.2.2")
    for host in (GIT, *SYMLINK, COMPOSE):
        assert fleet.served(host) == "200 1.2.2", host
    assert results[GIT]["data"]["composer"] is True and fleet.apache.extras() == "1.0.0"

    at_122 = fleet.state()
    again = rollback(cli, fleet, "--release", "v1.2.2")
    assert again.code == 0, again.stderr
    assert {h: r["status"] for h, r in again.by_host().items()} == dict.fromkeys(HOSTS, "ok")
    assert fleet.state() == at_122

    back = rollback(cli, fleet, "--release", "v1.2.3")
    assert back.code == 0, back.stderr
    assert {h: r["status"] for h, r in back.by_host().items()} == dict.fromkeys(HOSTS, "changed")
    assert fleet.releases() == dict.fromkeys(HOSTS, "v1.2.3")
    for host in (GIT, *SYMLINK, COMPOSE):
        assert fleet.served(host) == "200 1.2.3", host


def test_broken_release_serial_1_reverts_the_first_batch_only(cli: Any, fleet: Fleet) -> None:
    before = fleet.state()
    run = rollback(cli, fleet, "--release", "v1.2.4", "--serial", "1", "--timeout", "60", "-l",
                   IN_ORDER)
    assert run.code == 2, run.stderr
    results = run.by_host()
    first = results[GIT]
    assert first["status"] == "failed", run.stdout
    assert "put back on v1.2.3" in first["message"], first["message"]
    assert first["data"]["auto_revert"]["status"] == "changed"
    for host in HOSTS[1:]:
        assert results[host]["status"] == "skipped", results[host]
        assert f"stopped after batch 1 ({GIT}) failed" in results[host]["message"]
    after = fleet.state()
    assert after["releases"] == before["releases"] == dict.fromkeys(HOSTS, "v1.2.3")
    assert after["k8s"] == before["k8s"]
    assert fleet.served(GIT) == "200 1.2.3"
    assert fleet.apache.host.file("/var/www/app/.git/.remediations-bad-v1.2.4").exists
