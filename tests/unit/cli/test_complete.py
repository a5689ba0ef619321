"""The command line is complete and consistent.

Every remediation the package exports and every runbook is reachable as a task; every
task documents every option and takes the shared ones; tasks that remove data refuse
to run without --yes (unless --check); every error path ends in one line, never a
traceback; the README lists exactly the tasks `invoke --list` shows.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import io
import json
import os
import pkgutil
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from invoke.program import Program

import remediations
from remediations.cli import build_namespace
from remediations.runbooks.catalogue import NEEDS_IP, RUNBOOKS

ROOT = Path(__file__).resolve().parents[3]
REPO_ONLY = ("lab.", "stack.", "bench.", "demo")  # tasks.py's own: the lab, the benchmarks, the demo
TASK_NAMES = sorted(build_namespace().task_names)

# remediation -> (task, arguments that make the task run it). None: the task reaches it
# through its own dispatch rather than the runner (named below), so only its existence is
# checked here.
TASKS: dict[str, tuple[str, list[str] | None]] = {
    "service_running": ("start", ["--service", "nginx"]),
    "service_reloaded": ("reload", ["--service", "nginx"]),
    "service_stopped": ("stop", ["--service", "nginx"]),
    "services_status": ("status", []),
    "ip_blocked": ("block-ip", ["203.0.113.7"]),
    "ip_unblocked": ("unblock-ip", ["203.0.113.7"]),
    "rate_limits_cleared": ("clear-rate-limits", ["203.0.113.7"]),
    "horizon_status": ("horizon-status", []),
    "horizon_paused": ("horizon-pause", []),
    "horizon_continued": ("horizon-continue", []),
    "horizon_terminated": ("horizon-terminate", []),
    "queue_worker_processes_job": ("queue-smoke", []),
    "failed_jobs_listed": ("queue-failed", []),
    "scheduler_status": ("scheduler-status", []),
    "env_setting_temporary": ("env-set", ["--name", "APP_DEBUG", "--value", "true"]),
    "env_settings_reverted": ("env-revert", []),
    "compose_service_scaled": ("compose-scale", ["--service", "worker", "--replicas", "2"]),
    "caches_cleared": ("clear-caches", []),
    "caches_rebuilt": ("rebuild-caches", []),
    "opcache_reset": ("reset-opcache", []),
    "maintenance_on": ("maintenance-on", []),
    "maintenance_off": ("maintenance-off", []),
    "storage_link_present": ("storage-link", []),
    "storage_permissions": ("fix-storage-permissions", []),
    "scheduler_paused": ("pause-scheduler", []),
    "scheduler_resumed": ("resume-scheduler", []),
    "schedule_cache_cleared": ("clear-schedule-cache", []),
    "php_settings": ("php-settings", []),
    "octane_reloaded": ("reload-octane", []),
    "programs_running": ("start-workers", []),
    "workers_restarted": ("restart-workers", []),
    "workers_scaled": ("scale-workers", ["--count", "2"]),
    "queue_length": ("queue-length", []),
    "queue_restarted": ("restart-queue", []),
    "queue_drained": ("wait-queue-drained", []),
    "failed_jobs_retried": ("retry-failed-jobs", []),
    "failed_jobs_forgotten": ("forget-failed-jobs", ["--ids", "5"]),
    "redis_pong": ("redis-ping", []),
    "redis_keys_deleted": ("delete-redis-keys", ["--key", "k"]),
    "disk_usage": ("disk-usage", []),
    "large_logs": ("large-logs", []),
    "log_truncated": ("truncate-log", ["--path", "/var/log/app.log"]),
    "old_files_removed": ("remove-old-files", ["--root", "/var/backups/app", "--days", "7"]),
    "evidence_preserved": ("preserve-evidence", []),
    "http_ok": ("health", []),
    "database_reachable": ("db-check", []),
    "database_status": ("db-status", []),
    "long_queries_stopped": ("stop-long-queries", ["--older-than", "300"]),
    "migrations_rolled_back": ("migrate-rollback", ["--steps", "1"]),
    "compose_service_restarted": ("compose-restart", ["--service", "backend"]),
    "compose_stack_restarted": ("compose-restart-stack", []),
    "compose_services_stopped": ("compose-stop", ["--services", "worker"]),
    "compose_services_started": ("compose-start", ["--services", "worker"]),
    "compose_service_at_tag": ("compose-tag", ["--service", "backend", "--tag", "v1.2.2"]),
    "container_restarted_above_memory": ("restart-if-memory",
                                         ["--container", "backend", "--max-mb", "512"]),
    "container_stats": ("container-stats", ["--container", "backend"]),
    "docker_pruned": ("docker-prune", []),
    "container_logs_cleared": ("clear-container-logs", ["--container", "backend"]),
    "compose_logs_saved": ("save-compose-logs", []),
    "compose_services": ("compose-ps", []),
    "triage": ("triage", []),
    "deployment_scaled": ("scale", ["--replicas", "2"]),
    "image_set": ("set-image", ["--image", "registry.example/app:v1.2.3"]),
    "deployment_restarted": ("rollout-restart", []),
    "deployment_rolled_back": ("rollout-undo", []),
    "rollout_complete": ("rollout-status", []),
    "lock_released": ("unlock", ["--run-id", "dead-run"]),
    # `rollback --release TAG` picks one of these per host kind (remediations.release.rollback).
    "at_release": ("rollback", None),
    "compose_at_release": ("rollback", None),
    "deployment_at_release": ("rollback", None),
    "release_current": ("rollback", None),
    "git_at_release": ("rollback", None),
}

NOT_TASKS = {
    "apply": "the contract every remediation is built on (inspect, decide, act, verify)",
    "run_steps": "composes runbooks; each runbook is reachable as `runbook NAME`",
    "proxy_ip_blocked": "reached by block-ip on a compose host with proxy_service",
    "proxy_ip_unblocked": "reached by unblock-ip on a compose host with proxy_service",
    "hosts_triggering_same_app": "a check over scheduler_status results across hosts; "
                                 "scheduler-status prints it",
}

# Tasks with --yes, and an invocation each that must be refused without it.
DESTRUCTIVE: dict[str, list[str]] = {
    "docker-prune": ["docker-prune"],
    "truncate-log": ["truncate-log", "--path", "/var/log/app.log"],
    "remove-old-files": ["remove-old-files", "--root", "/var/backups/app", "--days", "7"],
    "clear-container-logs": ["clear-container-logs", "--container", "backend"],
    "delete-redis-keys": ["delete-redis-keys", "--pattern", "laravel_cache:*"],
    "forget-failed-jobs": ["forget-failed-jobs", "--ids", "5"],
    "restart": ["restart", "--service", "mysql", "--allow-database-restart"],
    "stop": ["stop", "--service", "mariadb"],
    "scale": ["scale", "--replicas", "0"],
    "compose-restart": ["compose-restart", "--service", "db", "--allow-database-restart"],
    "compose-restart-stack": ["compose-restart-stack", "--allow-database-restart"],
    "compose-stop": ["compose-stop", "--services", "db", "--allow-database-restart"],
    "restart-if-memory": ["restart-if-memory", "--container", "db", "--max-mb", "1",
                          "--allow-database-restart"],
    "rollout-restart": ["rollout-restart", "--allow-database-restart"],
    "runbook disk-full": ["runbook", "disk-full"],
    "runbook db-connection": ["runbook", "db-connection", "--allow-database-restart"],
    "runbook slow-response": ["runbook", "slow-response", "--stop-queries-older-than", "300"],
    "stop-long-queries": ["stop-long-queries", "--older-than", "300"],
    "compose-scale": ["compose-scale", "--service", "db", "--replicas", "0",
                      "--allow-database-restart"],
    "migrate-rollback": ["migrate-rollback", "--steps", "1"],
}


# -- what the package offers -------------------------------------------------------------

def _is_remediation(obj: Any) -> bool:
    """A function `(target: Target, ...) -> Result`."""
    if not inspect.isfunction(obj):
        return False
    params = list(inspect.signature(obj).parameters.values())
    ann = obj.__annotations__
    return bool(params) and ann.get(params[0].name) in ("Target", remediations.Target) \
        and ann.get("return") in ("Result", remediations.Result)


def package_remediations() -> dict[str, Callable[..., Any]]:
    """Every remediation exported by `remediations` or by one of its modules' `__all__`."""
    found = {name: getattr(remediations, name) for name in remediations.__all__
             if _is_remediation(getattr(remediations, name))}
    for info in pkgutil.walk_packages(remediations.__path__, "remediations."):
        if info.name.startswith("remediations.cli"):
            continue
        module = importlib.import_module(info.name)
        for name in getattr(module, "__all__", ()):
            if _is_remediation(getattr(module, name, None)):
                found[name] = getattr(module, name)
    return found


