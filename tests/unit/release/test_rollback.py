"""The rollback's orchestration over simulated targets: preflight, batches, auto-revert, resume.

Each fake target keeps the release it runs; `at_release` moves it (or fails to verify on a
broken release), as the real per-kind functions do. The real ones are proven in the lab
(tests/integration/test_rollback.py).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from remediations.core.errors import Unreachable
from remediations.core.result import Result, Status
from remediations.release import rollback as rollbacks
from remediations.release.kinds import ReleaseState, target_kind
from remediations.release.rollback import ReleaseMissing, rollback_hosts
from remediations.run import state
from remediations.run.report import EXIT_FAILED, EXIT_OK, Event
from remediations.run.target import Target
from tests.unit.helpers import inventory
from tests.unit.run.test_runner import connector


class FakeFleet:
    """Which release each host runs, which exist, which are broken; every move recorded."""

    def __init__(self, hosts: list[str], *, current: str = "v1.2.3",
                 available: tuple[str, ...] = ("v1.2.2", "v1.2.3", "v1.2.4"),
                 broken: tuple[str, ...] = ("v1.2.4",)) -> None:
        self.current = dict.fromkeys(hosts, current)
        self.available = {h: available for h in hosts}
        self.broken = broken
        self.moves: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def state(self, t: Target, release: str) -> ReleaseState:
        has = release in self.available[t.name]
        return ReleaseState(t.name, "systemd", release, self.current[t.name],
                            self.available[t.name], has, "" if has else f"no releases/{release}")

    def move(self, t: Target, release: str, **_: Any) -> Result:
        if self.current[t.name] == release:  # verified again: a broken release still fails
            status = Status.FAILED if release in self.broken else Status.OK
            return Result(t.name, "release_current", status, f"already at {release}")
        if t.check:
            return Result(t.name, "release_current", Status.CHANGED, f"would switch to {release}",
                          (f"mv -T .current releases/{release}",), check=True)
        with self.lock:
            self.moves.append((t.name, release))
            self.current[t.name] = release
        if release in self.broken:
            return Result(t.name, "release_current", Status.FAILED, "/up answered 500")
        return Result(t.name, "release_current", Status.CHANGED, f"switched to {release}")


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("REMEDIATIONS_STATE_DIR", str(tmp_path / "state"))
    hosts = list(inventory(tmp_path, {f"web{i}": {} for i in range(1, 5)}, {}))
    fleet = FakeFleet([h.name for h in hosts])
    monkeypatch.setattr(rollbacks, "release_state", fleet.state)
    monkeypatch.setattr(rollbacks, "at_release", fleet.move)

    def go(release: str, *, run_id: str = "r1", check: bool = False, **kw: Any) -> Any:
        ctx = state.start_run(run_id, check=check)
        return rollback_hosts(hosts, release, run=ctx, connect=kw.pop("connect", connector()),
                              **kw)
    return fleet, hosts, go


def test_every_host_moved_then_ok(world: Any) -> None:
    fleet, _, go = world
    report = go("v1.2.2")
    assert report.exit_code == EXIT_OK
    assert [r.status for r in report] == [Status.CHANGED] * 4
    again = go("v1.2.2", run_id="r2")
    assert [r.status for r in again] == [Status.OK] * 4
    assert len(fleet.moves) == 4


def test_missing_release_raises_naming_targets_before_any_move(world: Any) -> None:
    fleet, _, go = world
    fleet.available["web3"] = ("v1.2.3",)
    with pytest.raises(ReleaseMissing) as info:
        go("v1.2.2")
    assert list(info.value.missing) == ["web3"]
    assert "web3: systemd: no releases/v1.2.2" in str(info.value)
    assert fleet.moves == []


def test_serial_stops_at_first_failing_batch_and_puts_it_back(world: Any) -> None:
    fleet, _, go = world
    events: list[Event] = []
    report = go("v1.2.4", serial=1, on_event=events.append)
    assert report.exit_code == EXIT_FAILED
    first, *rest = list(report)
    assert first.status is Status.FAILED
    assert "put back on v1.2.3" in first.message
    assert first.data["auto_revert"]["status"] == "changed"
    assert fleet.moves == [("web1", "v1.2.4"), ("web1", "v1.2.3")]
    assert all(r.status is Status.SKIPPED and "stopped after batch 1 (web1)" in r.message
               for r in rest)
    assert [e.kind for e in events].count("run_finished") == 1
    assert events[-1].report == report
    assert any(e.remediation == "auto_revert" for e in events if e.kind == "host_finished")


def test_no_auto_revert_leaves_the_batch(world: Any) -> None:
    fleet, _, go = world
    report = go("v1.2.4", serial=2, auto_revert=False)
    assert fleet.current == {"web1": "v1.2.4", "web2": "v1.2.4", "web3": "v1.2.3",
                             "web4": "v1.2.3"}
    assert [r.status for r in report] == [Status.FAILED, Status.FAILED, Status.SKIPPED,
                                          Status.SKIPPED]


def test_only_the_failed_hosts_of_the_batch_go_back(world: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    fleet, _, go = world
    fleet.broken = ()
    original = fleet.move

    def web2_fails(t: Target, release: str, **kw: Any) -> Result:
        result = original(t, release, **kw)
        if t.name == "web2" and release == "v1.2.2":
            return result.replace(status=Status.FAILED, message="/up answered 502")
        return result

    monkeypatch.setattr(rollbacks, "at_release", web2_fails)
    report = go("v1.2.2", serial=2)
    assert fleet.current == {"web1": "v1.2.2", "web2": "v1.2.3", "web3": "v1.2.3",
                             "web4": "v1.2.3"}
    assert [r.status for r in report][:2] == [Status.CHANGED, Status.FAILED]


def test_check_mode_moves_nothing_and_never_reverts(world: Any) -> None:
    fleet, _, go = world
    report = go("v1.2.4", check=True, serial=1)
    assert [r.status for r in report] == [Status.CHANGED] * 4
    assert fleet.moves == []


def cut_off(fleet: Any, web1_at: str) -> None:
    """Run "cut" was stopped after moving web1 (from v1.2.3) to `web1_at`."""
    fleet.current["web1"] = web1_at
    state.start_run("cut")
    state.remember("cut", "rollback.from.web1", "v1.2.3")


def test_resumed_run_skips_finished_hosts(world: Any) -> None:
    fleet, _, go = world
    cut_off(fleet, "v1.2.2")
    report = go("v1.2.2", run_id="cut", serial=1)
    assert [r.status for r in report] == [Status.OK] + [Status.CHANGED] * 3
    assert [m[0] for m in fleet.moves] == ["web2", "web3", "web4"]


def test_resumed_run_puts_a_host_back_where_the_first_attempt_found_it(world: Any) -> None:
    fleet, _, go = world
    cut_off(fleet, "v1.2.4")                   # moved to the broken release, cut off before revert
    report = go("v1.2.4", run_id="cut", serial=1)
    assert report.exit_code == EXIT_FAILED
    assert fleet.moves == [("web1", "v1.2.3")]  # back to v1.2.3, not "back" to v1.2.4
    assert fleet.current["web2"] == "v1.2.3"


def test_unreachable_target_is_reported_and_the_rest_go_on(world: Any,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    fleet, _, go = world

    class Down:
        name = "web2"

        def run(self, *a: Any, **k: Any) -> Any:
            raise Unreachable("web2: connection refused")

        def close(self) -> None:
            pass

    def state_or_down(t: Target, release: str) -> ReleaseState:
        t.conn.run(["true"])
        return fleet.state(t, release)

    monkeypatch.setattr(rollbacks, "release_state", state_or_down)
    base = connector()
    report = go("v1.2.2", connect=lambda h, timeout=None: Down() if h.name == "web2"
                else base(h, timeout))
    statuses = {r.host: r.status for r in report}
    assert statuses == {"web1": Status.CHANGED, "web2": Status.UNREACHABLE,
                        "web3": Status.CHANGED, "web4": Status.CHANGED}
    assert "not rolled back" in next(r for r in report if r.host == "web2").message


def test_target_kinds_from_the_inventory(tmp_path: Path) -> None:
    inv = inventory(tmp_path, {"a": {}, "b": {"compose_project_dir": "/srv/stack"},
                               "c": {"ansible_connection": "kubernetes", "deployment": "web"}}, {})
    assert [target_kind(h) for h in inv] == ["systemd", "compose", "kubernetes"]


def test_the_read_before_acting_opens_the_one_connection_each_host_uses(world: Any) -> None:
    """One ssh handshake per host: the preflight's connection is handed to the run."""
    fleet, _, go = world
    opened: list[str] = []
    closed: list[str] = []
    inner = connector()

    def connect(host: Any, timeout: float | None = None) -> Any:
        conn = inner(host, timeout)
        opened.append(host.name)
        real_close = conn.close

        def close() -> None:
            closed.append(host.name)
            real_close()
        conn.close = close
        return conn

    report = go("v1.2.4", serial=2, connect=connect)
    assert report.exit_code == EXIT_FAILED
    # web1..web4 read and moved over one connection each; web1, web2 put back over a new one
    assert sorted(opened) == ["web1", "web1", "web2", "web2", "web3", "web4"]
    assert sorted(closed) == sorted(opened)  # every one closed once, the unused ones too
    assert fleet.moves[:2] == [("web1", "v1.2.4"), ("web2", "v1.2.4")]
