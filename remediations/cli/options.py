"""The options every remediation task shares, and the one function that runs a task.

Tasks get a generated signature (their own arguments first, then these), so
Invoke's short flags come out the same everywhere: -i -l -c -d -j -r -f, and -y
(--yes) on the tasks that remove data. Every option's value is checked before the
task's body runs (`remediations.cli.values`: a Range for each number, a Text for each
string). Every error a task meets ends as one line
(`error: ...`, or a JSON `{"event": "error"}` object with --json) and an exit code,
never a traceback. Heavy modules are imported inside functions to keep `--list`
and `--help` fast.
"""

from __future__ import annotations

import copy
import inspect
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from invoke.exceptions import Exit
from invoke.parser.argument import Argument
from invoke.tasks import Task

from remediations.cli.values import DAY, BadNumber, Range, Text, refused

if TYPE_CHECKING:
    from remediations.inventory import Host, Inventory


# name, default, help[, the values it accepts: a Range for a number, a Text for a string
# (Text() when not given)]. Every numeric option declares its Range.
Param = tuple[str, Any, str] | tuple[str, Any, str, Range | Text]

COMMON: tuple[Param, ...] = (
    ("inventory", "", "inventory file(s): -i a -i b, or comma-separated; ansible:PATH reads PATH with "
                      "ansible-inventory (default: $REMEDIATIONS_INVENTORY, $ANSIBLE_INVENTORY, "
                      "ansible.cfg)"),
    ("limit", "", "Ansible-style host pattern, e.g. 'web:&prod:!web3' (default: all)"),
    ("check", False, "report what would change, with the exact commands; touch nothing"),
    ("diff", False, "show the state before and after"),
    ("json", False, "one JSON object per event on stdout, for machines"),
    ("run_id", "", "run id; re-using one resumes it (restarts done by it are not repeated)"),
    ("forks", 5, "hosts worked on at once (1-1000)", Range(1, 1000)),
    ("serial", "", "batch size: N, N%, or a list '1,50%' (the last size repeats)"),
    ("max_fail_percentage", "", "stop after a batch whose failures exceed this percentage"),
    ("timeout", 300.0, "seconds each host may take, connection and verification included "
                       "(at most 86400)", Range(0, DAY, low_open=True)),
    ("connection", "", "override every host's connection: ssh, docker, local or kubernetes"),
    ("audit_log", "", ("append-only JSON lines audit log (default: $REMEDIATIONS_AUDIT_LOG "
                       "or ~/.local/state/remediations/audit.jsonl)"), Text(path=True)),
    ("vault_password_file", "", "file holding (or script printing) the Ansible Vault password "
                                "(default: $ANSIBLE_VAULT_PASSWORD_FILE, ansible.cfg's)",
     Text(path=True)),
)


# --yes: only on the tasks that remove data or take a database or every pod down; its
# help says when it is needed.
YES = "yes"

# The short flags of the shared options; task options never take these letters.
SHORT = {"inventory": "i", "limit": "l", "check": "c", "diff": "d", "json": "j", "run_id": "r",
         "forks": "f", "yes": "y"}

# Options that may be given more than once; the task gets their values joined by commas.
REPEATABLE = frozenset({"inventory"})

# Exit code of an internal error (a bug), as Ansible's.
INTERNAL_ERROR = 250


class _Argument(Argument):
    """An option whose parser copies are shallow copies.

    Invoke deep-copies every task's arguments for each parse; with a hundred tasks of
    a dozen options each that was a tenth of the start-up. A shallow copy is a full
    one here: `set_value` rebinds the value (a list kind gets a new list) and never
    changes one in place, and the other fields are strings, types and tuples.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> Argument:
        new = copy.copy(self)
        memo[id(self)] = new
        return new


class _Task(Task):  # type: ignore[type-arg]
    """A Task whose options are built from `make_task`'s parameters.

    Only invoke's public API: `Task` (the `klass` that `@task` documents), its documented
    `get_arguments()` hook, and `Argument`'s constructor and `set_value()`.
    """

    def __init__(self, body: Callable[..., None], *, options: tuple[dict[str, Any], ...],
                 accepts: dict[str, Range | Text] | None = None, **kwargs: Any) -> None:
        super().__init__(body, **kwargs)
        self.option_specs = options  # `Argument` keywords, one dict an option (`_options`)
        self.accepts = accepts or {}  # the values each option takes (`refused`), by name

    def __deepcopy__(self, memo: dict[int, Any]) -> _Task:
        # Invoke deep-copies every task when it loads a collection. A task's body and
        # settings never change; its containers (help, positional...) get their own copy.
        new = copy.copy(self)
        for key, value in vars(self).items():
            if isinstance(value, (list, dict, set)):
                setattr(new, key, copy.copy(value))
        memo[id(self)] = new
        return new

    def get_arguments(self, ignore_unknown_help: bool | None = None) -> list[Argument]:
        """A new set of this task's options for one parser."""
        return [_Number(cast=o["kind"], **{**o, "kind": int}) if o.get("kind") in (int, float)
                else _Argument(**o) for o in self.option_specs]


