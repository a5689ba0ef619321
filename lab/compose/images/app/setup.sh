#!/bin/bash
# Runs once inside `docker build`: lays out release $1 at /srv/app, as the web lab's
# setup.sh lays out each release (app source, then the release's own files, VERSION).
set -euo pipefail
version="${1#v}"

# nginx: the app only; php-fpm: keep the container's environment (the app's settings
# come from compose's env_file, not from a .env baked into the image).
rm -f /etc/nginx/sites-enabled/default
ln -s ../sites-available/laravel /etc/nginx/sites-enabled/laravel
sed -i -E 's#^error_log = .*#error_log = /proc/self/fd/2#' /etc/php/8.2/fpm/php-fpm.conf
sed -i -E -e 's#^;?clear_env = .*#clear_env = no#' \
    -e 's#^;?catch_workers_output = .*#catch_workers_output = yes#' \
    -e 's#^;?decorate_workers_output = .*#decorate_workers_output = no#' \
    /etc/php/8.2/fpm/pool.d/www.conf
grep -q '^clear_env = no$' /etc/php/8.2/fpm/pool.d/www.conf
grep -q '^error_log = /proc/self/fd/2$' /etc/php/8.2/fpm/php-fpm.conf
nginx -t
php-fpm8.2 -t

cp -a /opt/lab/app /srv/app
cp -a /opt/lab/overlay/. /srv/app/
if [ -d "/opt/lab/releases/v${version}" ]; then
    cp -a "/opt/lab/releases/v${version}/." /srv/app/
fi
echo "${version}" > /srv/app/VERSION
for dir in app/public framework/cache/data framework/sessions framework/views framework/testing logs; do
    install -d -m 0775 "/srv/app/storage/${dir}"
done
chown -R root:www-data /srv/app
chmod -R g+rX,o-w /srv/app
chown -R www-data:www-data /srv/app/storage /srv/app/bootstrap/cache
chmod 0755 /usr/local/bin/lab-entrypoint

test "$(php /srv/app/artisan lab:version)" = "${version}"
