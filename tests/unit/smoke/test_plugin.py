"""The pytest plugin as a project uses it: options, the smoke marker, fixtures, the results file."""

from __future__ import annotations

import http.server
import importlib.metadata
import json
import os
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from remediations.core.errors import InvalidInput
from remediations.smoke.fixtures import HealthAnswer, HealthCheck, host_spec
from remediations.smoke.results import host_rows
from remediations.smoke.session import LOAD_PLUGIN
from tests.unit.helpers import host

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[3]
# Plugins these runs do not need (hypothesis alone costs a second per in-process run), and
# this one loaded by module, so the runs do not depend on how the package was installed.
QUIET = ("-p", "no:hypothesispytest", "-p", "no:benchmark", "-p", "no:cacheprovider",
         *LOAD_PLUGIN)


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest(*QUIET, *args)


INVENTORY = """\
all:
  vars: {ansible_connection: local}
  children:
    web:
      hosts:
        web1: {health_url: "HEALTH/up"}
        web2: {health_url: "HEALTH/up"}
    db:
      hosts:
        db1: {}
"""


@pytest.fixture
def http_server() -> Iterator[str]:
    """A server on 127.0.0.1: /up answers JSON with a version, /down a 500."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = {"/up": (200, b'{"status": "ok", "version": "1.2.3"}')}.get(
                self.path, (500, b"<h1>Whoops, looks like something went wrong.</h1>"))
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def project(pytester: pytest.Pytester, http_server: str) -> pytest.Pytester:
    """A project with an inventory (local hosts) whose health_url is the server above."""
    pytester.makefile(".yml", inv=INVENTORY.replace("HEALTH", http_server))
    return pytester


SMOKE_TEST = """
import pytest

@pytest.mark.smoke("web")
def test_per_host(inventory_host):
    assert inventory_host.name.startswith("web")

def test_plain():
    pass
"""


def test_the_smoke_marker_runs_a_test_once_per_host_named_by_host(project: pytest.Pytester) -> None:
    project.makepyfile(SMOKE_TEST)
    # In a subprocess: in-process, -W error also turns this process's own stray
    # ResourceWarnings (collected at any moment) into errors of the inner run.
    result = project.runpytest_subprocess(*QUIET, "--remediations-inventory", "inv.yml", "-v",
                                          "--strict-markers", "-W", "error")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*::test_per_host?web1? PASSED*", "*::test_per_host?web2? PASSED*",
                                 "*::test_plain PASSED*"])
    assert "db1" not in result.stdout.str()


def test_limit_narrows_the_hosts_and_a_limit_matching_nothing_is_a_usage_error(
        project: pytest.Pytester) -> None:
    project.makepyfile(SMOKE_TEST)
    narrowed = run(project, "--remediations-inventory", "inv.yml", "-v",
                                 "--remediations-limit", "web:!web2")
    narrowed.assert_outcomes(passed=2)
    narrowed.stdout.fnmatch_lines(["*::test_per_host?web1? PASSED*"])
    assert "web2" not in narrowed.stdout.str()

    outside = run(project, "--remediations-inventory", "inv.yml", "-rs",
                                "--remediations-limit", "db1")
    outside.assert_outcomes(passed=1, skipped=1)
    outside.stdout.fnmatch_lines(["*no inventory host matches smoke pattern 'web' within "
                                  "--remediations-limit 'db1'*"])

    nothing = run(project, "--remediations-inventory", "inv.yml", "--remediations-limit", "web9")
    assert nothing.ret == pytest.ExitCode.USAGE_ERROR
    nothing.stderr.fnmatch_lines(["ERROR: remediations: no hosts matched pattern 'web9'"])


def test_the_inventory_comes_from_the_environment_or_the_ini_file(
        project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    project.makepyfile(SMOKE_TEST)
    monkeypatch.setenv("REMEDIATIONS_INVENTORY", str(project.path / "inv.yml"))
    run(project, ).assert_outcomes(passed=3)

    monkeypatch.delenv("REMEDIATIONS_INVENTORY")
    project.makeini("[pytest]\nremediations_inventory = inv.yml\n")
    sub = project.mkdir("sub")
    (sub / "test_in_sub.py").write_text(SMOKE_TEST)
    monkeypatch.chdir(sub)  # a relative ini path is the ini file's, not the working directory's
    run(project, "test_in_sub.py").assert_outcomes(passed=3)


def test_without_an_inventory_smoke_tests_skip_saying_how_to_give_one(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REMEDIATIONS_INVENTORY", raising=False)
    pytester.makepyfile(SMOKE_TEST + """
