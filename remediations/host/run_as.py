"""Running a command as another Unix user: as is, through runuser (as root) or sudo.

Who commands run as on a host is the inventory's become user, else its login user;
docker exec and pod exec run as the image's user (root unless the inventory says).
"""

from __future__ import annotations

import getpass
from collections.abc import Sequence

from remediations.run.target import Target

__all__ = ["as_user", "effective_user"]


def effective_user(t: Target) -> str:
    """Who commands run as on the host: the become user, else the login user."""
    host = t.host
    if host.become:
        return host.become_user
    if host.user:
        return host.user
    # docker exec and kubectl exec run as the image's user (root unless told): not this machine's.
    return "root" if host.connection in ("docker", "kubernetes") else getpass.getuser()


def as_user(t: Target, user: str, argv: Sequence[str]) -> list[str]:
    """`argv` run as `user`: as is when we are that user, runuser as root, else sudo -n."""
    me = effective_user(t)
    if me == user:
        return list(argv)
    if me == "root":
        return ["runuser", "-u", user, "--", *argv]
    return ["sudo", "-n", "-u", user, "--", *argv]
