"""Manifests for tests: a Laravel application Deployment as a team would write it."""

from __future__ import annotations

from typing import Any

LARAVEL_IMAGE = "registry.local/laravel-app"
NGINX_IMAGE = "registry.local/nginx:1.25"


def app(name: str = "web", image: str = f"{LARAVEL_IMAGE}:v1.2.2", replicas: int = 3, *,
        namespace: str = "default", sidecar: bool = False, progress_deadline: int | None = 600,
        revision_history_limit: int | None = 10, strategy: dict[str, Any] | None = None,
        min_ready_seconds: int = 0, annotations: dict[str, str] | None = None,
        labels: dict[str, str] | None = None) -> dict[str, Any]:
    """A Deployment of the Laravel app: container `app` (php-fpm on 9000, env, a storage
    volume); with `sidecar`, a second container `nginx` serving port 80."""
    containers: list[dict[str, Any]] = [{
        "name": "app",
        "image": image,
        "ports": [{"name": "php-fpm", "containerPort": 9000}],
        "env": [{"name": "APP_ENV", "value": "production"},
                {"name": "LOG_CHANNEL", "value": "stderr"}],
        "volumeMounts": [{"name": "storage", "mountPath": "/var/www/html/storage"}],
    }]
    if sidecar:
        containers.append({
            "name": "nginx",
            "image": NGINX_IMAGE,
            "ports": [{"name": "http", "containerPort": 80}],
            "volumeMounts": [{"name": "storage", "mountPath": "/var/www/html/storage",
                              "readOnly": True}],
        })
    spec: dict[str, Any] = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name, "tier": "backend"}},
            "spec": {"containers": containers, "volumes": [{"name": "storage", "emptyDir": {}}]},
        },
    }
    if progress_deadline is not None:
        spec["progressDeadlineSeconds"] = progress_deadline
    if revision_history_limit is not None:
        spec["revisionHistoryLimit"] = revision_history_limit
    if strategy is not None:
        spec["strategy"] = strategy
    if min_ready_seconds:
        spec["minReadySeconds"] = min_ready_seconds
    metadata: dict[str, Any] = {"name": name, "namespace": namespace,
                                "labels": {"app": name, **(labels or {})}}
    if annotations:
        metadata["annotations"] = dict(annotations)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata, "spec": spec}
