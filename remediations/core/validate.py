"""Input validation: every string from a user or an inventory passes here first.

Each function returns the normalised value or raises `InvalidInput` before any
host is touched.
"""

from __future__ import annotations

import ipaddress
import math
import posixpath
import re
from urllib.parse import urlsplit

from remediations.core.errors import InvalidInput

# systemd.unit(5): ASCII letters, digits, ":", "-", "_", ".", "\xNN" escapes and "@" templates.
_UNIT_CHARS = r"(?:[A-Za-z0-9:_.-]|\\x[0-9a-fA-F]{2})"
_UNIT = re.compile(rf"^{_UNIT_CHARS}+(@{_UNIT_CHARS}*)?$")
_UNIT_SUFFIXES = (".service", ".socket", ".target", ".timer", ".mount", ".path", ".slice", ".scope")
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_RELEASE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")


def unit_name(name: str) -> str:
    """A systemd unit name, `.service` added when no suffix is given."""
    if not isinstance(name, str) or not name or len(name) > 255 or not _UNIT.fullmatch(name):
        raise InvalidInput(f"not a valid systemd unit name: {name!r}")
    if name.startswith("-"):
        raise InvalidInput(f"not a valid systemd unit name: {name!r} (may not start with '-')")
    return name if name.endswith(_UNIT_SUFFIXES) else f"{name}.service"


def run_id(value: str) -> str:
    """A run id: letters, digits, '.', '_' and '-', at most 64 characters."""
    if not isinstance(value, str) or not _RUN_ID.fullmatch(value):
        raise InvalidInput(
            f"not a valid run id: {value!r} (letters, digits, '.', '_', '-'; at most 64)")
    return value


def release_tag(value: str) -> str:
    """A release tag such as v1.2.2."""
    if not isinstance(value, str) or not _RELEASE.fullmatch(value) or ".." in value:
        raise InvalidInput(f"not a valid release tag: {value!r}")
    return value


def ip_or_cidr(value: str) -> str:
    """An IPv4/IPv6 address or network, normalised (`10.0.0.1/8` is refused, not masked)."""
    try:
        if "/" in value:
            return str(ipaddress.ip_network(value, strict=True))
        return str(ipaddress.ip_address(value))
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"not a valid IP address or CIDR: {value!r}") from exc


def ip_address(value: str) -> str:
    """One IPv4/IPv6 address (no network), normalised."""
    try:
        return str(ipaddress.ip_address(value))
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"not a valid IP address: {value!r}") from exc


def same_address(written: str, address: str) -> bool:
    """Whether an address or network written in a config names `address` (normalised, as
    `ip_or_cidr` gives it): `10.0.0.0/8` and `10.0.0.0/08` alike."""
    try:
        norm = (str(ipaddress.ip_network(written, strict=False)) if "/" in written
                else str(ipaddress.ip_address(written)))
    except ValueError:
        return written == address
    return norm == address


def path_inside(path: str, root: str) -> str:
    """An absolute path that stays inside `root` once normalised."""
    if not isinstance(path, str) or "\0" in path or not path:
        raise InvalidInput(f"not a valid path: {path!r}")
    root_n = posixpath.normpath(root)
    full = posixpath.normpath(path if path.startswith("/") else posixpath.join(root_n, path))
    if full != root_n and not full.startswith(root_n.rstrip("/") + "/"):
        raise InvalidInput(f"path {path!r} is outside the allowed root {root!r}")
    return full


def http_url(value: str) -> str:
    """An http(s) URL with a host."""
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"not an http(s) URL: {value!r}")
    if any(c.isspace() for c in value):
        raise InvalidInput(f"URL may not contain white space: {value!r}")
    return value


# The longest wait any remediation accepts: a day. Longer is a typo (or `inf`).
MAX_SECONDS = 86400.0


def number(value: object, name: str, *, low: float, high: float, whole: bool = False,
           low_open: bool = False) -> float:
    """A finite number from `low` to `high` (above `low` with `low_open`); ints only if `whole`.

    `number(timeout, "timeout", low=0, high=MAX_SECONDS, low_open=True)`. NaN, the
    infinities, booleans and strings are refused, so a bad value never reaches a host.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"{name} must be a number, got {value!r}")
    if whole and not isinstance(value, int):
        if not math.isfinite(value) or value != int(value):
            raise InvalidInput(f"{name} must be a whole number, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):  # an int always is (and may not fit a float)
        raise InvalidInput(f"{name} must be a finite number, got {value!r}")
    above = value > low if low_open else value >= low
    if not above or value > high:
        span = (f"more than {low:g} and at most {high:g}" if low_open
                else f"from {low:g} to {high:g}")
        digits = int(value.bit_length() * 0.30103) + 1 if isinstance(value, int) else 0
        got = f"{value:g}" if digits < 300 else f"a number of {digits} digits"
        raise InvalidInput(f"{name} must be {span}, got {got}")
    return value


def seconds(value: object, name: str, *, high: float = MAX_SECONDS) -> float:
    """A positive, finite number of seconds, at most `high` (a day by default)."""
    return number(value, name, low=0, high=high, low_open=True)


def count(value: object, name: str, *, low: int = 0, high: int = 10**9) -> int:
    """A whole number from `low` to `high`."""
    return int(number(value, name, low=low, high=high, whole=True))


def positive_number(value: float, name: str) -> float:
    """A positive, finite number of seconds (kept for callers that say "number")."""
    return seconds(value, name)
