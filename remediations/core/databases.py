"""Which services are databases: one place that knows their names and their images.

Restarting or stopping a database drops every connection and may lose in-flight writes,
so the library does it only when asked with `allow_database_restart=True`
(`--allow-database-restart`), on every kind of host: a systemd unit
(`host.systemd.is_database`), a compose service (`compose_database`) and a Kubernetes
Deployment (`workload_database`). These are pure functions over names, image references
and inventory values; the remediations read those and call them before acting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from remediations.core.errors import InvalidInput

# The names a database server goes by: as a systemd unit (`mysqld.service`,
# `postgresql@15-main.service`), a compose service, or the last part of an image's
# repository (`mariadb`, `bitnami/postgresql`, `percona/percona-server`). Not the
# exporters, clients or admin UIs (`mysqld-exporter`, `adminer`): restarting those is safe.
SERVER_NAMES = frozenset({
    "mysql", "mysqld", "mysql-server", "mariadb", "mariadb-galera",
    "postgres", "postgresql", "postgresql-repmgr", "postgis", "timescaledb", "timescaledb-ha",
    "pgbouncer", "percona", "percona-server", "percona-xtradb-cluster",
})
# What a compose service or a Deployment holding the database is commonly called.
SERVICE_NAMES = SERVER_NAMES | {"db", "database"}


def image_repository(image: str) -> str:
    """The last part of an image reference's repository, lower-cased: `bitnami/postgresql`
    for `registry:5000/bitnami/postgresql:16@sha256:...` gives `postgresql`."""
    # A registry's port is in the first part only: a ':' in the last part starts the tag.
    last = image.strip().split("@", 1)[0].rsplit("/", 1)[-1]
    return last.split(":", 1)[0].lower()


def is_database_image(image: str) -> bool:
    """Whether `image` runs a database server (mysql, mariadb, postgres, pgbouncer, percona...)."""
    return bool(image) and image_repository(image) in SERVER_NAMES


def is_database_unit(unit: str) -> bool:
    """Whether a systemd unit name (`mysql.service`, `postgresql@15-main.service`) is a database."""
    base = unit.removesuffix(".service").split("@", 1)[0]
    return base.lower() in SERVER_NAMES


def named(value: object) -> list[str]:
    """An inventory value naming services: a string (comma-separated allowed) or a list."""
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return []


def compose_database(service: str, images: Iterable[str] = (), *,
                     db_services: Iterable[str] = ()) -> str:
    """Why compose `service` is a database (`named db`, `image remediations-lab/mariadb`,
    `the inventory's db_service`), or `` when nothing says it is.

    `images` are its containers' images as configured (none when not yet read);
    `db_services` what the inventory's `db_service` names.
    Example: `compose_database("db", ["remediations-lab/mariadb"])` -> `"named db"`.
    """
    if service in set(db_services):
        return "the inventory's db_service"
    if service.lower() in SERVICE_NAMES:
        return f"named {service}"
    return next((f"image {i}" for i in images if is_database_image(i)), "")


def compose_databases(services: Iterable[str], *, images: Mapping[str, Iterable[str]] | None = None,
                      db_service: object = None) -> dict[str, str]:
    """The databases among compose `services`, each with why (`compose_database`).

    `images`: each service's containers' images, as read (none: name and inventory only,
    no host read needed); `db_service`: the inventory's value (a name, or a list).
    """
    db = named(db_service)
    return {s: why for s in services
            if (why := compose_database(s, (images or {}).get(s, ()), db_services=db))}


def workload_database(name: str, images: Iterable[str] = (), *, database: object = None,
                      db_deployments: Iterable[str] = ()) -> str:
    """Why Deployment (or StatefulSet) `name` is a database, or `` when nothing says it is.

    The inventory's host var `database: true`, `db_deployment` naming it, its name, or a
    container image of its pod template. Example:
    `workload_database("api", ["postgres:16"])` -> `"image postgres:16"`.
    """
    if database is True or (isinstance(database, str) and database.lower() in ("true", "yes")):
        return "the inventory's database: true"
    if name in set(db_deployments):
        return "the inventory's db_deployment"
    if name.lower() in SERVICE_NAMES:
        return f"named {name}"
    return next((f"image {i}" for i in images if is_database_image(i)), "")


class DatabaseRestartRefused(InvalidInput):
    """A database restart or stop was not explicitly allowed; nothing was touched."""


_DOING = {"restart": "restarting", "stop": "stopping", "scale": "scaling down"}


def refused(what: str, why: str, *, verb: str = "restart",
            also: str = "") -> DatabaseRestartRefused:
    """The error refusing to `verb` `what` (a database because `why`), naming the flag."""
    doing = _DOING.get(verb, verb)
    return DatabaseRestartRefused(
        f"refusing to {verb} {what} (a database: {why}): {doing} a database is a last resort "
        "(it drops every connection); pass allow_database_restart=True "
        f"(--allow-database-restart) to do it{also}")
