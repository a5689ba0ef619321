"""The ReplicaSet controller, the scheduler and the kubelet, reduced to what status shows.

Pods are bound to one node at once and become Running and Ready `ready_delay`
seconds after they are created; a pod running a broken image never does:
its container waits in `ImagePullBackOff` and the kubelet records the events.
"""

from __future__ import annotations

import copy
import hashlib
import threading
import zlib
from typing import Any

from tests.kubeapi import events
from tests.kubeapi.api import Api, random_suffix
from tests.kubeapi.objects import monotonic, now
from tests.kubeapi.resources import BY_PATH

PODS = BY_PATH[("", "v1", "pods")]
REPLICASETS = BY_PATH[("apps", "v1", "replicasets")]
NODE = "kubeapi-node"
Obj = dict[str, Any]


def controller_uid(obj: Obj) -> str | None:
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid"))
    return None


def owner_reference(owner: Obj) -> Obj:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"],
            "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
            "controller": True, "blockOwnerDeletion": True}


def is_ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def is_active(pod: Obj) -> bool:
    return (not pod["metadata"].get("deletionTimestamp")
            and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"))


class Kubelet:
    """Settings (ready delay, broken images) and the pod and ReplicaSet sync loops."""

    def __init__(self, api: Api, ready_delay: float = 0.5) -> None:
        self.api = api
        self._settings = threading.Lock()
        self.ready_delay = self._initial_delay = ready_delay
        self.broken: set[str] = set()
        self._born: dict[str, float] = {}   # pod uid -> monotonic time first seen
        self._ready_at: dict[str, float] = {}

    # --- settings -----------------------------------------------------------------------
    def set_ready_delay(self, seconds: float) -> None:
        with self._settings:
            self.ready_delay = seconds

    def break_image(self, image: str) -> None:
        with self._settings:
            self.broken.add(image)

    def fix_image(self, image: str) -> None:
        with self._settings:
            self.broken.discard(image)

    def _image_broken(self, image: str) -> bool:
        with self._settings:
            return image in self.broken

    def available_since(self, pod: Obj, min_ready_seconds: int) -> bool:
        ready_at = self._ready_at.get(pod["metadata"]["uid"])
        return is_ready(pod) and ready_at is not None and monotonic() - ready_at >= min_ready_seconds

    # --- ReplicaSets --------------------------------------------------------------------
    def sync_replicaset(self, rs: Obj) -> None:
        api, meta = self.api, rs["metadata"]
        namespace = meta["namespace"]
        pods = [p for p in api.store.items(PODS, namespace)
                if controller_uid(p) == meta["uid"] and is_active(p)]
        wanted = int(rs["spec"].get("replicas", 1))
        for _ in range(wanted - len(pods)):
            pods.append(self._create_pod(rs))
        if len(pods) > wanted:
            for pod in sorted(pods, key=self._deletion_rank)[:len(pods) - wanted]:
                api.delete(PODS, namespace, pod["metadata"]["name"])
                events.record(api, rs, "ReplicaSet", "SuccessfulDelete",
                              f"Deleted pod: {pod['metadata']['name']}", component="replicaset-controller")
                pods.remove(pod)
        labels = ((rs["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}
        status: Obj = {
            "replicas": len(pods),
            "fullyLabeledReplicas": sum(1 for p in pods if all(
                (p["metadata"].get("labels") or {}).get(k) == v for k, v in labels.items())),
            "readyReplicas": sum(1 for p in pods if is_ready(p)),
            "availableReplicas": sum(1 for p in pods if self.available_since(
                p, int(rs["spec"].get("minReadySeconds", 0)))),
            "observedGeneration": meta.get("generation", 1),
        }
        status = {k: v for k, v in status.items() if v or k == "replicas"}  # omitempty
        if (rs.get("status") or {}) != status:
            rs = copy.deepcopy(rs)
            rs["status"] = status
            api.update(REPLICASETS, namespace, meta["name"], rs, subresource="status")

    def _deletion_rank(self, pod: Obj) -> tuple[int, int, float]:
        """Pods deleted first: unscheduled, pending, not ready, then the newest."""
        phase = (pod.get("status") or {}).get("phase", "Pending")
        return (0 if not pod["spec"].get("nodeName") else 1,
                {"Pending": 0, "Unknown": 1, "Running": 2}.get(phase, 2) + (1 if is_ready(pod) else 0),
                -self._born.get(pod["metadata"]["uid"], 0.0))

    def _create_pod(self, rs: Obj) -> Obj:
        template = copy.deepcopy(rs["spec"].get("template") or {})
        meta = template.get("metadata") or {}
        meta.pop("creationTimestamp", None)
        name = f"{rs['metadata']['name']}-{random_suffix()}"
        meta.update(name=name, namespace=rs["metadata"]["namespace"],
                    ownerReferences=[owner_reference(rs)])
        pod = self.api.create(PODS, rs["metadata"]["namespace"],
                              {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
                               "spec": template.get("spec") or {}})
        events.record(self.api, rs, "ReplicaSet", "SuccessfulCreate", f"Created pod: {name}",
                      component="replicaset-controller")
        return pod

    # --- the scheduler and the kubelet --------------------------------------------------
    def sync_pod(self, pod: Obj) -> None:
        api, meta = self.api, pod["metadata"]
        uid, namespace = meta["uid"], meta["namespace"]
        born = self._born.setdefault(uid, monotonic())
        spec, status = pod["spec"], pod.get("status") or {}
        images = [c.get("image", "") for c in spec.get("containers") or []]
        if not spec.get("nodeName"):
            pod = copy.deepcopy(pod)
            pod["spec"]["nodeName"] = NODE
            # Binding is its own subresource in a real cluster; here the scheduler writes it.
            pod = api.store.put(PODS, pod)
            not_ready = "containers with unready status: [" + " ".join(
                c["name"] for c in spec.get("containers") or []) + "]"
            pod = self._set_status(pod, {
                **self._base_status(pod), "phase": "Pending",
                "conditions": [
                    self._condition("PodReadyToStartContainers", "False"),
                    self._condition("Initialized", "True"),
                    {**self._condition("Ready", "False", "ContainersNotReady"), "message": not_ready},
                    {**self._condition("ContainersReady", "False", "ContainersNotReady"),
                     "message": not_ready},
                    self._condition("PodScheduled", "True")],
                "containerStatuses": [
                    {"name": c["name"], "image": c["image"], "imageID": "", "ready": False,
                     "restartCount": 0, "started": False,
                     "state": {"waiting": {"reason": "ContainerCreating"}}}
                    for c in spec.get("containers") or []],
            })
            events.record(api, pod, "Pod", "Scheduled",
                          f"Successfully assigned {namespace}/{meta['name']} to {NODE}",
                          component="default-scheduler")
            return
        broken = [i for i in images if self._image_broken(i)]
        with self._settings:
            delay = self.ready_delay
        if status.get("phase") != "Pending" or monotonic() - born < delay:
            return
        backing_off = any(((s.get("state") or {}).get("waiting") or {}).get("reason") == "ImagePullBackOff"
                          for s in status.get("containerStatuses") or [])
        if broken:
            if not backing_off:
                self._back_off(pod, broken[0])
            return
        self._run(pod)  # a pod in back-off whose image was fixed pulls it on the next try

    def _condition(self, kind: str, value: str, reason: str = "") -> Obj:
        cond: Obj = {"type": kind, "status": value, "lastProbeTime": None, "lastTransitionTime": now()}
        if reason:
            cond["reason"] = reason
        return cond

    def _set_status(self, pod: Obj, status: Obj) -> Obj:
        pod = copy.deepcopy(pod)
        pod["status"] = status
        return self.api.update(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"], pod,
                               subresource="status")

    def _base_status(self, pod: Obj) -> Obj:
        status = pod.get("status") or {}
        ip = f"10.244.0.{zlib.crc32(pod['metadata']['uid'].encode()) % 250 + 2}"
        return {"hostIP": "10.0.0.1", "hostIPs": [{"ip": "10.0.0.1"}], "podIP": ip,
                "podIPs": [{"ip": ip}], "startTime": status.get("startTime") or now(),
                "qosClass": status.get("qosClass", "BestEffort")}

    def _run(self, pod: Obj) -> None:
        started = now()
        statuses = [{"name": c["name"], "image": c["image"],
                     "imageID": f"{c['image']}@sha256:{hashlib.sha256(c['image'].encode()).hexdigest()}",
                     "containerID": f"containerd://{random_suffix(32)}", "ready": True,
                     "restartCount": 0, "started": True,
                     "state": {"running": {"startedAt": started}}}
                    for c in pod["spec"].get("containers") or []]
        status = {**self._base_status(pod), "phase": "Running",
                  "conditions": [self._condition(t, "True") for t in (
                      "PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady",
                      "PodScheduled")],
                  "containerStatuses": statuses}
        pod = self._set_status(pod, status)
        self._ready_at[pod["metadata"]["uid"]] = monotonic()
        for c in pod["spec"].get("containers") or []:
            for reason, message in (("Pulled", f'Container image "{c["image"]}" already present on machine'),
                                    ("Created", f"Created container: {c['name']}"),
                                    ("Started", f"Started container {c['name']}")):
                events.record(self.api, pod, "Pod", reason, message, component="kubelet", host=NODE)

    def _back_off(self, pod: Obj, image: str) -> None:
        statuses = []
        for c in pod["spec"].get("containers") or []:
            bad = self._image_broken(c["image"])
            waiting = ({"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{c["image"]}"'}
                       if bad else {"reason": "PodInitializing"})
            statuses.append({"name": c["name"], "image": c["image"], "imageID": "", "ready": False,
                             "restartCount": 0, "started": False, "state": {"waiting": waiting}})
        not_ready = "containers with unready status: [" + " ".join(
            s["name"] for s in statuses) + "]"
        conditions = [self._condition("PodReadyToStartContainers", "True"),
                      self._condition("Initialized", "True"),
                      {**self._condition("Ready", "False", "ContainersNotReady"), "message": not_ready},
                      {**self._condition("ContainersReady", "False", "ContainersNotReady"),
                       "message": not_ready},
                      self._condition("PodScheduled", "True")]
        pod = self._set_status(pod, {**self._base_status(pod), "phase": "Pending",
                                     "conditions": conditions, "containerStatuses": statuses})
        for reason, message in (
                ("Pulling", f'Pulling image "{image}"'),
                ("Failed", f'Failed to pull image "{image}": rpc error: code = NotFound desc = '
                           f'failed to pull and unpack image "{image}": not found'),
                ("Failed", "Error: ErrImagePull"),
                ("BackOff", f'Back-off pulling image "{image}"'),
                ("Failed", "Error: ImagePullBackOff")):
            events.record(self.api, pod, "Pod", reason, message, component="kubelet", host=NODE,
                          event_type="Normal" if reason in ("Pulling", "BackOff") else "Warning")

    # --- a running pod's probes and containers, as a kubelet reports them ---------------
    def set_ready(self, pod: Obj, ready: bool, message: str = "") -> None:
        """A Running pod's readiness probe starts failing (`ready=False`) or passing again.

        The pod stays Running, its containers keep running: only the Ready and
        ContainersReady conditions and the containers' `ready` change, as when a real
        readiness probe fails. The ReplicaSet and Deployment status follow on their next sync.
        """
        if (pod.get("status") or {}).get("phase") != "Running":
            raise ValueError(f"pod {pod['metadata']['name']} is not Running")
        pod = copy.deepcopy(pod)
        status = pod["status"]
        names = " ".join(s["name"] for s in status.get("containerStatuses") or [])
        for cond in status.get("conditions") or []:
            if cond["type"] in ("Ready", "ContainersReady"):
                cond.update(self._condition(cond["type"], "True" if ready else "False",
                                            "" if ready else "ContainersNotReady"))
                if not ready:
                    cond["message"] = message or f"containers with unready status: [{names}]"
        for s in status.get("containerStatuses") or []:
            s["ready"] = ready
        self.api.update(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"], pod,
                        subresource="status")

    def set_container_started(self, pod: Obj, container: str, restart_count: int,
                              started_at: str) -> None:
        """A container of a Running pod restarted: its restartCount and the start of its new run."""
        pod = copy.deepcopy(pod)
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        found = next((s for s in statuses if s["name"] == container), None)
        if found is None:
            raise ValueError(f"pod {pod['metadata']['name']} has no container {container}")
        previous = (found.get("state") or {}).get("running") or {}
        if found.get("restartCount") == restart_count and previous.get("startedAt") == started_at:
            return
        if found.get("restartCount", 0) < restart_count and previous:
            found["lastState"] = {"terminated": {"exitCode": 0, "reason": "Completed",
                                                 "startedAt": previous.get("startedAt"),
                                                 "finishedAt": started_at}}
        found["restartCount"] = restart_count
        found["state"] = {"running": {"startedAt": started_at}}
        self.api.update(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"], pod,
                        subresource="status")

    def clear(self) -> None:
        """Back to the defaults: no broken images, the initial ready delay."""
        with self._settings:
            self.broken.clear()
            self.ready_delay = self._initial_delay

    def forget(self, live_uids: set[str]) -> None:
        for table in (self._born, self._ready_at):
            for uid in [u for u in table if u not in live_uids]:
                del table[uid]
