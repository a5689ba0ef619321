"""The values options accept: what `refused` lets through as well as what it stops."""

from __future__ import annotations

import pytest

from remediations.cli.values import MAX_TEXT, BadNumber, Range, Text, refused, shown

SERIAL_PERCENT = {"serial": Text(), "max_fail_percentage": Text()}


@pytest.mark.parametrize(("name", "value"), [
    ("serial", "1"), ("serial", "30%"), ("serial", "1,50%"), ("serial", " 2 , 25.5% "),
    ("serial", "1000000"), ("max_fail_percentage", "0"), ("max_fail_percentage", "12.5"),
    ("max_fail_percentage", "50%"), ("max_fail_percentage", "100"), ("run_id", "fix-1.2_a"),
    ("connection", "ssh"), ("connection", "community.docker.docker"),
    ("limit", "web:&prod:!web3"), ("limit", "~web[12]"), ("inventory", "../inv/lab.yml,b.ini"),
    ("message", "Back at 14:00\u00a0h, sorry \u2014 \u00e9quipe"),  # no-break space is a space
])
def test_ordinary_values_pass(name: str, value: str) -> None:
    assert refused([(name, value)], SERIAL_PERCENT) == ""


@pytest.mark.parametrize(("name", "value", "message"), [
    ("serial", "0", "--serial must be a positive number (at most 1000000) or percentage"),
    ("serial", "1000001", "--serial must be"), ("serial", "0%", "--serial must be"),
    ("serial", "101%", "--serial must be"), ("serial", "nan%", "--serial must be"),
    ("serial", "1e3", "--serial must be"), ("max_fail_percentage", "100.5",
                                           "--max-fail-percentage must be a number from 0 to 100"),
    ("max_fail_percentage", "nan", "--max-fail-percentage must be"),
    ("run_id", "a/b", "--run-id must be letters, digits"),
    ("connection", "telnet", "unsupported connection 'telnet'"),
    ("service", "-h", "--service may not start with '-' (an option given as its value?): '-h'"),
    ("service", "a\nb", "--service must be one line of printable characters"),
    ("service", "a\x00b", "--service must be one line of printable characters"),
    ("service", "a\u202eb", "--service must be one line of printable characters"),  # bidi override
    ("service", "\udcff", "--service is not valid UTF-8: '\\udcff'"),
    ("service", "a" * (MAX_TEXT + 1), f"--service is too long: {MAX_TEXT + 1} characters"),
])
def test_bad_values_are_one_line_naming_the_option(name: str, value: str, message: str) -> None:
    found = refused([(name, value)], SERIAL_PERCENT)
    assert found.startswith(message) and "\n" not in found and found.isascii()


def test_a_numbers_range_and_its_unset_default() -> None:
    days = {"days": Range(0, 36_500, unset=-1)}
    assert refused([("days", -1)], days) == ""          # the default: not given
    assert refused([("days", 0)], days) == ""
    assert refused([("days", -2)], days) == "--days must be from 0 to 36500, got -2"
    assert refused([("days", 10**400)], days) == \
        "--days must be from 0 to 36500, got a number of 401 digits"
    timeout = {"timeout": Range(0, 86_400, low_open=True)}
    assert refused([("timeout", float("nan"))], timeout) == \
        "--timeout must be a finite number more than 0 and at most 86400, got nan"
    assert refused([("timeout", float("-inf"))], timeout).endswith("got -inf")
    assert refused([("timeout", 0.0)], timeout) == \
        "--timeout must be more than 0 and at most 86400, got 0"
    # No Range declared: still never NaN or infinite.
    assert refused([("wait", float("inf"))], {}) == "--wait must be a finite number, got inf"


def test_the_first_refusal_wins_and_bad_numbers_are_reported() -> None:
    assert refused([("forks", BadNumber("forks", "five", True)), ("service", "-h")], {}) == \
        "--forks must be a whole number, got 'five'"
    assert refused([("check", True), ("address", None), ("yes", False)], {}) == ""


def test_text_dash_and_path() -> None:
    assert Text(dash=True).problem("value", "-1") == ""
    assert Text(path=True).problem("audit-log", "/var/log/x/../y").endswith("'/var/log/x/../y'")
    assert Text(path=True).problem("audit-log", "a/..b/c..") == ""   # names, not components
    assert Text(path=True).problem("audit-log", "a\\..\\b") != ""


def test_shown_is_ascii_and_short() -> None:
    assert shown("é\udcff\n") == "'\\xe9\\udcff\\n'"
    long = shown("x" * 5000)
    assert long == f"'{'x' * 60}'... (5000 characters)"
