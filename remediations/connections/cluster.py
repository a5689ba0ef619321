"""How an API call reaches a cluster: the official `kubernetes` client, errors translated here.

An inventory host whose `ansible_connection` is `kubernetes` names a Deployment:

    web:
      ansible_connection: kubernetes
      kubeconfig: ../.kube/config     # relative to the inventory file; else $KUBECONFIG
      kube_context: prod               # else the kubeconfig's current context
      namespace: shop                  # else the context's namespace, else `default`
      deployment: web                  # else the host's name
      container: app                   # else the Deployment's first container
      # kube_in_cluster: true          # use the pod's service account instead

Ansible's kubectl connection variables (`ansible_kubectl_kubeconfig`, `_context`,
`_namespace`, `_container`) are read too; the keys above win.

`Cluster.apps` / `Cluster.core` call the client's own methods (`read_namespaced_deployment`,
`patch_namespaced_deployment_scale`, ...) and return the API's JSON as plain dicts, so
remediations see exactly what `kubectl get -o json` shows. Every `ApiException` and
urllib3 error is translated into `Unreachable` or `KubeApiError` here and nowhere else.
The `kubernetes` package is imported only when a cluster is first used: it is slow to import.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from remediations.connections.base import ClusterBacked, capability
from remediations.core import validate
from remediations.core.errors import (
    InvalidInput,
    InventoryError,
    KubeApiError,
    RemediationError,
    Unreachable,
)

if TYPE_CHECKING:
    from remediations.inventory import Host

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_HANDSHAKE = re.compile(r"^Handshake status (\d{3})\b")
# Read timeout of one ordinary API call; watches get their own.
READ_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class KubeSettings:
    """What the inventory says about a host of kind `kubernetes`."""

    deployment: str
    namespace: str | None = None
    container: str | None = None
    kubeconfig: str | None = None
    context: str | None = None
    in_cluster: bool = False
    connect_timeout: float = 10.0


def _var(host: Host, *keys: str) -> str | None:
    for key in keys:
        value = host.var(key)
        if value is not None and value != "":
            return str(value)
    return None


def _name(host: Host, key: str, value: str | None, pattern: re.Pattern[str]) -> str | None:
    if value is not None and not pattern.fullmatch(value):
        raise InventoryError(f"host {host.name!r}: {key}={value!r} is not a valid Kubernetes name",
                             path=host.source or None)
    return value


def kube_settings(host: Host) -> KubeSettings:
    """Read and validate the host's cluster variables; a relative kubeconfig is inventory-relative."""
    from remediations.inventory import conventions

    kubeconfig = _var(host, "kubeconfig", "ansible_kubectl_kubeconfig")
    if kubeconfig is not None:
        # The inventory's own rule for paths (see Host.private_key_file), reused as is.
        kubeconfig = host.with_vars(ansible_private_key_file=kubeconfig,
                                    ansible_ssh_private_key_file=None).private_key_file
    in_cluster = conventions.parse_bool(host.vars.get("kube_in_cluster", False))
    if in_cluster is None:
        raise InventoryError(f"host {host.name!r}: kube_in_cluster must be a boolean",
                             path=host.source or None)
    deployment = _name(host, "deployment", _var(host, "deployment") or host.name, _DNS_SUBDOMAIN)
    assert deployment is not None
    return KubeSettings(
        deployment=deployment,
        namespace=_name(host, "namespace", _var(host, "namespace", "ansible_kubectl_namespace"),
                        _DNS_LABEL),
        container=_name(host, "container", _var(host, "container", "ansible_kubectl_container"),
                        _DNS_LABEL),
        kubeconfig=kubeconfig,
        context=_var(host, "kube_context", "ansible_kubectl_context"),
        in_cluster=in_cluster,
        connect_timeout=host.connect_timeout,
    )


# -- errors ------------------------------------------------------------------------------------

def translate(exc: BaseException, what: str) -> RemediationError:
    """The library's error for a client exception raised while doing `what`."""
    import urllib3.exceptions
    from kubernetes.client.exceptions import ApiException

    if isinstance(exc, ApiException):
        status, body = int(exc.status or 0), exc.body
        if status == 0:
            # The websocket client (exec) reports a refused upgrade as "Handshake status
            # 404 ... -+-+- headers -+-+- body": that is an API answer, not a dead server.
            handshake = _HANDSHAKE.match(str(exc.reason or ""))
            if handshake is None:
                return Unreachable(f"{what}: {exc.reason}")
            status, body = int(handshake.group(1)), str(exc.reason).rsplit("-+-+-", 1)[-1].strip()
        message, reason = _status_message(body)
        reason = reason or str(exc.reason or "")
        return KubeApiError(f"{what}: {message or reason} (HTTP {status})", status=status,
                            reason=reason)
    if isinstance(exc, (urllib3.exceptions.HTTPError, OSError)):
        return Unreachable(f"{what}: API server not answering: {_short(exc)}")
    return RemediationError(f"{what}: {type(exc).__name__}: {exc}")


