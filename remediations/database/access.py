"""How SQL reaches a database: the way a user of the host can, never a password in argv.

Which engine: `engine=`, else the inventory's `db_engine` (`postgresql` or `mysql`, the
latter covering MariaDB), else the database units the systemd host has. How:

- systemd host, database local: PostgreSQL as the `postgres` OS user through peer auth
  (`runuser -u postgres -- psql -X -A -t ...`), MySQL/MariaDB as root over the unix socket
  (`mariadb --batch --skip-column-names -e SQL`, `mysql` when there is no `mariadb`).
- systemd host, database elsewhere (`db_host` set, or no unit of the engine): the app's
  own credentials, the DB_* lines of its `.env` read inside `sh -c` and handed to the
  client as PGPASSWORD / MYSQL_PWD, so the secret is in no argv.
- compose host (`compose_project` and `db_service` set): `docker exec` in the running
  container of `db_service`, mariadb as root over its socket (through the Docker SDK).
- Kubernetes host (its Deployment runs the database): the client in its pod through the
  pod exec, the credentials from the container's environment (`podsql`); `db_engine`
  required (no units to tell it); no PgBouncer.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from remediations.connections.base import CommandResult, Connection, check_argv
from remediations.connections.batch import run_batch
from remediations.core import validate
from remediations.core.commands import sh
from remediations.core.errors import CommandFailed, InvalidInput
from remediations.database.podsql import mysql_argv, psql_argv
from remediations.run.target import Target

if TYPE_CHECKING:
    from remediations.docker.engine import DockerEngine

ENGINES = ("postgresql", "mysql")
_ALIASES = {"postgres": "postgresql", "pgsql": "postgresql", "postgresql": "postgresql",
            "mysql": "mysql", "mariadb": "mysql"}
# Units that tell which engine a systemd host runs (mysql.service is MariaDB's alias too).
UNITS = {"postgresql.service": "postgresql", "mariadb.service": "mysql", "mysql.service": "mysql",
         "pgbouncer.service": "pgbouncer"}
_DB_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$")
_APP_PATH = re.compile(r"^/[A-Za-z0-9._@+/-]*$")
PGBOUNCER_PORT = 6432
PG_SOCKET_DIR = "/var/run/postgresql"
SQL_TIMEOUT = 60.0


class NotSupported(InvalidInput):
    """The host is of a kind the database remediations do not reach yet; nothing was touched."""


def engine_name(value: object) -> str:
    """`postgresql` or `mysql` (aliases: postgres, pgsql, mariadb)."""
    name = _ALIASES.get(str(value).strip().lower()) if isinstance(value, str) else None
    if name is None:
        raise InvalidInput(f"not a database engine: {value!r} (postgresql or mysql; mysql "
                           "covers MariaDB)")
    return name


def database_name(value: object, what: str = "db_name") -> str:
    """A database name of plain characters (never starting with '-')."""
    if not isinstance(value, str) or not _DB_NAME.fullmatch(value):
        raise InvalidInput(f"not a valid database name for {what}: {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Units:
    """Which database units a systemd host has (`systemctl show -p Id,LoadState`)."""

    postgresql: bool = False
    mysql: bool = False
    pgbouncer: bool = False


def units_argv() -> list[str]:
    return ["systemctl", "show", "-p", "Id,LoadState", *UNITS]


def parse_units(text: str) -> Units:
    """Blocks of `Id=` / `LoadState=` lines, one per unit asked for, in order."""
    found = {"postgresql": False, "mysql": False, "pgbouncer": False}
    blocks = [b for b in re.split(r"\n\s*\n", text.strip()) if b.strip()]
    for unit, block in zip(UNITS, blocks, strict=False):
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if props.get("LoadState", "not-found") not in ("not-found", "", "masked"):
            found[UNITS[unit]] = True
    return Units(**found)


def choose_engine(t: Target, given: str | None, units: Units | None) -> str:
    """The engine asked for (argument, then `db_engine`), else the one whose unit exists."""
    if given:
        return engine_name(given)
    if t.var("db_engine"):
        return engine_name(t.var("db_engine"))
    if units is None:
        raise InvalidInput(f"{t.name}: no db_engine in the inventory; set it (postgresql or mysql)")
    present = [e for e in ENGINES if getattr(units, e)]
    if len(present) == 1:
        return present[0]
    if not present:
        raise InvalidInput(f"{t.name}: no postgresql, mariadb or mysql unit found; set db_engine "
                           "(and db_host for a database on another host) in the inventory")
    raise InvalidInput(f"{t.name}: both postgresql and mariadb/mysql run here; pass --engine or "
                       "set db_engine in the inventory")


class ContainerExec:
    """A connection that runs `docker exec CONTAINER ARGV` through the Docker SDK.

    Commands are written as the docker CLI command they equal, so results show
    exactly what a person would type; nothing else is accepted.
    """

    def __init__(self, name: str, eng: DockerEngine) -> None:
        self.name = name
        self.eng = eng

    def run(self, argv: Sequence[str], *, timeout: float | None = None,
            check: bool = True) -> CommandResult:
        items = check_argv(argv)
        command = shlex.join(items)
        if len(items) < 4 or items[:2] != ("docker", "exec"):
            raise InvalidInput(f"not a docker exec command: {command}")
        code, out = self.eng.exec(items[2], list(items[3:]))
        result = CommandResult(command, code, out, "")
        if check and result.failed:
            raise CommandFailed(result)
        return result

    def close(self) -> None:
        self.eng.close()


@dataclass(frozen=True, slots=True)
class Access:
    """How SQL reaches one database on one host: `argv(sql)` is the command that runs it.

    `kind` is `peer` (postgres OS user), `socket` (root over the unix socket), `app-env`
    (the app's .env credentials), `container` (docker exec in `container`) or `pod` (exec
    in a Kubernetes pod, the image's credentials; `database` "" = the image's own).
    """

    engine: str
    kind: str
    conn: Connection
    database: str = "postgres"
    env_path: str = ""
    container: str = ""
    pgbouncer_port: int | None = None
    where: str = ""

    def argv(self, *statements: str) -> list[str]:
        """The command running `statements` in one client call (psql -c each; mysql joined)."""
        if self.engine == "postgresql":
            return self._psql(statements)
        return self._mysql(statements)

    def _psql(self, statements: Sequence[str]) -> list[str]:
        opts = ["--no-psqlrc", "--no-align", "--tuples-only", "--field-separator=\t",
                "--set=ON_ERROR_STOP=1"]
        cs = [x for s in statements for x in ("-c", s)]
        if self.kind == "pod":
            return psql_argv([*opts, *cs], self.database)
        if self.kind == "app-env":
            return sh('set -a; . %s; set +a; PGPASSWORD="$DB_PASSWORD" exec psql -h "$DB_HOST" '
                      '-p "${DB_PORT:-5432}" -U "$DB_USERNAME" -d "$DB_DATABASE" '
                      + " ".join(["%s"] * (len(opts) + len(cs))), self.env_path, *opts, *cs)
        return ["runuser", "-u", "postgres", "--", "psql", *opts, "-d", self.database, *cs]

    def _mysql(self, statements: Sequence[str]) -> list[str]:
        sql = "; ".join(s.rstrip().rstrip(";") for s in statements)
        opts = ["--batch", "--skip-column-names", "-e", sql]
        if self.kind == "container":
            return ["docker", "exec", self.container, "mariadb", *opts]
        if self.kind == "pod":
            return mysql_argv(opts)
        pick = 'c=mariadb; command -v mariadb >/dev/null 2>&1 || c=mysql; '
        if self.kind == "app-env":
            return sh('set -a; . %s; set +a; ' + pick + 'MYSQL_PWD="$DB_PASSWORD" exec "$c" '
                      '-h "$DB_HOST" -P "${DB_PORT:-3306}" -u "$DB_USERNAME" "$DB_DATABASE" '
                      + " ".join(["%s"] * len(opts)), self.env_path, *opts)
        return sh(pick + 'exec "$c" ' + " ".join(["%s"] * len(opts)), *opts)

    def pgbouncer_argv(self, *commands: str) -> list[str] | None:
        """The admin console (`psql ... pgbouncer -c 'SHOW POOLS'`), with headers; None without one."""
        if self.engine != "postgresql" or self.pgbouncer_port is None or self.kind != "peer":
            return None
        cs = [x for c in commands for x in ("-c", c)]
        return ["runuser", "-u", "postgres", "--", "psql", "--no-psqlrc", "--no-align",
                "--field-separator=\t", "--pset=footer=off", "-h", PG_SOCKET_DIR,
                "-p", str(self.pgbouncer_port), "-U", "postgres", "pgbouncer", *cs]

    def close(self) -> None:
        """Close what this access opened itself (a compose host's Docker engine)."""
        if isinstance(self.conn, ContainerExec):
            self.conn.close()

    def run(self, *statements: str, timeout: float = SQL_TIMEOUT) -> CommandResult:
        """Run `statements` in one round trip; the result is returned whatever its exit code."""
        return self.conn.run(self.argv(*statements), check=False, timeout=timeout)

    def run_with(self, extra: Sequence[Sequence[str]], *statements: str,
                 timeout: float = SQL_TIMEOUT) -> list[CommandResult]:
        """`statements` and then `extra` commands, in one round trip (stops at a failure)."""
        return run_batch(self.conn, [self.argv(*statements), *extra], timeout=timeout)


def app_env_path(t: Target) -> str:
    """The app's `.env` (`app_path`/.env), validated."""
    app = str(t.var("app_path", "/srv/app/current")).rstrip("/")
    if not _APP_PATH.fullmatch(app) or ".." in app.split("/"):
        raise InvalidInput(f"{t.name}: app_path must be an absolute path of plain characters, "
                           f"got {app!r}")
    return f"{app}/.env"


def pgbouncer_port(t: Target, units: Units) -> int | None:
    """`pgbouncer_port` from the inventory, else 6432 when the host has a pgbouncer unit."""
    value = t.var("pgbouncer_port")
    if value not in (None, ""):
        try:
            number = int(str(value))
        except ValueError:
            raise InvalidInput(f"{t.name}: pgbouncer_port must be a port number, "
                               f"got {value!r}") from None
        return validate.count(number, "pgbouncer_port", low=1, high=65535)
    return PGBOUNCER_PORT if units.pgbouncer else None


def is_compose_host(t: Target) -> bool:
    """A Docker host whose database is a compose service (`db_service` and a project)."""
    return bool(t.var("db_service")) and bool(t.var("compose_project_dir"))


def open_access(t: Target, engine: str | None = None) -> Access:
    """How SQL reaches this host's database (one round trip on a systemd host, to read its units).

    A compose host's Access holds a Docker engine: close it (`access.conn.close()`).
    """
    given = engine_name(engine) if engine else None
    if t.host.connection == "kubernetes":
        return _pod_access(t, given)
    if is_compose_host(t):
        return _compose_access(t, given)
    db_host = t.var("db_host")
    units = parse_units(t.conn.run(units_argv(), check=False).stdout)
    chosen = choose_engine(t, given, units)
    local = not db_host and getattr(units, chosen)
    name = t.var("db_name") or "postgres"
    if not local:
        return Access(chosen, "app-env", t.conn, database_name(str(name)),
                      env_path=app_env_path(t), where=f"{chosen} at the app's DB_HOST")
    if chosen == "postgresql":
        return Access(chosen, "peer", t.conn, database_name(str(name)),
                      pgbouncer_port=pgbouncer_port(t, units), where="local postgresql (peer)")
    return Access(chosen, "socket", t.conn, where="local mysql/mariadb (unix socket)")


def _compose_access(t: Target, given: str | None) -> Access:
    from remediations.docker.engine import NotFound
    from remediations.docker.engine import engine as docker_engine
    from remediations.docker.project import PROJECT_LABEL, SERVICE_LABEL, project, service_name

    service = service_name(str(t.var("db_service")))
    chosen = given or engine_name(str(t.var("db_engine") or "mysql"))
    if chosen != "mysql":
        raise NotSupported(f"{t.name}: on a compose host the database is reached with mariadb "
                           f"in service {service}; {chosen} there is not supported yet")
    proj = project(t)
    eng = docker_engine(t)
    try:
        found = [c for c in eng.containers(f"{PROJECT_LABEL}={proj.name}",
                                           "com.docker.compose.oneoff=False",
                                           f"{SERVICE_LABEL}={service}") if c.running]
    except BaseException:
        eng.close()
        raise
    if not found:
        eng.close()
        raise NotFound(f"{t.name}: no running container of service {service} in "
                       f"project {proj.name}")
    return Access(chosen, "container", ContainerExec(t.name, eng), container=found[0].name,
                  where=f"service {service} ({found[0].name})")


def _pod_access(t: Target, given: str | None) -> Access:
    """A Kubernetes host: the client in the first Ready pod of its Deployment (`t.conn`)."""
    value = given or t.var("db_engine")
    if not value:
        raise InvalidInput(f"{t.name}: a Kubernetes host has no units to tell which database "
                           "its pod runs; set db_engine (postgresql or mysql) in the inventory, "
                           "or pass --engine")
    chosen = engine_name(value)
    name = t.var("db_name") if chosen == "postgresql" else None
    database = database_name(str(name)) if name else ""
    return Access(chosen, "pod", t.conn, database, where=f"{chosen} in a pod of deployment "
                  f"{t.var('deployment') or t.name} (exec; no PgBouncer)")
