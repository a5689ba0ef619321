"""pytest plugin: CI smoke tests run once per inventory host (entry point `pytest11: remediations`).

    import pytest

    @pytest.mark.smoke("web")                       # any Ansible pattern; once per host
    def test_php_fpm_runs(smoke_host, health):
        assert smoke_host.service("php8.2-fpm").is_running
        assert health().ok

    python -m pytest tests/smoke --remediations-inventory inventories/production.yml --remediations-limit web1

Options: `--remediations-inventory FILE[,FILE]` (else `$REMEDIATIONS_INVENTORY`, else the ini
option `remediations_inventory`), `--remediations-limit PATTERN`,
`--remediations-connection ssh|docker|local`, and for the `remediate` fixture
`--remediations-check` (report what would change, touch nothing), `--remediations-run-id`,
`--remediations-timeout`; `--remediations-results FILE` is what `invoke smoke` reads.
Fixtures: `remediations_inventory`, `inventory_host`, `smoke_host` (pytest-testinfra),
`health`, `remediate`, `remediations_run`.

It costs nothing when unused: every pytest run loads it, so the library is imported only
when a test is marked `smoke` or asks for one of these fixtures.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from remediations.inventory import Host, Inventory
    from remediations.run.target import RunContext
    from remediations.smoke.fixtures import HealthCheck, Remediate

MARKER = "smoke"
NO_INVENTORY = ("no inventory for the smoke tests: pass --remediations-inventory FILE, "
                "set REMEDIATIONS_INVENTORY, or set the ini option remediations_inventory")
_LOADED = pytest.StashKey["Inventory | None"]()
_FAILED = pytest.StashKey[str]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("remediations", "smoke tests against inventory hosts (remediations)")
    group.addoption("--remediations-inventory", metavar="FILE[,FILE]", default=None,
                    help="inventory file(s), comma-separated "
                         "(default: $REMEDIATIONS_INVENTORY, else ini remediations_inventory)")
    group.addoption("--remediations-limit", metavar="PATTERN", default=None,
                    help="only these hosts, an Ansible pattern such as 'web:!web2'")
    group.addoption("--remediations-connection", choices=("ssh", "docker", "local"), default=None,
                    help="reach every host this way instead of its ansible_connection")
    group.addoption("--remediations-check", action="store_true", default=False,
                    help="the remediate fixture reports what would change and touches nothing")
    group.addoption("--remediations-run-id", metavar="ID", default=None,
                    help="the run the remediate fixture's calls belong to; re-using an id "
                         "resumes it (restarts it did are not repeated)")
    group.addoption("--remediations-timeout", metavar="SECONDS", type=float, default=300.0,
                    help="seconds each remediate call may take on its host (default 300)")
    group.addoption("--remediations-results", metavar="FILE", default=None,
                    help="write each smoke test's outcome, per host, to FILE as JSON "
                         "(what `invoke smoke` reads)")
    parser.addini("remediations_inventory", default="",
                  help="inventory file(s) for smoke tests, comma-separated, relative to the ini file")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(pattern='all'): run the test once per inventory host the Ansible "
        "pattern selects (ids are host names); see the remediations plugin")
    results = config.getoption("remediations_results", None)
    if results:
        from remediations.smoke.results import ResultsRecorder

        config.pluginmanager.register(ResultsRecorder(Path(results)), "remediations-results")


def inventory_paths(config: pytest.Config) -> list[str]:
    """The inventory files given to this run (option, environment, ini), or []."""
    given = config.getoption("remediations_inventory", None)
    base = config.invocation_params.dir
    if not given:
        given = os.environ.get("REMEDIATIONS_INVENTORY", "")
    if not given:
        given = str(config.getini("remediations_inventory") or "")
        base = config.inipath.parent if config.inipath else config.rootpath
    return [str(base / p.strip()) for p in given.split(",") if p.strip()]


def smoke_inventory(config: pytest.Config) -> Inventory | None:
    """The run's inventory (loaded once, `--remediations-connection` applied); None if none given.

    Raises pytest.UsageError for an inventory that does not load, a limit that selects no
    host, or a limit/connection given without an inventory.
    """
    if _FAILED in config.stash:
        raise pytest.UsageError(config.stash[_FAILED])
    if _LOADED not in config.stash:
        try:
            config.stash[_LOADED] = _load(config)
        except pytest.UsageError as exc:
            config.stash[_FAILED] = str(exc)
            raise
    return config.stash[_LOADED]


def _load(config: pytest.Config) -> Inventory | None:
    from remediations.core.errors import RemediationError
    from remediations.inventory import inventory_settings, load_inventory

    limit = config.getoption("remediations_limit", None)
    connection = config.getoption("remediations_connection", None)
    paths = inventory_paths(config)
    if not paths:
        if limit or connection:
            flag = "--remediations-limit" if limit else "--remediations-connection"
            raise pytest.UsageError(f"{flag} needs an inventory; {NO_INVENTORY}")
        return None
    try:
        # The vault password as Ansible takes it: $ANSIBLE_VAULT_PASSWORD_FILE, ansible.cfg.
        settings = inventory_settings(",".join(paths))
        inventory = load_inventory(paths, vault_password_file=settings.vault_password_file)
        if connection:
            inventory = inventory.with_connection(connection)
        if limit:
            inventory.select(limit)  # a limit that selects nothing is a mistake: say so now
    except (RemediationError, OSError) as exc:
        raise pytest.UsageError(f"remediations: {exc}") from None
    return inventory


def smoke_hosts(config: pytest.Config, pattern: str) -> list[str]:
    """Names of the hosts a `smoke(pattern)` test runs on: `pattern` within `--remediations-limit`."""
    from remediations.core.errors import NoHostsMatched, RemediationError

    inventory = smoke_inventory(config)
    if inventory is None:
        return []
    try:
        names = [h.name for h in inventory.select(pattern)]
    except NoHostsMatched:
        return []
    except RemediationError as exc:
        raise pytest.UsageError(f"remediations: smoke({pattern!r}): {exc}") from None
    limit = config.getoption("remediations_limit", None)
    if limit:
        allowed = {h.name for h in inventory.select(limit)}
        names = [n for n in names if n in allowed]
    return names


def _marker_pattern(marker: pytest.Mark) -> str:
    pattern = marker.args[0] if marker.args else marker.kwargs.get("pattern", "all")
    if not isinstance(pattern, str) or not pattern.strip():
        raise pytest.UsageError(f"@pytest.mark.smoke takes an Ansible host pattern, got {pattern!r}")
    return pattern


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker(MARKER)
    if marker is None:
        return
    config = metafunc.config
    if "inventory_host" not in metafunc.fixturenames:
        metafunc.fixturenames.append("inventory_host")  # run per host even if no fixture asks
    try:
        params = _host_params(config, _marker_pattern(marker))
    except pytest.UsageError as exc:
        # Reported once, cleanly, when collection ends (a traceback per module helps no one).
        config.stash.setdefault(_FAILED, str(exc))
        params = [pytest.param(None, id="usage-error", marks=pytest.mark.skip(reason=str(exc)))]
    metafunc.parametrize("inventory_host", params, indirect=True)


def _host_params(config: pytest.Config, pattern: str) -> list[Any]:
    names = smoke_hosts(config, pattern)
    if names:
        return [pytest.param(n, id=n) for n in names]
    if smoke_inventory(config) is None:
        return [pytest.param(None, id="no-inventory", marks=pytest.mark.skip(reason=NO_INVENTORY))]
    limit = config.getoption("remediations_limit", None)
    within = f" within --remediations-limit {limit!r}" if limit else ""
    reason = f"no inventory host matches smoke pattern {pattern!r}{within}"
    return [pytest.param(None, id="no-host", marks=pytest.mark.skip(reason=reason))]


def pytest_collection_modifyitems(config: pytest.Config) -> None:
    if _FAILED in config.stash:
        raise pytest.UsageError(config.stash[_FAILED])


@pytest.fixture(scope="session")
def remediations_inventory(pytestconfig: pytest.Config) -> Inventory:
    """The loaded inventory (`--remediations-inventory`); skips the test when none is given."""
    inventory = smoke_inventory(pytestconfig)
    if inventory is None:
        pytest.skip(NO_INVENTORY)
    return inventory


@pytest.fixture
def inventory_host(request: pytest.FixtureRequest, remediations_inventory: Inventory) -> Host:
    """The inventory Host this run of a `@pytest.mark.smoke(...)` test is for."""
    name = getattr(request, "param", None)
    if name is None:
        pytest.fail("inventory_host is set by @pytest.mark.smoke('pattern'): mark the test",
                    pytrace=False)
    return remediations_inventory[name]


@pytest.fixture
def smoke_host(inventory_host: Host) -> Any:
    """A pytest-testinfra Host reaching `inventory_host` as the inventory says (ssh, docker, local)."""
    import testinfra

    from remediations.core.errors import InvalidInput
    from remediations.smoke.fixtures import host_spec

    try:
        spec, kwargs = host_spec(inventory_host)
    except InvalidInput as exc:
        pytest.fail(str(exc), pytrace=False)
    return testinfra.get_host(spec, **kwargs)


@pytest.fixture
def health(inventory_host: Host) -> HealthCheck:
    """`health()` GETs the host's health_url (`health("/path")` another path on it)."""
    from remediations.smoke.fixtures import HealthCheck

    return HealthCheck(inventory_host)


@pytest.fixture(scope="session")
def remediations_run(pytestconfig: pytest.Config) -> RunContext:
    """The run every `remediate` call of the session belongs to (a restart happens once per run)."""
    from remediations.core.errors import InvalidInput
    from remediations.run.state import start_run
    from remediations.run.target import RunContext

    check = bool(pytestconfig.getoption("remediations_check", False))
    run_id = pytestconfig.getoption("remediations_run_id", None)
    if not run_id:
        return RunContext.new(check=check)
    try:
        return start_run(run_id, check=check)
    except InvalidInput as exc:
        raise pytest.UsageError(f"--remediations-run-id: {exc}") from None


@pytest.fixture
def remediate(request: pytest.FixtureRequest, inventory_host: Host,
              remediations_run: RunContext) -> Remediate:
    """`remediate(fn, **kwargs)` runs remediation `fn` on this host through the runner: a Result."""
    from remediations.run.reporters import AuditLog
    from remediations.run.state import default_audit_log
    from remediations.smoke.fixtures import Remediate

    return Remediate(inventory_host, remediations_run, audit=AuditLog(default_audit_log()),
                     timeout=float(request.config.getoption("remediations_timeout", 300.0)))
