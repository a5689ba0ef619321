"""The Docker SDK over SSH with the inventory's settings (imported only for ssh Docker hosts).

docker-py's `ssh://` transport reads only `~/.ssh/config` and insists on known host
keys, so the inventory's key file, port, password and `ansible_host_key_checking`
could not reach it. Here the paramiko client is opened from the inventory, and
docker-py's own connection class runs `docker system dial-stdio` on it, one SSH
session per HTTP connection. sshd allows 10 sessions per connection by default
(`MaxSessions`) and docker-py leaves some open (docker/compose#6463, an exec's
hijacked socket): when the server refuses a session, another SSH connection is opened.
"""

from __future__ import annotations

import getpass
import logging
import threading
from typing import TYPE_CHECKING, Any

import docker
import paramiko
from docker.transport.sshconn import SSHConnection, SSHConnectionPool, SSHHTTPAdapter

from remediations.core.errors import Unreachable

if TYPE_CHECKING:
    from remediations.inventory import Host


class _QuietRefusals(logging.Filter):
    """paramiko logs each refused session; here a refusal only means: open another connection."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "open failed" not in record.getMessage()


logging.getLogger("paramiko.transport").addFilter(_QuietRefusals())


def ssh_client(name: str, host: Host) -> paramiko.SSHClient:
    """A connected paramiko client: the inventory's key, password, port and host-key policy."""
    client = paramiko.SSHClient()
    if host.host_key_checking:
        client.load_system_host_keys()
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
    else:
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # kept in memory only
    kwargs: dict[str, Any] = {
        "hostname": host.address, "port": host.port or 22,
        "username": host.user or getpass.getuser(), "timeout": host.connect_timeout,
        "banner_timeout": host.connect_timeout, "auth_timeout": host.connect_timeout,
    }
    if host.private_key_file:
        kwargs["key_filename"] = host.private_key_file
    if host.password:
        kwargs["password"] = host.password
        kwargs["look_for_keys"] = bool(host.private_key_file)
    try:
        client.connect(**kwargs)
    except paramiko.BadHostKeyException as exc:
        raise Unreachable(f"{name}: host key mismatch for {host.address}: {exc}") from exc
    except paramiko.AuthenticationException as exc:
        raise Unreachable(f"{name}: authentication failed as {kwargs['username']}: {exc}") from exc
    except (OSError, EOFError, paramiko.SSHException) as exc:
        raise Unreachable(f"{name}: cannot connect to {host.address}:{kwargs['port']}: "
                          f"{exc or type(exc).__name__}") from exc
    return client


class _Sessions:
    """SSH sessions for dial-stdio, on as many SSH connections as the server's limit needs."""

    def __init__(self, name: str, host: Host) -> None:
        self.name = name
        self.host = host
        self.clients: list[paramiko.SSHClient] = []
        self.lock = threading.Lock()

    def open(self, timeout: float) -> paramiko.Channel:
        with self.lock:
            for client in reversed(self.clients):
                transport = client.get_transport()
                if transport is None or not transport.is_active():
                    continue
                try:
                    return self._dial(transport, timeout)
                except paramiko.ChannelException:
                    continue  # MaxSessions reached on this connection
            client = ssh_client(self.name, self.host)
            self.clients.append(client)
            return self._dial(client.get_transport(), timeout)

    @staticmethod
    def _dial(transport: Any, timeout: float) -> paramiko.Channel:
        channel = transport.open_session()
        channel.settimeout(timeout)
        channel.exec_command("docker system dial-stdio")
        return channel

    def close(self) -> None:
        with self.lock:
            for client in self.clients:
                client.close()
            self.clients.clear()


class _Connection(SSHConnection):  # type: ignore[misc]
    def __init__(self, sessions: _Sessions, timeout: float) -> None:
        super().__init__(ssh_transport=None, timeout=timeout, host="ssh")
        self.sessions = sessions

    def connect(self) -> None:
        self.sock = self.sessions.open(self.timeout)


class _Pool(SSHConnectionPool):  # type: ignore[misc]
    def __init__(self, sessions: _Sessions, timeout: float, maxsize: int) -> None:
        super().__init__(ssh_client=None, timeout=timeout, maxsize=maxsize, host="ssh")
        self.sessions = sessions

    def _new_conn(self) -> _Connection:
        return _Connection(self.sessions, self.timeout)


class _Adapter(SSHHTTPAdapter):  # type: ignore[misc]
    def __init__(self, sessions: _Sessions, where: str, timeout: int) -> None:
        super().__init__(where, timeout=timeout, shell_out=True)  # shell_out: no ~/.ssh/config
        self.sessions = sessions

    def get_connection(self, url: Any, proxies: Any = None) -> _Pool:
        with self.pools.lock:
            pool = self.pools.get(url)
            if pool is None:
                pool = self.pools[url] = _Pool(self.sessions, self.timeout, self.max_pool_size)
            return pool  # type: ignore[no-any-return]

    def close(self) -> None:
        super().close()
        self.sessions.close()


def docker_client(name: str, host: Host, *, timeout: int) -> tuple[Any, str]:
    """A `docker.DockerClient` talking to `host`'s engine over SSH, and where it points."""
    user = host.user or getpass.getuser()
    where = f"ssh://{user}@{host.address}:{host.port or 22}"
    sessions = _Sessions(name, host)
    adapter = _Adapter(sessions, where, timeout)
    # `use_ssh_client` and a fixed version keep the constructor from connecting by itself;
    # the adapter is then replaced and the engine's API version read through it.
    client = docker.DockerClient(base_url=where, use_ssh_client=True, version="1.24",
                                 timeout=timeout)
    client.api.mount("http+docker://ssh", adapter)
    client.api._custom_adapter = adapter
    return client, where


def negotiate(client: Any) -> None:
    """Use the engine's API version (capped at docker-py's newest)."""
    server = str(client.api.version(api_version=False)["ApiVersion"])
    newest = docker.constants.DEFAULT_DOCKER_API_VERSION
    client.api._version = server if docker.utils.version_lt(server, newest) else newest
