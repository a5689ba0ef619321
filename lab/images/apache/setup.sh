#!/bin/bash
# Runs once inside `docker build`: configures services and makes the app a git work tree
# with one tagged commit per release (v1.2.2, v1.2.3, v1.2.4), v1.2.3 checked out.
set -euo pipefail

REDIS_PASSWORD=lab-redis-s3cret
RELEASES=(1.2.2 1.2.3 1.2.4)
CURRENT=1.2.3
APP=/var/www/app
ORIGIN=/srv/git/app.git
# Packagist is unreachable: every composer run here must work without a network.
export COMPOSER_DISABLE_NETWORK=1 COMPOSER_NO_INTERACTION=1
as_app() { runuser -u www-data -- env HOME=/var/www COMPOSER_DISABLE_NETWORK=1 "$@"; }

# --- users -------------------------------------------------------------------------
useradd --create-home --shell /bin/bash --groups www-data deploy
chmod 0440 /etc/sudoers.d/deploy
visudo -cf /etc/sudoers.d/deploy

# --- services ----------------------------------------------------------------------
sed -i -E "s/^#? ?requirepass .*/requirepass ${REDIS_PASSWORD}/" /etc/redis/redis.conf
grep -q "^requirepass ${REDIS_PASSWORD}\$" /etc/redis/redis.conf

# mod_php needs the prefork MPM; libapache2-mod-php8.2 selects it when installed.
test -e /etc/apache2/mods-enabled/php8.2.load
test -e /etc/apache2/mods-enabled/mpm_prefork.load
a2dissite -q 000-default
a2enmod -q rewrite
a2enconf -q lab-servername
a2ensite -q laravel
if dpkg -l 'php*-fpm' 2>/dev/null | grep -q '^ii'; then
    echo "php-fpm must not be installed on the Apache host" >&2
    exit 1
fi

rm -f /etc/ssh/ssh_host_*
install -d -m 0700 /root/.ssh
systemctl enable lab-ssh-hostkeys.service
systemctl enable apache2.service redis-server.service supervisor.service cron.service ssh.service

# See lab/images/web/setup.sh: units with nothing to do in a container.
systemctl mask \
    getty@tty1.service console-getty.service serial-getty@.service getty.target \
    systemd-udevd.service systemd-udev-trigger.service systemd-udev-settle.service \
    systemd-modules-load.service systemd-remount-fs.service systemd-sysctl.service \
    systemd-firstboot.service systemd-hwdb-update.service systemd-journald-audit.socket \
    sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount \
    sys-fs-fuse-connections.mount dev-hugepages.mount dev-mqueue.mount \
    proc-sys-fs-binfmt_misc.automount proc-sys-fs-binfmt_misc.mount \
    systemd-binfmt.service e2scrub_all.timer e2scrub_reap.service \
    apt-daily.timer apt-daily-upgrade.timer fstrim.timer

# --- the application: a git work tree, Forge style --------------------------------
# www-data owns the site and its home (/var/www), as the forge user does on Forge.
rm -rf /var/www/html
chown www-data:www-data /var/www
git config --system --add safe.directory "${APP}"
git config --system --add safe.directory "${ORIGIN}"
git config --system init.defaultBranch main
git config --system advice.detachedHead false

