"""Which inventory to read when none is named: Ansible's own settings, found as Ansible finds them.

The sources, first found wins:

1. the sources given (`-i`, comma-separated), else `$REMEDIATIONS_INVENTORY`;
2. `$ANSIBLE_INVENTORY` (comma-separated; relative paths from the working folder);
3. `inventory =` under `[defaults]` in the `ansible.cfg` Ansible would use
   (relative paths from that file's folder).

Ansible's default, `/etc/ansible/hosts`, is not used: a remediation acts on the
hosts it was pointed at, never on a default. The `ansible.cfg` is the first
readable one of `$ANSIBLE_CONFIG` (a file, or a folder holding `ansible.cfg`),
`./ansible.cfg` (skipped when the working folder is world-writable, as Ansible
does), `~/.ansible.cfg`, `/etc/ansible/ansible.cfg`.

Sources from Ansible's settings are read by this library's own loader unless
the `ansible.cfg` says, in a section Ansible ignores:

    [remediations]
    inventory_kind = ansible     ; read them with ansible-inventory (`ansible:` sources)

The vault password file: the one given (`vault_password_file=`), else
`$ANSIBLE_VAULT_PASSWORD_FILE`, else `vault_password_file =` under `[defaults]`.
`$REMEDIATIONS_INVENTORY_CACHE_TTL` is how long, in seconds, the output of
`ansible-inventory` is reused (300 by default; 0 runs it every time).
"""

from __future__ import annotations

import math
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass

from remediations.core.errors import InventoryError
from remediations.core.validate import MAX_SECONDS

ANSIBLE_PREFIX = "ansible:"
DEFAULT_CACHE_TTL = 300.0
_KINDS = ("native", "ansible")
_ENV_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


@dataclass(frozen=True, slots=True)
class AnsibleConfig:
    """What this library reads from an `ansible.cfg`; `path` None when there is none."""

    path: str | None = None
    inventory: tuple[str, ...] = ()
    vault_password_file: str | None = None
    inventory_kind: str = "native"


@dataclass(frozen=True, slots=True)
class InventorySettings:
    """The inventory sources to load, where they came from, and how to load them."""

    sources: tuple[str, ...]
    origin: str  # "-i", "$REMEDIATIONS_INVENTORY", "$ANSIBLE_INVENTORY", "/path/ansible.cfg", ""
    vault_password_file: str | None
    cache_ttl: float
    config: AnsibleConfig


def inventory_settings(given: str = "", *, vault_password_file: str = "",
                       environ: Mapping[str, str] | None = None,
                       cwd: str | None = None) -> InventorySettings:
    """The inventory to load, by the rules above; `InventoryError` for a bad setting.

        settings = inventory_settings(opts.inventory, vault_password_file=opts.vault_password_file)
        inv = load_inventory(settings.sources, vault_password_file=settings.vault_password_file)
    """
    env = os.environ if environ is None else environ
    here = os.getcwd() if cwd is None else cwd
    config = read_config(find_config_file(env, here), env)
    origin = "-i" if given else "$REMEDIATIONS_INVENTORY"
    text = given or env.get("REMEDIATIONS_INVENTORY", "")
    sources = tuple(p for p in text.split(",") if p)
    if not text:
        from_ansible = _path_list(env.get("ANSIBLE_INVENTORY", ""), here, env)
        origin = "$ANSIBLE_INVENTORY"
        if not from_ansible and config.inventory:
            from_ansible, origin = config.inventory, config.path or ""
        prefix = ANSIBLE_PREFIX if config.inventory_kind == "ansible" else ""
        sources = tuple(prefix + p for p in from_ansible)
        origin = origin if sources else ""
    password = _vault_password_file(vault_password_file, env, here, config)
    return InventorySettings(sources, origin, password, _cache_ttl(env), config)


def find_config_file(environ: Mapping[str, str], cwd: str) -> str | None:
    """The `ansible.cfg` Ansible would read (`ansible.config.manager.find_ini_config_file`)."""
    candidates: list[str] = []
    given = environ.get("ANSIBLE_CONFIG")
    if given is not None:
        path = resolve_path(given, cwd, environ)
        candidates.append(os.path.join(path, "ansible.cfg") if os.path.isdir(path) else path)
    try:
        if not os.stat(cwd).st_mode & stat.S_IWOTH:
            candidates.append(os.path.join(cwd, "ansible.cfg"))
    except OSError:
        pass
    candidates.append(resolve_path("~/.ansible.cfg", cwd, environ))
    candidates.append("/etc/ansible/ansible.cfg")
    return next((p for p in candidates if os.path.exists(p) and os.access(p, os.R_OK)), None)


