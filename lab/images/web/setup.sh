#!/bin/bash
# Runs once inside `docker build`: configures services and lays out the releases.
set -euo pipefail

REDIS_PASSWORD=lab-redis-s3cret
RELEASES=(1.2.2 1.2.3 1.2.4)
CURRENT=1.2.3

# --- users -------------------------------------------------------------------------
useradd --create-home --shell /bin/bash --groups www-data deploy
chmod 0440 /etc/sudoers.d/deploy
visudo -cf /etc/sudoers.d/deploy

# --- services ----------------------------------------------------------------------
sed -i -E "s/^#? ?requirepass .*/requirepass ${REDIS_PASSWORD}/" /etc/redis/redis.conf
grep -q "^requirepass ${REDIS_PASSWORD}\$" /etc/redis/redis.conf

rm -f /etc/nginx/sites-enabled/default
ln -s ../sites-available/laravel /etc/nginx/sites-enabled/laravel
grep -q 'include /etc/nginx/conf.d/\*.conf;' /etc/nginx/nginx.conf
nginx -t

rm -f /etc/ssh/ssh_host_*
install -d -m 0700 /root/.ssh
systemctl enable lab-ssh-hostkeys.service

systemctl enable nginx.service php8.2-fpm.service redis-server.service supervisor.service ssh.service
# The scheduler: schedule:run every minute, as www-data (what cron does on most hosts).
systemctl enable laravel-scheduler.timer

# Units with nothing to do in a container (no devices, consoles, kernel modules, fs
# maintenance). systemd skips most of them by condition today; masking keeps it that way
# across package updates (the system must reach "running", not "degraded"), and stops
# apt-daily from running apt at random moments during tests.
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

# --- the application: Envoyer/Deployer layout --------------------------------------
install -d -o deploy -g deploy /srv/app /srv/app/releases
install -d -o www-data -g www-data -m 0775 /srv/app/shared /srv/app/shared/database
for dir in app/public framework/cache/data framework/sessions framework/views framework/testing logs; do
    install -d -m 0775 "/srv/app/shared/storage/${dir}"
done
# supervisor (root) would create the workers' log as root at first boot; owned by the app
# user from the start, the storage tree is in the state storage_permissions leaves it.
install -o www-data -g www-data -m 0644 /dev/null /srv/app/shared/storage/logs/worker.log
chown -R www-data:www-data /srv/app/shared/storage
chown deploy:www-data /srv/app/shared

cat > /srv/app/shared/.env <<ENV
APP_NAME=lab
APP_ENV=production
APP_KEY=base64:$(head -c 32 /dev/urandom | base64)
APP_DEBUG=false
APP_URL=http://localhost
LOG_CHANNEL=stack
LOG_LEVEL=info
DB_CONNECTION=sqlite
DB_DATABASE=/srv/app/shared/database/database.sqlite
CACHE_DRIVER=redis
QUEUE_CONNECTION=redis
SESSION_DRIVER=file
REDIS_CLIENT=phpredis
REDIS_HOST=127.0.0.1
REDIS_PORT=6379
REDIS_PASSWORD=${REDIS_PASSWORD}
ENV
chown deploy:www-data /srv/app/shared/.env
chmod 0640 /srv/app/shared/.env
install -o www-data -g www-data -m 0664 /dev/null /srv/app/shared/database/database.sqlite

for version in "${RELEASES[@]}"; do
    release="/srv/app/releases/v${version}"
    cp -a /opt/lab/app "${release}"
    if [ -d "/opt/lab/releases/v${version}" ]; then
        cp -a "/opt/lab/releases/v${version}/." "${release}/"
    fi
    echo "${version}" > "${release}/VERSION"
    rm -rf "${release}/storage"
    ln -s /srv/app/shared/storage "${release}/storage"
    ln -s /srv/app/shared/.env "${release}/.env"
    chown -R deploy:www-data "${release}"
    chmod -R g+rX,o-w "${release}"
    chown -R www-data:www-data "${release}/bootstrap/cache" "${release}/database"
done
ln -sfn "releases/v${CURRENT}" /srv/app/current
chown -h deploy:deploy /srv/app/current

# The schema is shared by all releases; migrate once with the current one.
runuser -u www-data -- php /srv/app/current/artisan migrate --force --no-interaction
for version in "${RELEASES[@]}"; do
    runuser -u www-data -- php "/srv/app/releases/v${version}/artisan" lab:version
done

rm -rf /opt/lab