def test_every_remediation_is_a_task_or_said_not_to_be() -> None:
    found = package_remediations()
    assert found, "no remediation found: the derivation is broken"
    missing = sorted(set(found) - set(TASKS) - set(NOT_TASKS))
    assert not missing, (f"remediations without a task: {missing}; add a task (and a row "
                         "to TASKS here), or list it in NOT_TASKS with the reason")
    for name, (task, _) in TASKS.items():
        if name in found:
            assert task in TASK_NAMES, f"{name}: no task {task!r}"


# -- each task really runs its remediation -------------------------------------------------

@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A state dir and an inventory whose one host refuses connections (127.0.0.1:9)."""
    monkeypatch.setenv("REMEDIATIONS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("REMEDIATIONS_DEBUG", raising=False)
    inv = tmp_path / "inv.ini"
    inv.write_text("[web]\nweb1 ansible_host=127.0.0.1 ansible_port=9\n")
    return inv


def in_process(*argv: str) -> int:
    """`invoke ARGV` run here; its exit code."""
    try:
        Program(namespace=build_namespace(), binary="invoke").run(["invoke", *argv])
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def unwrap(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The remediation a task runs: through partials and `functools.wraps` wrappers."""
    while isinstance(fn, functools.partial) or hasattr(fn, "__wrapped__"):
        fn = fn.func if isinstance(fn, functools.partial) else fn.__wrapped__
    return fn


