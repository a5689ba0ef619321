"""Host names as inventories write them: `web[01:03].example.com`, `db-[a:c]`, `web1:2222`.

Behaviour follows Ansible's `expand_hostname_range` and `parse_address`:

- a range is `[begin:end]` or `[begin:end:step]`, inclusive; numeric bounds with
  a leading zero are zero-padded (`[01:10]` → `01 … 10`, both bounds the same
  width); single-letter bounds run over `a-zA-Z` (`[a:c]`, `[x:B]`);
- a range whose begin is after its end is an error (Ansible silently
  expands a numeric one to no host at all);
- several ranges in one name expand left to right (`h[1:2]-[a:b]` →
  `h1-a h1-b h2-a h2-b`);
- `name:port` splits off a port when `name` is a valid host name or IPv4
  address (ranges allowed); `[v6-address]:port` too. Anything else is a plain
  name with no port, as in Ansible.
"""

from __future__ import annotations

import ipaddress
import re
import string

from remediations.core.errors import InvalidInput

# A label of a host name: word characters or ranges, `-`/`_` inside, not at the end.
_RANGE = r"\[(?:[a-zA-Z]:[a-zA-Z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]"
_LABEL = rf"(?:\w|{_RANGE})(?:[\w-]|{_RANGE})*(?<![_-])"
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
_HOSTPORT = re.compile(r"^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$")
_BRACKETED_HOSTPORT = re.compile(r"^\[(.+)\]:([0-9]+)$")


class HostRangeError(InvalidInput):
    """A `[x:y]` range in a host name is malformed; loaders add the file and line."""


def parse_address(text: str) -> tuple[str, int | None] | None:
    """`(host, port)` if `text` is a host name/IP with an optional `:port`, else None.

    >>> parse_address("web1:2222")
    ('web1', 2222)
    >>> parse_address("web[01:03]")
    ('web[01:03]', None)
    """
    host, port = text, None
    for rx in (_BRACKETED_HOSTPORT, _HOSTPORT):
        m = rx.match(text)
        if m:
            host, port = m.group(1), int(m.group(2))
            break
    if _is_ip(host) or _HOSTNAME.match(host):
        return host, port
    return None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def expand_host_pattern(pattern: str) -> tuple[list[str], int | None]:
    """The host names a pattern stands for, and the port it gives them (if any).

    Raises `HostRangeError` for a malformed range.

    >>> expand_host_pattern("web[1:3]:2222")
    (['web1', 'web2', 'web3'], 2222)
    """
    if ":" not in pattern and "[" not in pattern:  # the common case, and the fast one
        return [pattern], None
    parsed = parse_address(pattern)
    name, port = parsed if parsed is not None else (pattern, None)
    names = expand_hostname_range(name) if "[" in name else [name]
    return names, port


def expand_hostname_range(name: str) -> list[str]:
    """Expand every `[begin:end(:step)]` range in `name`, first range outermost."""
    head, sep, rest = name.partition("[")
    if not sep:
        return [name]
    body, sep, tail = rest.partition("]")
    if not sep:
        raise HostRangeError(f"host range in {name!r} has no closing ']'")
    bounds = body.split(":")
    if len(bounds) not in (2, 3):
        raise HostRangeError(f"host range [{body}] in {name!r} must be begin:end or begin:end:step")
    begin, end = bounds[0] or "0", bounds[1]
    step_text = bounds[2] if len(bounds) == 3 else "1"
    if not end:
        raise HostRangeError(f"host range [{body}] in {name!r} must specify an end value")
    try:
        step = int(step_text)
    except ValueError:
        raise HostRangeError(f"host range [{body}] in {name!r} has a non-numeric step") from None
    if step <= 0:
        raise HostRangeError(f"host range [{body}] in {name!r} must have a positive step")
    width = 0
    if begin[0] == "0" and len(begin) > 1:
        width = len(begin)
        if len(end) != width:
            raise HostRangeError(
                f"host range [{body}] in {name!r} must have begin and end of equal width")
    items = _range_items(begin, end, step, body, name)
    names: list[str] = []
    for item in items:
        expanded = head + (item.zfill(width) if width else item) + tail
        names.extend(expand_hostname_range(expanded) if "[" in expanded else [expanded])
    return names


def _range_items(begin: str, end: str, step: int, body: str, name: str) -> list[str]:
    letters = string.ascii_letters
    if begin in letters and end in letters and len(begin) == len(end) == 1:
        first, last = letters.index(begin), letters.index(end)
        if first > last:
            raise HostRangeError(f"host range [{body}] in {name!r} must have begin <= end")
        return list(letters[first:last + 1:step])
    try:
        first, last = int(begin), int(end)
    except ValueError:
        raise HostRangeError(
            f"host range [{body}] in {name!r} must be numeric or single letters") from None
    if first > last:  # Ansible silently expands this to no host at all
        raise HostRangeError(f"host range [{body}] in {name!r} must have begin <= end")
    return [str(i) for i in range(first, last + 1, step)]
