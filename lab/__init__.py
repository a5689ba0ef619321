"""The container lab: real systemd web hosts (nginx, php-fpm, redis, supervisor, Laravel)
and a database host (the same plus PostgreSQL, PgBouncer, MariaDB) that the integration
tests, molecule scenarios and benchmarks run remediations against.

Not installed with the package; import it from the repository root (``import lab.manage``).
"""
