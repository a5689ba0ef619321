"""Apache 2.4: block and unblock addresses for every virtual host, and what mod_php loads.

The blocklist is one managed file of `<If "-R 'ADDRESS'"> Require all denied </If>`
sections, at server level: Debian's `/etc/apache2/conf-available/remediations-blocklist.conf`
enabled with `a2enconf`, RHEL's `/etc/httpd/conf.d/remediations-blocklist.conf`
(inventory `apache_blocklist_path` overrides; a path outside those folders must be
included by the configuration already). `<If>` sections are merged after every
`<Directory>` and `<Location>`, so a matching client is denied (403) everywhere while
every other client keeps exactly the access rules it had: nothing is opened up. A
virtual host's own `<If>` that grants access overrides it (Apache's merge order).
Every change is checked with `apachectl configtest` before a graceful reload; a failing
test puts the previous file back, so Apache keeps its last good configuration.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass

from remediations.connections.base import Connection
from remediations.core import validate
from remediations.core.errors import InvalidInput
from remediations.core.result import Diff, Result, Step
from remediations.host import files
from remediations.host.health import fetch_on_host
from remediations.host.systemd import default_config_test, unit_state
from remediations.run.contract import Verification, apply
from remediations.run.target import Target

DEFAULT_CHECK_URL = "http://127.0.0.1/"
HEADER = ("# Managed by remediations (ip_blocked / ip_unblocked): one <If> section per blocked\n"
          "# address or network, denying it in every virtual host (Apache 2.4).\n")
_IF = re.compile(r"""^\s*<If\s+"-R\s+'([^'"\s]+)'">\s*$""")
_END = re.compile(r"^\s*</If>\s*$")
_PATH = re.compile(r"^/[A-Za-z0-9._@+/-]+$")
_LOAD_PHP = re.compile(r"^\s*LoadModule\s+php\d*_module\s+(\S*?libphp(\d+(?:\.\d+)?)?\.so)\s*$",
                       re.M)


@dataclass(frozen=True, slots=True)
class Layout:
    """Where a distribution keeps Apache's files, and how it tests and enables them."""

    unit: str
    blocklist: str
    enabled: str | None           # the link `a2enconf` makes, where the distribution has one
    enable: tuple[str, ...]       # the command that makes it (empty: none needed)
    config_test: tuple[str, ...]
    modules: tuple[str, ...]      # where enabled modules' LoadModule lines are
    config: tuple[str, ...]       # the server and vhost configuration that is loaded


DEBIAN = Layout(
    "apache2.service", "/etc/apache2/conf-available/remediations-blocklist.conf",
    "/etc/apache2/conf-enabled/remediations-blocklist.conf",
    ("a2enconf", "-q", "remediations-blocklist"), ("apache2ctl", "configtest"),
    ("/etc/apache2/mods-enabled",),
    ("/etc/apache2/apache2.conf", "/etc/apache2/conf-enabled", "/etc/apache2/sites-enabled"))
RHEL = Layout(
    "httpd.service", "/etc/httpd/conf.d/remediations-blocklist.conf", None, (),
    ("apachectl", "configtest"), ("/etc/httpd/conf.modules.d",),
    ("/etc/httpd/conf/httpd.conf", "/etc/httpd/conf.d"))


def layout(t: Target, unit: str) -> Layout:
    """The layout of `unit` (apache2: Debian's, httpd: RHEL's), with the inventory's
    `apache_blocklist_path` in place of the default file."""
    base = DEBIAN if validate.unit_name(unit) == "apache2.service" else RHEL
    if base.unit != validate.unit_name(unit):
        raise InvalidInput(f"{unit} is not Apache (apache2 or httpd)")
    test = default_config_test(unit)
    base = Layout(base.unit, base.blocklist, base.enabled, base.enable,
                  tuple(test or base.config_test), base.modules, base.config)
    configured = t.var("apache_blocklist_path")
    if not configured:
        return base
    path = str(configured)
    if not _PATH.fullmatch(path) or "/../" in f"{path}/" or not path.endswith(".conf"):
        raise InvalidInput(f"apache_blocklist_path is not a plain absolute .conf path: {path!r}")
    available = posixpath.dirname(DEBIAN.blocklist)
    if base.unit == DEBIAN.unit and posixpath.dirname(path) == available:
        name = posixpath.basename(path).removesuffix(".conf")
        return Layout(base.unit, path, f"/etc/apache2/conf-enabled/{name}.conf",
                      ("a2enconf", "-q", name), base.config_test, base.modules, base.config)
    return Layout(base.unit, path, None, (), base.config_test, base.modules, base.config)


