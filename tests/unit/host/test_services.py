"""Facts in, commands out: reload, stop, status, php-fpm discovery and the database guard."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from remediations.connections.recording import RecordingConnection
from remediations.core.errors import InvalidInput
from remediations.core.result import Status
from remediations.host.systemd import (
    UnitState,
    default_config_test,
    is_database,
    parse_units,
    php_fpm_unit,
    pick_php_fpm_unit,
    plan_service_reloaded,
    restart_allowed,
    service_reloaded,
    service_running,
    service_stopped,
    services_status,
)
from remediations.host.units import ServiceNotInstalled
from remediations.run.markers import mark_step
from remediations.run.target import RunContext, Target

RUN_START = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)
RUN = RunContext("r1", RUN_START)
MARK = mark_step(RUN, "reload-nginx.service")
MARKER = "/run/lock/remediations.runs/r1/reload-nginx.service"


def target(conn: RecordingConnection, *, check: bool = False, **hostvars: object) -> Target:
    from tests.unit.helpers import host

    return Target(host("web1", **hostvars), conn, RunContext("r1", RUN_START, check=check))


def show(unit: str = "nginx.service", active: str = "active", sub: str = "running",
         pid: int = 100, load: str = "loaded") -> str:
    return (f"Id={unit}\nLoadState={load}\nActiveState={active}\nSubState={sub}\nMainPID={pid}\n"
            "ActiveEnterTimestamp=Mon 2026-11-23 09:00:00.000000 UTC\nUnitFileState=enabled\n"
            "Result=success\nType=forking\n")


def unit(active: str = "active", pid: int = 100) -> UnitState:
    return UnitState("nginx.service", "loaded", active, "running", pid, None, "enabled", "success")


# --- the database guard -----------------------------------------------------------------

@pytest.mark.parametrize("name,expected", [
    ("mysql", True), ("mariadb.service", True), ("postgresql", True),
    ("postgresql@15-main", True), ("pgbouncer", True), ("mysqld", True),
    ("nginx", False), ("php8.2-fpm", False), ("mysql-exporter", False), ("redis-server", False),
])
def test_is_database(name: str, expected: bool) -> None:
    assert is_database(name) is expected


def test_database_restart_is_refused_before_any_host_is_touched() -> None:
    conn = RecordingConnection("web1")
    with pytest.raises(InvalidInput, match="last resort"):
        service_running(target(conn), "postgresql@15-main", restart=True)
    assert conn.commands == []
    with pytest.raises(InvalidInput, match="allow_database_restart"):
        restart_allowed("mysql")


def test_database_restart_with_the_flag_and_start_without_it() -> None:
    conn = RecordingConnection("web1").on(r"^systemctl show", stdout=show("mysql.service", pid=7),
                                          times=1)
    conn.on(r"^systemctl show", stdout=show("mysql.service", pid=8))
    res = service_running(target(conn), "mysql", restart=True, allow_database_restart=True)
    assert res.status is Status.CHANGED and res.commands == ("systemctl restart mysql.service",)

    stopped = RecordingConnection("web1").on(
        r"^systemctl show", stdout=show("mysql.service", "inactive", "dead", 0), times=1)
    stopped.on(r"^systemctl show", stdout=show("mysql.service", pid=9))
    res = service_running(target(stopped), "mysql")
    assert res.status is Status.CHANGED and res.commands == ("systemctl start mysql.service",)


# --- reload -------------------------------------------------------------------------------

@pytest.mark.parametrize("name,expected", [
    ("nginx", ["nginx", "-t"]), ("apache2.service", ["apache2ctl", "configtest"]),
    ("php8.2-fpm", ["php-fpm8.2", "-t"]), ("php-fpm", ["php-fpm", "-t"]),
    ("redis-server", None), ("supervisor", None),
])
def test_default_config_test(name: str, expected: list[str] | None) -> None:
    assert default_config_test(name) == expected


@pytest.mark.parametrize("state,done,expected", [
    (unit(), False, [["systemctl", "reload", "nginx.service"], list(MARK.argv)]),
    (unit(), True, []),                                        # reloaded by this run already
    (unit("reloading"), False, [["systemctl", "reload", "nginx.service"], list(MARK.argv)]),
    (unit("inactive", 0), False, [["systemctl", "start", "nginx.service"], list(MARK.argv)]),
    (unit("inactive", 0), True, [["systemctl", "start", "nginx.service"], list(MARK.argv)]),
    (unit("failed", 0), False, [["systemctl", "reset-failed", "nginx.service"],
                                ["systemctl", "start", "nginx.service"], list(MARK.argv)]),
    (unit("activating", 0), False, []),
])
def test_plan_service_reloaded(state: UnitState, done: bool, expected: list[list[str]]) -> None:
    steps = plan_service_reloaded(state, already_reloaded=done, mark=MARK)
    assert [list(s.argv) for s in steps] == expected


def test_reload_tests_the_config_first_then_reloads_and_marks_the_run() -> None:
    conn = RecordingConnection("web1").on(r"^systemctl show", stdout=show())
    conn.on(r"^test -e", exit_code=1)
    res = service_reloaded(target(conn), "nginx")
    assert res.status is Status.CHANGED, res.message
    assert res.commands == ("nginx -t", "systemctl reload nginx.service", MARK.command)
    assert "config test `nginx -t` passed" in res.message
    lines = conn.command_lines
    assert lines.index("nginx -t") < lines.index("systemctl reload nginx.service")


def test_failing_config_test_means_no_reload_and_the_output_as_evidence() -> None:
    conn = RecordingConnection("web1").on(r"^systemctl show", stdout=show())
    conn.on(r"^test -e", exit_code=1)
    conn.on(r"^nginx -t", exit_code=1,
            stderr='nginx: [emerg] unknown directive "bogus" in /etc/nginx/conf.d/x.conf:1\n'
                   "nginx: configuration file /etc/nginx/nginx.conf test failed")
    res = service_reloaded(target(conn), "nginx")
    assert res.status is Status.FAILED
    assert "keeps running its current configuration" in res.message
    assert 'unknown directive "bogus"' in res.evidence
    assert res.commands == ("nginx -t",)
    assert not conn.commands_matching(r"^systemctl (reload|restart|start)")
    assert not conn.commands_matching(r"^sh -c .mkdir")  # not marked as done


def test_second_reload_in_the_same_run_is_ok_and_touches_nothing() -> None:
    conn = RecordingConnection("web1").on(r"^systemctl show", stdout=show())
    conn.on(r"^test -e", exit_code=0)
    res = service_reloaded(target(conn), "nginx")
    assert res.status is Status.OK and "already reloaded by this run" in res.message
    assert conn.command_lines == [conn.command_lines[0], f"test -e {MARKER}"]
    assert res.commands == ()


def test_reload_check_mode_runs_only_the_read_only_test() -> None:
    conn = RecordingConnection("web1").on(r"^systemctl show", stdout=show())
    conn.on(r"^test -e", exit_code=1)
    res = service_reloaded(target(conn, check=True), "nginx")
    assert res.status is Status.CHANGED and res.check
    assert res.message == "would reload nginx.service (config test `nginx -t` passed)"
    assert res.commands == ("nginx -t", "systemctl reload nginx.service", MARK.command)
    assert [a[0] for a in conn.commands] == ["systemctl", "test", "nginx"]
    assert conn.commands[0][1] == "show"


def test_reload_of_a_stopped_unit_starts_it() -> None:
    conn = RecordingConnection("web1")
    conn.on(r"^systemctl show", stdout=show("redis-server.service", "inactive", "dead", 0), times=1)
    conn.on(r"^systemctl show", stdout=show("redis-server.service", pid=55))
    conn.on(r"^test -e", exit_code=1)
    res = service_reloaded(target(conn), "redis-server")
    assert res.status is Status.CHANGED
    assert res.commands[0] == "systemctl start redis-server.service"
    assert res.data["main_pid"] == 55


def test_reload_config_test_override_and_skip() -> None:
    conn = RecordingConnection("web1").on(r"^systemctl show", stdout=show())
    conn.on(r"^test -e", exit_code=1)
    res = service_reloaded(target(conn), "nginx", config_test=["nginx", "-t", "-q"])
    assert res.commands[0] == "nginx -t -q"
    skipped = RecordingConnection("web1").on(r"^systemctl show", stdout=show())
    skipped.on(r"^test -e", exit_code=1)
    res = service_reloaded(target(skipped), "nginx", config_test=[])
    assert res.commands[0] == "systemctl reload nginx.service"
    with pytest.raises(InvalidInput):
        service_reloaded(target(RecordingConnection()), "nginx", config_test="nginx -t")


def test_reload_of_a_unit_that_dies_fails_with_the_journal() -> None:
    conn = RecordingConnection("web1").on(r"^systemctl show", stdout=show("php8.2-fpm.service"),
                                          times=1)
    conn.on(r"^systemctl show", stdout=show("php8.2-fpm.service", "failed", "failed", 0))
    conn.on(r"^test -e", exit_code=1)
    conn.on(r"^journalctl", stdout="ERROR: FPM initialization failed")
    res = service_reloaded(target(conn), "php8.2-fpm")
    assert res.status is Status.FAILED and "FPM initialization failed" in res.evidence
    assert res.commands[0] == "php-fpm8.2 -t"


# --- stop ---------------------------------------------------------------------------------

def test_stop_stops_and_verifies() -> None:
    conn = RecordingConnection("web1").on(r"^systemctl show", stdout=show(), times=1)
    conn.on(r"^systemctl show", stdout=show(active="inactive", sub="dead", pid=0))
    res = service_stopped(target(conn), "nginx")
    assert res.status is Status.CHANGED and res.commands == ("systemctl stop nginx.service",)


@pytest.mark.parametrize("active", ["inactive", "failed"])
def test_stop_of_a_stopped_unit_is_ok(active: str) -> None:
    conn = RecordingConnection("web1").on(r"^systemctl show", stdout=show(active=active, pid=0))
    res = service_stopped(target(conn), "nginx")
    assert res.status is Status.OK and f"already {active}" in res.message
    assert len(conn.commands) == 1


def test_stop_of_a_missing_unit_fails() -> None:
    conn = RecordingConnection("web1").on(r"^systemctl show", stdout="LoadState=not-found\n")
    assert service_stopped(target(conn), "ngnix").status is Status.FAILED


# --- status -------------------------------------------------------------------------------

def test_parse_units_by_position_and_by_id() -> None:
    text = show("a.service") + "\n" + show("b.service", "inactive", "dead", 0)
    states = parse_units(["a.service", "b.service"], text)
    assert (states["a.service"].active, states["b.service"].active_state) == (True, "inactive")
    # a block missing: match by Id, the absent one is not-found
    states = parse_units(["a.service", "c.service"], show("a.service"))
    assert states["a.service"].active and not states["c.service"].exists


def test_status_reads_every_unit_in_one_call() -> None:
    text = "\n".join([show("nginx.service"), show("php8.2-fpm.service", "inactive", "dead", 0)])
    conn = RecordingConnection("web1").on(r"^systemctl show", stdout=text)
    res = services_status(target(conn), ["nginx", "php8.2-fpm"])
    assert len(conn.commands) == 1 and conn.commands[0][-2:] == ("nginx.service",
                                                                 "php8.2-fpm.service")
    assert res.status is Status.FAILED
    assert "php8.2-fpm.service (inactive)" in res.message and "nginx.service (" not in res.message
    units = res.data["units"]
    assert units["nginx.service"] == {"active": "active", "sub": "running", "main_pid": 100,
                                      "load": "loaded", "since": "2026-11-23T09:00:00+00:00"}
    assert units["php8.2-fpm.service"]["active"] == "inactive"


def test_default_status_reports_absent_databases_as_not_found_without_failing() -> None:
    present = ["nginx.service", "php8.2-fpm.service", "redis-server.service", "supervisor.service"]
    text = "\n".join([show(u) for u in present] + [
        f"Id={u}\nLoadState=not-found\nActiveState=inactive\nSubState=dead\nMainPID=0\n"
        for u in ("mysql.service", "mariadb.service", "postgresql.service")])
    listing = "".join(f"{u} enabled enabled\n" for u in present)
    conn = RecordingConnection("web1").on(r"^systemctl show", stdout=text).on(
        r"^systemctl list-unit-files", stdout=listing)
    res = services_status(target(conn))
    assert res.status is Status.OK, res.message
    assert list(res.data["units"]) == [*present, "mysql.service", "mariadb.service",
                                       "postgresql.service"]
    assert res.data["units"]["mysql.service"]["active"] == "not-found"
    assert [c[:2] for c in conn.commands] == [("systemctl", "list-unit-files"),
                                              ("systemctl", "show")]


def test_status_of_an_explicit_missing_unit_fails() -> None:
    conn = RecordingConnection("web1").on(r"^systemctl show", stdout="Id=x.service\nLoadState=not-found\n")
    res = services_status(target(conn), ["x"])
    assert res.status is Status.FAILED and "x.service (not-found)" in res.message


def test_status_validates_every_unit_before_touching_the_host() -> None:
    conn = RecordingConnection("web1")
    with pytest.raises(InvalidInput):
        services_status(target(conn), ["nginx", "x; reboot"])
    assert conn.commands == []


# --- php-fpm discovery --------------------------------------------------------------------

@pytest.mark.parametrize("listing,expected", [
    ("php7.4-fpm.service enabled enabled\nphp8.2-fpm.service enabled enabled\n"
     "php8.10-fpm.service disabled enabled\n", "php8.10-fpm.service"),
    ("php-fpm.service enabled disabled\n", "php-fpm.service"),
    ("php-fpm.service enabled disabled\nphp8.1-fpm.service enabled enabled\n", "php8.1-fpm.service"),
    ("", None),
])
def test_pick_php_fpm_unit(listing: str, expected: str | None) -> None:
    assert pick_php_fpm_unit(listing) == expected


def test_php_fpm_unit_prefers_the_inventory_then_asks_the_host() -> None:
    conn = RecordingConnection("web1")
    assert php_fpm_unit(target(conn, php_fpm_service="php8.1-fpm")) == "php8.1-fpm.service"
    assert conn.commands == []
    conn.on(r"^systemctl list-unit-files", stdout="php8.2-fpm.service enabled enabled\n")
    assert php_fpm_unit(target(conn)) == "php8.2-fpm.service"
    assert conn.commands[0][:2] == ("systemctl", "list-unit-files")
    with pytest.raises(ServiceNotInstalled, match="set php_fpm_service"):
        php_fpm_unit(target(RecordingConnection()))  # none installed: no made-up name


def test_reload_of_a_unit_that_cannot_reload_fails_before_acting() -> None:
    conn = RecordingConnection("web1").on(
        r"^systemctl show", stdout=show("redis-server.service") + "CanReload=no\n")
    res = service_reloaded(target(conn), "redis-server")
    assert res.status is Status.FAILED and "restart it instead" in res.message
    assert len(conn.commands) == 1