@pytest.mark.parametrize("remediation", sorted(n for n, (_, a) in TASKS.items() if a is not None))
def test_the_task_runs_its_remediation(remediation: str, sandbox: Path,
                                       runs: list[Callable[..., Any]]) -> None:
    task, args = TASKS[remediation]
    assert args is not None
    code = in_process(task, *args, "-i", str(sandbox), "--check")
    assert code == 0
    (fn,) = runs
    assert unwrap(fn) is getattr(remediations, remediation)


@pytest.mark.parametrize("name", sorted(RUNBOOKS))
def test_every_runbook_is_reachable(name: str, sandbox: Path,
                                    runs: list[Callable[..., Any]]) -> None:
    ip = ["--ip", "203.0.113.7"] if name in NEEDS_IP else []
    assert in_process("runbook", name, *ip, "-i", str(sandbox), "--check") == 0
    (fn,) = runs
    assert unwrap(fn) is RUNBOOKS[name]


def test_runbook_list(sandbox: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert in_process("runbook", "--list", "--json") == 0
    (line,) = capsys.readouterr().out.splitlines()
    listed = json.loads(line)
    assert listed["event"] == "list" and list(listed["items"]) == list(RUNBOOKS)
    assert in_process("runbook", "--list") == 0
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines()] == list(RUNBOOKS)


# -- help, shared options -------------------------------------------------------------

def invoke(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=120, check=False)


def listed_tasks() -> list[str]:
    res = invoke("--list", "--list-format", "json")
    assert res.returncode == 0, res.stderr
    tree = json.loads(res.stdout)

    def names(node: dict[str, Any], prefix: str) -> Iterator[str]:
        yield from (prefix + t["name"] for t in node["tasks"])
        for sub in node["collections"]:
            yield from names(sub, f"{prefix}{sub['name']}.")

    return sorted(names(tree, ""))


@pytest.fixture(scope="module")
def helps() -> dict[str, str]:
    """`invoke TASK --help` of every task, all from one namespace as `remediate` has it.

    One namespace for all: Invoke consumes a task's help strings as it builds its
    parser, so this also checks a second parse still shows them.
    """
    ns = build_namespace()
    found = {}
    for task in TASK_NAMES:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                Program(namespace=ns, binary="invoke").run(["invoke", task, "--help"])
            except SystemExit as exc:
                if exc.code:
                    continue
        found[task] = out.getvalue()
    return found


def options(help_text: str) -> dict[str, str]:
    """Each option of a task's help (`-c, --check`) and its help text."""
    body = help_text.split("Options:", 1)[1] if "Options:" in help_text else ""
    found: dict[str, str] = {}
    flags = ""
    for line in body.splitlines():
        if line.startswith("  -"):
            flags, _, text = line.strip().partition("  ")
            found[flags] = text.strip()
        elif line.strip() and flags:
            found[flags] = (found[flags] + " " + line.strip()).strip()
    return found


SHARED = {"-i": "--inventory", "-l": "--limit", "-c": "--check", "-d": "--diff", "-j": "--json",
          "-r": "--run-id", "-f": "--forks"}


