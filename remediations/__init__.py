"""Idempotent, verified remediation functions for PHP/Laravel production stacks.

    from remediations import load_inventory, run, RunOptions, service_running
    inv = load_inventory("inventories/lab.yml")
    report = run(functools.partial(service_running, unit="nginx", restart=True),
                 inv.select("web"), options=RunOptions(forks=10))
    for result in report: print(result.host, result.status, result.message)

Names are imported lazily so the command line starts fast.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "compose_logs_saved": "remediations.docker.compose",
    "compose_service_at_tag": "remediations.docker.compose",
    "compose_service_restarted": "remediations.docker.compose",
    "compose_services": "remediations.docker.compose",
    "compose_services_started": "remediations.docker.compose",
    "compose_services_stopped": "remediations.docker.compose",
    "compose_stack_restarted": "remediations.docker.compose",
    "CommandResult": "remediations.connections",
    "Connection": "remediations.connections",
    "connect": "remediations.connections",
    "sh": "remediations.connections",
    "container_logs_cleared": "remediations.docker.containers",
    "container_restarted_above_memory": "remediations.docker.containers",
    "container_stats": "remediations.docker.containers",
    "Verification": "remediations.run.contract",
    "apply": "remediations.run.contract",
    "disk_usage": "remediations.host.disk",
    "large_logs": "remediations.host.disk",
    "old_files_removed": "remediations.host.disk",
    "DockerEngine": "remediations.docker.engine",
    "DockerError": "remediations.docker.engine",
    "NotFound": "remediations.docker.engine",
    "engine": "remediations.docker.engine",
    "CommandFailed": "remediations.core.errors",
    "CommandTimeout": "remediations.core.errors",
    "ConnectionFailed": "remediations.core.errors",
    "HostLocked": "remediations.core.errors",
    "InvalidInput": "remediations.core.errors",
    "InventoryError": "remediations.core.errors",
    "KubeApiError": "remediations.core.errors",
    "NoHostsMatched": "remediations.core.errors",
    "RemediationError": "remediations.core.errors",
    "Unreachable": "remediations.core.errors",
    "evidence_preserved": "remediations.host.evidence",
    "database_reachable": "remediations.host.health",
    "database_status": "remediations.database.status",
    "long_queries_stopped": "remediations.database.queries",
    "migrations_rolled_back": "remediations.database.migrations",
    "http_ok": "remediations.host.health",
    "Host": "remediations.inventory",
    "Inventory": "remediations.inventory",
    "load_inventory": "remediations.inventory",
    "Cluster": "remediations.connections.cluster",
    "cluster_for": "remediations.connections.cluster",
    "deployment_restarted": "remediations.kubernetes.deployments",
    "deployment_at_release": "remediations.kubernetes.deployments",
    "deployment_releases": "remediations.kubernetes.deployments",
    "deployment_rolled_back": "remediations.kubernetes.deployments",
    "deployment_scaled": "remediations.kubernetes.deployments",
    "image_set": "remediations.kubernetes.deployments",
    "caches_cleared": "remediations.laravel.app",
    "caches_rebuilt": "remediations.laravel.app",
    "storage_link_present": "remediations.laravel.app",
    "storage_permissions": "remediations.laravel.app",
    "log_truncated": "remediations.host.logs",
    "maintenance_off": "remediations.laravel.maintenance",
    "maintenance_on": "remediations.laravel.maintenance",
    "ip_blocked": "remediations.docker.proxy",
    "ip_unblocked": "remediations.docker.proxy",
    "artisan_argv": "remediations.laravel.php",
    "octane_reloaded": "remediations.laravel.php",
    "opcache_reset": "remediations.laravel.php",
    "php_settings": "remediations.laravel.php",
    "rate_limits": "remediations.laravel.throttle",
    "rate_limits_cleared": "remediations.laravel.throttle",
    "docker_pruned": "remediations.docker.prune",
    "failed_jobs_forgotten": "remediations.laravel.queue",
    "failed_jobs_retried": "remediations.laravel.queue",
    "queue_drained": "remediations.laravel.queue",
    "queue_length": "remediations.laravel.queue",
    "queue_restarted": "remediations.laravel.queue",
    "Redactor": "remediations.core.redact",
    "redis_keys_deleted": "remediations.host.redis",
    "redis_pong": "remediations.host.redis",
    "Event": "remediations.run.report",
    "Report": "remediations.run.report",
    "Diff": "remediations.core.result",
    "Result": "remediations.core.result",
    "Status": "remediations.core.result",
    "Step": "remediations.core.result",
    "Release": "remediations.core.values",
    "rollout_complete": "remediations.kubernetes.rollout",
    "ReleaseMissing": "remediations.release.rollback",
    "rollback": "remediations.release.rollback",
    "rollback_hosts": "remediations.release.rollback",
    "ReleaseFacts": "remediations.release.facts",
    "release_current": "remediations.release.symlink",
    "release_facts": "remediations.release.facts",
    "release_history": "remediations.release.facts",
    "ReleaseState": "remediations.release.kinds",
    "at_release": "remediations.release.kinds",
    "compose_at_release": "remediations.release.kinds",
    "release_state": "remediations.release.kinds",
    "target_kind": "remediations.release.kinds",
    "RunbookStep": "remediations.runbooks.steps",
    "run_steps": "remediations.runbooks.steps",
    "RUNBOOKS": "remediations.runbooks.catalogue",
    "RunOptions": "remediations.run.runner",
    "Interrupt": "remediations.run.interrupt",
    "lock_released": "remediations.run.unlock",
    "run": "remediations.run.runner",
    "schedule_cache_cleared": "remediations.laravel.scheduler",
    "scheduler_paused": "remediations.laravel.scheduler",
    "scheduler_resumed": "remediations.laravel.scheduler",
    "start_run": "remediations.run.state",
    "programs_running": "remediations.host.supervisor",
    "workers_restarted": "remediations.host.supervisor",
    "workers_scaled": "remediations.host.supervisor",
    "php_fpm_unit": "remediations.host.systemd",
    "service_reloaded": "remediations.host.systemd",
    "service_running": "remediations.host.systemd",
    "service_stopped": "remediations.host.systemd",
    "services_status": "remediations.host.systemd",
    "unit_state": "remediations.host.systemd",
    "RunContext": "remediations.run.target",
    "Target": "remediations.run.target",
    "triage": "remediations.snapshot",
    "compose_service_scaled": "remediations.docker.scale",
    "proxy_ip_blocked": "remediations.docker.proxy",
    "proxy_ip_unblocked": "remediations.docker.proxy",
    "horizon_continued": "remediations.laravel.horizon",
    "horizon_paused": "remediations.laravel.horizon",
    "horizon_status": "remediations.laravel.horizon",
    "horizon_terminated": "remediations.laravel.horizon",
    "failed_jobs_listed": "remediations.laravel.queue",
    "queue_restart_verified": "remediations.laravel.queue",
    "queue_worker_processes_job": "remediations.laravel.queue",
    "queue_workers": "remediations.laravel.queue",
    "Runtime": "remediations.laravel.runtime",
    "app_runtime": "remediations.laravel.runtime",
    "switch_hooks": "remediations.laravel.runtime",
    "hosts_triggering_same_app": "remediations.laravel.scheduler_status",
    "scheduler_status": "remediations.laravel.scheduler_status",
    "env_setting_temporary": "remediations.laravel.temporary_settings",
    "env_settings_reverted": "remediations.laravel.temporary_settings",
    "HostUnits": "remediations.host.units",
    "ServiceNotInstalled": "remediations.host.units",
    "host_units": "remediations.host.units",
    "web_php": "remediations.laravel.php",
    "git_at_release": "remediations.release.git",
    "git_facts": "remediations.release.git_facts",
    "ReleaseRefused": "remediations.release.rollback",
}

__all__ = [
    "RUNBOOKS",
    "Cluster",
    "CommandFailed",
    "CommandResult",
    "CommandTimeout",
    "Connection",
    "ConnectionFailed",
    "Diff",
    "DockerEngine",
    "DockerError",
    "Event",
    "Host",
    "HostLocked",
    "HostUnits",
    "Interrupt",
    "InvalidInput",
    "Inventory",
    "InventoryError",
    "KubeApiError",
    "NoHostsMatched",
    "NotFound",
    "Redactor",
    "Release",
    "ReleaseFacts",
    "ReleaseMissing",
    "ReleaseRefused",
    "ReleaseState",
    "RemediationError",
    "Report",
    "Result",
    "RunContext",
    "RunOptions",
    "RunbookStep",
    "Runtime",
    "ServiceNotInstalled",
    "Status",
    "Step",
    "Target",
    "Unreachable",
    "Verification",
    "__version__",
    "app_runtime",
    "apply",
    "artisan_argv",
    "at_release",
    "caches_cleared",
    "caches_rebuilt",
    "cluster_for",
    "compose_at_release",
    "compose_logs_saved",
    "compose_service_at_tag",
    "compose_service_restarted",
    "compose_service_scaled",
    "compose_services",
    "compose_services_started",
    "compose_services_stopped",
    "compose_stack_restarted",
    "connect",
    "container_logs_cleared",
    "container_restarted_above_memory",
    "container_stats",
    "database_reachable",
    "database_status",
    "deployment_at_release",
    "deployment_releases",
    "deployment_restarted",
    "deployment_rolled_back",
    "deployment_scaled",
    "disk_usage",
    "docker_pruned",
    "engine",
    "env_setting_temporary",
    "env_settings_reverted",
    "evidence_preserved",
    "failed_jobs_forgotten",
    "failed_jobs_listed",
    "failed_jobs_retried",
    "git_at_release",
    "git_facts",
    "horizon_continued",
    "horizon_paused",
    "horizon_status",
    "horizon_terminated",
    "host_units",
    "hosts_triggering_same_app",
    "http_ok",
    "image_set",
    "ip_blocked",
    "ip_unblocked",
    "large_logs",
    "load_inventory",
    "lock_released",
    "log_truncated",
    "long_queries_stopped",
    "maintenance_off",
    "maintenance_on",
    "migrations_rolled_back",
    "octane_reloaded",
    "old_files_removed",
    "opcache_reset",
    "php_fpm_unit",
    "php_settings",
    "programs_running",
    "proxy_ip_blocked",
    "proxy_ip_unblocked",
    "queue_drained",
    "queue_length",
    "queue_restart_verified",
    "queue_restarted",
    "queue_worker_processes_job",
    "queue_workers",
    "rate_limits",
    "rate_limits_cleared",
    "redis_keys_deleted",
    "redis_pong",
    "release_current",
    "release_facts",
    "release_history",
    "release_state",
    "rollback",
    "rollback_hosts",
    "rollout_complete",
    "run",
    "run_steps",
    "schedule_cache_cleared",
    "scheduler_paused",
    "scheduler_resumed",
    "scheduler_status",
    "service_reloaded",
    "service_running",
    "service_stopped",
    "services_status",
    "sh",
    "start_run",
    "storage_link_present",
    "storage_permissions",
    "switch_hooks",
    "target_kind",
    "triage",
    "unit_state",
    "web_php",
    "workers_restarted",
    "workers_scaled",
]

if TYPE_CHECKING:
    from remediations.connections import CommandResult, Connection, connect, sh
    from remediations.connections.cluster import Cluster, cluster_for
    from remediations.core.errors import (
        CommandFailed,
        CommandTimeout,
        ConnectionFailed,
        HostLocked,
        InvalidInput,
        InventoryError,
        KubeApiError,
        NoHostsMatched,
        RemediationError,
        Unreachable,
    )
    from remediations.core.redact import Redactor
    from remediations.core.result import Diff, Result, Status, Step
    from remediations.core.values import Release
    from remediations.database.migrations import migrations_rolled_back
    from remediations.database.queries import long_queries_stopped
    from remediations.database.status import database_status
    from remediations.docker.compose import (
        compose_logs_saved,
        compose_service_at_tag,
        compose_service_restarted,
        compose_services,
        compose_services_started,
        compose_services_stopped,
        compose_stack_restarted,
    )
    from remediations.docker.containers import (
        container_logs_cleared,
        container_restarted_above_memory,
        container_stats,
    )
    from remediations.docker.engine import DockerEngine, DockerError, NotFound, engine
    from remediations.docker.proxy import (
        ip_blocked,
        ip_unblocked,
        proxy_ip_blocked,
        proxy_ip_unblocked,
    )
    from remediations.docker.prune import docker_pruned
    from remediations.docker.scale import compose_service_scaled
    from remediations.host.disk import disk_usage, large_logs, old_files_removed
    from remediations.host.evidence import evidence_preserved
    from remediations.host.health import database_reachable, http_ok
    from remediations.host.logs import log_truncated
    from remediations.host.redis import redis_keys_deleted, redis_pong
    from remediations.host.supervisor import programs_running, workers_restarted, workers_scaled
    from remediations.host.systemd import (
        php_fpm_unit,
        service_reloaded,
        service_running,
        service_stopped,
        services_status,
        unit_state,
    )
    from remediations.host.units import HostUnits, ServiceNotInstalled, host_units
    from remediations.inventory import Host, Inventory, load_inventory
    from remediations.kubernetes.deployments import (
        deployment_at_release,
        deployment_releases,
        deployment_restarted,
        deployment_rolled_back,
        deployment_scaled,
        image_set,
    )
    from remediations.kubernetes.rollout import rollout_complete
    from remediations.laravel.app import (
        caches_cleared,
        caches_rebuilt,
        storage_link_present,
        storage_permissions,
    )
    from remediations.laravel.horizon import (
        horizon_continued,
        horizon_paused,
        horizon_status,
        horizon_terminated,
    )
    from remediations.laravel.maintenance import maintenance_off, maintenance_on
    from remediations.laravel.php import (
        artisan_argv,
        octane_reloaded,
        opcache_reset,
        php_settings,
        web_php,
    )
    from remediations.laravel.queue import (
        failed_jobs_forgotten,
        failed_jobs_listed,
        failed_jobs_retried,
        queue_drained,
        queue_length,
        queue_restart_verified,
        queue_restarted,
        queue_worker_processes_job,
        queue_workers,
    )
    from remediations.laravel.runtime import Runtime, app_runtime, switch_hooks
    from remediations.laravel.scheduler import (
        schedule_cache_cleared,
        scheduler_paused,
        scheduler_resumed,
    )
    from remediations.laravel.scheduler_status import hosts_triggering_same_app, scheduler_status
    from remediations.laravel.temporary_settings import env_setting_temporary, env_settings_reverted
    from remediations.laravel.throttle import rate_limits, rate_limits_cleared
    from remediations.release.facts import ReleaseFacts, release_facts, release_history
    from remediations.release.git import git_at_release
    from remediations.release.git_facts import git_facts
    from remediations.release.kinds import (
        ReleaseState,
        at_release,
        compose_at_release,
        release_state,
        target_kind,
    )
    from remediations.release.rollback import (
        ReleaseMissing,
        ReleaseRefused,
        rollback,
        rollback_hosts,
    )
    from remediations.release.symlink import release_current
    from remediations.run.contract import Verification, apply
    from remediations.run.interrupt import Interrupt
    from remediations.run.report import Event, Report
    from remediations.run.runner import RunOptions, run
    from remediations.run.state import start_run
    from remediations.run.target import RunContext, Target
    from remediations.run.unlock import lock_released
    from remediations.runbooks.catalogue import RUNBOOKS
    from remediations.runbooks.steps import RunbookStep, run_steps
    from remediations.snapshot import triage


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'remediations' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


class _Package(types.ModuleType):
    """This package, keeping its exported names when a subpackage of the same name loads.

    Importing `remediations.run.markers` makes Python set `remediations.run` to the
    subpackage, which would hide the exported function `run` (the runner) from
    `from remediations import run`. The subpackage stays reachable as a module
    (`sys.modules["remediations.run"]`, `from remediations.run import ...`).
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _EXPORTS.get(name, "").rpartition(".")[0] \
                and value.__name__ == f"{__name__}.{name}":
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