# -- the blocklist, as text -----------------------------------------------------------------

def section(address: str) -> list[str]:
    return [f"<If \"-R '{address}'\">", "    Require all denied", "</If>"]


def _sections(lines: list[str]) -> list[tuple[int, int, str]]:
    """(first line, last line, address) of every managed `<If "-R '...'">` section."""
    found: list[tuple[int, int, str]] = []
    i = 0
    while i < len(lines):
        m = _IF.match(lines[i])
        if m:
            end = next((j for j in range(i + 1, len(lines)) if _END.match(lines[j])), None)
            if end is not None:
                found.append((i, end, m.group(1)))
                i = end + 1
                continue
        i += 1
    return found


def denied(text: str | None) -> list[str]:
    """The addresses of every managed section, in file order."""
    return [a for _, _, a in _sections((text or "").splitlines())]


def _without(lines: list[str], drop: list[tuple[int, int, str]]) -> list[str]:
    gone = {i for first, last, _ in drop for i in range(first, last + 1)}
    return [line for i, line in enumerate(lines) if i not in gone]


def render_blocked(before: str | None, address: str) -> str:
    """The file with exactly one section for `address` (unchanged when it has one)."""
    lines = (before or "").splitlines()
    hits = [s for s in _sections(lines) if validate.same_address(s[2], address)]
    if before is not None and len(hits) == 1:
        return before
    if hits:
        return _with_header(_without(lines, hits[1:]))
    return _with_header([*lines, *section(address)])


def render_unblocked(before: str | None, address: str) -> str | None:
    """The file without any section for `address` (None when there is no file)."""
    if before is None:
        return None
    lines = before.splitlines()
    hits = [s for s in _sections(lines) if validate.same_address(s[2], address)]
    return before if not hits else _with_header(_without(lines, hits))


def _with_header(lines: list[str]) -> str:
    text = "\n".join(lines).strip("\n")
    if not text.startswith(HEADER.splitlines()[0]):
        text = HEADER + text
    return text.rstrip("\n") + "\n"


# -- block and unblock ----------------------------------------------------------------------

Render = Callable[[str | None, str], str | None]


def ip_blocked(t: Target, address: str, *, unit: str = "apache2.service") -> Result:
    """Leave `address` (IPv4/IPv6 address or CIDR) denied by Apache (403), tested, reloaded.

    Example: `ip_blocked(target, "203.0.113.7")`, `ip_blocked(t, "10.0.0.0/8", unit="httpd")`.
    """
    address = validate.ip_or_cidr(address)
    return _change(t, "ip_blocked", address, render_blocked, unit=unit, verb="block")


def ip_unblocked(t: Target, address: str, *, unit: str = "apache2.service") -> Result:
    """Leave `address` not denied by the managed file; Apache reloaded if it changed.

    Example: `ip_unblocked(target, "203.0.113.7")`.
    """
    address = validate.ip_or_cidr(address)
    return _change(t, "ip_unblocked", address, render_unblocked, unit=unit, verb="unblock")


def _change(t: Target, name: str, address: str, render: Render, *, unit: str,
            verb: str) -> Result:
    where = layout(t, unit)
    url = validate.http_url(str(t.var("apache_check_url") or t.var("nginx_check_url")
                                or DEFAULT_CHECK_URL))
    path = where.blocklist
    before = files.read_text(t.conn, path)
    after = render(before, address)
    blocking = verb == "block"
    enabling = bool(where.enable) and blocking and after is not None and (
        where.enabled is None or t.conn.run(["test", "-e", where.enabled], check=False).failed)
    data = {"address": address, "path": path, "unit": where.unit}
    if after == before and not enabling:
        state = "already blocked" if blocking else "not blocked"
        return apply(t, name, [], verify=None, action="", done="", data=data,
                     ok_message=f"{address} {state} in {path}")
    apache = unit_state(t.conn, where.unit)
    steps = [files.write_step(path, after or "", mode="0644")]
    if enabling:
        steps.append(Step(list(where.enable), f"include {path} in the server configuration"))
    steps.append(Step(list(where.config_test), "test the configuration before Apache loads it"))
    if apache.active:
        steps.append(Step(["systemctl", "reload", where.unit], "graceful reload: load the list"))

    def verify() -> Verification:
        return _verify(t.conn, where, address, blocking=blocking, running=apache.active, url=url)

    reloaded = f", reload {where.unit}" if apache.active else f" ({where.unit} is not running)"
    return apply(t, name, steps, verify=verify, data=data, ok_message="",
                 action=f"{verb} {address} in {path}, test{reloaded}",
                 done=f"{verb}ed {address} in {path}", diff=Diff(before or "", after or ""),
                 on_failure=lambda: _restore(t.conn, where, before, enabled_now=enabling))


