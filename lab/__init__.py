"""The container lab: real systemd web hosts (nginx, php-fpm, redis, supervisor, Laravel)
that the integration tests, molecule scenarios and benchmarks run remediations against.

Not installed with the package; import it from the repository root (``import lab.manage``).
"""
