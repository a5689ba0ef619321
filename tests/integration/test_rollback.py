"""`invoke rollback --release TAG` over all three kinds of target at once, as a user runs it.

The fleet: the two systemd web hosts (releases/<tag> + `current`), the compose stack's
docker host (`APP_TAG`), and a Deployment on the local Kubernetes API server. Each
starts at v1.2.3 with v1.2.2 and a broken v1.2.4 available. Verified with testinfra:
the symlink, the containers' image, the Deployment's template.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import testinfra
import yaml

import lab.stack as stack
import lab.stack_layout as stack_layout
from remediations.host.health import fetch
from tests.integration.conftest import LAB_HOSTS, ROOT, infra_host, inventory_text
from tests.integration.test_kubernetes import Lab as KubeLab
from tests.integration.test_kubernetes import img

pytestmark = [pytest.mark.lab, pytest.mark.kube]

SYSTEMD = ("web1", "web2")
HOSTS = (*SYSTEMD, "dockerhost-local", "k8s-web")
# `all` lists hosts in Ansible's order (breadth first: the compose and k8s hosts before the
# web hosts, which sit a group deeper); naming them puts the batches in this order.
IN_ORDER = ":".join(HOSTS)


def _log(line: str) -> None:
    print(f"fleet: {line}", file=sys.stderr)


def fleet_inventory(folder: Path, kube: Any) -> Path:
    """One inventory with every kind: groups systemd (web1, web2), compose, k8s."""
    web = yaml.safe_load(inventory_text())["all"]
    docker = yaml.safe_load(stack.INVENTORY.read_text())["all"]["children"]["docker_hosts"]
    docker_vars = dict(docker["vars"])
    docker_vars["compose_project_dir"] = str((stack.INVENTORY.parent / docker_vars[
        "compose_project_dir"]).resolve())
    data = {"all": {"children": {
        "systemd": {"vars": web["vars"], "children": {"web": web["children"]["web"]}},
        "compose": {"vars": docker_vars,
                    "hosts": {"dockerhost-local": docker["hosts"]["dockerhost-local"]}},
        "k8s": {"vars": {"ansible_connection": "kubernetes", "kubeconfig": str(kube.kubeconfig),
                         "namespace": "default", "releases": ["v1.2.2", "v1.2.3", "v1.2.4"]},
                "hosts": {"k8s-web": {"deployment": "web", "container": "app"}}},
    }}}
    path = folder / "fleet.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def switch_systemd(host: str, tag: str) -> None:
    """Put a web host on `tag` by hand (as a deploy tool would), php-fpm reloaded."""
    infra_host(host).check_output(
        f"ln -sfn releases/{tag} /srv/app/.current.test && mv -T /srv/app/.current.test "
        "/srv/app/current && systemctl reload php8.2-fpm")


class Fleet:
    def __init__(self, kube: Any, folder: Path) -> None:
        self.kube = KubeLab(kube, folder)
        self.inventory = fleet_inventory(folder, kube)
        self.local = testinfra.get_host("local://")

    def at_v123(self) -> None:
        for host in SYSTEMD:
            switch_systemd(host, "v1.2.3")
        stack.reset(_log)
        self.kube.kube.reset()
        self.kube.kube.break_image(img("v1.2.4"))
        self.kube.create("web", "v1.2.2")
        self.kube.create("web", "v1.2.3")

    # -- what testinfra sees ---------------------------------------------------------------
    def link(self, host: str) -> str:
        return infra_host(host).file("/srv/app/current").linked_to

    def version(self, host: str) -> str:
        # this lab slot's ports (REMEDIATIONS_LAB_SLOT), not slot 0's
        url = {**{h: lh.health_url for h, lh in LAB_HOSTS.items()},
               "dockerhost-local": f"http://127.0.0.1:{stack_layout.BACKEND_PORT}/up"}[host]
        answer = fetch(url)
        return f"{answer.status} {json.loads(answer.body or '{}').get('version', '')}"

    def backend(self) -> dict[str, Any]:
        ids = self.local.check_output("docker ps -q --filter label=com.docker.compose.project=%s "
                                      "--filter label=com.docker.compose.service=backend",
                                      stack.PROJECT).split()
        (cid,) = ids
        info: dict[str, Any] = json.loads(self.local.check_output("docker inspect %s", cid))[0]
        return info

    def history_lines(self, host: str) -> int:
        out = infra_host(host).run("cat /srv/app/.remediations-releases.jsonl 2>/dev/null || true").stdout
        return len([line for line in out.splitlines() if line.strip()])

    def state(self) -> dict[str, Any]:
        """Everything a rollback could change, to compare before and after."""
        backend = self.backend()
        return {**{h: (self.link(h), self.history_lines(h)) for h in SYSTEMD},
                "backend": (backend["Id"], backend["Config"]["Image"]),
                "k8s": (self.kube.image("web"), self.kube.revisions("web"))}


@pytest.fixture
def fleet(lab: Any, kube_api: Any, tmp_path: Path) -> Iterator[Fleet]:
    stack.up(_log)
    f = Fleet(kube_api, tmp_path)
    f.at_v123()
    yield f
    for host in SYSTEMD:
        switch_systemd(host, "v1.2.3")
    stack.reset(_log)


def rollback(cli: Any, fleet: Fleet, *args: str) -> Any:
    return cli("rollback", "-i", str(fleet.inventory), "--json", *args, timeout=600)


def test_rollback_all_kinds_to_v122_then_ok(cli: Any, fleet: Fleet) -> None:
    first = rollback(cli, fleet, "--release", "v1.2.2")
    results = first.by_host()
    assert first.code == 0, first.stderr or {h: (r["status"], r["message"], r["evidence"][-800:])
                                             for h, r in results.items() if r["status"] != "changed"}
    assert {h: r["status"] for h, r in results.items()} == dict.fromkeys(HOSTS, "changed")
    for host in SYSTEMD:
        assert fleet.link(host) == "/srv/app/releases/v1.2.2"
        assert fleet.version(host) == "200 1.2.2"
        hooks = results[host]["data"]["hooks"]
        # a cache with nothing to rebuild is `fresh`; the switch and the restarts always run
        assert set(hooks.values()) <= {"done", "fresh"}, hooks
        assert all(hooks[a] == "done" for a in ("switch", "queue:restart", "php-fpm:reload",
                                                "record")), hooks
    assert fleet.backend()["Config"]["Image"] == "remediations-lab/app:v1.2.2"
    assert fleet.version("dockerhost-local") == "200 1.2.2"
    assert fleet.kube.image("web") == img("v1.2.2")
    # the rollback went back to revision 1's template: kubectl shows it as revision 3
    assert fleet.kube.revisions("web")[max(fleet.kube.revisions("web"))] == img("v1.2.2")

    before = fleet.state()
    again = rollback(cli, fleet, "--release", "v1.2.2")
    assert again.code == 0, again.stderr
    assert {h: r["status"] for h, r in again.by_host().items()} == dict.fromkeys(HOSTS, "ok")
    assert fleet.state() == before


def test_check_mode_lists_the_commands_and_touches_nothing(cli: Any, fleet: Fleet) -> None:
    before, rv = fleet.state(), fleet.kube.rv("web")
    run = rollback(cli, fleet, "--release", "v1.2.2", "--check")
    assert run.code == 0, run.stderr
    results = run.by_host()
    assert {h: r["status"] for h, r in results.items()} == dict.fromkeys(HOSTS, "changed")
    assert any("mv -T" in c and "/srv/app/current" in c for c in results["web1"]["commands"])
    assert any("APP_TAG=v1.2.2" in c for c in results["dockerhost-local"]["commands"])
    assert fleet.state() == before
    assert fleet.kube.rv("web") == rv


def test_broken_release_serial_1_stops_and_puts_the_first_host_back(cli: Any, fleet: Fleet) -> None:
    before, rv = fleet.state(), fleet.kube.rv("web")
    run = rollback(cli, fleet, "--release", "v1.2.4", "--serial", "1", "-l", IN_ORDER)
    assert run.code == 2, run.stderr
    results = run.by_host()
    first = results["web1"]
    assert first["status"] == "failed", run.stdout
    assert "put back on v1.2.3" in first["message"], first["message"]
    assert first["data"]["auto_revert"]["status"] == "changed"
    assert fleet.link("web1") == "/srv/app/releases/v1.2.3"
    assert fleet.version("web1") == "200 1.2.3"
    for host in HOSTS[1:]:
        assert results[host]["status"] == "skipped", results[host]
        assert "stopped after batch 1 (web1) failed" in results[host]["message"]
    after = fleet.state()
    assert after["web2"] == before["web2"]
    assert after["backend"] == before["backend"]
    assert after["k8s"] == before["k8s"]
    assert fleet.kube.rv("web") == rv                       # not even locked
    # the bad release is marked, with who and when
    assert infra_host("web1").file("/srv/app/releases/v1.2.4/.remediations-bad").exists


def test_no_auto_revert_leaves_the_failed_host(cli: Any, fleet: Fleet) -> None:
    run = rollback(cli, fleet, "--release", "v1.2.4", "--serial", "1", "--no-auto-revert",
                   "-l", "web1")
    assert run.code == 2
    assert "auto_revert" not in run.by_host()["web1"]["data"]
    assert fleet.link("web1") == "/srv/app/releases/v1.2.4"


def test_missing_release_names_every_target_and_changes_nothing(cli: Any, fleet: Fleet,
                                                                 state_dir: Path) -> None:
    before, rv = fleet.state(), fleet.kube.rv("web")
    run = cli("rollback", "-i", str(fleet.inventory), "--release", "v9.9.9")
    assert run.code == 1
    assert "release v9.9.9 is missing on 4 target(s); nothing was changed" in run.stderr
    for host in HOSTS:
        assert f"{host}:" in run.stderr
    assert "Traceback" not in run.stderr
    assert fleet.state() == before
    assert fleet.kube.rv("web") == rv


def test_cut_off_run_resumes_without_redoing_the_first_host(cli: Any, fleet: Fleet,
                                                            state_dir: Path) -> None:
    run_id = f"resume-{int(time.time())}"
    argv = [sys.executable, "-m", "invoke", "rollback", "-i", str(fleet.inventory), "--json",
            "--release", "v1.2.2", "--serial", "1", "--run-id", run_id, "-l", IN_ORDER]
    env = {**os.environ, "REMEDIATIONS_STATE_DIR": str(state_dir)}
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    assert proc.stdout is not None
    for line in proc.stdout:  # kill the whole run as soon as web1 is reported
        event = json.loads(line)
        if event["event"] == "host_finished" and event["host"] == "web1":
            assert event["result"]["status"] == "changed"
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=30)
    assert fleet.link("web1") == "/srv/app/releases/v1.2.2"
    assert fleet.link("web2") == "/srv/app/releases/v1.2.3"
    web1_history = fleet.history_lines("web1")

    again = rollback(cli, fleet, "--release", "v1.2.2", "--serial", "1", "--run-id", run_id,
                     "-l", IN_ORDER)
    assert again.code == 0, again.stderr
    results = again.by_host()
    assert results["web1"]["status"] == "ok", results["web1"]
    assert results["web1"]["commands"] == []
    assert {h: results[h]["status"] for h in HOSTS[1:]} == dict.fromkeys(HOSTS[1:], "changed")
    assert fleet.history_lines("web1") == web1_history
    assert fleet.link("web2") == "/srv/app/releases/v1.2.2"
