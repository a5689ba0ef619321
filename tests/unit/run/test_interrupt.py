"""Ctrl-C, SIGTERM and a controller that stops waiting: the runner over fake hosts.

The drills on real hosts are tests/integration/test_interruptions.py.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from remediations.connections.recording import RecordingConnection
from remediations.core.result import Result, Status
from remediations.run import runner, unknown
from remediations.run.interrupt import Interrupt
from remediations.run.report import EXIT_UNKNOWN, Event
from remediations.run.runner import RunOptions, run
from remediations.run.target import RunContext, Target
from tests.unit.run.test_runner import connector, hosts


class Gate:
    """A remediation that blocks on each host until let go, and says when it began."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.go = threading.Event()
        self.hosts: list[str] = []

    def __call__(self, t: Target) -> Result:
        self.hosts.append(t.name)  # list.append is atomic: hosts run in threads
        t.conn.run(["systemctl", "restart", "nginx.service"])
        self.started.set()
        assert self.go.wait(10)
        return t.result("gate", Status.CHANGED, "restarted")


def until(condition: Any, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def in_thread(fn: Any) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: out.setdefault("report", fn()))
    thread.start()
    return thread, out


def test_the_first_request_stops_new_hosts_and_lets_the_one_in_flight_finish(tmp_path: Path) -> None:
    gate, stop, events = Gate(), Interrupt(), []
    thread, out = in_thread(lambda: run(gate, hosts(tmp_path, 3), options=RunOptions(forks=1),
                                        interrupt=stop, on_event=events.append,
                                        connect=connector()))
    assert gate.started.wait(5)
    stop.request("SIGINT")
    until(lambda: any(e.kind == "interrupted" for e in events))  # told while web1 runs
    gate.go.set()
    thread.join(10)
    report = out["report"]
    assert [r.status for r in report] == [Status.CHANGED, Status.SKIPPED, Status.SKIPPED]
    assert report.results[1].message == "not run: the run was interrupted (SIGINT)"
    assert gate.hosts == ["web1"]
    assert report.interrupted == "SIGINT" and report.exit_code == 130
    notice = [e for e in events if e.kind == "interrupted"]
    assert len(notice) == 1 and notice[0].hosts == ("web1",)
    assert "send it again to stop waiting at once" in notice[0].message


def test_later_batches_are_not_started_after_a_sigterm(tmp_path: Path) -> None:
    gate, stop = Gate(), Interrupt()
    thread, out = in_thread(lambda: run(gate, hosts(tmp_path, 4),
                                        options=RunOptions(serial=2), interrupt=stop,
                                        connect=connector()))
    until(lambda: len(gate.hosts) == 2)  # the first batch is in flight
    stop.request("SIGTERM")
    gate.go.set()
    thread.join(10)
    report = out["report"]
    assert [r.status for r in report][2:] == [Status.SKIPPED, Status.SKIPPED]
    assert report.exit_code == 143 and sorted(gate.hosts) == ["web1", "web2"]


def test_a_second_request_stops_waiting_and_says_the_state_is_unknown(tmp_path: Path) -> None:
    gate, stop = Gate(), Interrupt()
    ctx = RunContext.new()
    thread, out = in_thread(lambda: run(gate, hosts(tmp_path, 2), options=RunOptions(forks=1),
                                        run=ctx, interrupt=stop, connect=connector()))
    assert gate.started.wait(5)
    stop.request("SIGINT")
    stop.request("SIGINT")
    thread.join(5)
    assert not thread.is_alive(), "the run waited for the host in flight"
    report = out["report"]
    first, second = report.results
    assert first.status is Status.UNKNOWN and second.status is Status.SKIPPED
    assert "stopped waiting at a second SIGINT: the host's state is unknown" in first.message
    assert "last sent: `systemctl restart nginx.service`" in first.message
    assert "systemctl restart nginx.service" in first.commands
    assert not any("mkdir" in c for c in first.message.split("last sent")[1:])
    record = unknown.pending("web1")
    assert record is not None and record["run_id"] == ctx.run_id
    gate.go.set()  # the abandoned thread ends; its late result is not reported


