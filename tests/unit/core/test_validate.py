from __future__ import annotations

from collections.abc import Callable

import pytest

from remediations.core import validate
from remediations.core.errors import InvalidInput


@pytest.mark.parametrize("name,expected", [
    ("nginx", "nginx.service"), ("php8.2-fpm", "php8.2-fpm.service"),
    ("redis-server.service", "redis-server.service"), ("getty@tty1", "getty@tty1.service"),
    ("nginx.socket", "nginx.socket"),
    ("systemd-fsck@dev-disk-by\\x2duuid-1.service", "systemd-fsck@dev-disk-by\\x2duuid-1.service"),
])
def test_unit_names(name: str, expected: str) -> None:
    assert validate.unit_name(name) == expected


@pytest.mark.parametrize("bad", [
    "nginx; rm -rf /", "nginx && reboot", "$(reboot)", "`id`", "nginx service", "", "-nginx",
    "../etc/passwd", "a" * 300, "nginx\n", "ngi|nx", "\\", "a\\b", "a\\x2",
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


@pytest.mark.parametrize("call,message", [
    (lambda: validate.number(float("nan"), "timeout", low=0, high=10),
     "timeout must be a finite number, got nan"),
    (lambda: validate.number(float("inf"), "timeout", low=0, high=10),
     "timeout must be a finite number, got inf"),
    (lambda: validate.number(True, "timeout", low=0, high=10), "timeout must be a number, got True"),
    (lambda: validate.number("5", "timeout", low=0, high=10), "timeout must be a number, got '5'"),
    (lambda: validate.number(11, "max_percent", low=0, high=10),
     "max_percent must be from 0 to 10, got 11"),
    (lambda: validate.number(0, "max_percent", low=0, high=100, low_open=True),
     "max_percent must be more than 0 and at most 100, got 0"),
    (lambda: validate.number(1.5, "replicas", low=0, high=10, whole=True),
     "replicas must be a whole number, got 1.5"),
    (lambda: validate.number(float("nan"), "replicas", low=0, high=10, whole=True),
     "replicas must be a whole number, got nan"),
    (lambda: validate.seconds(0, "timeout"), "timeout must be more than 0 and at most 86400, got 0"),
    (lambda: validate.seconds(86401, "timeout"),
     "timeout must be more than 0 and at most 86400, got 86401"),
    (lambda: validate.seconds(-1.5, "interval"),
     "interval must be more than 0 and at most 86400, got -1.5"),
    (lambda: validate.count(-1, "keep_lines"), "keep_lines must be from 0 to 1e+09, got -1"),
    (lambda: validate.count(False, "keep_lines"), "keep_lines must be a number, got False"),
    (lambda: validate.count(2**70, "db", high=1024), "db must be from 0 to 1024, got 1.18059e+21"),
])
def test_number_messages(call: Callable[[], object], message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        call()
    assert str(refused.value) == message


def test_numbers_accepted() -> None:
    assert validate.seconds(0.5, "timeout") == 0.5
    assert validate.seconds(86400, "timeout") == 86400
    assert validate.count(3.0, "replicas") == 3 and isinstance(validate.count(3.0, "replicas"), int)
    assert validate.count(0, "keep_lines") == 0
    assert validate.number(100, "max_percent", low=0, high=100, low_open=True) == 100
