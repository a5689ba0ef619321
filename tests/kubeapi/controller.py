"""The Deployment controller, ported from kube-controller-manager's (pkg/controller/deployment).

One background thread runs every controller in turn (deployments, ReplicaSets,
pods) whenever something is stored, and every `interval` seconds for the clocks
(ready delays, progress deadlines). Each pass holds the store lock, so a pass
sees and leaves a consistent state.
"""

from __future__ import annotations

import copy
import threading
import traceback
from typing import Any

from tests.kubeapi import events
from tests.kubeapi import rollout as ro
from tests.kubeapi.api import Api
from tests.kubeapi.errors import ApiError
from tests.kubeapi.kubelet import PODS, REPLICASETS, Kubelet, controller_uid, owner_reference
from tests.kubeapi.objects import now
from tests.kubeapi.resources import BY_PATH

DEPLOYMENTS = BY_PATH[("apps", "v1", "deployments")]
Obj = dict[str, Any]
COMPONENT = "deployment-controller"


class Controller:
    """The control loops of the test double's cluster."""

    def __init__(self, api: Api, *, ready_delay: float = 0.5, interval: float = 0.05) -> None:
        self.api = api
        self.kubelet = Kubelet(api, ready_delay)
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="kubeapi-controller", daemon=True)
        self._errors: list[str] = []
        self._errors_lock = threading.Lock()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.api.store.touch()
        self._thread.join(timeout=5)

    def take_errors(self) -> list[str]:
        """Failures of control-loop passes since the last call (a bug in the test double)."""
        with self._errors_lock:
            errors, self._errors = self._errors, []
            return errors

    def _loop(self) -> None:
        store = self.api.store
        while not self._stop.is_set():
            with store.lock:
                try:
                    self.sync_all()
                except Exception as exc:  # noqa: BLE001 - keep the loop alive; tests read them
                    with self._errors_lock:
                        self._errors.append(f"{exc!r} at {traceback.format_exc(limit=-3)}")
                seen = store.resource_version
            store.wait(seen, self.interval)

    def sync_all(self) -> None:
        store = self.api.store
        for d in store.items(DEPLOYMENTS):
            self.sync_deployment(d)
        for rs in store.items(REPLICASETS):
            self.kubelet.sync_replicaset(rs)
        pods = store.items(PODS)
        for pod in pods:
            self.kubelet.sync_pod(pod)
        self.kubelet.forget({p["metadata"]["uid"] for p in pods})

    # --- one Deployment -----------------------------------------------------------------
    def _owned(self, d: Obj) -> list[Obj]:
        rss = [rs for rs in self.api.store.items(REPLICASETS, d["metadata"]["namespace"])
               if controller_uid(rs) == d["metadata"]["uid"]]
        return sorted(rss, key=ro.age_key)

    def sync_deployment(self, d: Obj) -> None:
        if d["metadata"].get("deletionTimestamp"):
            return
        d = self._check_paused_conditions(d)
        rss = self._owned(d)
        if d["spec"].get("paused"):
            new, olds, d = self._new_and_old(d, rss, create=False)
            self._scale(d, new, olds)
            rss = self._owned(d)
            new, olds = ro.split(d, rss)
            self._cleanup(d, olds)
            self._write_status(d, ro.calculate_status(d, new, olds))
            return
        if self._is_scaling_event(d, rss):
            new, olds, d = self._new_and_old(d, rss, create=False)
            self._scale(d, new, olds)
            rss = self._owned(d)
            new, olds = ro.split(d, rss)
            self._write_status(d, ro.calculate_status(d, new, olds))
            return
        if (d["spec"].get("strategy") or {}).get("type") == "Recreate":
            self._rollout_recreate(d, rss)
        else:
            self._rollout_rolling(d, rss)

    def _check_paused_conditions(self, d: Obj) -> Obj:
        if "progressDeadlineSeconds" not in d["spec"]:
            return d
        cond = ro.condition(d.get("status") or {}, "Progressing")
        if cond and cond.get("reason") == ro.TIMED_OUT:
            return d
        paused_exists = cond is not None and cond.get("reason") == "DeploymentPaused"
        status = copy.deepcopy(d.get("status") or {})
        if d["spec"].get("paused") and not paused_exists:
            ro.set_condition(status, "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused")
        elif not d["spec"].get("paused") and paused_exists:
            ro.set_condition(status, "Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed")
        else:
            return d
        return self._write_status(d, status)

    def _is_scaling_event(self, d: Obj, rss: list[Obj]) -> bool:
        for rs in rss:
            if int(rs["spec"].get("replicas", 0)) == 0:
                continue
            desired = (rs["metadata"].get("annotations") or {}).get(ro.DESIRED)
            if desired is not None and desired.isdigit() and int(desired) != d["spec"]["replicas"]:
                return True
        return False

    def _write_status(self, d: Obj, status: Obj, annotations: dict[str, str] | None = None) -> Obj:
        """Deployments' UpdateStatus: a real status update may also carry annotations."""
        if status == (d.get("status") or {}) and annotations is None:
            return d
        d = copy.deepcopy(d)
        d["status"] = status
        if annotations is not None:
            d["metadata"]["annotations"] = annotations
        stored = self.api.update(DEPLOYMENTS, d["metadata"]["namespace"], d["metadata"]["name"], d,
                                 subresource="status")
        return stored

    def _event(self, d: Obj, message: str) -> None:
        events.record(self.api, d, "Deployment", "ScalingReplicaSet", message, component=COMPONENT)

    # --- getNewReplicaSet ---------------------------------------------------------------
    def _new_and_old(self, d: Obj, rss: list[Obj], *, create: bool) -> tuple[Obj | None, list[Obj], Obj]:
        """getAllReplicaSetsAndSyncRevision: find (or create) the new ReplicaSet, sync revisions."""
        new, olds = ro.split(d, rss)
        new_revision = str(ro.max_revision(olds) + 1)
        annotations = dict(d["metadata"].get("annotations") or {})
        status = copy.deepcopy(d.get("status") or {})
        has_deadline = "progressDeadlineSeconds" in d["spec"]
        if new is not None:
            rs = copy.deepcopy(new)
            changed = ro.set_new_rs_annotations(d, rs, new_revision, exists=True)
            if changed or rs["spec"].get("minReadySeconds", 0) != d["spec"].get("minReadySeconds", 0):
                rs["spec"]["minReadySeconds"] = d["spec"].get("minReadySeconds", 0)
                if not rs["spec"]["minReadySeconds"]:
                    rs["spec"].pop("minReadySeconds")
                new = self.api.update(REPLICASETS, rs["metadata"]["namespace"], rs["metadata"]["name"], rs)
                return new, olds, d
            revision = (rs["metadata"].get("annotations") or {}).get(ro.REVISION, "")
            needs = annotations.get(ro.REVISION) != revision
            annotations[ro.REVISION] = revision
            if has_deadline and ro.condition(status, "Progressing") is None:
                ro.set_condition(status, "Progressing", "True", "FoundNewReplicaSet",
                                 f'Found new replica set "{rs["metadata"]["name"]}"')
                needs = True
            if needs:
                d = self._write_status(d, status, annotations)
            return new, olds, d
        if not create:
            return None, olds, d
        return self._create_new(d, olds, new_revision, annotations, status)

    def _create_new(self, d: Obj, olds: list[Obj], new_revision: str, annotations: dict[str, str],
                    status: Obj) -> tuple[Obj | None, list[Obj], Obj]:
        namespace = d["metadata"]["namespace"]
        template = copy.deepcopy(d["spec"]["template"])
        pod_hash = ro.compute_hash(template, status.get("collisionCount"))
        labels = {**(template.get("metadata") or {}).get("labels", {}), ro.HASH_LABEL: pod_hash}
        template.setdefault("metadata", {})["labels"] = labels
        selector = copy.deepcopy(d["spec"]["selector"])
        selector.setdefault("matchLabels", {})[ro.HASH_LABEL] = pod_hash
        rs: Obj = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                   "metadata": {"name": f"{d['metadata']['name']}-{pod_hash}", "namespace": namespace,
                                "labels": dict(labels), "ownerReferences": [owner_reference(d)]},
                   "spec": {"replicas": 0, "selector": selector, "template": template}}
        if d["spec"].get("minReadySeconds"):
            rs["spec"]["minReadySeconds"] = d["spec"]["minReadySeconds"]
        rs["spec"]["replicas"] = ro.new_rs_new_replicas(d, [*olds, rs], rs)
        ro.set_new_rs_annotations(d, rs, new_revision, exists=False)
        try:
            created = self.api.create(REPLICASETS, namespace, rs)
        except ApiError as error:
            if error.reason != "AlreadyExists":
                raise
            existing = self.api.get(REPLICASETS, namespace, rs["metadata"]["name"])
            if controller_uid(existing) == d["metadata"]["uid"] and ro.equal_ignore_hash(
                    existing["spec"]["template"], d["spec"]["template"]):
                return existing, olds, d
            status["collisionCount"] = int(status.get("collisionCount", 0)) + 1
            return None, olds, self._write_status(d, status)
        if created["spec"]["replicas"] > 0:
            self._event(d, f"Scaled up replica set {created['metadata']['name']} from 0 to "
                           f"{created['spec']['replicas']}")
        annotations[ro.REVISION] = new_revision
        if "progressDeadlineSeconds" in d["spec"]:
            ro.set_condition(status, "Progressing", "True", "NewReplicaSetCreated",
                             f'Created new replica set "{created["metadata"]["name"]}"')
        return created, olds, self._write_status(d, status, annotations)

    # --- scaling ------------------------------------------------------------------------
    def _scale_rs(self, d: Obj, rs: Obj, replicas: int) -> tuple[bool, Obj]:
        """scaleReplicaSet: set the size and the desired/max-replicas annotations."""
        size_changes = int(rs["spec"].get("replicas", 0)) != replicas
        updated = copy.deepcopy(rs)
        annotations_change = ro.set_replicas_annotations(updated, d)
        if not (size_changes or annotations_change):
            return False, rs
        old_size = int(rs["spec"].get("replicas", 0))
        updated["spec"]["replicas"] = replicas
        stored = self.api.update(REPLICASETS, rs["metadata"]["namespace"], rs["metadata"]["name"], updated)
        if size_changes:
            direction = "up" if old_size < replicas else "down"
            self._event(d, f"Scaled {direction} replica set {rs['metadata']['name']} from {old_size} to {replicas}")
        return size_changes, stored

    def _scale_and_record(self, d: Obj, rs: Obj, replicas: int) -> tuple[bool, Obj]:
        if int(rs["spec"].get("replicas", 0)) == replicas:
            return False, rs
        return self._scale_rs(d, rs, replicas)

    def _scale(self, d: Obj, new: Obj | None, olds: list[Obj]) -> None:
        """scale(): proportional scaling of every active ReplicaSet (a scaling event, or paused)."""
        replicas = int(d["spec"]["replicas"])
        target = ro.find_active_or_latest(new, olds)
        if target is not None:
            if int(target["spec"].get("replicas", 0)) != replicas:
                self._scale_rs(d, target, replicas)
            return
        if ro.is_saturated(d, new):
            for old in ro.active(olds):
                self._scale_rs(d, old, 0)
            return
        if ro.is_rolling(d):
            for rs, size in ro.proportional_sizes(d, new, olds):
                self._scale_rs(d, rs, size)

    # --- the rolling and recreate strategies --------------------------------------------
    def _rollout_rolling(self, d: Obj, rss: list[Obj]) -> None:
        new, olds, d = self._new_and_old(d, rss, create=True)
        if new is None:
            return
        replicas = int(d["spec"]["replicas"])
        new_size = int(new["spec"].get("replicas", 0))
        if new_size > replicas:
            scaled, new = self._scale_and_record(d, new, replicas)
        elif new_size < replicas:
            scaled, new = self._scale_and_record(d, new, ro.new_rs_new_replicas(d, [*olds, new], new))
        else:
            scaled = False
        if not scaled:
            scaled = self._reconcile_olds(d, new, olds)
        rss = self._owned(d)
        new, olds = ro.split(d, rss)
        if not scaled and ro.deployment_complete(d, d.get("status") or {}):
            self._cleanup(d, olds)
        self._sync_rollout_status(d, new, olds)

    def _reconcile_olds(self, d: Obj, new: Obj, olds: list[Obj]) -> bool:
        """reconcileOldReplicaSets: scale old ReplicaSets down within maxUnavailable."""
        active = ro.active(olds)
        if ro.replicas(active) == 0:
            return False
        all_rss = [*active, new]
        min_available = int(d["spec"]["replicas"]) - ro.max_unavailable(d)
        new_unavailable = int(new["spec"].get("replicas", 0)) - int((new.get("status") or {}).get("availableReplicas", 0))
        max_scaled_down = ro.replicas(all_rss) - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        total = 0
        cleaned: list[Obj] = []
        for rs in sorted(active, key=ro.age_key):  # cleanupUnhealthyReplicas
            spec_n = int(rs["spec"].get("replicas", 0))
            available = int((rs.get("status") or {}).get("availableReplicas", 0))
            if total >= max_scaled_down or spec_n == 0 or spec_n == available:
                cleaned.append(rs)
                continue
            count = min(max_scaled_down - total, spec_n - available)
            _, rs = self._scale_and_record(d, rs, spec_n - count)
            total += count
            cleaned.append(rs)
        available_pods = sum(int((rs.get("status") or {}).get("availableReplicas", 0)) for rs in [*cleaned, new])
        if available_pods > min_available:  # scaleDownOldReplicaSetsForRollingUpdate
            budget, done = available_pods - min_available, 0
            for rs in sorted(cleaned, key=ro.age_key):
                spec_n = int(rs["spec"].get("replicas", 0))
                if done >= budget:
                    break
                if spec_n == 0:
                    continue
                count = min(spec_n, budget - done)
                self._scale_and_record(d, rs, spec_n - count)
                done += count
            total += done
        return total > 0

    def _rollout_recreate(self, d: Obj, rss: list[Obj]) -> None:
        new, olds, d = self._new_and_old(d, rss, create=False)
        scaled = False
        for rs in ro.active(olds):
            changed, _ = self._scale_and_record(d, rs, 0)
            scaled = scaled or changed
        old_uids = {rs["metadata"]["uid"] for rs in olds}
        old_pods = [p for p in self.api.store.items(PODS, d["metadata"]["namespace"])
                    if controller_uid(p) in old_uids]
        if not scaled and not old_pods:
            if new is None:
                new, olds, d = self._new_and_old(d, rss, create=True)
            if new is not None:
                self._scale_and_record(d, new, int(d["spec"]["replicas"]))
        rss = self._owned(d)
        new, olds = ro.split(d, rss)
        if ro.deployment_complete(d, d.get("status") or {}):
            self._cleanup(d, olds)
        self._sync_rollout_status(d, new, olds)

    def _cleanup(self, d: Obj, olds: list[Obj]) -> None:
        """cleanupDeployment: keep at most revisionHistoryLimit old ReplicaSets."""
        limit = d["spec"].get("revisionHistoryLimit")
        if limit is None or len(olds) <= int(limit):
            return
        for rs in sorted(olds, key=ro.revision_key)[:len(olds) - int(limit)]:
            status = rs.get("status") or {}
            if (status.get("replicas", 0) or rs["spec"].get("replicas", 0)
                    or rs["metadata"].get("generation", 1) > status.get("observedGeneration", 0)):
                continue
            self.api.delete(REPLICASETS, rs["metadata"]["namespace"], rs["metadata"]["name"])

    def _sync_rollout_status(self, d: Obj, new: Obj | None, olds: list[Obj]) -> None:
        status = ro.calculate_status(d, new, olds)
        ro.progress(d, status, new, now())
        self._write_status(d, status)
