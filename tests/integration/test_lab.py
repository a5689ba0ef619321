"""The lab itself: real systemd hosts serving the Laravel app, checked with testinfra.

Everything else in tests/integration builds on these facts, so they are proven here
once: services, release layout, HTTP from the controller, every artisan command the
runbooks use, the queue, supervisor workers, ssh with the generated key, the db host's
database servers and migrated app, the scratch tmpfs, and the lab's own idempotency
(second up, stop/start of a host).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import testinfra

from lab import manage  # a repo-root package, on the path through pytest's `pythonpath`

REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.lab

APP = "/srv/app/current"
REDIS_PASSWORD = "lab-redis-s3cret"
SERVICES = ["nginx", "php8.2-fpm", "redis-server", "supervisor", "ssh"]
# Every artisan command the runbooks use (storage:link, down and up have tests of their own).
ARTISAN_COMMANDS = [
    "cache:clear",
    "config:clear",
    "config:cache",
    "route:clear",
    "route:cache",
    "view:clear",
    "view:cache",
    "event:clear",
    "event:cache",
    "optimize:clear",
    "queue:restart",
    "queue:work --once",
    "queue:failed",
    "queue:retry all",
    "schedule:list",
]


def artisan(
    host: testinfra.host.Host, command: str, *, env: str = ""
) -> testinfra.backend.base.CommandResult:
    """Run `php artisan COMMAND` in the current release as www-data (as deploy tools do)."""
    return host.run(f"cd {APP} && {env} runuser -u www-data -- php artisan {command}")


@pytest.fixture(scope="module")
def lab_info() -> manage.LabInfo:
    return manage.up(lambda line: print(f"lab: {line}", file=sys.stderr))


@pytest.fixture(scope="module")
def web1(lab_info: manage.LabInfo) -> testinfra.host.Host:
    return testinfra.get_host(f"docker://{manage.HOSTS[0].container}")


@pytest.fixture(scope="module")
def web2(lab_info: manage.LabInfo) -> testinfra.host.Host:
    return testinfra.get_host(f"docker://{manage.HOSTS[1].container}")


@pytest.fixture(scope="module")
def db1(lab_info: manage.LabInfo) -> testinfra.host.Host:
    return testinfra.get_host(f"docker://{manage.DB_HOSTS[0].container}")


@pytest.fixture(params=[h.container for h in manage.HOSTS])
def any_host(request: pytest.FixtureRequest, lab_info: manage.LabInfo) -> testinfra.host.Host:
    return testinfra.get_host(f"docker://{request.param}")


def curl(url: str) -> tuple[int, str]:
    """GET from the controller with curl; return (status, body)."""
    assert shutil.which("curl"), "curl is needed on the controller"
    proc = subprocess.run(
        ["curl", "-sS", "--max-time", "10", "-w", "\n%{http_code}", url],
        capture_output=True,
        text=True,
        check=True,
    )
    body, _, code = proc.stdout.rpartition("\n")
    return int(code), body


def redis_cli(host: testinfra.host.Host, *args: str) -> str:
    quoted = " ".join(args)
    return str(host.check_output(f"redis-cli -a {REDIS_PASSWORD} --no-auth-warning {quoted}"))


@pytest.mark.parametrize("service", SERVICES)
def test_service_running_and_enabled(any_host: testinfra.host.Host, service: str) -> None:
    svc = any_host.service(service)
    assert svc.is_running
    assert svc.is_enabled


def test_systemd_fully_booted(any_host: testinfra.host.Host) -> None:
    assert any_host.run("systemctl is-system-running").stdout.strip() == "running"


def test_current_release_is_v123(any_host: testinfra.host.Host) -> None:
    current = any_host.file(APP)
    assert current.is_symlink
    assert current.linked_to == "/srv/app/releases/v1.2.3"
    assert any_host.check_output(f"readlink {APP}") == "releases/v1.2.3"
    for version in ("1.2.2", "1.2.3", "1.2.4"):
        release = f"/srv/app/releases/v{version}"
        assert any_host.file(f"{release}/VERSION").content_string.strip() == version
        assert any_host.file(f"{release}/.env").linked_to == "/srv/app/shared/.env"
        assert any_host.file(f"{release}/storage").linked_to == "/srv/app/shared/storage"
        assert any_host.file(f"{release}/bootstrap/cache").user == "www-data"


def test_shared_state_owned_by_www_data(any_host: testinfra.host.Host) -> None:
    assert any_host.file("/srv/app/shared/storage").user == "www-data"
    assert any_host.file("/srv/app/shared/storage/framework/views").user == "www-data"
    assert any_host.file("/srv/app/shared/database/database.sqlite").user == "www-data"
    env = any_host.file("/srv/app/shared/.env")
    assert env.contains("^APP_KEY=base64:")
    assert env.contains(f"^REDIS_PASSWORD={REDIS_PASSWORD}$")


@pytest.mark.parametrize("name", ["web1", "web2", "db1"])
def test_up_answers_from_the_controller(lab_info: manage.LabInfo, name: str) -> None:
    host = lab_info.host(name)
    code, body = curl(host.health_url)
    assert code == 200
    assert '"status":"ok"' in body and '"version":"1.2.3"' in body
    assert curl(f"http://127.0.0.1:{host.http_port}/health") == (code, body)


def test_release_switch_takes_effect_after_fpm_reload(
    lab_info: manage.LabInfo, web2: testinfra.host.Host
) -> None:
    """What a rollback relies on: repoint `current`, reload php-fpm, nginx serves the new one."""
    url = lab_info.host("web2").health_url
    try:
        for version, expected in (("1.2.2", 200), ("1.2.4", 500)):
            web2.check_output(f"ln -sfn releases/v{version} {APP}.tmp && mv -T {APP}.tmp {APP}")
            web2.check_output("systemctl reload php8.2-fpm")
            code, body = curl(url)
            assert code == expected, body[:300]
            if expected == 200:
                assert f'"version":"{version}"' in body
    finally:
        web2.check_output(f"ln -sfn releases/v1.2.3 {APP}.tmp && mv -T {APP}.tmp {APP}")
        web2.check_output("systemctl reload php8.2-fpm")
    assert curl(url)[0] == 200


def test_nginx_includes_conf_d(web1: testinfra.host.Host) -> None:
    assert "include /etc/nginx/conf.d/*.conf;" in web1.check_output("nginx -T 2>/dev/null")


def test_redis_requires_the_password(web1: testinfra.host.Host) -> None:
    assert "NOAUTH" in web1.run("redis-cli PING").stdout
    assert redis_cli(web1, "PING") == "PONG"


@pytest.fixture
def clean_caches(web1: testinfra.host.Host) -> Iterator[None]:
    yield
    # Leave the host as the other tests expect it: no cached config/routes/views/events.
    artisan(web1, "optimize:clear")
    artisan(web1, "view:clear")
    artisan(web1, "event:clear")


@pytest.mark.parametrize("command", ARTISAN_COMMANDS)
def test_artisan_command_runs_as_www_data(
    web1: testinfra.host.Host, clean_caches: None, command: str
) -> None:
    result = artisan(web1, command)
    assert result.rc == 0, f"artisan {command}: {result.stdout}\n{result.stderr}"


def test_storage_link_as_root(web1: testinfra.host.Host) -> None:
    link = f"{APP}/public/storage"
    existed = web1.file(link).exists
    try:
        result = web1.run(f"cd {APP} && php artisan storage:link")
        assert result.rc == 0, result.stderr
        assert web1.file(link).is_symlink
        assert web1.file(link).linked_to == "/srv/app/shared/storage/app/public"
    finally:
        if not existed:
            web1.run(f"rm -f {link}")


def test_maintenance_down_with_secret_and_message_then_up(
    lab_info: manage.LabInfo, web1: testinfra.host.Host
) -> None:
    url = lab_info.host("web1").health_url
    try:
        down = artisan(
            web1,
            "down --secret=lab-bypass --render=errors::503 --retry=60",
            # Laravel 8 has no `down --message`; the app's 503 view shows this variable.
            env="MAINTENANCE_MESSAGE='Back in five minutes'",
        )
        assert down.rc == 0, down.stdout + down.stderr
        assert "maintenance mode" in down.stdout.lower()
        code, body = curl(url)
        assert code == 503
        assert "Back in five minutes" in body
    finally:
        up = artisan(web1, "up")
    assert up.rc == 0, up.stdout + up.stderr
    assert curl(url)[0] == 200


def test_enqueued_jobs_drain(web1: testinfra.host.Host) -> None:
    assert artisan(web1, "lab:enqueue 5").rc == 0
    deadline = time.monotonic() + 20
    length = redis_cli(web1, "LLEN", "queues:default")
    while length != "0" and time.monotonic() < deadline:
        time.sleep(0.5)
        length = redis_cli(web1, "LLEN", "queues:default")
    assert length == "0", f"queues:default still holds {length} job(s) after 20s"


def test_two_queue_workers_running(any_host: testinfra.host.Host) -> None:
    # A worker that an earlier test made exit (queue:restart) is STARTING for a second or
    # two while supervisor respawns it: wait for that, but no longer.
    deadline = time.monotonic() + 20
    while True:
        status = any_host.check_output("supervisorctl status")
        running = [
            line
            for line in status.splitlines()
            if line.startswith("laravel-worker:laravel-worker_") and " RUNNING " in line
        ]
        if len(running) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(running) == 2, status
    assert any_host.process.filter(user="www-data", comm="php")


def test_ssh_with_the_generated_key(lab_info: manage.LabInfo) -> None:
    for host in lab_info.hosts:
        proc = subprocess.run(
            [
                "ssh",
                "-i",
                str(lab_info.ssh_key),
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "BatchMode=yes",
                "-o",
                "LogLevel=ERROR",
                "-p",
                str(host.ssh_port),
                "root@127.0.0.1",
                "hostname",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == host.name


def test_second_up_changes_nothing(lab_info: manage.LabInfo) -> None:
    before = {row["container"]: row for row in manage.status()}
    ids = subprocess.run(
        ["docker", "inspect", "--format", "{{.Id}} {{.State.StartedAt}}",
         *(h.container for h in manage.ALL_HOSTS)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    started = time.monotonic()
    assert manage.up() == lab_info
    assert time.monotonic() - started < 60
    assert (
        subprocess.run(
            [
                "docker",
                "inspect",
                "--format",
                "{{.Id}} {{.State.StartedAt}}",
                *(h.container for h in manage.ALL_HOSTS),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        == ids
    )
    assert {row["container"]: row for row in manage.status()} == before


def test_stop_and_start_host(lab_info: manage.LabInfo) -> None:
    host = lab_info.host("web2")
    manage.stop_host("web2")
    try:
        row = next(r for r in manage.status() if r["host"] == "web2")
        assert row["state"] == "exited" and not row["up"]
        assert (
            subprocess.run(
                ["curl", "-s", "--max-time", "3", host.health_url], check=False
            ).returncode
            != 0
        )
    finally:
        manage.start_host("web2")
    assert curl(host.health_url)[0] == 200


# -- every host: a small disk to fill on purpose ------------------------------------------

@pytest.mark.parametrize("container", [h.container for h in manage.ALL_HOSTS])
def test_scratch_is_a_small_tmpfs(lab_info: manage.LabInfo, container: str) -> None:
    host = testinfra.get_host(f"docker://{container}")
    assert host.check_output("findmnt -no FSTYPE,SIZE /mnt/scratch").split() == ["tmpfs", "16M"]


# -- db1: PostgreSQL behind PgBouncer, MariaDB, the app on both -----------------------------

DB_UNITS = ["postgresql", "pgbouncer", "mariadb"]


@pytest.mark.parametrize("unit", [*SERVICES, *DB_UNITS])
def test_db_host_units_enabled_and_active(db1: testinfra.host.Host, unit: str) -> None:
    assert db1.service(unit).is_enabled
    assert db1.run(f"systemctl is-active {unit}").stdout.strip() == "active"
    assert db1.service("postgresql@15-main").is_running


def test_db_host_fully_booted(db1: testinfra.host.Host) -> None:
    assert db1.run("systemctl is-system-running").stdout.strip() == "running"


def test_database_servers_listen_on_loopback_only(db1: testinfra.host.Host) -> None:
    for port in (5432, 6432, 3306):
        assert db1.socket(f"tcp://127.0.0.1:{port}").is_listening
        assert not db1.socket(f"tcp://0.0.0.0:{port}").is_listening


def test_local_admins_log_in_without_a_password(db1: testinfra.host.Host) -> None:
    assert db1.check_output("runuser -u postgres -- psql -Atc 'select 1'") == "1"
    assert db1.check_output("mariadb -Ne 'select 1'") == "1"
    pools = db1.check_output(
        "runuser -u postgres -- psql -h /var/run/postgresql -p 6432 -U postgres pgbouncer "
        "-Atc 'SHOW POOLS'")
    assert "app|app|" in pools and pools.splitlines()[0].endswith("|session")


def test_app_credentials_work_and_nothing_else_does(db1: testinfra.host.Host) -> None:
    pg = "psql -h 127.0.0.1 -p {port} -U app app -Atc 'select current_user'"
    for port in (5432, 6432):  # direct and through PgBouncer
        assert db1.check_output("PGPASSWORD=lab-pg-s3cret " + pg.format(port=port)) == "app"
        assert db1.run("PGPASSWORD=wrong " + pg.format(port=port)).rc != 0
    owner = "select pg_get_userbyid(datdba) from pg_database where datname = 'app'"
    assert db1.check_output(f'runuser -u postgres -- psql -Atc "{owner}"') == "app"
    my = "mariadb -h 127.0.0.1 -u app -p{pw} app -Ne 'select current_user()'"
    # MariaDB resolves 127.0.0.1 to localhost, so either account may be the one matched.
    assert db1.check_output(my.format(pw="lab-mysql-s3cret")) in ("app@localhost", "app@127.0.0.1")
    assert db1.run(my.format(pw="wrong")).rc != 0


def test_app_on_db1_uses_pgsql_through_pgbouncer(db1: testinfra.host.Host) -> None:
    env = db1.file("/srv/app/shared/.env")
    for line in ("DB_CONNECTION=pgsql", "DB_PORT=6432", "MYSQL_PORT=3306"):
        assert env.contains(f"^{line}$"), line
    # The default connection's queries go through PgBouncer: it logs each client login.
    logins = "grep -c 'login attempt: db=app user=app' /var/log/postgresql/pgbouncer.log"
    before = int(db1.run(logins).stdout.strip() or 0)
    listed = artisan(db1, "queue:failed")
    assert listed.rc == 0, listed.stdout + listed.stderr
    assert int(db1.check_output(logins)) > before


@pytest.mark.parametrize("database", ["", "--database=mysql"])
def test_both_connections_migrated(db1: testinfra.host.Host, database: str) -> None:
    status = artisan(db1, f"migrate:status {database}")
    assert status.rc == 0, status.stdout + status.stderr
    ran = [line for line in status.stdout.splitlines() if line.startswith("| Yes")]
    assert len(ran) >= 2, status.stdout
