"""What runs a Laravel app on a host (php-fpm, Apache mod_php, Octane, Horizon), and so which
hooks follow a release switch.

`app_runtime` reads it in one round trip (the script `runtime-probe.sh`), changing nothing:

- **php-fpm**: the unit files `systemctl list-unit-files` lists (`phpX.Y-fpm.service`, the
  highest version, or `php-fpm.service`); inventory `php_fpm_service` wins when that unit
  is installed. A host without systemd (a container) has no unit to reload: None.
- **web server**: `nginx.service`, `apache2.service` or `httpd.service`, the first listed.
- **mod_php**: Apache loads PHP itself (`LoadModule php...` in an enabled
  `/etc/apache2/mods-enabled/php*.load` or `/etc/httpd/conf.modules.d/*php*.conf`): the
  opcache lives in Apache's processes, so Apache is what a switch reloads.
- **Horizon** runs for the app when `artisan horizon:status` (run as the app user when
  a `vendor/*/horizon` package or `config/horizon.php` exists, or a master runs) exits 0
  or prints "running"/"paused"
  (a paused Horizon still has its master), or when a process `... artisan horizon` (the
  master, not `horizon:supervisor` / `horizon:work`) runs from the app: its working
  directory or artisan path under the app's root (the releases root for `.../current`),
  or, when its working directory cannot be read, as the app user.
- **Octane** runs when `vendor/laravel/octane` exists and `artisan octane:status` prints
  "Octane server is running.", or a process `artisan octane:start` runs as the app user.

Processes are read from /proc (app images may have no `ps`), only those of the probe's own
mount namespace: a host running containers does not count their processes as its own. `switch_hooks` turns a
`Runtime` into the ordered hooks of a switch; none is left out silently: each one the
runtime calls for is in the list, and a hook that cannot run fails the switch.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

from remediations.core.commands import sh
from remediations.core.errors import InvalidInput, RemediationError
from remediations.core.scripts import script
from remediations.host.systemd import pick_php_fpm_unit
from remediations.laravel.php import app_path, app_user, as_app_user, octane_running
from remediations.run.target import Target

_PROBE = script("runtime-probe.sh")
_WEB_UNITS = ("nginx.service", "apache2.service", "httpd.service")
_ARTISAN_COMMAND = re.compile(r"^[a-z][a-z0-9-]*(?::[a-z0-9][a-z0-9-]*)*$")
_ARTISAN_ARG = re.compile(r"^(?:--?[A-Za-z0-9][A-Za-z0-9_-]*(?:=[A-Za-z0-9_.,:/@+-]*)?"
                          r"|[A-Za-z0-9_.,:/@+-]+)$")
# Commands a user hook may not be: they change data or the switch itself.
_REFUSED_HOOKS = ("migrate", "db:", "down", "up", "key:generate", "queue:flush", "queue:clear",
                  "schedule:clear-cache", "horizon:clear", "horizon:purge")
PHP_FPM_RELOAD, APACHE_RELOAD = "php-fpm:reload", "apache2:reload"
OCTANE_RELOAD, HORIZON_TERMINATE, QUEUE_RESTART = "octane:reload", "horizon:terminate", "queue:restart"


@dataclass(frozen=True, slots=True)
class Process:
    """A Horizon master or Octane server process, as /proc shows it."""

    pid: int
    user: str
    cwd: str
    args: str


@dataclass(frozen=True, slots=True)
class Runtime:
    """What serves and works for the app on one host (see the module docstring)."""

    php_fpm: str | None      # php-fpm unit if one is installed (e.g. "php8.2-fpm.service")
    web_server: str | None   # "nginx.service" / "apache2.service" / "httpd.service" or None
    mod_php: bool            # Apache serving PHP itself (libapache2-mod-php): opcache in Apache
    octane: bool             # Octane server running for the app
    horizon: bool            # Horizon master running for the app
    systemd: bool = True
    horizon_status: str = ""          # "running" / "paused" / "inactive" / "" (not installed)
    horizon_masters: tuple[int, ...] = ()
    octane_status: str = ""
    units: tuple[str, ...] = field(default=())

    def describe(self) -> str:
        parts = [f"php-fpm {self.php_fpm}" if self.php_fpm else "no php-fpm",
                 self.web_server or "no web server unit"]
        if self.mod_php:
            parts.append("mod_php")
        parts.append(f"Horizon {self.horizon_status or 'running'} (masters "
                     f"{', '.join(map(str, self.horizon_masters)) or '?'})"
                     if self.horizon else "no Horizon")
        parts.append("Octane running" if self.octane else "no Octane")
        return "; ".join(parts)

    def data(self) -> dict[str, object]:
        return {"php_fpm": self.php_fpm, "web_server": self.web_server, "mod_php": self.mod_php,
                "octane": self.octane, "horizon": self.horizon, "systemd": self.systemd,
                "horizon_status": self.horizon_status,
                "horizon_masters": list(self.horizon_masters),
                "octane_status": self.octane_status}


def horizon_state(text: str) -> str:
    """`running` / `paused` / `inactive` from what `artisan horizon:status` printed, else ""."""
    low = text.lower()
    for word in ("running", "paused", "inactive"):
        if f"horizon is {word}" in low:
            return word
    return ""


def is_horizon_master(args: str) -> bool:
    """`php artisan horizon` (the master), not `horizon:supervisor` / `horizon:work`."""
    words = args.split()
    return len(words) >= 2 and words[-1] == "horizon" and words[-2].endswith("artisan")


def _belongs(p: Process, app: str, user: str) -> bool:
    """Run from the app (its cwd or artisan path under the app's root), or as the app user
    when its cwd cannot be read (another user's process, probed without root)."""
    root = posixpath.dirname(app) if app.endswith("/current") else app
    if any(w.startswith(root + "/") or w == root for w in (p.cwd, *p.args.split())):
        return True
    return not p.cwd and p.user == user


def parse_runtime(text: str, *, app: str, user: str, fpm_wanted: str | None = None) -> Runtime:
    """The `Runtime` in the probe's lines (`key<TAB>value...`)."""
    units: list[str] = []
    mod_php = False
    systemd = False
    procs: list[Process] = []
    out: dict[str, list[str]] = {"horizon": [], "octane": []}
    rc: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition("\t")
        cells = rest.split("\t")
        if key == "systemd":
            systemd = rest.strip() == "yes"
        elif key == "unit" and cells[0]:
            units.append(cells[0])
        elif key == "mod_php":
            mod_php = True
        elif key == "proc" and len(cells) >= 4 and cells[0].isdigit():
            procs.append(Process(int(cells[0]), cells[1], cells[2], "\t".join(cells[3:])))
        elif key in ("horizon_rc", "octane_rc") and rest.strip().lstrip("-").isdigit():
            rc[key[:-3]] = int(rest.strip())
        elif key in out:
            out[key].append(rest)
    wanted = fpm_wanted if not fpm_wanted or fpm_wanted.endswith(".service") \
        else f"{fpm_wanted}.service"
    fpm = wanted if wanted and wanted in units else pick_php_fpm_unit("\n".join(units))
    web = next((u for u in _WEB_UNITS if u in units), None)
    ours = [p for p in procs if _belongs(p, app, user)]
    masters = tuple(p.pid for p in ours if is_horizon_master(p.args))
    status = horizon_state("\n".join(out["horizon"]))
    if not status and "horizon" in rc and rc["horizon"] == 0 and out["horizon"]:
        status = "running"
    horizon = bool(masters) or status in ("running", "paused")
    octane_text = "\n".join(out["octane"]).strip()
    octane = octane_running(octane_text, rc.get("octane", 1)) \
        or any("artisan octane:start" in p.args for p in ours)
    return Runtime(fpm, web, mod_php and web in ("apache2.service", "httpd.service", None),
                   octane, horizon, systemd=systemd, horizon_status=status,
                   horizon_masters=masters, octane_status=octane_text.splitlines()[-1]
                   if octane_text else "", units=tuple(units))


def app_runtime(t: Target, app: str | None = None) -> Runtime:
    """Read what runs the app at `app` (default inventory `app_path`) on the host; read-only.

    One round trip. Raises `RemediationError` when the host cannot run the probe.
    Example: `app_runtime(t).horizon` -> True where a Horizon master runs for the app.
    """
    where = app or app_path(t)
    user = app_user(t)
    res = t.conn.run(["sh", "-c", _PROBE, "_", where, *as_app_user(t, [])], check=False,
                     timeout=90)
    if res.failed or "systemd\t" not in res.stdout:
        raise RemediationError(f"{t.name}: could not read the app's runtime:\n{res.tail(10)}")
    wanted = t.var("php_fpm_service")
    return parse_runtime(res.stdout, app=where, user=user,
                         fpm_wanted=str(wanted) if wanted else None)


def release_hooks(value: object) -> list[tuple[str, list[str]]]:
    """Inventory `release_hooks` (artisan command strings) as (`artisan:<command>`, args).

    `["cache:prune-stale-tags", "horizon:snapshot"]`; arguments are allowed
    (`"cache:clear --tags=x"`) but no shell syntax, and no command that changes data
    (`migrate`, `db:*`, `queue:flush` ...).
    """
    if value in (None, "", []):
        return []
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise InvalidInput(f"release_hooks must be a list of artisan commands, got {value!r}")
    hooks: list[tuple[str, list[str]]] = []
    for item in value:
        if not isinstance(item, str):
            raise InvalidInput(f"release_hooks: not an artisan command string: {item!r}")
        try:
            words = shlex.split(item.strip().removeprefix("php artisan ").removeprefix("artisan "))
        except ValueError:
            raise InvalidInput(f"release_hooks: cannot read {item!r}") from None
        if not words or not _ARTISAN_COMMAND.fullmatch(words[0]) \
                or not all(_ARTISAN_ARG.fullmatch(w) for w in words[1:]):
            raise InvalidInput(f"release_hooks: {item!r} is not an artisan command "
                               "(a name like cache:prune-stale-tags and plain options)")
        if any(words[0] == r or (r.endswith(":") and words[0].startswith(r))
               or words[0].startswith(r + ":") for r in _REFUSED_HOOKS):
            raise InvalidInput(f"release_hooks: {words[0]} is not allowed as a release hook")
        hooks.append((f"artisan:{words[0]}", words))
    return hooks


def switch_hooks(t: Target, rt: Runtime, app: str) -> list[tuple[str, list[str]]]:
    """The hooks to run after a release switch, in order, as (name, argv) in app dir `app`.

    `php-fpm:reload` where php-fpm is installed; `apache2:reload` (config test, then
    graceful reload) where Apache serves PHP with mod_php; `octane:reload` where Octane
    runs; `horizon:terminate` where Horizon runs, else `queue:restart`; then the
    inventory's `release_hooks` as `artisan:<command>`. A host with neither php-fpm nor
    mod_php has no opcache to reset and gets no reload hook (its PHP runs in the CLI).
    Example: `switch_hooks(t, app_runtime(t), "/srv/app/releases/v1.2.3")`.
    """
    user_hooks = release_hooks(t.var("release_hooks"))

    def artisan(*args: str) -> list[str]:
        return as_app_user(t, ["php", f"{app}/artisan", *args])

    hooks: list[tuple[str, list[str]]] = []
    if rt.php_fpm:
        hooks.append((PHP_FPM_RELOAD, ["systemctl", "reload", rt.php_fpm]))
    if rt.mod_php:
        unit = rt.web_server or "apache2.service"
        ctl = "apachectl" if unit != "httpd.service" else "httpd"
        test = "%s configtest" if ctl == "apachectl" else "%s -t"
        name = APACHE_RELOAD if unit == "apache2.service" else f"{unit.removesuffix('.service')}:reload"
        hooks.append((name, sh(f"{test} && systemctl reload %s", ctl, unit)))
    if rt.octane:
        hooks.append((OCTANE_RELOAD, artisan("octane:reload")))
    if rt.horizon:
        hooks.append((HORIZON_TERMINATE, artisan("horizon:terminate")))
    else:
        hooks.append((QUEUE_RESTART, artisan("queue:restart")))
    hooks += [(name, artisan(*words)) for name, words in user_hooks]
    return hooks


def octane_runs(t: Target, done: object = None) -> bool:
    """Whether an Octane server runs for the app (a runbook step's `when=` predicate)."""
    return app_runtime(t).octane


def horizon_runs(t: Target, done: object = None) -> bool:
    """Whether a Horizon master runs for the app (a runbook step's `when=` predicate)."""
    return app_runtime(t).horizon
