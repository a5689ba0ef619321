"""The shell lines Fabric, pyinfra and Ansible run by hand where the library has a task.

One line per scenario (the incident has three steps), each what a person would type:
- triage: the reads of the library's snapshot script (`remediations.snapshot.script`) for
  a bench host, as one line: units, scheduler, load, memory, top processes, disk, inodes,
  listening sockets, redis (PING, LLEN, INFO), maintenance flag, release link, failed
  jobs, the last lines of the app, nginx and php-fpm logs, and /up (from the host: the
  library fetches it from here);
- db-queries: the query in pg_stat_activity the library's `db-status --older-than` reads;
- compose-restart: `docker compose restart` of one service, then wait until healthy.
"""

from __future__ import annotations

import shlex

__all__ = ["COMPOSE_SERVICE", "DB_OLDER_THAN", "INCIDENT_STEPS", "SLEEP_APP", "SLEEP_SQL",
           "compose_restart", "db_queries", "triage_reads"]

APP = "/srv/app"
ARTISAN = f"runuser -u www-data -- php {APP}/current/artisan"
DB_OLDER_THAN = 5  # seconds: the prepared query is older; the library's --older-than
SLEEP_APP = "rembench-sleep"  # application_name of the long query every db host runs
SLEEP_SQL = "SELECT pg_sleep(3600)"
COMPOSE_SERVICE = "worker"  # stateless: a queue worker with a healthcheck
REDIS_PASSWORD = "lab-redis-s3cret"  # the lab image's (inventories/lab.yml), as hosts.py
UNITS = ("nginx.service", "php8.2-fpm.service", "redis-server.service", "supervisor.service")
INCIDENT_STEPS = ("status", "restart", "health")

_PS = "ps -eo pid=,user=,pmem=,pcpu=,rss=,comm="


def triage_reads() -> str:
    """Every read of the snapshot, one `;`-separated line (a failed read does not stop it)."""
    redis = f"REDISCLI_AUTH={REDIS_PASSWORD} redis-cli"
    reads = [
        f"systemctl show -p Id,LoadState,ActiveState,SubState,MainPID,NRestarts,UnitFileState "
        f"{' '.join(UNITS)}",
        "systemctl show -p Id,LoadState,ActiveState,UnitFileState laravel-scheduler.timer",
        "grep -ls schedule:run /etc/crontab /etc/cron.d/* 2>/dev/null",
        "cat /proc/loadavg", "nproc",
        "grep -E '^(MemTotal|MemAvailable|SwapTotal|SwapFree):' /proc/meminfo",
        f"{_PS} --sort=-pmem | head -n 5", f"{_PS} --sort=-pcpu | head -n 5",
        "df -PT", "df -PTi", "ss -ltnp",
        f"{redis} PING", f"{redis} LLEN queues:default",
        f"{redis} INFO memory | grep -E '^(used_memory|maxmemory|mem_fragmentation_ratio):'",
        f"{redis} INFO stats | grep -E '^(keyspace_hits|keyspace_misses|evicted_keys):'",
        f"(test -e {APP}/current/storage/framework/down && echo maintenance=on "
        "|| echo maintenance=off)",
        f"readlink {APP}/current",
        f"{ARTISAN} queue:failed --no-ansi",
        f"tail -n 20 $(ls -t {APP}/current/storage/logs/laravel*.log 2>/dev/null | head -n 1) "
        "/dev/null",
        "tail -n 20 /var/log/nginx/error.log /var/log/php8.2-fpm.log",
        "curl -sS -o /dev/null -w 'up=%{http_code}\\n' http://127.0.0.1/up",
    ]
    return "; ".join(reads)


def db_queries(older_than: int = DB_OLDER_THAN) -> str:
    """psql listing the client queries running longer than `older_than` seconds."""
    sql = ("SELECT pid, usename, application_name, "
           "round(extract(epoch FROM now() - query_start)) AS seconds, query "
           "FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() "
           f"AND now() - query_start > interval '{int(older_than)} seconds' ORDER BY query_start")
    return f"runuser -u postgres -- psql -X -A -t -c {shlex.quote(sql)}"


def start_sleep() -> str:
    """Start the long query (untimed) unless it runs: a transient unit, so ssh may leave."""
    run = (f"systemd-run --unit={SLEEP_APP} --collect runuser -u postgres -- "
           f"env PGAPPNAME={SLEEP_APP} psql -X -q -c {shlex.quote(SLEEP_SQL)}")
    return f"systemctl is-active --quiet {SLEEP_APP} || {run}"


def sleep_age() -> str:
    """The long query's age in whole seconds (empty when it does not run)."""
    sql = ("SELECT coalesce(max(round(extract(epoch FROM now() - query_start))), -1) "
           f"FROM pg_stat_activity WHERE application_name = '{SLEEP_APP}' AND state = 'active'")
    return f"runuser -u postgres -- psql -X -A -t -c {shlex.quote(sql)}"


def compose_restart(project_dir: str, project: str, service: str = COMPOSE_SERVICE) -> str:
    """`docker compose restart SERVICE`, then poll its container until healthy (60 s)."""
    compose = f"docker compose -p {shlex.quote(project)}"
    inspect = "docker inspect -f '{{.State.Health.Status}}' \"$c\""
    return (f"cd {shlex.quote(project_dir)} && {compose} restart {shlex.quote(service)} && "
            f"c=$({compose} ps -q {shlex.quote(service)}) && "
            f"(for i in $(seq 240); do [ \"$({inspect})\" = healthy ] && exit 0; sleep 0.25; "
            "done; exit 1)")


def incident(step: str) -> str:
    """The incident's steps by hand: services' state, restart nginx, /up on the host."""
    return {
        "status": "systemctl is-active nginx php8.2-fpm redis-server",
        "restart": "systemctl restart nginx && systemctl is-active nginx",
        "health": "curl -fsS -o /dev/null -w 'up=%{http_code}\\n' http://127.0.0.1/up",
    }[step]
