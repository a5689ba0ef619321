"""Ansible's conventions for inventory variables: key aliases, booleans, connection names, secrets."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from remediations.inventory.markers import is_vaulted

# Ansible's `boolean()`: strings are compared lower-cased and stripped.
_TRUE = frozenset({"y", "yes", "on", "1", "true", "t"})
_FALSE = frozenset({"n", "no", "off", "0", "false", "f"})

# ansible_connection value -> the connection kind this library implements.
CONNECTIONS: Mapping[str, str] = {
    "ssh": "ssh", "smart": "ssh", "paramiko": "ssh", "paramiko_ssh": "ssh",
    "ansible.builtin.ssh": "ssh", "ansible.builtin.paramiko_ssh": "ssh",
    "ansible.netcommon.libssh": "ssh", "libssh": "ssh",
    "docker": "docker", "community.docker.docker": "docker",
    "community.docker.docker_api": "docker",
    "local": "local", "ansible.builtin.local": "local",
    "kubernetes": "kubernetes", "kubectl": "kubernetes", "kubernetes.core.kubectl": "kubernetes",
}

# Words that make a variable secret; matched against the words of its name.
_SECRET_WORDS = frozenset({
    "password", "passwords", "passwd", "pass", "passphrase", "secret", "secrets", "token",
    "tokens", "key", "keys", "apikey", "private", "credential", "credentials",
})
# A last word that makes the variable *about* a secret rather than the secret itself:
# ansible_ssh_private_key_file, ansible_host_key_checking, vault_password_file, token_url...
_NOT_SECRET_LAST_WORDS = frozenset({
    "file", "files", "path", "paths", "dir", "checking", "name", "user", "username", "url",
})
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def parse_bool(value: Any) -> bool | None:
    """`value` as Ansible's `boolean()` reads it, or None if it is not a boolean.

    >>> parse_bool("Yes"), parse_bool(0), parse_bool("maybe")
    (True, False, None)
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return True if value == 1 else False if value == 0 else None
    if isinstance(value, str):
        text = value.strip().lower()
        return True if text in _TRUE else False if text in _FALSE else None
    return None


def normalize_connection(value: str) -> str | None:
    """The connection kind for an `ansible_connection` value, or None if unsupported."""
    return CONNECTIONS.get(value.strip())


def alias_value(variables: Mapping[str, Any], *keys: str) -> Any:
    """The value of the last of `keys` that is set (not None), as Ansible resolves aliases.

    Ansible's connection plugins list their variables in order and the last one
    defined wins (`ansible_ssh_port` over `ansible_port`).
    """
    found = None
    for key in keys:
        value = variables.get(key)
        if value is not None:
            found = value
    return found


def is_secret_name(name: str) -> bool:
    """True when a variable's name says it holds a secret.

    >>> is_secret_name("ansible_become_pass"), is_secret_name("APP_KEY")
    (True, True)
    >>> is_secret_name("ansible_ssh_private_key_file"), is_secret_name("ansible_host_key_checking")
    (False, False)
    """
    words = [w.lower() for w in _WORD.findall(name)]
    if not words or words[-1] in _NOT_SECRET_LAST_WORDS:
        return False
    return any(w in _SECRET_WORDS for w in words)


def secret_values(variables: Mapping[str, Any]) -> frozenset[str]:
    """Every value held under a secret-looking name, or decrypted from a vault, as strings."""
    return frozenset(_secrets(variables, inside_secret=False))


def _secrets(value: Any, *, inside_secret: bool) -> Iterator[str]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _secrets(item, inside_secret=inside_secret or (
                isinstance(key, str) and is_secret_name(key)))
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from _secrets(item, inside_secret=inside_secret)
    elif ((inside_secret or is_vaulted(value)) and isinstance(value, (str, int, float))
          and not isinstance(value, bool)):
        text = str(value)
        if text:
            yield text
