"""`invoke smoke`: run a project's smoke tests against inventory hosts, report per host."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from invoke.collection import Collection
from invoke.exceptions import Exit

from remediations.cli.options import fail, make_task, reporter_for, selected_hosts
from remediations.cli.values import Text

if TYPE_CHECKING:
    from remediations.cli.options import Common

_CONNECTIONS = ("ssh", "docker", "local")


def smoke(c: Any, opts: Common, path: str = "tests/smoke") -> None:
    """Run the smoke tests under --path once per inventory host; one row per host.

    Exit 0 when every test passed, 2 when a host failed one, 1 on bad input. --check
    makes the tests' `remediate(...)` calls report what they would change; --timeout
    bounds each of them, --run-id names their run; --forks, --serial and --diff do not apply.
    """
    from remediations.core.errors import RemediationError
    from remediations.inventory import inventory_settings
    from remediations.smoke.results import host_rows, render_json, render_table
    from remediations.smoke.session import run_smoke_tests

    reporter = reporter_for(opts)
    if opts.connection and opts.connection not in _CONNECTIONS:
        raise fail(reporter, f"--connection for smoke tests is one of {', '.join(_CONNECTIONS)}, "
                             f"got {opts.connection!r}")
    try:
        settings = inventory_settings(opts.inventory, vault_password_file=opts.vault_password_file)
        paths = list(settings.sources)
        hosts = [h.name for h in selected_hosts(opts)]
    except (RemediationError, OSError) as exc:
        raise fail(reporter, str(exc)) from None
    if settings.vault_password_file:  # the tests' own process decrypts as this one did
        os.environ["ANSIBLE_VAULT_PASSWORD_FILE"] = settings.vault_password_file
    if not os.path.exists(path):
        raise fail(reporter, f"no smoke tests at {path}: pass --path FILE_OR_FOLDER")
    outcome = run_smoke_tests(path, paths, limit=opts.limit, connection=opts.connection,
                              check=opts.check, run_id=opts.run_id, timeout=opts.timeout,
                              audit_log=opts.audit_log)
    problem = outcome.problem()
    if problem:
        raise fail(reporter, f"smoke tests under {path}: {problem}")
    rows = host_rows(outcome.results, hosts)
    if opts.json:
        render_json(rows, path=path, inventory=paths, limit=opts.limit, check=opts.check)
    else:
        title = " · ".join(filter(None, (f"smoke tests {path}", ", ".join(paths),
                                         f"limit {opts.limit}" if opts.limit else "",
                                         "check mode" if opts.check else "")))
        render_table(rows, title=title)
    if any(not r.ok for r in rows):
        raise Exit(code=2)


def register(ns: Collection) -> None:
    ns.add_task(make_task(smoke, name="smoke", params=(
        ("path", "tests/smoke", "file or folder of the smoke tests (pytest, @pytest.mark.smoke)",
         Text(path=True)),
    )))