@pytest.mark.parametrize("task", TASK_NAMES)
def test_help_documents_every_option_and_the_shared_flags(task: str, helps: dict[str, str]) -> None:
    assert task in helps, f"invoke {task} --help failed"
    opts = options(helps[task])
    undocumented = [flags for flags, text in opts.items() if not text]
    assert not undocumented, f"{task}: options without help: {undocumented}"
    names = {n.split("=")[0].split(" ")[0].replace("[no-]", "")
             for flags in opts for n in flags.split(", ")}
    for short, long in SHARED.items():
        assert short in names and long in names, f"{task}: no {short}/{long}"
    for long in ("--serial", "--max-fail-percentage", "--timeout", "--connection", "--audit-log"):
        assert long in names, f"{task}: no {long}"
    has_yes = "-y" in names and "--yes" in names
    assert has_yes == (task in {d.split()[0] for d in DESTRUCTIVE}), \
        f"{task}: --yes/-y belongs exactly on the tasks that remove data"


def test_help_as_a_user_runs_it() -> None:
    for args in (["block-ip", "--help"], ["runbook", "-h"], ["docker-prune", "--help"]):
        res = invoke(*args)
        assert res.returncode == 0 and "Options:" in res.stdout, args
        assert options(res.stdout)["-c, --check"].startswith("report what would change"), args


