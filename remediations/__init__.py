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
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "compose_logs_saved": "remediations.compose",
    "compose_service_at_tag": "remediations.compose",
    "compose_service_restarted": "remediations.compose",
    "compose_services": "remediations.compose",
    "compose_services_started": "remediations.compose",
    "compose_services_stopped": "remediations.compose",
    "compose_stack_restarted": "remediations.compose",
    "CommandResult": "remediations.connections",
    "Connection": "remediations.connections",
    "connect": "remediations.connections",
    "sh": "remediations.connections",
    "container_logs_cleared": "remediations.containers",
    "container_restarted_above_memory": "remediations.containers",
    "container_stats": "remediations.containers",
    "Verification": "remediations.contract",
    "apply": "remediations.contract",
    "disk_usage": "remediations.disk",
    "large_logs": "remediations.disk",
    "old_files_removed": "remediations.disk",
    "DockerEngine": "remediations.docker",
    "DockerError": "remediations.docker",
    "NotFound": "remediations.docker",
    "engine": "remediations.docker",
    "CommandFailed": "remediations.errors",
    "CommandTimeout": "remediations.errors",
    "ConnectionFailed": "remediations.errors",
    "HostLocked": "remediations.errors",
    "InvalidInput": "remediations.errors",
    "InventoryError": "remediations.errors",
    "KubeApiError": "remediations.errors",
    "NoHostsMatched": "remediations.errors",
    "RemediationError": "remediations.errors",
    "Unreachable": "remediations.errors",
    "evidence_preserved": "remediations.evidence",
    "database_reachable": "remediations.health",
    "http_ok": "remediations.health",
    "Host": "remediations.inventory",
    "Inventory": "remediations.inventory",
    "load_inventory": "remediations.inventory",
    "Cluster": "remediations.kube",
    "cluster_for": "remediations.kube",
    "deployment_restarted": "remediations.kubernetes",
    "deployment_at_release": "remediations.kubernetes",
    "deployment_releases": "remediations.kubernetes",
    "deployment_rolled_back": "remediations.kubernetes",
    "deployment_scaled": "remediations.kubernetes",
    "image_set": "remediations.kubernetes",
    "caches_cleared": "remediations.laravel",
    "caches_rebuilt": "remediations.laravel",
    "storage_link_present": "remediations.laravel",
    "storage_permissions": "remediations.laravel",
    "log_truncated": "remediations.logs",
    "maintenance_off": "remediations.maintenance",
    "maintenance_on": "remediations.maintenance",
    "ip_blocked": "remediations.nginx",
    "ip_unblocked": "remediations.nginx",
    "artisan_argv": "remediations.php",
    "octane_reloaded": "remediations.php",
    "opcache_reset": "remediations.php",
    "php_settings": "remediations.php",
    "docker_pruned": "remediations.prune",
    "failed_jobs_forgotten": "remediations.queue",
    "failed_jobs_retried": "remediations.queue",
    "queue_drained": "remediations.queue",
    "queue_length": "remediations.queue",
    "queue_restarted": "remediations.queue",
    "Redactor": "remediations.redact",
    "redis_keys_deleted": "remediations.redis",
    "redis_pong": "remediations.redis",
    "Event": "remediations.report",
    "Report": "remediations.report",
    "Diff": "remediations.result",
    "Result": "remediations.result",
    "Status": "remediations.result",
    "Step": "remediations.result",
    "rollout_complete": "remediations.rollout",
    "ReleaseMissing": "remediations.rollbacks",
    "rollback": "remediations.rollbacks",
    "rollback_hosts": "remediations.rollbacks",
    "ReleaseFacts": "remediations.release_facts",
    "release_current": "remediations.release",
    "release_facts": "remediations.release_facts",
    "release_history": "remediations.release_facts",
    "ReleaseState": "remediations.release_kinds",
    "at_release": "remediations.release_kinds",
    "compose_at_release": "remediations.release_kinds",
    "release_state": "remediations.release_kinds",
    "target_kind": "remediations.release_kinds",
    "RunbookStep": "remediations.runbook_steps",
    "run_steps": "remediations.runbook_steps",
    "RUNBOOKS": "remediations.runbooks",
    "RunOptions": "remediations.runner",
    "run": "remediations.runner",
    "schedule_cache_cleared": "remediations.scheduler",
    "scheduler_paused": "remediations.scheduler",
    "scheduler_resumed": "remediations.scheduler",
    "start_run": "remediations.state",
    "programs_running": "remediations.supervisor",
    "workers_restarted": "remediations.supervisor",
    "workers_scaled": "remediations.supervisor",
    "php_fpm_unit": "remediations.systemd",
    "service_reloaded": "remediations.systemd",
    "service_running": "remediations.systemd",
    "service_stopped": "remediations.systemd",
    "services_status": "remediations.systemd",
    "unit_state": "remediations.systemd",
    "RunContext": "remediations.target",
    "Target": "remediations.target",
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
    "InvalidInput",
    "Inventory",
    "InventoryError",
    "KubeApiError",
    "NoHostsMatched",
    "NotFound",
    "Redactor",
    "ReleaseFacts",
    "ReleaseMissing",
    "ReleaseState",
    "RemediationError",
    "Report",
    "Result",
    "RunContext",
    "RunOptions",
    "RunbookStep",
    "Status",
    "Step",
    "Target",
    "Unreachable",
    "Verification",
    "__version__",
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
    "compose_services",
    "compose_services_started",
    "compose_services_stopped",
    "compose_stack_restarted",
    "connect",
    "container_logs_cleared",
    "container_restarted_above_memory",
    "container_stats",
    "database_reachable",
    "deployment_at_release",
    "deployment_releases",
    "deployment_restarted",
    "deployment_rolled_back",
    "deployment_scaled",
    "disk_usage",
    "docker_pruned",
    "engine",
    "evidence_preserved",
    "failed_jobs_forgotten",
    "failed_jobs_retried",
    "http_ok",
    "image_set",
    "ip_blocked",
    "ip_unblocked",
    "large_logs",
    "load_inventory",
    "log_truncated",
    "maintenance_off",
    "maintenance_on",
    "octane_reloaded",
    "old_files_removed",
    "opcache_reset",
    "php_fpm_unit",
    "php_settings",
    "programs_running",
    "queue_drained",
    "queue_length",
    "queue_restarted",
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
    "service_reloaded",
    "service_running",
    "service_stopped",
    "services_status",
    "sh",
    "start_run",
    "storage_link_present",
    "storage_permissions",
    "target_kind",
    "unit_state",
    "workers_restarted",
    "workers_scaled",
]

