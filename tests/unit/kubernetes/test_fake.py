"""The unit tests' Kubernetes: the test double (tests/kubeapi) in-process, behind the real `Cluster`.

`World` is `tests.kubeapi.inprocess.World` with the unit tests' Deployment ("web",
`shop/app:v1.2.2`, 3 replicas); `FakeApps` / `FakeCore` answer with the double's API
verbs and `FakeCluster` is the real `Cluster` over them, its watch the double's watch
and its exec a pluggable reply. There is no Kubernetes behaviour here: the controller,
patches and object bookkeeping are the double's. The tests at the bottom check that the
fake keeps the client's method names, so a renamed client method cannot go unnoticed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from kubernetes.client.exceptions import ApiException

from remediations.connections.cluster import Cluster, translate
from remediations.kubernetes.revisions import revision_of
from tests.kubeapi import inprocess
from tests.kubeapi.errors import ApiError
from tests.kubeapi.inprocess import FakeApps, FakeCore, Response, watched

__all__ = ["FakeApps", "FakeCluster", "FakeCore", "Response", "World", "api_error", "deployment",
           "patches"]


def api_error(status: int, message: str, reason: str = "") -> ApiException:
    """The client's exception for an API refusal with this `Status`."""
    return inprocess.api_exception(ApiError(status, reason, message))


def deployment(name: str = "web", image: str = "shop/app:v1.2.2", replicas: int = 3,
               **spec: Any) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default", "annotations": {"team": "payments"}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "app", "image": image}]}},
                 **spec},
    }


class World(inprocess.World):
    """The double in-process, with `deployment()` (or `dep`) created and rolled out."""

    def __init__(self, dep: dict[str, Any] | None = None) -> None:
        super().__init__(dep or deployment())


class FakeCluster(Cluster):
    """The real `Cluster` over the in-process double; exec answers with `exec_reply(argv)`."""

    def __init__(self, world: World | None = None, **kw: Any) -> None:
        self.world = world or World()
        super().__init__(FakeApps(self.world), FakeCore(self.world), self.world.namespace,
                         deployment=self.world.name, **kw)
        self.execs: list[tuple[str, str | None, tuple[str, ...]]] = []
        self.exec_reply: Any = lambda argv: (0, "", "")
        self.watches = 0

    def watch(self, method: str, *, timeout: float, api: str = "apps",
              **kwargs: Any) -> Iterator[tuple[str, dict[str, Any]]]:
        self.watches += 1
        try:
            yield from self.world.watch(watched(method), timeout=timeout, **kwargs)
        except ApiException as exc:
            raise translate(exc, f"watch {method}") from exc

    def exec_in_pod(self, pod: str, container: str | None, argv: Sequence[str],
                    timeout: float | None) -> tuple[int | None, str, str]:
        self.execs.append((pod, container, tuple(argv)))
        return self.exec_reply(tuple(argv))  # type: ignore[no-any-return]


def patches(world: inprocess.World) -> list[Any]:
    """`(content type, body, dry run)` of each patch sent, in order."""
    return [c[1] for c in world.calls if c[0].startswith("patch_")]


# -- the fake keeps the client's names ---------------------------------------------------------

def _public(cls: type) -> set[str]:
    return {n for n in vars(cls) if not n.startswith("_")}


def test_fake_methods_exist_on_the_real_client() -> None:
    from kubernetes import client

    assert _public(FakeApps) <= set(dir(client.AppsV1Api))
    assert _public(FakeCore) <= set(dir(client.CoreV1Api))
    assert set(inprocess.WATCHED) <= set(dir(client.AppsV1Api)) | set(dir(client.CoreV1Api))


def test_fake_controller_re_adopts_an_old_replica_set_with_the_next_revision() -> None:
    w = World()
    w.dep["spec"]["template"]["spec"]["containers"][0]["image"] = "shop/app:v1.2.3"
    w.sync()
    w.dep["spec"]["template"]["spec"]["containers"][0]["image"] = "shop/app:v1.2.2"
    w.sync()
    assert [(revision_of(rs), rs["spec"]["template"]["spec"]["containers"][0]["image"])
            for rs in w.rses] == [(3, "shop/app:v1.2.2"), (2, "shop/app:v1.2.3")]
