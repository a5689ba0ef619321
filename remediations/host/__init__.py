"""Host remediations (systemd hosts over ssh, docker exec or local): units, workers, nginx, redis, disk, logs, files, evidence, health."""
