"""The PHP runtime: PHP and artisan as the app user, FPM and CLI settings, opcache, Octane.

`artisan_argv` (re-exported by `remediations.laravel.app`) runs artisan as `app_user`;
`probe` boots the app in PHP and reports what only the framework knows.

The web's PHP runs in php-fpm where it is installed (the unit is discovered:
`host.units`), else inside Apache (mod_php). Settings of FPM are read from what FPM
itself loads: `php-fpm -i` (its php.ini and conf.d, as the unit starts it) with each
pool's `php_value` / `php_admin_value` from `php-fpm -tt` on top. `php -r ini_get()`
would read the CLI's php.ini instead, and `php -c fpm/php.ini` would miss conf.d and the
pools. A FastCGI request to the running pool would be the only live answer, but needs a
client and a script FPM may execute, which a production host does not have; the files
are what the next (re)load uses. mod_php's are read the same way: see `php_settings`.

The opcache lives in php-fpm's shared memory (a reload, USR2, makes the master re-exec
with a new one and replaces every worker), or with mod_php in Apache's (a graceful
reload re-initialises PHP in the parent and replaces every child). It is reset at most
once per run.
"""

from __future__ import annotations

import json
import math
import posixpath
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from remediations.core import validate
from remediations.core.errors import InvalidInput, RemediationError
from remediations.core.result import Result, Status, Step
from remediations.core.scripts import script
from remediations.host import run_as
from remediations.host.apache import ModPhp, mod_php, php_overrides
from remediations.host.systemd import default_config_test, php_fpm_unit, unit_state
from remediations.host.units import APACHE, ServiceNotInstalled, host_units
from remediations.run import markers
from remediations.run.contract import Verification, apply
from remediations.run.target import Target

_PATH = re.compile(r"^/[A-Za-z0-9._@+/-]*$")
_USER = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")

# Boots the app as artisan does and prints JSON facts only the framework knows.
# argv: app path, then sections (store, mutexes, views). Never writes anything.
PROBE = script("laravel-probe.php")


def app_path(t: Target) -> str:
    """The inventory's `app_path`, validated (absolute, plain characters, normalised)."""
    value = t.var("app_path")
    if not isinstance(value, str) or not _PATH.fullmatch(value):
        raise InvalidInput(f"{t.name}: app_path must be an absolute path of plain characters, "
                           f"got {value!r}")
    norm = posixpath.normpath(value)
    if norm == "/" or ".." in value.split("/"):
        raise InvalidInput(f"{t.name}: app_path {value!r} is not an application directory")
    return norm


def user_name(value: Any, what: str = "user") -> str:
    """A Unix user or group name."""
    if not isinstance(value, str) or not _USER.fullmatch(value):
        raise InvalidInput(f"not a valid {what} name: {value!r}")
    return value


def app_user(t: Target) -> str:
    return user_name(t.var("app_user", "www-data"), "app_user")


def app_checked(t: Target) -> str:
    """Validate `app_path` and `app_user` before any host is touched; return the path."""
    app_user(t)
    return app_path(t)


def effective_user(t: Target) -> str:
    """Who commands run as on the host: the become user, else the login user."""
    return run_as.effective_user(t)


def as_app_user(t: Target, argv: Sequence[str]) -> list[str]:
    """`argv` run as `app_user`: as is when we are that user, runuser as root, else sudo."""
    return run_as.as_user(t, app_user(t), argv)


def artisan_argv(t: Target, *args: str, env: Mapping[str, str] | None = None) -> list[str]:
    """`php <app_path>/artisan ARGS` as the app user, with `env` set for the command.

    Example: `t.conn.run(artisan_argv(t, "queue:restart"))` runs
    `runuser -u www-data -- php /srv/app/current/artisan queue:restart` when logged in as root.
    """
    prefix = ["env", *(f"{k}={v}" for k, v in env.items())] if env else []
    return as_app_user(t, [*prefix, "php", f"{app_path(t)}/artisan", *args])


