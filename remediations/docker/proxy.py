"""Addresses blocked in the nginx proxy container of a compose host, and block-ip anywhere.

A compose host whose inventory names `proxy_service` (an nginx container in front of the
app) blocks an address where nginx runs: in each running container of that service, the
managed deny list (`/etc/nginx/conf.d/blocked.conf`, included in nginx's http block;
inventory `nginx_blocklist_path`) is rewritten with the same render functions as on a
systemd host (`host.nginx`), `nginx -t` tests it inside the container, and `nginx -s
reload` loads it. A failing test or reload puts the previous file back, so nginx keeps its
last good configuration. Verified: one deny line (none when unblocking), the same nginx
master, new worker processes (the reload took), and nginx answering `nginx_check_url`
(default http://127.0.0.1/) inside the container.

The file lives in the container (what `compose exec` reaches): recreating the container
(a new image, `compose up` after a config change) drops it, unless the file is on a
volume or bind mount; blocking again puts it back. Containers of the service that are
not running are refused (`run.app_service`): they would start without the block.

`ip_blocked` / `ip_unblocked` here take any kind of host: a compose host with
`proxy_service` gets the above, any other host its own web server's (`host.blocklist`:
nginx or Apache).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from remediations.connections.base import Connection
from remediations.core import validate
from remediations.core.errors import InvalidInput
from remediations.core.result import Diff, Result, Step
from remediations.docker.project import service_name
from remediations.host import blocklist, files
from remediations.host import nginx as host_nginx
from remediations.host.health import fetch_on_host
from remediations.run.app_service import app_service, in_containers
from remediations.run.contract import Verification, apply
from remediations.run.target import Target

__all__ = ["NGINX_STATE", "ip_blocked", "ip_unblocked", "parse_nginx_processes",
           "proxy_ip_blocked", "proxy_ip_unblocked", "proxy_service"]

PID_FILE = "/run/nginx.pid"
# The master's pid (from its pid file) and its children, read from /proc: no ps or pgrep
# needed in the image. `master PID` then one `worker PID` line per child; `none` without one.
NGINX_STATE = """m=$(cat "$1" 2>/dev/null) && [ -n "$m" ] && [ -d "/proc/$m" ] || { echo none; exit 0; }
echo "master $m"
for d in /proc/[0-9]*; do
  s=$(cat "$d/stat" 2>/dev/null) || continue
  s=${s##*) }
  set -- $s
  [ "$2" = "$m" ] && echo "worker ${d#/proc/}"
done
exit 0"""
_RELOAD_WAIT = 15.0


def proxy_service(t: Target) -> str | None:
    """The inventory's `proxy_service` on a compose host, validated; None elsewhere."""
    value = t.var("proxy_service")
    if not value or app_service(t) is None:
        return None
    return service_name(str(value))


def parse_nginx_processes(text: str) -> tuple[int | None, frozenset[int]]:
    """`NGINX_STATE`'s output: (master pid or None, worker pids)."""
    master: int | None = None
    workers: set[int] = set()
    for line in text.splitlines():
        kind, _, pid = line.strip().partition(" ")
        if pid.isdigit():
            if kind == "master":
                master = int(pid)
            elif kind == "worker":
                workers.add(int(pid))
    return master, frozenset(workers)


def _processes(conn: Connection) -> tuple[int | None, frozenset[int]]:
    res = conn.run(["sh", "-c", NGINX_STATE, "_", PID_FILE], check=False, timeout=30)
    return parse_nginx_processes(res.stdout)


def proxy_ip_blocked(t: Target, address: str) -> Result:
    """Leave `address` (IPv4/IPv6 address or CIDR) denied by the proxy service's nginx, in
    every container of `proxy_service`: one `deny` line, tested, reloaded.

    Example: `proxy_ip_blocked(t, "203.0.113.7")` on a compose host.
    """
    address = validate.ip_or_cidr(address)
    return _in_proxy(t, "ip_blocked", address, host_nginx.render_blocked, verb="block")


def proxy_ip_unblocked(t: Target, address: str) -> Result:
    """Leave `address` not denied by the proxy service's nginx (every container); reloaded
    if it changed. Example: `proxy_ip_unblocked(t, "203.0.113.7")`.
    """
    address = validate.ip_or_cidr(address)
    return _in_proxy(t, "ip_unblocked", address, host_nginx.render_unblocked, verb="unblock")


def ip_blocked(t: Target, address: str) -> Result:
    """`address` denied where the host's web server runs: the proxy container of a compose
    host (`proxy_ip_blocked`), else the host's own nginx or Apache (`host.blocklist`).

    Example: `ip_blocked(t, "203.0.113.7")`.
    """
    if proxy_service(t) is not None:
        return proxy_ip_blocked(t, address)
    return blocklist.ip_blocked(t, address)


def ip_unblocked(t: Target, address: str) -> Result:
    """`address` not denied, on any kind of host (see `ip_blocked`).

    Example: `ip_unblocked(t, "203.0.113.7")`.
    """
    if proxy_service(t) is not None:
        return proxy_ip_unblocked(t, address)
    return blocklist.ip_unblocked(t, address)


Render = Callable[[str | None, str], str | None]


def _in_proxy(t: Target, name: str, address: str, render: Render, *, verb: str) -> Result:
    service = proxy_service(t)
    where = app_service(t)
    if service is None or where is None:
        raise InvalidInput(f"{t.name}: not a compose host with a proxy_service in the inventory "
                           "(compose_project_dir, app_service and proxy_service)")
    path = host_nginx.blocklist_path(t)
    url = validate.http_url(str(t.var("nginx_check_url") or host_nginx.DEFAULT_CHECK_URL))
    return in_containers(t, where.project, service,
                         lambda ct: _change(ct, name, address, render, verb=verb, path=path,
                                            url=url),
                         name, every=True)


def _change(t: Target, name: str, address: str, render: Render, *, verb: str, path: str,
            url: str) -> Result:
    before = files.read_text(t.conn, path)
    after = render(before, address)
    data = {"address": address, "path": path}
    if after == before:
        state = "already blocked" if verb == "block" else "not blocked"
        return apply(t, name, [], verify=None, action="", done="", data=data,
                     ok_message=f"{address} {state} in {path}")
    master, workers = _processes(t.conn)
    steps = [host_nginx.write_step(path, after or ""),
             Step(["nginx", "-t"], "test the configuration before nginx loads it")]
    if master is not None:
        steps.append(Step(["nginx", "-s", "reload"], "load the new deny list"))

    def verify() -> Verification:
        return _verify(t.conn, path, address, blocking=verb == "block", master=master,
                       workers=workers, url=url)

    reloaded = ", reload nginx" if master is not None else " (nginx is not running)"
    return apply(t, name, steps, verify=verify, data={**data, "nginx_master": master},
                 ok_message="", action=f"{verb} {address} in {path}, test{reloaded}",
                 done=f"{verb}ed {address} in {path}", diff=Diff(before or "", after or ""),
                 on_failure=lambda: _restore(t.conn, path, before))


def _restore(conn: Connection, path: str, before: str | None) -> str:
    """Put the previous file back after a failed test or reload; say what was done."""
    argv = (host_nginx.write_step(path, before).argv if before is not None
            else ("rm", "-f", "--", path, f"{path}.remediations.tmp"))
    res = conn.run(argv, check=False)
    if res.failed:
        return f"could not restore {path}: {res.tail(5)}"
    return f"restored the previous {path}; nginx keeps its current configuration"


def _verify(conn: Connection, path: str, address: str, *, blocking: bool, master: int | None,
            workers: frozenset[int], url: str) -> Verification:
    now = files.read_text(conn, path)
    # The render functions leave a file as it is when it already says what they would write.
    render = host_nginx.render_blocked if blocking else host_nginx.render_unblocked
    if render(now, address) != now:
        want = "exactly one deny line" if blocking else "no deny line"
        return Verification(False, f"{path} does not have {want} for {address}", now or "")
    if master is None:
        return Verification(True, "nginx is not running; it loads the list when it starts")
    deadline = time.monotonic() + _RELOAD_WAIT
    while True:
        now_master, now_workers = _processes(conn)
        fresh = now_workers - workers
        if now_master != master or fresh or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    data = {"nginx_master": now_master, "workers_before": sorted(workers),
            "workers": sorted(now_workers)}
    if now_master != master:
        return Verification(False, f"the nginx master {master} is gone after the reload "
                            f"(now {now_master or 'none'})", "", data)
    if not fresh:
        return Verification(False, f"no new nginx worker within {_RELOAD_WAIT:g}s: the reload "
                            "did not take", "", data)
    answer = fetch_on_host(conn, url)
    if answer.status == 0:
        return Verification(False, f"nginx does not answer at {url}: {answer.error}", "", data)
    return Verification(True, f"nginx -t passed, reloaded (new workers "
                        f"{', '.join(map(str, sorted(fresh)))}); {url} answers {answer.status}",
                        data={**data, "http_status": answer.status})
