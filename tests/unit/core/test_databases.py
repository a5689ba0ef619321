"""Which services are databases: one recognition for systemd units, compose services, Deployments."""

from __future__ import annotations

import pytest

from remediations.core.databases import (
    DatabaseRestartRefused,
    compose_database,
    compose_databases,
    image_repository,
    is_database_image,
    is_database_unit,
    named,
    refused,
    workload_database,
)
from remediations.core.errors import InvalidInput
from remediations.host.systemd import is_database


@pytest.mark.parametrize("image,repository,database", [
    ("mysql", "mysql", True),
    ("mysql:8.0", "mysql", True),
    ("mysql/mysql-server:8.0", "mysql-server", True),
    ("mariadb:11@sha256:" + "a" * 64, "mariadb", True),
    ("remediations-lab/mariadb", "mariadb", True),            # the lab's compose `db`
    ("postgres:16-alpine", "postgres", True),
    ("docker.io/library/postgres:16", "postgres", True),
    ("registry.example:5000/bitnami/postgresql:16.2.0", "postgresql", True),
    ("bitnami/postgresql-repmgr", "postgresql-repmgr", True),
    ("edoburu/pgbouncer:1.22", "pgbouncer", True),
    ("percona:8", "percona", True),
    ("percona/percona-xtradb-cluster:8.0", "percona-xtradb-cluster", True),
    ("PostGIS/PostGIS:16-3.4", "postgis", True),
    ("timescale/timescaledb:latest-pg16", "timescaledb", True),
    # not databases: the app, caches, exporters, admin UIs, a port-only registry host
    ("remediations-lab/app:v1.2.3", "app", False),
    ("redis:7", "redis", False),
    ("prom/mysqld-exporter", "mysqld-exporter", False),
    ("quay.io/prometheuscommunity/postgres-exporter", "postgres-exporter", False),
    ("adminer", "adminer", False),
    ("registry.example:5000/shop/api:v2", "api", False),
    ("", "", False),
])
def test_database_images(image: str, repository: str, database: bool) -> None:
    assert image_repository(image) == repository
    assert is_database_image(image) is database


@pytest.mark.parametrize("unit,database", [
    ("mysql.service", True), ("mysqld.service", True), ("mariadb.service", True),
    ("mariadb@replica.service", True), ("postgresql.service", True),
    ("postgresql@15-main.service", True), ("pgbouncer.service", True),
    ("nginx.service", False), ("redis-server.service", False), ("php8.2-fpm.service", False),
    ("mysqld-exporter.service", False), ("postgresql-backup.timer", False),
])
def test_database_units_and_systemd_shares_the_recognition(unit: str, database: bool) -> None:
    assert is_database_unit(unit) is database
    if unit.endswith(".service"):
        assert is_database(unit.removesuffix(".service")) is database


@pytest.mark.parametrize("service,images,db_services,why", [
    ("db", [], [], "named db"),                              # the lab's compose service
    ("database", [], [], "named database"),
    ("mysql", [], [], "named mysql"),
    ("pgbouncer", [], [], "named pgbouncer"),
    ("Postgres", [], [], "named Postgres"),
    ("store", ["remediations-lab/mariadb"], [], "image remediations-lab/mariadb"),
    ("store", ["shop/app:v1", "bitnami/postgresql:16"], [], "image bitnami/postgresql:16"),
    ("primary", [], ["primary"], "the inventory's db_service"),
    ("db", ["mariadb"], ["db"], "the inventory's db_service"),  # the inventory first
    ("backend", ["remediations-lab/app:v1.2.3"], ["db"], ""),
    ("worker", [], [], ""),
    ("redis", ["redis:7"], [], ""),
    ("metrics", ["prom/mysqld-exporter"], [], ""),
])
def test_compose_database(service: str, images: list[str], db_services: list[str],
                          why: str) -> None:
    assert compose_database(service, images, db_services=db_services) == why


def test_compose_databases_takes_the_inventory_value_as_a_name_or_a_list() -> None:
    services = ["backend", "worker", "redis", "store", "db"]
    images = {"store": ["mariadb:11"], "backend": ["remediations-lab/app:v1.2.3"]}
    assert compose_databases(services, images=images) == {"store": "image mariadb:11",
                                                          "db": "named db"}
    assert compose_databases(["backend", "primary"], db_service="primary") == {
        "primary": "the inventory's db_service"}
    assert compose_databases(["a", "b", "c"], db_service=["a", "c"]) == {
        "a": "the inventory's db_service", "c": "the inventory's db_service"}
    assert compose_databases(["backend"], db_service=None) == {}
    assert named("a, b,,c") == ["a", "b", "c"] and named(["x", ""]) == ["x"] and named(3) == []


@pytest.mark.parametrize("name,images,database,db_deployments,why", [
    ("api", ["postgres:16"], None, [], "image postgres:16"),
    ("api", ["shop/app:v1", "edoburu/pgbouncer"], None, [], "image edoburu/pgbouncer"),
    ("web", ["shop/app:v1.2.3"], True, [], "the inventory's database: true"),
    ("web", ["shop/app:v1.2.3"], "yes", [], "the inventory's database: true"),
    ("orders", [], None, ["orders", "ledger"], "the inventory's db_deployment"),
    ("postgres", [], None, [], "named postgres"),
    ("web", ["shop/app:v1.2.3"], False, [], ""),
    ("web", ["shop/app:v1.2.3"], None, ["orders"], ""),
    ("web", [], None, [], ""),                    # images not read yet: only the inventory
])
def test_workload_database(name: str, images: list[str], database: object,
                           db_deployments: list[str], why: str) -> None:
    assert workload_database(name, images, database=database,
                             db_deployments=db_deployments) == why


def test_the_refusal_is_invalid_input_naming_what_why_and_the_flag() -> None:
    exc = refused("compose service db", "named db", verb="stop")
    assert isinstance(exc, DatabaseRestartRefused) and isinstance(exc, InvalidInput)
    assert str(exc) == (
        "refusing to stop compose service db (a database: named db): stopping a database is a "
        "last resort (it drops every connection); pass allow_database_restart=True "
        "(--allow-database-restart) to do it")
    assert "scaling down a database" in str(refused("deployment pg to 0 replicas", "x",
                                                     verb="scale"))