def _status_message(body: Any) -> tuple[str, str]:
    """The `message` and `reason` of a metav1.Status body, or the body itself and no reason."""
    if not body:
        return "", ""
    try:
        status = json.loads(body)
    except (TypeError, ValueError):
        return str(body)[:500], ""
    if isinstance(status, dict) and "message" in status:
        return str(status["message"]), str(status.get("reason", ""))
    return str(body)[:500], ""


def _short(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)  # MaxRetryError wraps the real cause
    return str(reason or exc)


class _Raw:
    """An API object whose methods return the response JSON as dicts, errors translated."""

    def __init__(self, api: Any, timeout: float | tuple[float, float]) -> None:
        self._api = api
        self._timeout = timeout

    def __getattr__(self, method: str) -> Callable[..., Any]:
        call = getattr(self._api, method)

        def raw(*args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("_request_timeout", self._timeout)
            try:
                data = call(*args, _preload_content=False, **kwargs).data
                return json.loads(data) if data else {}
            except Exception as exc:  # translated at this boundary
                raise translate(exc, _describe(method, args)) from exc

        raw.__name__ = method
        return raw


def _describe(method: str, args: Sequence[Any]) -> str:
    names = [a for a in args[:2] if isinstance(a, str)]
    return f"{method}({', '.join(names)})"


# -- requests as steps -------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ApiCall:
    """One API request as a step of `run.contract.apply()` (a `core.result.Call`).

    Shown as `PATCH /apis/... (merge-patch) {"spec":...}`; sent with the client's own
    method (`api.<operation>(*args, body, _content_type=...)`), with `dryRun=All` in check mode.
    Made by `Cluster.deployment_patch`.
    """

    method: str
    path: str
    body: Any
    content_type: str
    api: Any = field(default=None, repr=False, compare=False)  # `Cluster.apps` / `.core`
    operation: str = ""  # the client method, `patch_namespaced_deployment_scale`
    args: tuple[Any, ...] = ()

    @property
    def command(self) -> str:
        kind = self.content_type.removeprefix("application/").removesuffix("+json")
        body = "" if self.body is None else " " + json.dumps(self.body, sort_keys=True,
                                                             separators=(",", ":"))
        return f"{self.method} {self.path}" + (f" ({kind})" if kind else "") + body

    def send(self, *, dry_run: bool) -> Any:
        extra = {"dry_run": "All"} if dry_run else {}
        return getattr(self.api, self.operation)(*self.args, self.body,
                                                 _content_type=self.content_type, **extra)


# -- the handle --------------------------------------------------------------------------------

class Cluster:
    """One namespace of one cluster, and the Deployment an inventory host names.

    `apps_v1` / `core_v1` are the client's `AppsV1Api` / `CoreV1Api`; `apps` / `core` call
    the same methods and return JSON dicts, with errors translated.
    """

    def __init__(self, apps_v1: Any, core_v1: Any, namespace: str = "default", *,
                 deployment: str, container: str | None = None,
                 connect_timeout: float = 10.0) -> None:
        connect_timeout = validate.seconds(connect_timeout, "connect_timeout")
        self.apps_v1 = apps_v1
        self.core_v1 = core_v1
        self.namespace = namespace
        self.deployment = deployment
        self.container = container
        timeout = (connect_timeout, READ_TIMEOUT)
        self.apps = _Raw(apps_v1, timeout)
        self.core = _Raw(core_v1, timeout)
        self.connect_timeout = connect_timeout

    def __repr__(self) -> str:
        return f"<Cluster {self.namespace}/deployment/{self.deployment}>"

    def read_deployment(self) -> dict[str, Any]:
        return self.apps.read_namespaced_deployment(self.deployment, self.namespace)  # type: ignore[no-any-return]

    def deployment_patch(self, body: Any, content_type: str, *, sub: str = "") -> ApiCall:
        """The step that patches the Deployment (or its `sub`resource, such as `scale`)."""
        path = f"/apis/apps/v1/namespaces/{self.namespace}/deployments/{self.deployment}"
        method = "patch_namespaced_deployment" + (f"_{sub}" if sub else "")
        return ApiCall("PATCH", path + (f"/{sub}" if sub else ""), body, content_type,
                       self.apps, method, (self.deployment, self.namespace))

    def watch(self, method: str, *, timeout: float, api: str = "apps",
              **kwargs: Any) -> Iterator[tuple[str, dict[str, Any]]]:
        """Events `(type, object)` of a list method's watch, ending after `timeout` seconds.

        The server closes the watch after `timeoutSeconds`; the client's read timeout is
        a little longer so a server that ignores it cannot hang us.
        """
        from kubernetes import watch

        func = getattr(self.apps_v1 if api == "apps" else self.core_v1, method)
        seconds = max(1, int(timeout))
        stream = watch.Watch().stream(  # type: ignore[no-untyped-call]
            func, self.namespace, timeout_seconds=seconds, deserialize=False,
            _request_timeout=(self.connect_timeout, seconds + 10), **kwargs)
        try:
            for event in stream:
                yield str(event.get("type", "")), event.get("object") or {}
        except Exception as exc:  # translated at this boundary
            raise translate(exc, f"watch {method}") from exc
        finally:
            stream.close()  # the HTTP response too, when the caller stops early

    def exec_in_pod(self, pod: str, container: str | None, argv: Sequence[str],
                    timeout: float | None) -> tuple[int | None, str, str]:
        """Run `argv` in a pod's container; `None` as the code when `timeout` ran out.

        As with `kubectl exec`, closing the stream on a timeout does not stop the
        command in the container.
        """
        from kubernetes.stream import stream

        what = f"exec in pod {pod}"
        try:
            ws = stream(self.core_v1.connect_get_namespaced_pod_exec, pod, self.namespace,
                        command=list(argv), container=container or "", stderr=True,
                        stdin=False, stdout=True, tty=False, _preload_content=False)
        except Exception as exc:  # translated at this boundary
            raise translate(exc, what) from exc
        try:
            ws.run_forever(timeout=timeout)
            # timeout=0: take what is buffered; a still-open socket must not block us.
            out, err = ws.read_stdout(timeout=0), ws.read_stderr(timeout=0)
            if ws.is_open():
                return None, out, err
            return exit_code(ws.read_channel(3, timeout=0)), out, err  # 3: the error channel
        except Exception as exc:  # translated at this boundary
            raise translate(exc, what) from exc
        finally:
            ws.close(timeout=0)  # do not wait for the server's close frame (up to 3 s)


def exit_code(error_channel: str) -> int:
    """The exit code in the exec error channel's Status (`Success`, or `ExitCode` causes)."""
    if not error_channel:
        return 0
    try:
        status = json.loads(error_channel)
    except ValueError:
        return 126
    if status.get("status") == "Success":
        return 0
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message", ""))
            except ValueError:
                break
    # Not an exit status: the command could not be started (not found, not executable).
    return 127 if "not found" in str(status.get("message", "")) else 126


def cluster_of(t: Targeted) -> Cluster:
    """The cluster handle of a target whose connection is a `KubeConnection`."""
    backed = capability(t.conn, ClusterBacked)
    if backed is None or not isinstance(backed.cluster, Cluster):
        raise InvalidInput(f"{t.name}: not a Kubernetes host (set ansible_connection: kubernetes)")
    return backed.cluster


class Targeted(Protocol):
    """What `cluster_of` needs of a target (`run.target.Target`): its name and connection."""

    @property
    def name(self) -> str: ...

    @property
    def conn(self) -> object: ...


def cluster_for(host: Host) -> Cluster:
    """The cluster handle for a host of kind `kubernetes`, from its inventory variables."""
    settings = kube_settings(host)
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    namespace = settings.namespace
    try:
        if settings.in_cluster:
            configuration = client.Configuration()
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            api_client = client.ApiClient(configuration)
        else:
            api_client = config.new_client_from_config(  # type: ignore[no-untyped-call]
                config_file=settings.kubeconfig, context=settings.context)
            if namespace is None:
                namespace = _context_namespace(settings)
    except (ConfigException, OSError, ValueError) as exc:
        where = settings.kubeconfig or "$KUBECONFIG or ~/.kube/config"
        raise InventoryError(f"host {host.name!r}: cannot load the cluster config ({where}): {exc}",
                             path=host.source or None) from exc
    return Cluster(client.AppsV1Api(api_client), client.CoreV1Api(api_client),
                   namespace or "default", deployment=settings.deployment,
                   container=settings.container, connect_timeout=settings.connect_timeout)


def _context_namespace(settings: KubeSettings) -> str | None:
    from kubernetes import config

    contexts, current = config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
        config_file=settings.kubeconfig)
    chosen = next((c for c in contexts if c.get("name") == settings.context), None) \
        if settings.context else current
    namespace = ((chosen or {}).get("context") or {}).get("namespace")
    return str(namespace) if namespace else None


