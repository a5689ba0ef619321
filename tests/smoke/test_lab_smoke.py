"""CI smoke tests of the web hosts, written as a project writes them: no conftest needed.

    python -m pytest tests/smoke --remediations-inventory inventories/lab.yml
    invoke smoke -i inventories/lab.yml -l web

Each test runs once per host of the `web` group (ids are the host names).
"""

import pytest

from remediations import http_ok, service_running

pytestmark = pytest.mark.smoke("web")


def test_nginx_and_php_fpm_are_running(smoke_host, inventory_host):
    php_fpm = inventory_host.vars.get("php_fpm_service", "php8.2-fpm")
    for unit in ("nginx", php_fpm):
        assert smoke_host.service(unit).is_running, f"{unit} is not running"


def test_up_is_healthy(health):
    answer = health()
    assert answer.ok, answer
    assert answer.json["status"] == "ok"
    assert answer.version, f"{answer.url} names no version"


def test_current_release_is_linked(smoke_host, inventory_host):
    current = smoke_host.file(inventory_host.vars.get("app_path", "/srv/app/current"))
    assert current.is_symlink, f"{current.path} is not a symlink"
    release = smoke_host.file(current.linked_to)
    assert release.is_directory, f"{current.path} points at {release.path}, which is not there"
    assert smoke_host.file(f"{release.path}/artisan").exists


def test_nginx_needs_no_remediation(remediate):
    result = remediate(service_running, unit="nginx")
    assert result.status == "ok", result.message  # running already: nothing was done


def test_health_as_the_runner_sees_it(remediate):
    result = remediate(http_ok, json_field="status", json_value="ok")
    assert result.ok, f"{result.message}\n{result.evidence}"
