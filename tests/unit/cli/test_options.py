"""The shared options, and the invoke API they are built on.

`remediations.cli.options` uses only invoke's public API: `Task` subclassed (the `klass`
`@task` documents) with its documented `get_arguments()` hook, `Argument`'s constructor
and `set_value()`, and Python's `__deepcopy__` protocol for the parser's copies. The
first tests fail with a message naming what changed if a new invoke release changes
any of that; pyproject pins `invoke>=2.2,<3`.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any

import invoke
import pytest
from invoke import Argument, Collection, Parser, ParserContext, Task

from remediations.cli import ns
from remediations.cli.options import COMMON, SHORT, make_task

UPGRADE = ("invoke {version} changed {what}, which remediations/cli/options.py relies on; "
           "update options.py (and the pin in pyproject.toml) for it")


def _params(func: Any) -> list[str]:
    return list(inspect.signature(func).parameters)


@pytest.mark.parametrize("func,needs", [
    (Task.__init__, ["body", "name", "help", "positional", "auto_shortflags"]),
    (Task.get_arguments, ["ignore_unknown_help"]),
    (Argument.__init__, ["names", "kind", "default", "help", "positional", "attr_name"]),
    (Argument.set_value, ["value", "cast"]),
    (Collection.to_contexts, ["ignore_unknown_help"]),
])
def test_the_invoke_signatures_options_uses_are_unchanged(func: Any, needs: list[str]) -> None:
    missing = [n for n in needs if n not in _params(func)]
    assert not missing, UPGRADE.format(version=invoke.__version__,
                                       what=f"{func.__qualname__}: no {missing} parameter(s)")


def test_invoke_builds_its_parser_contexts_from_get_arguments() -> None:
    task = ns["restart"]
    (context,) = Collection(task).to_contexts()
    assert all(type(a).__module__ == "remediations.cli.options"
               for a in context.args.values()), UPGRADE.format(
        version=invoke.__version__,
        what="Collection.to_contexts (it no longer calls Task.get_arguments)")


def _plain_and_ours(params: tuple[tuple[str, Any, str], ...], positional: tuple[str, ...]
                    ) -> tuple[list[Argument], list[Argument]]:
    def body(c: Any, **kwargs: Any) -> None:
        """A task."""

    sig = [inspect.Parameter("c", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    sig += [inspect.Parameter(p[0], inspect.Parameter.KEYWORD_ONLY, default=p[1]) for p in params]
    body.__signature__ = inspect.Signature(sig)  # type: ignore[attr-defined]
    plain = Task(body, name="plain", help={p[0]: p[2] for p in params}, positional=list(positional))
    ours = make_task(body, name="ours", params=params, positional=positional)
    return plain.get_arguments(), ours.get_arguments()[:len(params)]


def _fields(arg: Argument) -> tuple[Any, ...]:
    return (arg.names, arg.kind, arg.default, arg.help, arg.positional, arg.optional,
            arg.incrementable, arg.attr_name)


def test_a_tasks_own_options_are_named_as_invoke_names_them() -> None:
    """Dashes for underscores, the first free letter as short flag, the kind from the default."""
    params = (("start_only", False, "only start"), ("address", None, "an address"),
              ("keep_lines", 1000, "lines"), ("name", "", "a name"), ("sample", "", "clashes"),
              ("max_percent", 80.0, "percent"))
    plain, ours = _plain_and_ours(params, positional=("address",))
    for mine, theirs in zip(ours, plain, strict=True):
        # invoke shows a float option as INT too; ours casts it to float itself
        expected = _fields(theirs)
        got = _fields(mine)
        if theirs.kind is float:
            got = (*got[:1], float, *got[2:])
        assert got == expected, UPGRADE.format(version=invoke.__version__,
                                               what=f"how Task.get_arguments names {theirs!r}")


def test_the_shared_options_keep_their_short_flags_and_others_avoid_them() -> None:
    flags = {a.name: a.names for a in ns["restart"].get_arguments()}
    for name, *_ in COMMON:
        long = name.replace("_", "-")
        assert flags[name] == ((long, SHORT[name]) if name in SHORT else (long,))
    assert flags["service"] == ("service", "s")
    assert flags["start_only"] == ("start-only", "t")  # not -s, taken; never a shared letter
    assert flags["yes"] == ("yes", "y")


def test_each_parse_has_its_own_values() -> None:
    """The parser's copies are shallow; a value set in one parse is not seen by the next."""
    contexts = Collection(ns["restart"], ns["truncate-log"]).to_contexts()
    first = Parser(contexts=contexts, initial=ParserContext()).parse_argv(
        ["restart", "--service", "nginx", "-f", "2", "truncate-log", "--keep-lines", "x"])
    again = Parser(contexts=contexts, initial=ParserContext()).parse_argv(["restart"])
    assert first[1].args["service"].value == "nginx"
    assert first[1].args["forks"].value == 2
    assert again[1].args["service"].value == ""
    assert again[1].args["forks"].value == 5
    bad = first[2].args["keep_lines"].value
    assert bad.message == "--keep-lines must be a whole number, got 'x'"
    assert all(a.value == a.default for a in contexts[0].args.values())


def test_a_copied_task_is_equal_and_independent() -> None:
    task = ns["restart"]
    new = copy.deepcopy(task)
    assert new == task and new is not task
    new.help["service"] = "changed"
    assert task.help["service"] != "changed"
    assert [_fields(a) for a in new.get_arguments()] == [_fields(a) for a in task.get_arguments()]


def test_the_inventory_may_be_given_more_than_once_as_ansible_takes_it() -> None:
    contexts = Collection(ns["restart"]).to_contexts()
    parsed = Parser(contexts=contexts, initial=ParserContext()).parse_argv(
        ["restart", "-i", "a.yml", "--inventory", "b.yml,c.yml", "-i", "a.yml"])
    assert parsed[1].args["inventory"].value == ["a.yml", "b.yml,c.yml", "a.yml"]
    again = Parser(contexts=contexts, initial=ParserContext()).parse_argv(["restart"])
    assert again[1].args["inventory"].value == []