def read_config(path: str | None, environ: Mapping[str, str] | None = None) -> AnsibleConfig:
    """The settings this library uses from the `ansible.cfg` at `path` (None: no file)."""
    if path is None:
        return AnsibleConfig()
    import configparser

    env = os.environ if environ is None else environ
    if os.path.splitext(path)[1] not in (".cfg", ".ini"):
        raise InventoryError("unsupported configuration file extension (Ansible reads "
                             ".cfg and .ini files)", path=path)
    parser = configparser.ConfigParser(inline_comment_prefixes=(";",))
    try:
        with open(path, encoding="utf-8") as fh:
            parser.read_string(fh.read(), source=path)
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryError(f"cannot read the Ansible configuration: {exc}", path=path) from None
    except configparser.Error as exc:
        line = getattr(exc, "lineno", None)
        raise InventoryError(f"invalid Ansible configuration: {exc.message}", path=path,
                             line=line if isinstance(line, int) else None) from None
    base = os.path.dirname(path)
    inventory = parser.get("defaults", "inventory", raw=True, fallback="")
    password = parser.get("defaults", "vault_password_file", raw=True, fallback="")
    kind = parser.get("remediations", "inventory_kind", raw=True, fallback="native").strip()
    if kind not in _KINDS:
        raise InventoryError(f"[remediations] inventory_kind must be 'native' or 'ansible', "
                             f"not {kind!r}", path=path)
    return AnsibleConfig(path, _path_list(inventory, base, env),
                         resolve_path(password.strip(), base, env) if password.strip() else None,
                         kind)


def resolve_path(text: str, base: str, environ: Mapping[str, str]) -> str:
    """A path as Ansible's config resolves it: `{{CWD}}`, `$VARS` and `~` expanded, relative to `base`."""
    if "{{CWD}}" in text:
        text = text.replace("{{CWD}}", os.getcwd())
    text = _ENV_VAR.sub(lambda m: environ.get(m.group(1) or m.group(2), m.group(0)), text)
    if text == "~" or text.startswith("~/"):
        home = environ.get("HOME") or os.path.expanduser("~")
        text = home + text[1:]
    else:
        text = os.path.expanduser(text)
    return os.path.normpath(os.path.join(base, text))


def _path_list(text: str, base: str, environ: Mapping[str, str]) -> tuple[str, ...]:
    """Ansible's `pathlist`: comma-separated, stripped, each resolved against `base`."""
    return tuple(resolve_path(p.strip(), base, environ) for p in text.split(",") if p.strip())


def _vault_password_file(given: str, environ: Mapping[str, str], cwd: str,
                         config: AnsibleConfig) -> str | None:
    for origin, path in (("given", given),
                         ("$ANSIBLE_VAULT_PASSWORD_FILE",
                          environ.get("ANSIBLE_VAULT_PASSWORD_FILE", ""))):
        if path:
            return _existing(resolve_path(path, cwd, environ), origin)
    if config.vault_password_file:
        return _existing(config.vault_password_file, f"vault_password_file in {config.path}")
    return None


def _existing(path: str, origin: str) -> str:
    if not os.path.isfile(path):
        raise InventoryError(f"the vault password file ({origin}) "
                             f"{'is a folder' if os.path.isdir(path) else 'does not exist'}",
                             path=path)
    return path


def _cache_ttl(environ: Mapping[str, str]) -> float:
    text = environ.get("REMEDIATIONS_INVENTORY_CACHE_TTL", "").strip()
    if not text:
        return DEFAULT_CACHE_TTL
    try:
        ttl = float(text)
    except ValueError:
        ttl = -1.0
    if not (math.isfinite(ttl) and 0 <= ttl <= MAX_SECONDS):
        raise InventoryError(f"REMEDIATIONS_INVENTORY_CACHE_TTL must be a number of seconds "
                             f"from 0 to {MAX_SECONDS:g}, not {text!r}")
    return ttl