def test_inventory(remediations_inventory):
    pass
""")
    result = run(pytester, "-rs")
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(["*no inventory for the smoke tests: pass "
                                 "--remediations-inventory FILE, set REMEDIATIONS_INVENTORY*"])

    limited = run(pytester, "--remediations-limit", "web")
    assert limited.ret == pytest.ExitCode.USAGE_ERROR
    limited.stderr.fnmatch_lines(["ERROR: --remediations-limit needs an inventory; *"])


def test_a_broken_inventory_stops_the_run_with_one_line_naming_file_and_line(
        pytester: pytest.Pytester) -> None:
    pytester.makefile(".yml", bad="all:\n  hosts:\n    web1: {ansible_port: 22\n")
    pytester.makepyfile(SMOKE_TEST)
    result = run(pytester, "--remediations-inventory", "bad.yml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: remediations: *bad.yml:*invalid YAML*"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_the_connection_option_overrides_every_host(project: pytest.Pytester) -> None:
    project.makefile(".yml", ssh=INVENTORY.replace("ansible_connection: local",
                                                   "ansible_connection: ssh"))
    project.makepyfile("""
import pytest

@pytest.mark.smoke("web1")
def test_connection(inventory_host, smoke_host):
    assert inventory_host.connection == "local"
    assert smoke_host.backend.NAME == "local"
    assert smoke_host.run("echo hi").stdout == "hi\\n"
""")
    run(project, "--remediations-inventory", "ssh.yml",
                      "--remediations-connection", "local").assert_outcomes(passed=1)
    bad = run(project, "--remediations-inventory", "ssh.yml",
                            "--remediations-connection", "telnet")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR


def test_inventory_host_outside_a_smoke_test_fails_saying_to_mark_it(
        project: pytest.Pytester) -> None:
    project.makepyfile("def test_unmarked(inventory_host):\n    pass\n")
    result = run(project, "--remediations-inventory", "inv.yml")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*inventory_host is set by @pytest.mark.smoke('pattern'): mark the test*"])


@pytest.fixture
def repo_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pytest subprocess imports this checkout's package, wherever it runs."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        filter(None, (str(ROOT), os.environ.get("PYTHONPATH")))))


@pytest.mark.usefixtures("repo_on_path")
def test_the_plugin_imports_nothing_heavy_when_unused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
import sys

def test_nothing_loaded(request):
    assert request.config.pluginmanager.has_plugin("remediations.smoke.plugin")
    heavy = [m for m in ("remediations.inventory", "remediations.run.runner", "remediations.smoke.fixtures",
                         "fabric", "paramiko", "docker", "kubernetes", "rich", "yaml")
             if m in sys.modules]
    assert heavy == []
""")
    result = pytester.runpytest_subprocess(*QUIET, "-W", "error")
    result.assert_outcomes(passed=1)


def test_pytest_finds_the_plugin_through_the_pytest11_entry_point() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["entry-points"]["pytest11"] == {
        "remediations": "remediations.smoke.plugin"}


@pytest.mark.usefixtures("repo_on_path")
def test_an_installed_package_is_autoloaded_by_pytest(pytester: pytest.Pytester) -> None:
    if not importlib.metadata.entry_points(group="pytest11", name="remediations"):
        pytest.skip("the installed metadata predates the pytest11 entry point: pip install -e .")
    pytester.makepyfile("def test_loaded(request):\n"
                        "    assert request.config.pluginmanager.has_plugin('remediations')\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["plugins:*remediations-*"])


def test_health_answers_with_status_json_and_version_and_explains_a_failure(
        project: pytest.Pytester) -> None:
    project.makepyfile("""
import pytest

pytestmark = pytest.mark.smoke("web1")

def test_up(health):
    answer = health()
    assert answer.ok and answer.status == 200
    assert answer.json["status"] == "ok"
    assert answer.version == "1.2.3"

def test_down(health):
    assert health("/down").ok
""")
    result = run(project, "--remediations-inventory", "inv.yml")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*<HealthAnswer GET http://127.0.0.1:*/down: HTTP 500, expected "
                                 "200/204; body '<h1>Whoops, looks like something went wrong.</h1>'>*"])


