"""What the pytest plugin's fixtures hand a smoke test: a testinfra spec, a health checker, a runner.

Each piece is bound to one inventory host and usable without pytest:

    spec, kwargs = host_spec(inventory["web1"])   # ("ssh://root@127.0.0.1:2201", {...})
    answer = HealthCheck(inventory["web1"])()           # GET its health_url
    assert answer.ok, answer
    result = Remediate(inventory["web1"], RunContext.new())(service_running, unit="nginx")
"""

from __future__ import annotations

import dataclasses
import functools
import getpass
import json
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

from remediations.core.errors import InvalidInput

if TYPE_CHECKING:
    from remediations.core.result import Result
    from remediations.inventory import Host
    from remediations.run.report import Event
    from remediations.run.target import RunContext, Target

# ssh options matching the inventory's host-key policy (RejectPolicy when checking, as the
# library's own ssh connection does; nothing remembered when not).
_NO_HOST_KEY_CHECK = ("-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
                      "-o LogLevel=ERROR")
_HOST_KEY_CHECK = "-o StrictHostKeyChecking=yes"
_BODY_IN_REPR = 300


def host_spec(host: Host) -> tuple[str, dict[str, Any]]:
    """The `testinfra.get_host(spec, **kwargs)` arguments that reach `host` as the library does.

    ssh: `ssh://user@address:port` with the inventory's key file, timeout, host-key
    policy and become (sudo); docker: `docker://user@container` (`ansible_docker_host`);
    local: `local://`. Kubernetes hosts are Deployments, not machines: InvalidInput.
    """
    kind = host.connection
    if kind == "local":
        return "local://", _sudo(host, login="")
    if kind == "docker":
        user = host.become_user if host.become else host.user
        who = f"{quote(user, safe='')}@" if user else ""
        return f"docker://{who}{host.docker_container}", {}
    if kind == "ssh":
        login = quote(host.user, safe="") if host.user else ""
        if host.password:
            login += ":" + quote(host.password, safe="")
        address = f"[{host.address}]" if ":" in host.address else host.address
        spec = f"ssh://{login}@{address}" if login else f"ssh://{address}"
        if host.port:
            spec += f":{host.port}"
        kwargs: dict[str, Any] = {
            "timeout": int(max(1, host.connect_timeout)),
            "ssh_extra_args": _HOST_KEY_CHECK if host.host_key_checking else _NO_HOST_KEY_CHECK,
            **_sudo(host, login=host.user or getpass.getuser()),
        }
        if host.private_key_file:
            kwargs["ssh_identity_file"] = host.private_key_file
        return spec, kwargs
    raise InvalidInput(f"{host.name}: a {kind} host has no testinfra backend; "
                       "check it with `remediate(...)` instead")


def _sudo(host: Host, login: str) -> dict[str, Any]:
    """sudo as the connections do it: only when becoming someone other than `login`."""
    if host.become and login != host.become_user:
        return {"sudo": True, "sudo_user": host.become_user}
    return {}


@dataclass(frozen=True, slots=True)
class HealthAnswer:
    """What a health URL answered; `repr` carries the URL, status and body for assert messages."""

    url: str
    status: int
    body: str
    reason: str
    ok: bool
    error: str = ""

    @property
    def json(self) -> Any:
        """The body parsed as JSON; AssertionError (with the body) when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            raise AssertionError(f"{self.url} did not answer JSON: {self.body[:_BODY_IN_REPR]!r}"
                                 ) from None

    @property
    def version(self) -> str | None:
        """The JSON body's `version`, when it has one."""
        try:
            value = json.loads(self.body)
        except ValueError:
            return None
        return str(value["version"]) if isinstance(value, dict) and "version" in value else None

    def __repr__(self) -> str:
        body = self.body.strip()
        shown = body[:_BODY_IN_REPR] + ("..." if len(body) > _BODY_IN_REPR else "")
        return f"<HealthAnswer GET {self.url}: {self.reason}; body {shown!r}>"


class HealthCheck:
    """GET a host's `health_url`, or another path on the same origin, from this machine.

    `check()` fetches `health_url`; `check("/api/health/ready")` that path on its
    host and port; a full URL is fetched as given. `expect` are the healthy statuses.
    """

    def __init__(self, host: Host, *, timeout: float = 5.0) -> None:
        self.host = host
        self.timeout = timeout

    def url(self, path: str | None = None) -> str:
        from remediations.core import validate
        from remediations.host.health import health_path

        if path and "://" in path:
            return validate.http_url(path)
        base = self.host.vars.get("health_url")
        if not base:
            raise InvalidInput(f"{self.host.name}: no health_url in the inventory; "
                               "set it or pass a full URL")
        base = validate.http_url(str(base))
        if not path:
            return base
        parts = urlsplit(base)
        return urlunsplit((parts.scheme, parts.netloc, health_path(path), "", ""))

    def __call__(self, path: str | None = None, *, expect: Collection[int] = (200, 204),
                 retries: int = 0, interval: float = 1.0) -> HealthAnswer:
        import time

        from remediations.host.health import fetch, judge

        url = self.url(path)
        for attempt in range(retries + 1):
            got = fetch(url, timeout=self.timeout)
            healthy, why = judge(got, expect=expect, json_field=None, json_value=None)
            if healthy or attempt == retries:
                break
            time.sleep(interval)
        return HealthAnswer(url, got.status, got.body, why, healthy, got.error)


class Remediate:
    """Run a remediation on one host through the library's runner; returns its Result.

    Every call shares `run` (so a restart is done once per run), takes the host's lock,
    redacts secrets, and appends to `audit` when given. `check=True` reports what
    would change and touches nothing. Example: `remediate(service_running, unit="nginx").ok`.
    """

    def __init__(self, host: Host, run: RunContext, *, timeout: float = 300.0,
                 audit: Callable[[Event], None] | None = None) -> None:
        self.host = host
        self.run = run
        self.timeout = timeout
        self.audit = audit

    def __call__(self, remediation: Callable[..., Result], /, *, check: bool | None = None,
                 **kwargs: Any) -> Result:
        from remediations.run.runner import RunOptions, remediation_name, run

        fn: Callable[[Target], Result] = (functools.partial(remediation, **kwargs) if kwargs
                                          else remediation)
        ctx = self.run if check is None else dataclasses.replace(self.run, check=check)
        report = run(fn, [self.host], run=ctx, options=RunOptions(forks=1, timeout=self.timeout),
                     name=remediation_name(remediation), on_event=self.audit)
        return report.results[0]