def _restore(conn: Connection, where: Layout, before: str | None, *, enabled_now: bool) -> str:
    """Put the previous file (and include) back after a failed test or reload."""
    path = where.blocklist
    argv = (files.write_step(path, before).argv if before is not None
            else ("rm", "-f", "--", path, f"{path}.remediations.tmp"))
    res = conn.run(argv, check=False)
    if res.failed:
        return f"could not restore {path}: {res.tail(5)}"
    if enabled_now and where.enabled is not None:
        conn.run(["rm", "-f", "--", where.enabled], check=False)
    what = f"restored the previous {path}" if before is not None else f"removed {path} again"
    return f"{what}; Apache keeps its current configuration"


def _verify(conn: Connection, where: Layout, address: str, *, blocking: bool, running: bool,
            url: str) -> Verification:
    found = [a for a in denied(files.read_text(conn, where.blocklist)) if validate.same_address(a, address)]
    if len(found) != (1 if blocking else 0):
        return Verification(False, f"{where.blocklist} has {len(found)} sections for {address}")
    if where.enabled is not None and blocking and conn.run(
            ["test", "-e", where.enabled], check=False).failed:
        return Verification(False, f"{where.blocklist} is not enabled ({where.enabled} missing)")
    if not running:
        return Verification(True, f"{where.unit} is not running; it loads the list when it starts")
    state = unit_state(conn, where.unit)
    if not state.active:
        return Verification(False, f"{where.unit} is {state.active_state} after the reload")
    answer = fetch_on_host(conn, url)
    if answer.status == 0:
        return Verification(False, f"Apache does not answer at {url}: {answer.error}")
    test = " ".join(where.config_test)
    return Verification(True, f"{test} passed, reloaded; {url} answers {answer.status}",
                        data={"http_status": answer.status})


# -- mod_php ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ModPhp:
    """PHP inside Apache: the module loaded, and the php.ini and conf.d it reads."""

    module: str              # /usr/lib/apache2/modules/libphp8.2.so
    version: str | None      # "8.2" where the module's name says it (Debian)
    ini: str                 # /etc/php/8.2/apache2/php.ini
    scan_dir: str            # /etc/php/8.2/apache2/conf.d

    @property
    def cli(self) -> str:
        """The CLI binary of the same PHP version (`php8.2` on Debian, else `php`)."""
        return f"php{self.version}" if self.version else "php"


def parse_mod_php(load_lines: str, where: Layout) -> ModPhp | None:
    """The mod_php module from the enabled `LoadModule` lines, with its ini files."""
    m = _LOAD_PHP.search(load_lines)
    if not m:
        return None
    version = m.group(2)
    if where.unit == "apache2.service" and version:
        return ModPhp(m.group(1), version, f"/etc/php/{version}/apache2/php.ini",
                      f"/etc/php/{version}/apache2/conf.d")
    return ModPhp(m.group(1), version, "/etc/php.ini", "/etc/php.d")


def mod_php(conn: Connection, unit: str) -> ModPhp | None:
    """Whether Apache `unit` loads mod_php (its enabled LoadModule lines), and which."""
    where = DEBIAN if validate.unit_name(unit) == "apache2.service" else RHEL
    res = conn.run(["grep", "-RhsE", r"^\s*LoadModule\s+php[0-9]*_module", *where.modules],
                   check=False)
    return parse_mod_php(res.stdout, where)


_OVERRIDE = re.compile(r"^\s*php_(?:admin_)?(?:value|flag)\s+([A-Za-z0-9_.]+)\s+(.*?)\s*$")


def parse_overrides(text: str) -> dict[str, str]:
    """`php_value` / `php_admin_value` (and `_flag`) lines of Apache's configuration;
    the last one wins, as for Apache's merge of one scope."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        if m := _OVERRIDE.match(line):
            found[m.group(1)] = m.group(2).strip('"')
    return found


def php_overrides(conn: Connection, unit: str) -> dict[str, str]:
    """The PHP settings Apache's server and vhost configuration set (not .htaccess)."""
    where = DEBIAN if validate.unit_name(unit) == "apache2.service" else RHEL
    res = conn.run(["grep", "-RhsE", r"^\s*php_(admin_)?(value|flag)\s", *where.config],
                   check=False)
    return parse_overrides(res.stdout)