def probe(t: Target, *sections: str, fresh_config: bool = False) -> dict[str, Any]:
    """Run PROBE as the app user; `fresh_config` ignores a cached config (as after config:clear)."""
    app = app_path(t)
    env = {"APP_CONFIG_CACHE": f"{app}/bootstrap/cache/remediations-no-config.php"} \
        if fresh_config else None
    prefix = ["env", *(f"{k}={v}" for k, v in env.items())] if env else []
    res = t.conn.run(as_app_user(t, [*prefix, "php", "-r", PROBE, "--", app, *sections]),
                     timeout=120)
    try:
        data: dict[str, Any] = json.loads((res.stdout.strip().splitlines() or ["?"])[-1])
    except ValueError:
        raise RemediationError(f"the PHP probe of {app} printed no JSON:\n{res.tail(10)}") from None
    return data



SETTINGS = ("upload_max_filesize", "post_max_size", "memory_limit", "max_execution_time")
_INI = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")
_POOL = re.compile(r"NOTICE:\s+\[(?P<pool>[^\]]+)\]\s*$")
_POOL_VALUE = re.compile(r"NOTICE:\s+php(?:_admin)?_(?:value|flag)\[(?P<name>[^\]]+)\]\s*=\s*(?P<value>.*?)\s*$")
_KEEP_OPTIONS = ("-y", "--fpm-config", "-c", "--php-ini", "-d")
_CLI = script("php-ini.php")  # the CLI's settings named as arguments, as JSON
_CFG = script("php-cfg.php")  # the settings the ini files given to it set, as JSON


def fpm_unit(t: Target, service: str | None) -> str:
    """The php-fpm unit: `service`, else inventory `php_fpm_service`, else the highest
    version installed; `ServiceNotInstalled` (naming `php_fpm_service`) when there is none."""
    if service:
        return validate.unit_name(str(service))
    return php_fpm_unit(t)


@dataclass(frozen=True, slots=True)
class WebPhp:
    """The unit whose processes run the web's PHP: php-fpm, or Apache with mod_php."""

    unit: str
    mod_php: ModPhp | None = None  # set when PHP runs inside Apache

    @property
    def apache(self) -> bool:
        return self.mod_php is not None


def web_php(t: Target, service: str | None = None) -> WebPhp:
    """Where the web's PHP runs: `service` (a php-fpm unit, or apache2/httpd), else
    inventory `php_fpm_service`, else the php-fpm installed, else Apache when it loads
    mod_php. `ServiceNotInstalled` when none of them is there.

    Example: `web_php(t).unit` -> `"apache2.service"` on a mod_php host.
    """
    if service or t.var("php_fpm_service"):
        unit = fpm_unit(t, service)
        if unit not in APACHE:
            return WebPhp(unit)
    else:
        found = host_units(t)
        if found.php_fpm:
            return WebPhp(found.php_fpm)
        if not found.apache or found.web_server is None:
            raise ServiceNotInstalled(
                f"{t.name}: no php-fpm unit is installed and the web server is "
                f"{found.web_server or 'none'}, not Apache with mod_php: set php_fpm_service "
                "in the inventory if php-fpm runs under another name")
        unit = found.web_server
    module = mod_php(t.conn, unit)
    if module is None:
        raise ServiceNotInstalled(
            f"{t.name}: {unit} loads no mod_php (no `LoadModule php_module` enabled) and no "
            "php-fpm unit is installed: set php_fpm_service if php-fpm runs under another name")
    return WebPhp(unit, module)


def ini_names(names: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(names))
    bad = [n for n in chosen if not isinstance(n, str) or not _INI.fullmatch(n)]
    if not chosen or bad:
        raise InvalidInput(f"not valid php.ini setting names: {bad or 'none given'}")
    return chosen


def fpm_argv(exec_start: str) -> list[str]:
    """The FPM binary and its config options, from `systemctl show -p ExecStart`."""
    found = re.search(r"argv\[\]=([^;]*)", exec_start)
    words = found.group(1).split() if found else []
    if not words:
        raise InvalidInput(f"cannot read the php-fpm command line from {exec_start.strip()!r}")
    argv = [words[0]]
    for i, word in enumerate(words[1:], 1):
        if word in _KEEP_OPTIONS and i + 1 < len(words):
            argv += [word, words[i + 1]]
    return argv


def parse_phpinfo(text: str, names: Iterable[str]) -> dict[str, str | None]:
    """`name => local => master` lines of phpinfo() in text form."""
    values: dict[str, str | None] = {}
    for name in names:
        values[name] = None
        for line in text.splitlines():
            if line.startswith(f"{name} => "):
                values[name] = line.split(" => ")[1].strip()
                break
    return values


