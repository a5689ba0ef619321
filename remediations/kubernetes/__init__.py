"""Kubernetes Deployments: scaled, image set, restarted, rolled back; rollout status; revisions."""