def _options(params: tuple[Param, ...], positional: tuple[str, ...]) -> tuple[dict[str, Any], ...]:
    """`Argument` keywords for each parameter, named as invoke's `Task.get_arguments` names them.

    The same rules (underscores become dashes; an option's short flag is the first letter
    of its name no earlier option took; a default sets the kind; positionals come first,
    in their order), except that the shared options always have the short flags of SHORT
    and the others never take those letters.
    """
    taken = {p[0] for p in params}
    built: list[dict[str, Any]] = []
    for name, default, help, *_ in params:
        long = name.replace("_", "-")
        opts: dict[str, Any] = {"positional": name in positional, "help": help}
        if long != name:
            opts["attr_name"] = name
        if name in _SHARED_NAMES:
            names = [long, SHORT[name]] if name in SHORT else [long]
        else:
            free = [c for c in long if c != long and c not in taken and c not in _SHORT_LETTERS]
            names = [long, *free[:1]]
        opts["names"] = names
        if name in REPEATABLE:  # `-i a -i b -i a`, as Ansible takes it; a list of values
            opts["kind"], opts["default"] = list, []  # never changed in place: set_value rebinds
        elif default is not None:
            opts["kind"] = type(default)
            opts["default"] = default
        taken.update(names)
        built.append(opts)
    first = [o for p in positional for o in built if o.get("attr_name", o["names"][0]) == p]
    return (*first, *(o for o in built if o not in first))


_COMMON_NAMES = frozenset(p[0] for p in COMMON)
_SHARED_NAMES = _COMMON_NAMES | {YES}
_SHORT_LETTERS = frozenset(SHORT.values())