def parse_pool_overrides(text: str) -> dict[str, dict[str, str]]:
    """Per pool, the php_value / php_admin_value (and _flag) lines of `php-fpm -tt`."""
    pools: dict[str, dict[str, str]] = {}
    current = ""
    for line in text.splitlines():
        if m := _POOL.search(line):
            current = m.group("pool")
            if current != "global":
                pools.setdefault(current, {})
        elif (m := _POOL_VALUE.search(line)) and current and current != "global":
            pools[current][m.group("name")] = m.group("value")
    return pools


def amount(name: str, value: str | None) -> float:
    """A setting as a number to compare: sizes in bytes, unlimited as infinity."""
    if value is None:
        return math.nan
    text = value.strip()
    if (name == "memory_limit" and text == "-1") or (name == "max_execution_time" and text == "0"):
        return math.inf
    m = re.fullmatch(r"(-?\d+)\s*([KMGkmg]?)", text)
    if not m:
        return math.nan
    return float(int(m.group(1)) * (1 << (10 * " KMG".index(m.group(2).upper() or " "))))


def php_settings(t: Target, names: Iterable[str] = SETTINGS, *, service: str | None = None,
                 pool: str | None = None, at_least: Mapping[str, str] | None = None) -> Result:
    """A fact: PHP settings as the web's PHP (FPM per pool, or mod_php) and the CLI see them.

    Where the web's PHP runs is discovered (`web_php`; `service` or inventory
    `php_fpm_service` name it). FPM: `data["fpm"]` is for `pool` (inventory
    `php_fpm_pool`, default www or the first), `data["fpm_pools"]` for every pool.
    mod_php (Apache, no php-fpm): `data["apache"]`, read from what the module loads: its
    php.ini and conf.d (Debian: /etc/php/8.2/apache2/php.ini and conf.d, from the enabled
    `LoadModule php_module .../libphp8.2.so`) through the CLI binary of the same version
    given those files (`PHP_INI_SCAN_DIR=... php8.2 -c .../php.ini`, each value as the
    last of the files it loaded sets it, not the CLI's own overrides such as
    max_execution_time=0), with the `php_value` / `php_admin_value` lines of the enabled
    server and vhost configuration on top (.htaccess files are not read).
    `data["web"]` is either one, `data["cli"]` the CLI's own. With `at_least`
    (`{"upload_max_filesize": "64M"}`) it fails when the web's value is lower.
    Example: `php_settings(t, at_least={"memory_limit": "256M"})`.
    """
    chosen = ini_names(names)
    floors = {ini_names([k])[0]: str(v) for k, v in (at_least or {}).items()}
    runtime = web_php(t, service)
    if runtime.mod_php is not None:
        return _mod_php_settings(t, runtime.unit, runtime.mod_php, chosen, floors)
    unit = runtime.unit
    name = "php_settings"
    fpm = fpm_argv(t.conn.run(["systemctl", "show", "-p", "ExecStart", unit]).stdout)
    info = t.conn.run([*fpm, "-i"], check=False)
    test = t.conn.run([*fpm, "-tt"], check=False)
    if info.failed or test.failed:
        return t.result(name, Status.FAILED, f"`{' '.join(fpm)}` cannot load its configuration",
                        evidence=info.tail() if info.failed else test.tail())
    ini = parse_phpinfo(info.stdout, [*chosen, *floors])
    overrides = parse_pool_overrides(test.stderr + test.stdout)
    pools = {p: {n: o.get(n, ini[n]) for n in ini} for p, o in overrides.items()} or {"www": dict(ini)}
    wanted = pool or t.var("php_fpm_pool") or ("www" if "www" in pools else next(iter(pools)))
    if wanted not in pools:
        raise InvalidInput(f"{t.name}: no php-fpm pool {wanted!r}; pools: {', '.join(pools)}")
    cli = json.loads(t.conn.run(["php", "-r", _CLI, "--", *chosen]).stdout or "{}")
    data = {"fpm": {n: pools[wanted][n] for n in chosen}, "fpm_pool": wanted,
            "fpm_pools": pools, "fpm_ini": {n: ini[n] for n in chosen}, "cli": cli,
            "fpm_binary": fpm[0], "web": {n: pools[wanted][n] for n in chosen}, "sapi": "fpm",
            "unit": unit}
    summary = "; ".join(f"{n} fpm={pools[wanted][n]} cli={cli.get(n)}" for n in chosen)
    low = [f"{n}={pools[wanted][n]} < {v}" for n, v in floors.items()
           if not amount(n, pools[wanted][n]) >= amount(n, v)]
    if low:
        return t.result(name, Status.FAILED, f"FPM pool {wanted}: {', '.join(low)}", data=data)
    return t.result(name, Status.OK, summary, data=data)