# -- --yes ---------------------------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(DESTRUCTIVE))
def test_destructive_tasks_refuse_without_yes(case: str, sandbox: Path, tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    argv = [*DESTRUCTIVE[case], "-i", str(sandbox), "--audit-log", str(audit), "--timeout", "10"]
    env = {"REMEDIATIONS_STATE_DIR": str(tmp_path / "state")}

    refused = invoke(*argv, env=env)
    assert refused.returncode == 1, refused.stderr
    (line,) = refused.stderr.splitlines()
    assert line.startswith("error: ") and "re-run with --yes, or --check to " in line
    assert refused.stdout == "" and not audit.exists()     # no host touched, nothing audited

    as_json = invoke(*argv, "--json", env=env)
    (obj,) = [json.loads(x) for x in as_json.stdout.splitlines()]
    assert as_json.returncode == 1 and obj["event"] == "error" and "--yes" in obj["message"]

    # The refusal was all that stood in the way: with --yes, or in check mode, the run
    # starts (and stops at the host, which refuses connections: unreachable or failed).
    for extra in ("--yes", "--check"):
        went = invoke(*argv, extra, "--json", env=env)
        assert went.returncode in (2, 4), (extra, went.stdout, went.stderr)
        assert json.loads(went.stdout.splitlines()[-1])["event"] == "run_finished"


def test_yes_is_needed_only_where_it_applies(sandbox: Path, runs: list[Callable[..., Any]],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["restart", "--service", "nginx", "--allow-database-restart"],
                 ["stop", "--service", "nginx"], ["scale", "--replicas", "3"],
                 ["runbook", "db-connection"], ["runbook", "rate-limit-breach", "--ip", "10.0.0.1"]):
        assert in_process(*argv, "-i", str(sandbox)) == 0, capsys.readouterr().err
    assert len(runs) == 5


# -- errors: one line each -------------------------------------------------------------------

def error_line(res: subprocess.CompletedProcess[str]) -> str:
    """The single line a user error prints (stderr), checked to be alone and no traceback."""
    assert "Traceback" not in res.stderr + res.stdout
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    assert res.stdout == ""
    return lines[0]


def json_error(res: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert "Traceback" not in res.stderr + res.stdout and res.stderr == ""
    (obj,) = [json.loads(x) for x in res.stdout.splitlines()]
    assert obj["event"] == "error"
    return obj  # type: ignore[no-any-return]


def test_bad_inventory_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("all:\n  hosts:\n    web1: {ansible_port: [\n")
    res = invoke("status", "-i", str(bad))
    assert res.returncode == 1
    assert re.match(rf"error: {re.escape(str(bad))}:\d+: ", error_line(res))
    assert json_error(invoke("status", "-i", str(bad), "--json"))["message"].startswith(f"{bad}:")


@pytest.mark.parametrize("pattern,expected", [
    ("db", "no hosts matched pattern 'db'"),
    ("~[", "invalid host pattern '~['"),
])
def test_unknown_host_pattern(sandbox: Path, pattern: str, expected: str) -> None:
    res = invoke("status", "-i", str(sandbox), "-l", pattern)
    assert res.returncode == 1 and expected in error_line(res)


@pytest.mark.parametrize("args,expected", [
    (["--forks", "abc"], "error: --forks must be a whole number, got 'abc'"),
    (["--timeout", "soon"], "error: --timeout must be a number, got 'soon'"),
    (["--max-fail-percentage", "lots"], "error: --max-fail-percentage must be a number"),
    (["--serial", "0"], "error: --serial must be a positive number"),
    (["--forks", "0"], "error: --forks must be from 1 to 1000, got 0"),
    (["--timeout", "nan"], "error: --timeout must be a finite number more than 0 and at most"),
    (["--connection", "telnet"], "error: unsupported connection 'telnet'"),
    (["--run-id", "a/b"], "error: "),
    (["--audit-log", "/proc/none/audit.jsonl"], "error: cannot write the audit log"),
    (["--services", "nginx;reboot"], "error: not a valid systemd unit name"),
])
def test_bad_option_value(sandbox: Path, args: list[str], expected: str) -> None:
    res = invoke("status", "-i", str(sandbox), *args)
    assert res.returncode == 1
    assert error_line(res).startswith(expected)
    assert json_error(invoke("status", "-i", str(sandbox), "--json", *args))["message"]


def test_failed_host_one_line_and_its_evidence(tmp_path: Path) -> None:
    inv = tmp_path / "local.ini"
    inv.write_text("[here]\nlocal1 ansible_connection=local\n")
    argv = ["health", "--url", "http://127.0.0.1:9/", "-i", str(inv),
            "--audit-log", str(tmp_path / "audit.jsonl")]
    res = invoke(*argv, env={"REMEDIATIONS_STATE_DIR": str(tmp_path / "state")})
    assert res.returncode == 2 and "Traceback" not in res.stderr + res.stdout
    (line,) = [x for x in res.stderr.splitlines() if "local1" in x]
    assert re.match(r"\s*failed\s+local1\s+http://127.0.0.1:9/: no answer", line)
    assert "local1 evidence:\nConnectionRefusedError" in res.stdout
    as_json = invoke(*argv, "--json", env={"REMEDIATIONS_STATE_DIR": str(tmp_path / "state")})
    (result,) = json.loads(as_json.stdout.splitlines()[-1])["report"]["results"]
    assert result["status"] == "failed" and "Connection refused" in result["evidence"]


def test_unreachable_host_one_line(sandbox: Path, tmp_path: Path) -> None:
    res = invoke("status", "-i", str(sandbox), "--timeout", "10",
                 "--audit-log", str(tmp_path / "audit.jsonl"),
                 env={"REMEDIATIONS_STATE_DIR": str(tmp_path / "state")})
    assert res.returncode == 4 and "Traceback" not in res.stderr + res.stdout
    (line,) = [x for x in res.stderr.splitlines() if "web1" in x]
    assert re.match(r"\s*unreachable\s+web1\s+web1: cannot connect to 127.0.0.1:9", line)


def test_internal_error_is_one_line_naming_where(sandbox: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from remediations import inventory

    def broken(*_: Any, **__: Any) -> None:
        raise KeyError("groups")  # a bug: not one of the library's typed errors

    monkeypatch.setattr(inventory, "load_inventory", broken)
    assert in_process("status", "-i", str(sandbox)) == 250
    err = capsys.readouterr().err
    (line,) = err.splitlines()
    assert line.startswith("error: internal error (a bug, please report it): KeyError: 'groups' at ")
    assert "test_complete.py:" in line and "REMEDIATIONS_DEBUG=1" in line

    assert in_process("status", "-i", str(sandbox), "--json") == 250
    (obj,) = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert obj["event"] == "error" and "KeyError" in obj["message"]
    assert "Traceback" in obj["traceback"] and "def broken" not in obj["message"]

    monkeypatch.setenv("REMEDIATIONS_DEBUG", "1")
    with pytest.raises(KeyError):
        in_process("status", "-i", str(sandbox))


# -- the README ------------------------------------------------------------------------------

def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def table_after(section: str, header: str) -> list[list[str]]:
    """The rows of the markdown table whose header row starts with `header`."""
    lines = section[section.index(header):].splitlines()
    rows = []
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_readme_lists_exactly_the_tasks() -> None:
    rows = table_after(readme_section("Command line"), "| area | tasks |")
    documented = sorted({m.split()[0] for row in rows for m in re.findall(r"`([^`]+)`", row[1])})
    listed = listed_tasks()
    assert documented == listed, (f"README only: {sorted(set(documented) - set(listed))}; "
                                  f"invoke --list only: {sorted(set(listed) - set(documented))}")
    assert all(t in listed for t in TASK_NAMES)
    assert {t for t in listed if not t.startswith(REPO_ONLY)} == set(TASK_NAMES)


def test_readme_lists_exactly_the_tasks_that_need_yes() -> None:
    rows = table_after(readme_section("Command line"), "| task | needs `--yes` |")
    documented = {row[0].strip("`") for row in rows}
    assert documented == set(DESTRUCTIVE)
