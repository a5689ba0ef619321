"""The one read-only shell script a systemd host runs for `triage`, and its argument list.

Sent as `sh -c SCRIPT triage MARK APP USER SCAN QUEUE_KEY [redis-cli flags...]`: every
value is an argument, none is pasted into the script. Each section starts with a line
`MARK:name`; MARK is a fresh random token per call, so a log line cannot fake one.
The redis password reaches redis-cli in REDISCLI_AUTH (`env REDISCLI_AUTH=... sh -c ...`,
as `host.redis` does), never as a redis-cli argument.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

NAME = "triage-snapshot"

# Units found by pattern (installed or loaded): web server, php-fpm of any version, redis,
# supervisor, databases. Templates (`postgresql@.service`) are left out; instances stay.
UNIT_PATTERNS = ("nginx.service", "apache2.service", "httpd.service", "php*-fpm.service",
                 "redis-server.service", "redis.service", "supervisor.service",
                 "supervisord.service", "postgresql*.service", "mariadb.service",
                 "mysql.service", "mysqld.service", "pgbouncer.service")

SCRIPT = r"""m=$1 app=$2 user=$3 scan=$4 qkey=$5; shift 5
sec() { printf '\n%s:%s\n' "$m" "$1"; }
svc() { systemctl "$@" --type=service --no-legend --no-pager __PATTERNS__ 2>/dev/null | awk '{print $1}'; }
as_user() { if [ "$(id -un)" = "$user" ]; then "$@"; elif [ "$(id -u)" = 0 ]; then runuser -u "$user" -- "$@"; else sudo -n -u "$user" -- "$@"; fi; }
tl() { [ -f "$2" ] || return 0; sec "log:$1:$2"; tail -n "$scan" -- "$2" 2>/dev/null | cut -c1-400; }
sec units
units=$({ svc list-units --all --plain; svc list-unit-files; } | grep '\.service$' | grep -v '@\.service$' | sort -u)
[ -n "$units" ] && systemctl show -p Id,LoadState,ActiveState,SubState,MainPID,NRestarts,UnitFileState $units 2>/dev/null
sec scheduler
systemctl show -p Id,LoadState,ActiveState,UnitFileState laravel-scheduler.timer 2>/dev/null
printf 'cron=%s\n' "$(grep -ls 'schedule:run' /etc/crontab /etc/cron.d/* /var/spool/cron/crontabs/* 2>/dev/null | head -n 1)"
sec load
cat /proc/loadavg; nproc 2>/dev/null
sec memory
grep -E '^(MemTotal|MemAvailable|SwapTotal|SwapFree):' /proc/meminfo
sec top_memory
ps -eo pid=,user=,pmem=,pcpu=,rss=,comm= --sort=-pmem 2>/dev/null | head -n 5
sec top_cpu
ps -eo pid=,user=,pmem=,pcpu=,rss=,comm= --sort=-pcpu 2>/dev/null | head -n 5
sec disk
timeout 10 df -PT 2>/dev/null
sec inodes
timeout 10 df -PTi 2>/dev/null
sec listening
ss -ltnp 2>/dev/null
sec redis
if command -v redis-cli >/dev/null 2>&1; then
  printf 'ping=%s\n' "$(timeout 5 redis-cli -e "$@" PING 2>&1 | head -n 1)"
  printf 'llen=%s\n' "$(timeout 5 redis-cli -e "$@" LLEN "$qkey" 2>&1 | head -n 1)"
  timeout 5 redis-cli -e "$@" INFO memory 2>/dev/null | tr -d '\r' | grep -E '^(used_memory|maxmemory|mem_fragmentation_ratio):'
  timeout 5 redis-cli -e "$@" INFO stats 2>/dev/null | tr -d '\r' | grep -E '^(keyspace_hits|keyspace_misses|evicted_keys):'
else echo 'ping=redis-cli not installed'; fi
if [ -n "$app" ]; then
  sec app
  [ -e "$app/storage/framework/down" ] && echo maintenance=on || echo maintenance=off
  printf 'link=%s\nresolved=%s\n' "$(readlink -- "$app" 2>/dev/null)" "$(readlink -f -- "$app" 2>/dev/null)"
  if [ -f "$app/artisan" ]; then
    sec failed_jobs
    out=$(as_user timeout 15 php "$app/artisan" queue:failed --no-ansi 2>&1); rc=$?
    printf '%s\n' "$out" | tail -n 2000; echo "exit=$rc"
  fi
  tl app "$(ls -t -- "$app"/storage/logs/laravel*.log 2>/dev/null | head -n 1)"
fi
for f in /var/log/nginx/error.log /var/log/apache2/error.log /var/log/httpd/error_log; do tl web "$f"; done
for f in /var/log/php*-fpm.log; do tl php-fpm "$f"; done
for f in $(grep -hs '^ *stdout_logfile *=' /etc/supervisor/conf.d/*.conf /etc/supervisord.d/*.ini | sed 's/^[^=]*= *//' | sort -u); do tl worker "$f"; done
for f in /var/log/postgresql/*.log /var/log/mysql/error.log /var/log/mariadb/mariadb.log; do tl database "$f"; done
sec end""".replace("__PATTERNS__", " ".join(f"'{p}'" for p in UNIT_PATTERNS))


def mark() -> str:
    """A fresh section marker: random, so no line a host logs can pass for one."""
    return f"@@{NAME}-{secrets.token_hex(8)}"


def snapshot_argv(marker: str, *, app: str, user: str, scan: int, queue_key: str,
                  redis_flags: Sequence[str] = (), redis_password: str = "") -> list[str]:
    """`[env REDISCLI_AUTH=...] sh -c SCRIPT triage MARK APP USER SCAN QKEY FLAGS...`."""
    env = ["env", f"REDISCLI_AUTH={redis_password}"] if redis_password else []
    return [*env, "sh", "-c", SCRIPT, NAME, marker, app, user, str(int(scan)), queue_key,
            *redis_flags]