def _mod_php_settings(t: Target, unit: str, module: ModPhp, chosen: tuple[str, ...],
                      floors: Mapping[str, str]) -> Result:
    """php_settings for PHP inside Apache (see its docstring)."""
    name = "php_settings"
    wanted = list(dict.fromkeys([*chosen, *floors]))
    res = t.conn.run(["env", f"PHP_INI_SCAN_DIR={module.scan_dir}", module.cli, "-c", module.ini,
                      "-r", _CFG, "--", *wanted], check=False)
    try:
        ini: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1]) if res.succeeded \
            else {}
    except (ValueError, IndexError):
        ini = {}
    if not ini:
        return t.result(name, Status.FAILED,
                        f"cannot read mod_php's settings with `{module.cli} -c {module.ini}`",
                        evidence=res.tail())
    overrides = php_overrides(t.conn, unit)
    values = {n: overrides.get(n, ini.get(n)) for n in wanted}
    cli = json.loads(t.conn.run(["php", "-r", _CLI, "--", *chosen]).stdout or "{}")
    data = {"sapi": "apache2handler", "unit": unit, "apache": {n: values[n] for n in chosen},
            "apache_ini": {n: ini.get(n) for n in chosen}, "php_ini": module.ini,
            "apache_overrides": {n: v for n, v in overrides.items() if n in wanted},
            "web": {n: values[n] for n in chosen}, "cli": cli, "module": module.module}
    summary = "; ".join(f"{n} apache={values[n]} cli={cli.get(n)}" for n in chosen)
    low = [f"{n}={values[n]} < {v}" for n, v in floors.items()
           if not amount(n, values[n]) >= amount(n, v)]
    if low:
        return t.result(name, Status.FAILED, f"mod_php in {unit}: {', '.join(low)}", data=data)
    return t.result(name, Status.OK, f"mod_php in {unit}: {summary}", data=data)


@dataclass(frozen=True, slots=True)
class Workers:
    main_pid: int
    pids: frozenset[int]


def fpm_workers(t: Target, unit: str) -> Workers:
    state = unit_state(t.conn, unit)
    if not state.main_pid:
        return Workers(0, frozenset())
    out = t.conn.run(["pgrep", "-P", str(state.main_pid)], check=False).stdout
    return Workers(state.main_pid, frozenset(int(p) for p in out.split() if p.isdigit()))


