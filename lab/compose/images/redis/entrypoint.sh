#!/bin/sh
# The password goes through a config file, not argv, so `ps` does not show it.
set -eu
conf=/var/lib/redis/lab.conf
umask 077
{
    echo "bind 0.0.0.0 ::"
    echo "protected-mode no"
    echo "port 6379"
    echo "dir /var/lib/redis"
    echo "save \"\""
    echo "appendonly no"
    echo "logfile \"\""
    if [ -n "${REDIS_PASSWORD:-}" ]; then
        echo "requirepass ${REDIS_PASSWORD}"
    fi
} > "$conf"
exec redis-server "$conf" "$@"
