#!/bin/bash
# Runs once inside `docker build`: configuration that needs no running server. Roles,
# databases and migrations need one and are made at first boot by lab-db-init.service.
set -euo pipefail

PG_PASSWORD=lab-pg-s3cret
MYSQL_PASSWORD=lab-mysql-s3cret

# --- PostgreSQL ---------------------------------------------------------------------
# The package's postinst created cluster 15/main; conf.d/lab.conf (from rootfs) pins it to
# 127.0.0.1:5432 and the socket in /var/run/postgresql.
pg_lsclusters --no-header | grep -q '^15 *main '

# --- PgBouncer ----------------------------------------------------------------------
# userlist.txt holds app's plain password: pgbouncer then both checks the client's SCRAM
# login and logs in to PostgreSQL (scram-sha-256 there) with it. postgres and root are
# listed without a password only so pgbouncer knows them: a user missing from auth_file is
# refused even by peer auth, and pg_hba.conf allows them nothing but peer on the socket.
printf '"app" "%s"\n"postgres" ""\n"root" ""\n' "${PG_PASSWORD}" > /etc/pgbouncer/userlist.txt
chown postgres:postgres /etc/pgbouncer/userlist.txt /etc/pgbouncer/pgbouncer.ini /etc/pgbouncer/pg_hba.conf
chmod 0640 /etc/pgbouncer/userlist.txt /etc/pgbouncer/pgbouncer.ini /etc/pgbouncer/pg_hba.conf

# --- the app: pgsql through PgBouncer by default, mysql as a second connection ----
env_file=/srv/app/shared/.env
sed -i -E '/^DB_(CONNECTION|DATABASE)=/d' "${env_file}"
cat >> "${env_file}" <<ENV
DB_CONNECTION=pgsql
DB_HOST=127.0.0.1
DB_PORT=6432
DB_DATABASE=app
DB_USERNAME=app
DB_PASSWORD=${PG_PASSWORD}
MYSQL_HOST=127.0.0.1
MYSQL_PORT=3306
MYSQL_DATABASE=app
MYSQL_USERNAME=app
MYSQL_PASSWORD=${MYSQL_PASSWORD}
ENV
grep -q '^DB_CONNECTION=pgsql$' "${env_file}"

chmod 0755 /usr/local/sbin/lab-db-init
systemctl enable postgresql.service pgbouncer.service mariadb.service lab-db-init.service
