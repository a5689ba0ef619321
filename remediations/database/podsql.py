"""The SQL client command run inside a database pod (a Kubernetes host whose Deployment runs it).

`kubectl exec` runs as the image's user (root in the official postgres, mariadb and mysql
images), with no `runuser` and no peer user to switch to, and the image holds the server's
credentials in the container's own environment. So the client is started by `sh -c`, which
reads them there and hands the password over as PGPASSWORD / MYSQL_PWD: no secret in argv,
none in the inventory. The SQL is an argument, quoted by `sh` like every other one.

- PostgreSQL (official image): `psql` over the local socket as `$POSTGRES_USER` (default
  `postgres`) to `$POSTGRES_DB` (default: the user's name, as the image creates it). The
  socket rather than 127.0.0.1: the image trusts local connections, needs no listening TCP
  port, and PGPASSWORD still answers a password prompt where the image was told to ask.
- MySQL / MariaDB (official images): `mariadb` (`mysql` when the image has no `mariadb`) as
  root over the socket, `$MARIADB_ROOT_PASSWORD`, else `$MYSQL_ROOT_PASSWORD`, as the password
  (empty when unset: root over the socket by unix_socket auth, as Debian's packages set it).
- No PgBouncer: a pooler is another Deployment, not read from the database's pod.
"""

from __future__ import annotations

from collections.abc import Sequence

from remediations.core.commands import sh

__all__ = ["mysql_argv", "psql_argv"]

# `$VAR` rather than `${VAR:-...}`: a reported command keeps no `..._PASSWORD:` for the
# redactor to mistake for a secret's value and mask.
_PG_LOGIN = 'PGPASSWORD="$POSTGRES_PASSWORD" exec psql -U "${POSTGRES_USER:-postgres}" -d '
_PG_DEFAULT_DB = '"${POSTGRES_DB:-${POSTGRES_USER:-postgres}}"'
_MY_LOGIN = ('c=mariadb; command -v mariadb >/dev/null 2>&1 || c=mysql; '
             'p="$MARIADB_ROOT_PASSWORD"; [ -n "$p" ] || p="$MYSQL_ROOT_PASSWORD"; '
             'MYSQL_PWD="$p" exec "$c" -uroot ')


def psql_argv(options: Sequence[str], database: str = "") -> list[str]:
    """`sh -c 'PGPASSWORD=... exec psql -U ... -d DB OPTIONS'`; `database` "" = the image's own."""
    opts = " ".join(["%s"] * len(options))
    if database:
        return sh(_PG_LOGIN + "%s " + opts, database, *options)
    # The image's default database is a variable the shell expands, not a value of ours.
    return sh(_PG_LOGIN + _PG_DEFAULT_DB + " " + opts, *options)


def mysql_argv(options: Sequence[str]) -> list[str]:
    """`sh -c 'c=mariadb; ...; MYSQL_PWD=... exec "$c" -uroot OPTIONS'` (root over the socket)."""
    return sh(_MY_LOGIN + " ".join(["%s"] * len(options)), *options)