# One commit per release, built in a scratch repo and pushed to a local bare "origin".
build=$(mktemp -d)
chown www-data:www-data "${build}"
as_app git init -q "${build}/repo"
as_app git -C "${build}/repo" config user.name "Lab Deployer"
as_app git -C "${build}/repo" config user.email "deployer@lab.invalid"
for version in "${RELEASES[@]}"; do
    tree="${build}/tree-${version}"
    cp -a /opt/lab/app "${tree}"
    cp -a /opt/lab/repo/common/. "${tree}/"
    mv "${tree}/gitignore" "${tree}/.gitignore"
    mv "${tree}/public/htaccess" "${tree}/public/.htaccess"
    # v1.2.4 keeps v1.2.3's composer files (same lock): only its code is broken.
    composer_files=v${version}
    [ -d "/opt/lab/repo/${composer_files}" ] || composer_files=v${CURRENT}
    cp -a "/opt/lab/repo/${composer_files}/." "${tree}/"
    # The web hosts' release overlays (v1.2.4: a HealthController calling a missing class).
    if [ -d "/opt/lab/releases/v${version}" ]; then
        cp -a "/opt/lab/releases/v${version}/." "${tree}/"
    fi
    echo "${version}" > "${tree}/VERSION"
    rm -rf "${tree}/vendor" "${tree}/storage"
    chown -R www-data:www-data "${tree}"
    # The lock, resolved offline from the path repositories only.
    (cd "${tree}" && as_app composer update --no-install --no-scripts --no-plugins -q)
    test -s "${tree}/composer.lock"
    as_app git -C "${build}/repo" --work-tree="${tree}" add -A
    as_app git -C "${build}/repo" --work-tree="${tree}" commit -q -m "Release v${version}"
    as_app git -C "${build}/repo" tag -a "v${version}" -m "v${version}"
done
install -d -o www-data -g www-data /srv/git
as_app git clone -q --bare "${build}/repo" "${ORIGIN}"
rm -rf "${build}"

as_app git clone -q "${ORIGIN}" "${APP}"
as_app git -C "${APP}" checkout -q "v${CURRENT}"

# Not tracked, kept across checkouts: .env, storage/, vendor/, bootstrap/cache/*.php.
for dir in app/public framework/cache/data framework/sessions framework/views framework/testing logs; do
    install -d -o www-data -g www-data -m 0775 "${APP}/storage/${dir}"
done
chown -R www-data:www-data "${APP}/storage"
install -o www-data -g www-data -m 0644 /dev/null "${APP}/storage/logs/horizon.log"
cat > "${APP}/.env" <<ENV
APP_NAME=lab
APP_ENV=production
APP_KEY=base64:$(head -c 32 /dev/urandom | base64)
APP_DEBUG=false
APP_URL=http://localhost
LOG_CHANNEL=stack
LOG_LEVEL=info
DB_CONNECTION=sqlite
DB_DATABASE=${APP}/database/database.sqlite
CACHE_DRIVER=redis
QUEUE_CONNECTION=redis
SESSION_DRIVER=file
REDIS_CLIENT=phpredis
REDIS_HOST=127.0.0.1
REDIS_PORT=6379
REDIS_PASSWORD=${REDIS_PASSWORD}
ENV
chown www-data:www-data "${APP}/.env"
chmod 0640 "${APP}/.env"
install -o www-data -g www-data -m 0664 /dev/null "${APP}/database/database.sqlite"

# composer install works offline, and is what a lock change between releases needs.
cd "${APP}"
as_app composer install --no-dev --no-interaction -q
test "$(as_app php artisan lab:extras)" = 1.1.0
as_app git checkout -q v1.2.2
as_app composer install --no-dev --no-interaction -q
test "$(as_app php artisan lab:version)" = 1.2.2
test "$(as_app php artisan lab:extras)" = 1.0.0
as_app git checkout -q "v${CURRENT}"
as_app composer install --no-dev --no-interaction -q
test "$(as_app php artisan lab:version)" = "${CURRENT}"
test "$(as_app php artisan lab:extras)" = 1.1.0
as_app php artisan migrate --force --no-interaction
as_app php artisan list --raw | grep -q '^horizon:status'
test -z "$(as_app git status --porcelain)"
! git diff --quiet v1.2.2 v1.2.3 -- composer.lock
git diff --quiet v1.2.3 v1.2.4 -- composer.lock

# The scheduler, Forge's way: a crontab line for the site's user.
# (pam_env of cron's session reads /etc/default/locale; without it every tick logs a warning.)
echo "LANG=C.UTF-8" > /etc/default/locale
echo "* * * * * cd ${APP} && php artisan schedule:run >> /dev/null 2>&1" | crontab -u www-data -

apachectl configtest
rm -rf /opt/lab /var/www/.cache
