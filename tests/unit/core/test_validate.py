from __future__ import annotations

import pytest

from remediations.core import validate
from remediations.core.errors import InvalidInput


@pytest.mark.parametrize("name,expected", [
    ("nginx", "nginx.service"), ("php8.2-fpm", "php8.2-fpm.service"),
    ("redis-server.service", "redis-server.service"), ("getty@tty1", "getty@tty1.service"),
    ("nginx.socket", "nginx.socket"),
])
def test_unit_names(name: str, expected: str) -> None:
    assert validate.unit_name(name) == expected


@pytest.mark.parametrize("bad", [
    "nginx; rm -rf /", "nginx && reboot", "$(reboot)", "`id`", "nginx service", "", "-nginx",
    "../etc/passwd", "a" * 300, "nginx\n", "ngi|nx",
])
def test_unit_names_rejected(bad: str) -> None:
    with pytest.raises(InvalidInput):
        validate.unit_name(bad)


@pytest.mark.parametrize("value,expected", [
    ("203.0.113.7", "203.0.113.7"), ("203.0.113.0/24", "203.0.113.0/24"),
    ("2001:db8::1", "2001:db8::1"),
])
def test_ip_or_cidr(value: str, expected: str) -> None:
    assert validate.ip_or_cidr(value) == expected


@pytest.mark.parametrize("bad", ["999.1.1.1", "1.2.3.4; reload", "10.0.0.1/8", "", "1.2.3"])
def test_ip_or_cidr_rejected(bad: str) -> None:
    with pytest.raises(InvalidInput):
        validate.ip_or_cidr(bad)


def test_path_inside() -> None:
    assert validate.path_inside("storage/logs/laravel.log", "/srv/app") == "/srv/app/storage/logs/laravel.log"
    for bad in ("/etc/passwd", "../../etc/shadow", "/srv/application/x", "/srv/app/../x"):
        with pytest.raises(InvalidInput):
            validate.path_inside(bad, "/srv/app")


@pytest.mark.parametrize("bad", ["", "a b", "x;y", "-x", "x" * 65])
def test_run_id_rejected(bad: str) -> None:
    with pytest.raises(InvalidInput):
        validate.run_id(bad)


def test_release_tags() -> None:
    assert validate.release_tag("v1.2.2") == "v1.2.2"
    for bad in ("v1..2", "../v1", "v1 2", "v1;x", ""):
        with pytest.raises(InvalidInput):
            validate.release_tag(bad)