# -- label selectors (metav1.LabelSelector), matched as the API server does ----------------------

def selector_string(selector: Mapping[str, Any] | None) -> str:
    """`LabelSelectorAsSelector(...).String()`: matchLabels and matchExpressions, sorted by key."""
    parts: list[tuple[str, str]] = []
    sel = selector or {}
    for key, value in (sel.get("matchLabels") or {}).items():
        parts.append((key, f"{key}={value}"))
    for expr in sel.get("matchExpressions") or []:
        key, op = expr["key"], expr["operator"]
        values = ",".join(sorted(expr.get("values") or []))
        text = {"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})",
                "Exists": key, "DoesNotExist": f"!{key}"}.get(op)
        if text is None:
            raise KubeApiError(f"unknown label selector operator {op!r}", status=0)
        parts.append((key, text))
    return ",".join(text for _, text in sorted(parts, key=lambda p: p[0]))


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str] | None) -> bool:
    """Whether `labels` satisfy a LabelSelector; an empty selector matches everything, None nothing."""
    if selector is None:
        return False
    have = labels or {}
    if any(have.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        present = key in have
        ok = {"In": present and have.get(key) in values,
              "NotIn": not present or have.get(key) not in values,
              "Exists": present, "DoesNotExist": not present}.get(op, False)
        if not ok:
            return False
    return True