def opcache_reset(t: Target, *, service: str | None = None, verify_timeout: float = 15.0) -> Result:
    """Leave the web's opcache empty once in this run: reload the unit whose memory holds it.

    php-fpm (`service`, inventory `php_fpm_service`, else the one installed): `systemctl
    reload` (USR2). Apache with mod_php (no php-fpm installed, or `service="apache2"`):
    the opcache lives in Apache's processes, so `apachectl configtest` first (a broken
    configuration is refused: nothing reloaded), then a graceful `systemctl reload`.
    Not repeated when this run already reloaded or (re)started the unit. Verified:
    active, and none of the workers (children) from before the reload is left.
    Example: `opcache_reset(t)` after a release switch.
    """
    if t.host.connection == "kubernetes":  # a pod has no systemd: USR2 to its php-fpm master
        from remediations.laravel.fpm_process import opcache_reset_in_process
        return opcache_reset_in_process(t, verify_timeout=verify_timeout)
    verify_timeout = validate.seconds(verify_timeout, "verify_timeout")
    runtime = web_php(t, service)
    unit = runtime.unit
    name = "opcache_reset"
    state = unit_state(t.conn, unit)
    if not state.exists:
        return t.result(name, Status.FAILED, f"{unit} not found on {t.name}")
    if not state.active:
        return t.result(name, Status.SKIPPED,
                        f"{unit} is {state.active_state}: no opcache to reset")
    key = markers.reload_key(unit)
    if state.active_since is not None and state.active_since >= t.run.started_at:
        why = f"{unit} was (re)started by this run at {state.active_since:%H:%M:%S}"
        steps: list[Step] = []
    elif markers.done(t.conn, t.run, key):
        why, steps = f"{unit} already reloaded by this run", []
    else:
        how = "graceful reload: new children, new opcache" if runtime.apache else \
            "reset the opcache"
        why, steps = "", [Step(["systemctl", "reload", unit], how),
                          markers.mark_step(t.run, key)]
    data: dict[str, Any] = {"unit": unit, "sapi": "apache2handler" if runtime.apache else "fpm"}
    tested: tuple[str, ...] = ()
    test = default_config_test(unit) if runtime.apache and steps else None
    if test:
        # Read-only, so it runs in check mode too: check mode then says whether it would work.
        res = t.conn.run(test, check=False, timeout=60)
        tested = (res.command,)
        data["config_test"] = res.command
        if res.failed:
            return t.result(name, Status.FAILED,
                            f"config test `{res.command}` failed: {unit} not reloaded, its "
                            "opcache not reset; it keeps running its current configuration",
                            commands=tested, evidence=res.tail(30), data=data)
    before = fpm_workers(t, unit) if steps else Workers(state.main_pid, frozenset())
    kind = "children" if runtime.apache else "workers"

    def verify() -> Verification:
        deadline = time.monotonic() + verify_timeout
        while True:
            after = fpm_workers(t, unit)
            left = before.pids & after.pids
            if after.main_pid and not left:
                return Verification(True, f"{kind} replaced ({len(before.pids)} -> "
                                    f"{len(after.pids)}), main process {after.main_pid}",
                                    data={"workers_after": sorted(after.pids)})
            if time.monotonic() > deadline:
                return Verification(False, f"old {kind} still serving: {sorted(left)}"
                                    if after.main_pid else f"{unit} has no main process")
            time.sleep(0.3)

    passed = f" (config test `{tested[0]}` passed)" if tested else ""
    result = apply(t, name, steps, verify=verify, ok_message=why,
                   action=f"reload {unit}{passed}", done=f"reloaded {unit}{passed}",
                   data={**data, "workers_before": sorted(before.pids)})
    return result.replace(commands=tested + result.commands)


def octane_running(text: str, exit_code: int) -> bool:
    """Whether `artisan octane:status` says the server runs ("Octane server is running.")."""
    return exit_code == 0 and "octane server is running" in text.lower()


def octane_reloaded(t: Target) -> Result:
    """Leave the Octane workers reloaded once in this run (`artisan octane:reload`).

    `skipped` when the app has no Octane (no vendor/laravel/octane): nothing to reload.
    Refused (`failed`, nothing sent) when Octane is installed but its server does not run
    (`octane:status`), as `runtime.app_runtime` decides: a reload would reach no worker.
    Verified with `artisan octane:status`. Example: `octane_reloaded(t)`.
    """
    app = app_checked(t)
    name = "octane_reloaded"
    if t.conn.run(["test", "-d", f"{app}/vendor/laravel/octane"], check=False).failed:
        return t.result(name, Status.SKIPPED,
                        f"Octane is not installed in {app} (no vendor/laravel/octane); "
                        "nothing to reload")
    key = f"octane_reloaded@{app}"
    done = markers.done(t.conn, t.run, key)
    if not done:
        status = t.conn.run(artisan_argv(t, "octane:status"), check=False)
        if not octane_running(status.stdout, status.exit_code):
            return t.result(name, Status.FAILED,
                            f"Octane is installed in {app} but its server does not run "
                            f"({status.stdout.strip() or 'octane:status said nothing'}): "
                            "nothing to reload; start it (`artisan octane:start` under its "
                            "process manager) or reset php-fpm's opcache instead",
                            evidence=status.tail())
    steps = [] if done else [Step(artisan_argv(t, "octane:reload"), "reload requested"),
                             markers.mark_step(t.run, key)]

    def verify() -> Verification:
        res = t.conn.run(artisan_argv(t, "octane:status"), check=False)
        running = octane_running(res.stdout, res.exit_code)
        return Verification(running, res.stdout.strip() or "octane:status said nothing",
                            "" if running else res.tail())

    return apply(t, name, steps, verify=verify, ok_message="Octane already reloaded by this run",
                 action="reload the Octane workers", done="reloaded the Octane workers")
