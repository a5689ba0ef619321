#!/bin/bash
# Initialise the data directory on first start, then run mariadbd in the foreground with
# an init file that creates the app's database and user (idempotent, every start).
set -euo pipefail

db="${DB_DATABASE:-app}"
user="${DB_USERNAME:-app}"
password="${DB_PASSWORD:?DB_PASSWORD must be set}"
for name in "$db" "$user"; do
    [[ "$name" =~ ^[A-Za-z0-9_]+$ ]] || { echo "invalid name: $name" >&2; exit 2; }
done
# Single quotes inside the password would end the SQL string.
[[ "$password" != *"'"* && "$password" != *"\\"* ]] || { echo "DB_PASSWORD may not hold quotes" >&2; exit 2; }

install -d -o mysql -g mysql -m 0755 /run/mysqld
chown mysql:mysql /var/lib/mysql
if [ ! -d /var/lib/mysql/mysql ]; then
    echo "lab-entrypoint: initialising /var/lib/mysql" >&2
    mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db \
        --auth-root-authentication-method=socket > /dev/null
fi

init=/run/mysqld/lab-init.sql
umask 077
cat > "$init" <<SQL
CREATE DATABASE IF NOT EXISTS \`${db}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '${user}'@'%' IDENTIFIED BY '${password}';
ALTER USER '${user}'@'%' IDENTIFIED BY '${password}';
GRANT ALL PRIVILEGES ON \`${db}\`.* TO '${user}'@'%';
FLUSH PRIVILEGES;
SQL
chown mysql:mysql "$init"
exec mariadbd --user=mysql --datadir=/var/lib/mysql --bind-address=0.0.0.0 \
    --skip-name-resolve --init-file="$init" "$@"