def test_a_host_past_its_timeout_is_abandoned_as_unknown(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(runner, "_GRACE", 0.2)
    gate = Gate()
    report = run(gate, hosts(tmp_path, 1), options=RunOptions(timeout=0.3),
                 interrupt=Interrupt(), connect=connector())
    gate.go.set()
    (result,) = report.results
    assert result.status is Status.UNKNOWN and "no answer within 0.3s; abandoned" in result.message
    assert report.exit_code == EXIT_UNKNOWN and not report.interrupted


def test_the_next_run_reads_back_what_the_host_shows_then_forgets(tmp_path: Path) -> None:
    ctx = RunContext.new()
    left = Result("web1", "gate", Status.UNKNOWN, "stopped waiting", commands=("x",),
                  data={"last_sent": "systemctl restart nginx.service"})
    unknown.settle("web1", left, ctx)
    conn = RecordingConnection("web1").on("mkdir", stdout="ACQUIRED\n").on(
        "lock=HELD", stdout=(f"lock=HELD\nowner={ctx.run_id}\t2026-12-06T10:00:00+00:00\troot@c\n"
                             "now=1000\nmtime=880\nmarker=reload-nginx.service\n"))
    report = run(lambda t: t.result("x", Status.OK, "fine"), hosts(tmp_path, 1), run=ctx,
                 connect=connector(web1=conn))
    (result,) = report.results
    earlier = result.data["earlier_unknown"]
    assert earlier["lock"] == ctx.run_id and earlier["done"] == ["reload-nginx.service"]
    assert f"run {ctx.run_id} stopped waiting for this host" in result.message
    assert "its lock is still held by that run" in result.message and "2m ago" in result.message
    assert "steps it recorded as done: reload-nginx.service" in result.message
    assert unknown.pending("web1") is None  # the same run resumed: reported once
    again = run(lambda t: t.result("x", Status.OK, "fine"), hosts(tmp_path, 1), run=ctx,
                connect=connector(web1=RecordingConnection("web1").on("mkdir", stdout="ACQUIRED\n")))
    assert "earlier_unknown" not in again.results[0].data


def test_another_run_keeps_the_record_while_the_lock_is_still_the_dead_runs(tmp_path: Path) -> None:
    dead = RunContext.new()
    unknown.settle("web1", Result("web1", "x", Status.UNKNOWN, "", data={"last_sent": "y"}), dead)
    held = (f"lock=HELD\nowner={dead.run_id}\t2026-12-06T10:00:00+00:00\troot@c\n"
            "now=1000\nmtime=990\n")
    conn = RecordingConnection("web1").on("lock=HELD", stdout=held).on(
        "mkdir", stdout=f"HELD\nowner={dead.run_id}\t2026-12-06T10:00:00+00:00\troot@c\n"
                        "now=1000\nmtime=990\n", exit_code=3)
    report = run(lambda t: (t.conn.run(["true"]), t.result("x", Status.CHANGED, ""))[1],
                 hosts(tmp_path, 1), connect=connector(web1=conn))
    (result,) = report.results
    assert result.status is Status.SKIPPED and result.data["locked_by"] == dead.run_id
    assert f"unlock -l web1 --run-id {dead.run_id}" in result.message
    assert "held 10s" in result.message and "earlier_unknown" in result.data
    assert unknown.pending("web1") is not None


def test_check_mode_records_nothing(tmp_path: Path) -> None:
    ctx = RunContext.new(check=True)
    unknown.settle("web1", Result("web1", "x", Status.UNKNOWN, ""), ctx)
    assert unknown.pending("web1") is None


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signals_reach_the_interrupt_only_while_it_handles_them(signum: signal.Signals) -> None:
    stop = Interrupt()
    before = signal.getsignal(signum)
    with stop.handling():
        os.kill(os.getpid(), signum)
        assert stop.changed.wait(2)
    assert stop.requested and stop.signal == signum.name and not stop.at_once
    assert signal.getsignal(signum) is before


def test_a_run_in_the_main_thread_stops_on_a_real_sigint(tmp_path: Path) -> None:
    def remediation(t: Target) -> Result:
        if t.name == "web1":
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.3)  # the handler runs in the main thread, between its waits
        return t.result("x", Status.OK, "fine")

    events: list[Event] = []
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN when started in the background by a shell
    report = run(remediation, hosts(tmp_path, 3), options=RunOptions(forks=1),
                 on_event=events.append, connect=connector())
    assert [r.status for r in report] == [Status.OK, Status.SKIPPED, Status.SKIPPED]
    assert report.interrupted == "SIGINT"
    assert signal.getsignal(signal.SIGINT) is before
