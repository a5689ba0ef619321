#!/bin/bash
# `serve` (the default): run php-fpm and nginx in the foreground and exit as soon as either
# dies, so Docker sees the container die (and a restart policy or a remediation acts).
# Anything else is exec'd as given (the worker: php artisan queue:work ...).
set -uo pipefail

if [ "${1:-serve}" != "serve" ]; then
    exec "$@"
fi

# The schema (failed_jobs) lives in the db service; every release shares it.
if [ "${DB_CONNECTION:-sqlite}" != "sqlite" ]; then
    runuser -u www-data -- php /srv/app/artisan migrate --force --no-interaction \
        || echo "lab-entrypoint: migrate failed; serving anyway" >&2
fi

install -d -o www-data -g www-data /run/php
php-fpm8.2 --nodaemonize --force-stderr &
fpm=$!
nginx -g 'daemon off;' &
web=$!

stop() {
    kill -TERM "$fpm" "$web" 2>/dev/null
}
trap stop TERM INT QUIT

# `wait -n` returns when the first child exits (or a trapped signal arrives).
wait -n "$fpm" "$web"
code=$?
stop
wait "$fpm" "$web" 2>/dev/null
echo "lab-entrypoint: php-fpm or nginx exited ($code); stopping the container" >&2
exit "$code"