if TYPE_CHECKING:
    from remediations.compose import (
        compose_logs_saved,
        compose_service_at_tag,
        compose_service_restarted,
        compose_services,
        compose_services_started,
        compose_services_stopped,
        compose_stack_restarted,
    )
    from remediations.connections import CommandResult, Connection, connect, sh
    from remediations.containers import (
        container_logs_cleared,
        container_restarted_above_memory,
        container_stats,
    )
    from remediations.contract import Verification, apply
    from remediations.disk import disk_usage, large_logs, old_files_removed
    from remediations.docker import DockerEngine, DockerError, NotFound, engine
    from remediations.errors import (
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
    from remediations.evidence import evidence_preserved
    from remediations.health import database_reachable, http_ok
    from remediations.inventory import Host, Inventory, load_inventory
    from remediations.kube import Cluster, cluster_for
    from remediations.kubernetes import (
        deployment_at_release,
        deployment_releases,
        deployment_restarted,
        deployment_rolled_back,
        deployment_scaled,
        image_set,
    )
    from remediations.laravel import (
        caches_cleared,
        caches_rebuilt,
        storage_link_present,
        storage_permissions,
    )
    from remediations.logs import log_truncated
    from remediations.maintenance import maintenance_off, maintenance_on
    from remediations.nginx import ip_blocked, ip_unblocked
    from remediations.php import artisan_argv, octane_reloaded, opcache_reset, php_settings
    from remediations.prune import docker_pruned
    from remediations.queue import (
        failed_jobs_forgotten,
        failed_jobs_retried,
        queue_drained,
        queue_length,
        queue_restarted,
    )
    from remediations.redact import Redactor
    from remediations.redis import redis_keys_deleted, redis_pong
    from remediations.release import release_current
    from remediations.release_facts import ReleaseFacts, release_facts, release_history
    from remediations.release_kinds import (
        ReleaseState,
        at_release,
        compose_at_release,
        release_state,
        target_kind,
    )
    from remediations.report import Event, Report
    from remediations.result import Diff, Result, Status, Step
    from remediations.rollbacks import ReleaseMissing, rollback, rollback_hosts
    from remediations.rollout import rollout_complete
    from remediations.runbook_steps import RunbookStep, run_steps
    from remediations.runbooks import RUNBOOKS
    from remediations.runner import RunOptions, run
    from remediations.scheduler import schedule_cache_cleared, scheduler_paused, scheduler_resumed
    from remediations.state import start_run
    from remediations.supervisor import programs_running, workers_restarted, workers_scaled
    from remediations.systemd import (
        php_fpm_unit,
        service_reloaded,
        service_running,
        service_stopped,
        services_status,
        unit_state,
    )
    from remediations.target import RunContext, Target


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'remediations' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