def test_remediate_runs_a_remediation_through_the_runner_and_honours_check_mode(
        project: pytest.Pytester) -> None:
    project.makepyfile("""
import pytest
from remediations import http_ok

@pytest.mark.smoke("web")
def test_health(remediate, inventory_host):
    result = remediate(http_ok, json_field="status", json_value="ok")
    assert result.ok, result.message
    assert (result.host, result.remediation, result.check) == (inventory_host.name, "http_ok", True)
    assert result.data["version"] == "1.2.3"
    down = remediate(http_ok, url=inventory_host.vars["health_url"].replace("/up", "/down"))
    assert down.status == "failed" and "HTTP 500" in down.message
""")
    result = run(project, "--remediations-inventory", "inv.yml", "--remediations-check")
    result.assert_outcomes(passed=2)


def test_the_results_file_has_each_outcome_per_host_with_a_one_line_reason(
        project: pytest.Pytester) -> None:
    project.makepyfile("""
import pytest

pytestmark = pytest.mark.smoke("web")

def test_works(inventory_host):
    pass

def test_web2_breaks(inventory_host):
    running = inventory_host.name != "web2"
    assert running, f"php-fpm is not running on {inventory_host.name}"

def test_skips(inventory_host):
    pytest.skip("no queue on this host")

@pytest.fixture
def broken():
    raise RuntimeError("cannot reach redis")

def test_setup_errors(broken):
    pass
""")
    out = project.path / "results.json"
    result = run(project, "--remediations-inventory", "inv.yml", "--remediations-results",
                               str(out))
    result.assert_outcomes(passed=3, failed=1, skipped=2, errors=2)
    data = json.loads(out.read_text())
    assert data["exit_status"] == 1
    by_test = {(t["host"], t["test"]): (t["outcome"], t["reason"]) for t in data["tests"]}
    assert by_test[("web1", "test_works")] == ("passed", "")
    assert by_test[("web2", "test_web2_breaks")] == ("failed", "php-fpm is not running on web2")
    assert by_test[("web1", "test_skips")] == ("skipped", "no queue on this host")
    assert by_test[("web2", "test_setup_errors")] == ("error", "RuntimeError: cannot reach redis")

    rows = {r.host: r for r in host_rows(data, ["web1", "web2", "db1"])}
    assert (rows["web2"].passed, rows["web2"].failed, rows["web2"].skipped) == (1, 2, 1)
    assert rows["web2"].reason == "test_web2_breaks: php-fpm is not running on web2"
    assert rows["db1"].ok and rows["db1"].reason == "no smoke test selects this host"


def test_host_spec_reaches_the_host_as_the_inventory_says(tmp_path: Path) -> None:
    ssh = host("web1", ansible_host="127.0.0.1", ansible_port=2201, ansible_user="deploy",
               ansible_ssh_private_key_file="/keys/id", ansible_host_key_checking=False,
               ansible_become=True)
    spec, kwargs = host_spec(ssh)
    assert spec == "ssh://deploy@127.0.0.1:2201"
    assert kwargs["ssh_identity_file"] == "/keys/id"
    assert "StrictHostKeyChecking=no" in kwargs["ssh_extra_args"]
    assert (kwargs["sudo"], kwargs["sudo_user"]) == (True, "root")

    checked = host_spec(host("web1", ansible_host="::1", ansible_user="root"))
    assert checked[0] == "ssh://root@[::1]"
    assert "StrictHostKeyChecking=yes" in checked[1]["ssh_extra_args"]
    assert "sudo" not in checked[1]

    docker = host("web1", ansible_connection="docker", ansible_docker_host="rem-web1",
                  ansible_user="www-data")
    assert host_spec(docker) == ("docker://www-data@rem-web1", {})
    assert host_spec(host("web1", ansible_connection="local")) == ("local://", {})
    with pytest.raises(InvalidInput, match="kubernetes host has no testinfra backend"):
        host_spec(host("web", ansible_connection="kubernetes"))


def test_health_check_builds_urls_on_the_health_url_origin() -> None:
    check = HealthCheck(host("web1", health_url="http://127.0.0.1:8001/up"))
    assert check.url() == "http://127.0.0.1:8001/up"
    assert check.url("/api/health/ready") == "http://127.0.0.1:8001/api/health/ready"
    assert check.url("http://127.0.0.1:9000/x") == "http://127.0.0.1:9000/x"
    with pytest.raises(InvalidInput, match="not a URL path"):
        check.url("up now")
    with pytest.raises(InvalidInput, match="no health_url in the inventory"):
        HealthCheck(host("web1")).url()
    answer = HealthAnswer("http://x/up", 200, "not json", "HTTP 200", True)
    assert answer.version is None
    with pytest.raises(AssertionError, match="did not answer JSON: 'not json'"):
        answer.json  # noqa: B018