class _Number(_Argument):
    """A numeric option whose bad value becomes a one-line error, not a parser traceback.

    Help shows it as INT (Invoke's help knows only STRING and INT; a float option
    accepts decimals too).
    """

    def __init__(self, *, cast: type, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cast = cast

    def set_value(self, value: Any, cast: bool = True) -> None:
        if cast and isinstance(value, str):
            try:
                # Only what a user types: Python would also take ' 5\n', '1_000' and '５'.
                if not value.isascii() or "_" in value or value != value.strip():
                    raise ValueError(value)
                value = self.cast(value)
            except ValueError:
                value = BadNumber(self.names[0], value, self.cast is int)
        super().set_value(value, cast=False)


@dataclass(frozen=True, slots=True)
class Common:
    inventory: str
    limit: str
    check: bool
    diff: bool
    json: bool
    run_id: str
    forks: int
    serial: str
    max_fail_percentage: str
    timeout: float
    connection: str
    audit_log: str
    yes: bool = False
    vault_password_file: str = ""


def make_task(body: Callable[..., None], *, name: str, params: tuple[Param, ...] = (),
              positional: tuple[str, ...] = (), yes: str = "") -> Task:  # type: ignore[type-arg]
    """An Invoke task calling `body(ctx, common, **own_args)`, with a generated signature.

    `yes`, the help of --yes/-y, adds that option; the body says when it is needed
    (`run_remediation(..., confirm=...)`). A positional argument given `-h`/`--help` (Invoke hands a missing
    positional the next word) prints the task's help.
    """
    own = [p[0] for p in params]
    every = params + COMMON + (((YES, False, yes),) if yes else ())
    accepts = {p[0]: p[3] for p in every if len(p) > 3}

    def task_body(ctx: Any, **kwargs: Any) -> None:
        if any(kwargs.get(p) in ("-h", "--help") for p in positional):
            _print_help(task)
            return
        for name in REPEATABLE:  # each -i may itself be a comma-separated list
            kwargs[name] = ",".join(kwargs.get(name) or ())
        given = [(p[0], kwargs.get(p[0])) for p in every]
        shared = Common(**{p[0]: kwargs.pop(p[0]) for p in COMMON},
                        yes=kwargs.pop(YES, False))
        reporter = reporter_for(shared)
        problem = refused(given, accepts)
        if problem:
            raise fail(reporter, problem)
        _guarded(reporter, lambda: body(ctx, shared, **{k: kwargs[k] for k in own}))

    sig = [inspect.Parameter("c", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    sig += [inspect.Parameter(p[0], inspect.Parameter.KEYWORD_ONLY, default=p[1]) for p in every]
    task_body.__signature__ = inspect.Signature(sig)  # type: ignore[attr-defined]
    task_body.__doc__ = body.__doc__
    task_body.__name__ = name
    task = _Task(task_body, name=name, help={p[0]: p[2] for p in every},
                 positional=list(positional), options=_options(every, positional),
                 accepts=accepts)
    return task


def _guarded(reporter: Any, call: Callable[[], None]) -> None:
    """`call()`, with any error it lets out turned into one line and an exit code."""
    from remediations.core.errors import RemediationError

    try:
        call()
    except Exit:
        raise
    except BrokenPipeError:  # stdout's reader went away (`| head`): nothing left to tell it
        from remediations.run.reporters import quiet_stdout

        quiet_stdout()
        raise Exit(code=141) from None
    except RemediationError as exc:
        raise fail(reporter, str(exc)) from None
    except Exception as exc:
        if os.environ.get("REMEDIATIONS_DEBUG"):
            raise
        raise internal_error(reporter, exc) from None


def internal_error(reporter: Any, exc: BaseException) -> Exit:
    """One line naming the exception and where it was raised; the traceback as evidence."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {_short(frames[-1].filename)}:{frames[-1].lineno}" if frames else ""
    message = (f"internal error (a bug, please report it): {type(exc).__name__}: "
               f"{str(exc).splitlines()[0] if str(exc) else ''}{where}; "
               "REMEDIATIONS_DEBUG=1 shows the traceback")
    reporter.error(message, traceback="".join(traceback.format_exception(exc)))
    return Exit(code=INTERNAL_ERROR)


def _short(filename: str) -> str:
    marker = f"{os.sep}remediations{os.sep}"
    return "remediations" + os.sep + filename.rsplit(marker, 1)[1] if marker in filename else filename


def _print_help(task: Task) -> None:  # type: ignore[type-arg]
    from invoke.collection import Collection
    from invoke.program import Program

    binary = "remediate" if os.path.basename(sys.argv[0]) == "remediate" else "invoke"
    Program(namespace=Collection(task), binary=binary).run([binary, "--help", task.name],
                                                          exit=False)


def reporter_for(opts: Common) -> Any:
    """JSON lines with --json; rich on a terminal; plain text for logs and pipes."""
    from remediations.run.reporters import JsonReporter, RichReporter, TextReporter

    if opts.json:
        return JsonReporter()
    tty = sys.stdout.isatty() or sys.stderr.isatty()
    return (RichReporter if tty else TextReporter)(show_diff=opts.diff)


def fail(reporter: Any, message: str, code: int = 1, evidence: str = "") -> Exit:
    """Report one error line (and its evidence, if any); the Exit to raise."""
    reporter.error(message, evidence=evidence)
    return Exit(code=code)


def needs_yes(opts: Common, danger: str, preview: str) -> None:
    """Exit 1 unless --yes or --check: `danger` says what the task removes, `preview` what --check shows."""
    if not (opts.yes or opts.check):
        raise fail(reporter_for(opts), f"{danger}: re-run with --yes, or --check to {preview}")


def validated(opts: Common, check: Callable[..., Any], *values: Any) -> Any:
    """`check(*values)`, or exit 1 with its message: input is checked before any host is touched."""
    from remediations.core.errors import InvalidInput

    try:
        return check(*values)
    except InvalidInput as exc:
        raise fail(reporter_for(opts), str(exc)) from None


def required(opts: Common, value: Any, flag: str, example: str) -> None:
    """Exit 1 naming `flag` when it was not given."""
    if value in ("", None):
        raise fail(reporter_for(opts), f"{flag} is required, e.g. {flag} {example}")


def run_remediation(opts: Common, remediation: Callable[..., Any], *, name: str,
                    lock: bool = True, confirm: tuple[str, str] | None = None) -> Any:
    """Load the inventory, select hosts, run, render; exits non-zero as documented.

    `confirm` is (what the run removes, what --check would show): without --yes or
    --check the task stops there, once the inventory is read and before any host
    is touched or the audit log written.
    """
    from remediations.core.errors import RemediationError
    from remediations.run import state
    from remediations.run.reporters import AuditLog
    from remediations.run.runner import RunOptions, run

    reporter = reporter_for(opts)
    try:
        hosts = selected_hosts(opts)
        options = RunOptions(
            forks=opts.forks, serial=_serial(opts.serial), timeout=opts.timeout, lock=lock,
            max_fail_percentage=_percentage(reporter, opts.max_fail_percentage),
        )
        if confirm is not None:
            needs_yes(opts, *confirm)
        audit = AuditLog(_writable(_audit_path(opts)))  # before the run record is written
        ctx = state.start_run(opts.run_id or None, check=opts.check, diff=opts.diff)
    except (RemediationError, ValueError, OSError) as exc:
        raise fail(reporter, str(exc)) from None

    def on_event(event: Any) -> None:
        reporter(event)
        audit(event)

    report = run(remediation, hosts, run=ctx, options=options, name=name, on_event=on_event)
    finish(report)
    return report


def finish(report: Any) -> None:
    """Exit with the report's code (`Exit`); 0 returns.

    A run stopped by a second Ctrl-C left threads waiting on hosts: the process ends at
    once (its report and audit lines are written by then) instead of waiting for them.
    """
    import threading

    if report.interrupted and any(t.name.startswith("remediations") and t.is_alive()
                                  for t in threading.enumerate()):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(report.exit_code)
    if report.exit_code:
        raise Exit(code=report.exit_code)


def selected_hosts(opts: Common) -> list[Host]:
    """The hosts of the inventory (`loaded_inventory`) that --limit selects.

    Raises `RemediationError` (a bad inventory, a pattern matching nothing) or `Exit`.
    """
    return loaded_inventory(opts).select(opts.limit or None)


def loaded_inventory(opts: Common) -> Inventory:
    """The inventory of -i, else $REMEDIATIONS_INVENTORY, else Ansible's settings
    (`remediations.inventory.ansible_config`), vault values decrypted, --connection applied.

    Every task reads its inventory here. Raises `RemediationError` or `Exit`.
    """
    from remediations.inventory import inventory_settings, load_inventory
    from remediations.run.state import state_dir

    settings = inventory_settings(opts.inventory, vault_password_file=opts.vault_password_file)
    if not settings.sources:
        raise fail(reporter_for(opts), "no inventory: pass -i FILE, set REMEDIATIONS_INVENTORY "
                                       "or ANSIBLE_INVENTORY, or name one in ansible.cfg")
    inventory = load_inventory(settings.sources, vault_password_file=settings.vault_password_file,
                               cache_dir=state_dir() / "inventory-cache",
                               cache_ttl=settings.cache_ttl)
    return inventory.with_connection(opts.connection) if opts.connection else inventory

def _percentage(reporter: Any, text: str) -> float | None:
    if not text:
        return None
    try:
        return float(text.rstrip("%"))
    except ValueError:
        raise fail(reporter, f"--max-fail-percentage must be a number from 0 to 100, "
                             f"got {text!r}") from None


def _writable(path: Any) -> Any:
    """`path`, once it can be appended to: a run must not act and then fail to audit."""
    from remediations.core.errors import InvalidInput

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"cannot write the audit log {path}: {exc.strerror or exc}") from None
    if path.is_dir() or not os.access(path if path.exists() else path.parent, os.W_OK):
        raise InvalidInput(f"cannot write the audit log {path}: not a writable file")
    return path


def _serial(text: str) -> Any:
    if not text:
        return None
    parts = [p.strip() for p in text.split(",") if p.strip()]
    return parts[0] if len(parts) == 1 else parts


def _audit_path(opts: Common) -> Any:
    from pathlib import Path

    from remediations.run.state import default_audit_log

    return Path(opts.audit_log) if opts.audit_log else default_audit_log()
