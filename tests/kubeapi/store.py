"""Object storage: one lock, a global resourceVersion counter and a watch history."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from tests.kubeapi.errors import ApiError
from tests.kubeapi.resources import Resource

Obj = dict[str, Any]
T = TypeVar("T")
HISTORY = 50_000  # watch events kept; an older resourceVersion gets 410 Gone, as after compaction


def clone(obj: T) -> T:
    """A deep copy of JSON data (dicts, lists, scalars): `copy.deepcopy`, several times faster."""
    return cast(T, _clone(obj))


def _clone(obj: Any) -> Any:
    if type(obj) is dict:
        return {k: _clone(v) for k, v in obj.items()}
    if type(obj) is list:
        return [_clone(v) for v in obj]
    return obj


@dataclass(frozen=True)
class WatchEvent:
    """One change: the object after it (`obj`) and before it (`old`, None when added)."""

    rv: int
    type: str
    resource: Resource
    obj: Obj
    old: Obj | None


class Store:
    """Every object, keyed by resource type and (namespace, name); thread-safe.

    `lock` is re-entrant so a caller (the controller) may hold it across many
    operations; `changed` wakes watchers and the controller on every write.
    """

    def __init__(self, history: int = HISTORY) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self._objects: dict[Resource, dict[tuple[str, str], Obj]] = {}
        self._rv = 0
        self._history: deque[WatchEvent] = deque(maxlen=history)
        self._compacted = 0  # every rv <= this may be missing from the history

    @property
    def resource_version(self) -> int:
        with self.lock:
            return self._rv

    def get(self, resource: Resource, namespace: str, name: str) -> Obj | None:
        """A copy of the stored object, or None."""
        with self.lock:
            obj = self._objects.get(resource, {}).get((namespace, name))
            return clone(obj) if obj is not None else None

    def items(self, resource: Resource, namespace: str | None = None) -> list[Obj]:
        """Copies of the stored objects, in key order (as etcd lists them)."""
        with self.lock:
            stored = self._objects.get(resource, {})
            keys = sorted(k for k in stored if namespace is None or k[0] == namespace)
            return [clone(stored[k]) for k in keys]

    def find(self, resource: Resource, namespace: str, match: Callable[[Obj], bool]) -> Obj | None:
        """A copy of the first stored object `match` accepts (it sees the stored object: no writes)."""
        with self.lock:
            stored = self._objects.get(resource, {})
            for key in sorted(k for k in stored if k[0] == namespace):
                if match(stored[key]):
                    return clone(stored[key])
            return None

    def put(self, resource: Resource, obj: Obj) -> Obj:
        """Store `obj` with a new resourceVersion; returns a copy of what was stored."""
        with self.lock:
            meta = obj["metadata"]
            key = (meta.get("namespace", ""), meta["name"])
            table = self._objects.setdefault(resource, {})
            old = table.get(key)
            self._rv += 1
            stored = clone(obj)
            stored["metadata"]["resourceVersion"] = str(self._rv)
            table[key] = stored
            self._record(WatchEvent(self._rv, "ADDED" if old is None else "MODIFIED",
                                    resource, stored, old))
            return clone(stored)

    def remove(self, resource: Resource, namespace: str, name: str) -> Obj:
        with self.lock:
            table = self._objects.get(resource, {})
            old = table.pop((namespace, name), None)
            if old is None:
                raise ApiError.not_found(resource.qualified, name, resource.group, resource.plural)
            self._rv += 1
            gone = clone(old)
            gone["metadata"]["resourceVersion"] = str(self._rv)
            self._record(WatchEvent(self._rv, "DELETED", resource, gone, old))
            return clone(gone)

    def _record(self, event: WatchEvent) -> None:
        if len(self._history) == self._history.maxlen:
            self._compacted = self._history[0].rv
        self._history.append(event)
        self.changed.notify_all()

    def events_after(self, rv: int) -> list[WatchEvent]:
        """Events newer than `rv`; 410 Gone when `rv` is older than the history kept."""
        with self.lock:
            if rv < self._compacted:
                raise ApiError.gone(f"too old resource version: {rv} ({self._compacted + 1})")
            if rv > self._rv:
                return []
            return [e for e in self._history if e.rv > rv]

    def wait(self, rv: int, timeout: float) -> None:
        """Block until something newer than `rv` is stored, or `timeout` passes."""
        with self.changed:
            if self._rv <= rv:
                self.changed.wait(timeout)

    def touch(self) -> None:
        """Wake waiters (the controller) without a change."""
        with self.changed:
            self.changed.notify_all()
