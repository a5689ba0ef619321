"""nginx: block and unblock addresses with `deny` lines in one managed file.

The file (`/etc/nginx/conf.d/blocked.conf`, inventory `nginx_blocklist_path` overrides)
is included in the http block, so its `deny` lines apply to every server that has no
access rules of its own. Every change is tested with `nginx -t` before nginx reloads;
a failing test puts the previous file back, so nginx keeps its last good configuration.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from remediations.connections.base import Connection
from remediations.core import validate
from remediations.core.errors import InvalidInput
from remediations.core.result import Diff, Result, Step
from remediations.host import files
from remediations.host.health import fetch_on_host
from remediations.host.systemd import unit_state
from remediations.run.contract import Verification, apply
from remediations.run.target import Target

DEFAULT_BLOCKLIST = "/etc/nginx/conf.d/blocked.conf"
DEFAULT_CHECK_URL = "http://127.0.0.1/"
UNIT = "nginx.service"
HEADER = ("# Managed by remediations (ip_blocked / ip_unblocked): one `deny ADDRESS;` line\n"
          "# per blocked address or network. Included in nginx's http block.\n")
_DENY = re.compile(r"^\s*deny\s+([^\s;]+)\s*;\s*(#.*)?$")
_PATH = re.compile(r"^/[A-Za-z0-9._@+/-]+$")


def write_step(path: str, content: str) -> Step:
    return files.write_step(path, content, mode="0644")


def blocklist_path(t: Target) -> str:
    """The managed file: inventory `nginx_blocklist_path`, else conf.d/blocked.conf."""
    path = str(t.var("nginx_blocklist_path") or DEFAULT_BLOCKLIST)
    if not _PATH.fullmatch(path) or "/../" in f"{path}/" or path.endswith("/"):
        raise InvalidInput(f"nginx_blocklist_path is not a plain absolute path: {path!r}")
    return path


def denied(text: str | None) -> list[str]:
    """The arguments of every `deny` line, in file order."""
    return [m.group(1) for line in (text or "").splitlines() if (m := _DENY.match(line))]


def render_blocked(before: str | None, address: str) -> str:
    """The file with exactly one `deny address;` line (unchanged when it already has one)."""
    lines = (before or "").splitlines()
    hits = [i for i, line in enumerate(lines) if (m := _DENY.match(line)) and validate.same_address(m.group(1), address)]
    if before is not None and len(hits) == 1:
        return before
    if hits:
        keep = set(hits[1:])
        lines = [line for i, line in enumerate(lines) if i not in keep]
    else:
        lines.append(f"deny {address};")
    return _with_header(lines)


def render_unblocked(before: str | None, address: str) -> str | None:
    """The file without any `deny address;` line (None when there is no file)."""
    if before is None:
        return None
    lines = before.splitlines()
    kept = [line for line in lines if not ((m := _DENY.match(line)) and validate.same_address(m.group(1), address))]
    return before if len(kept) == len(lines) else _with_header(kept)


def _with_header(lines: list[str]) -> str:
    text = "\n".join(lines).strip("\n")
    if not text.startswith(HEADER.splitlines()[0]):
        text = HEADER + text
    return text.rstrip("\n") + "\n"


def ip_blocked(t: Target, address: str) -> Result:
    """Leave `address` (IPv4/IPv6 address or CIDR) denied by nginx: one `deny` line, reloaded.

    Example: `ip_blocked(target, "203.0.113.7")`, `ip_blocked(target, "2001:db8::/32")`.
    """
    address = validate.ip_or_cidr(address)
    return _change(t, "ip_blocked", address, render_blocked, verb="block")


def ip_unblocked(t: Target, address: str) -> Result:
    """Leave `address` not denied by the managed file; nginx reloaded if it changed.

    Example: `ip_unblocked(target, "203.0.113.7")`.
    """
    address = validate.ip_or_cidr(address)
    return _change(t, "ip_unblocked", address, render_unblocked, verb="unblock")


Render = Callable[[str | None, str], str | None]


def _change(t: Target, name: str, address: str, render: Render, *, verb: str) -> Result:
    path = blocklist_path(t)
    url = validate.http_url(str(t.var("nginx_check_url") or DEFAULT_CHECK_URL))
    before = files.read_text(t.conn, path)
    after = render(before, address)
    blocking = verb == "block"
    data = {"address": address, "path": path}
    if after == before:
        state = "already blocked" if blocking else "not blocked"
        return apply(t, name, [], verify=None, action="", done="", data=data,
                     ok_message=f"{address} {state} in {path}")
    nginx = unit_state(t.conn, UNIT)
    steps = [write_step(path, after or ""),
             Step(["nginx", "-t"], "test the configuration before nginx loads it")]
    if nginx.active:
        steps.append(Step(["systemctl", "reload", UNIT], "load the new deny list"))

    def verify() -> Verification:
        return _verify(t.conn, path, address, blocking=blocking, running=nginx.active, url=url)

    where = f"{verb} {address} in {path}"
    reloaded = ", reload nginx" if nginx.active else " (nginx is not running)"
    return apply(t, name, steps, verify=verify, data=data, ok_message="",
                 action=f"{where}, test{reloaded}", done=f"{verb}ed {address} in {path}",
                 diff=Diff(before or "", after or ""),
                 on_failure=lambda: _restore(t.conn, path, before))


def _restore(conn: Connection, path: str, before: str | None) -> str:
    """Put the previous file back after a failed test or reload; say what was done."""
    argv = (write_step(path, before).argv if before is not None
            else ("rm", "-f", "--", path, f"{path}.remediations.tmp"))
    res = conn.run(argv, check=False)
    if res.failed:
        return f"could not restore {path}: {res.tail(5)}"
    return (f"restored the previous {path}; nginx keeps its current configuration"
            if before is not None else f"removed {path} again; nginx keeps its current configuration")


def _verify(conn: Connection, path: str, address: str, *, blocking: bool, running: bool,
            url: str) -> Verification:
    lines = [d for d in denied(files.read_text(conn, path)) if validate.same_address(d, address)]
    if len(lines) != (1 if blocking else 0):
        return Verification(False, f"{path} has {len(lines)} deny lines for {address}")
    if not running:
        return Verification(True, "nginx is not running; it loads the list when it starts")
    state = unit_state(conn, UNIT)
    if not state.active:
        return Verification(False, f"{UNIT} is {state.active_state} after the reload")
    answer = fetch_on_host(conn, url)
    if answer.status == 0:
        return Verification(False, f"nginx does not answer at {url}: {answer.error}")
    return Verification(True, f"nginx -t passed, reloaded; {url} answers {answer.status}",
                        data={"http_status": answer.status})
