"""Inventory values that carry a mark: `!unsafe` text, and values decrypted from Ansible Vault.

Each is its plain type in every way that matters (`VaultText("x") == "x"`, JSON,
f-strings, hashing), so variables compare equal to what `ansible-inventory`
reports. The mark travels with the value through variable merging, which is how a
vault-decrypted value stays a secret whatever its variable is called.

    password = VaultText("s3cret")      # from `!vault |` or an encrypted vars file
    is_vaulted(password)                # True: Host.secret_values() includes it
    repr(password)                      # "'********'": kept out of error messages
"""

from __future__ import annotations

from typing import Any

MASK = "********"


class UnsafeText(str):
    """Text Ansible must not template (`!unsafe`, `__ansible_unsafe`): used as it is."""

    __slots__ = ()


class VaultText(str):
    """A string decrypted from Ansible Vault: a secret, whatever its variable's name.

    `repr()` is masked, so an error message that quotes the value (`{value!r}`)
    does not print it; `str()` and formatting give the text.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(MASK)


class VaultInt(int):
    """An integer from a vault-encrypted vars file."""

    __slots__ = ()


class VaultFloat(float):
    """A float from a vault-encrypted vars file."""

    __slots__ = ()


def vaulted(value: Any) -> Any:
    """`value` with every string and number in it marked as decrypted from a vault.

    Booleans and None stay as they are: there is nothing secret to mask in them.
    """
    if isinstance(value, dict):
        return {key: vaulted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [vaulted(item) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return value if isinstance(value, VaultText) else VaultText(value)
    if isinstance(value, int):
        return VaultInt(value)
    if isinstance(value, float):
        return VaultFloat(value)
    return value


def is_vaulted(value: Any) -> bool:
    """True for a value decrypted from a vault (a leaf: not a list or mapping)."""
    return isinstance(value, (VaultText, VaultInt, VaultFloat))
