"""A connection that records commands and answers from a script: for unit tests."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from remediations.connections.base import BaseConnection, CommandResult

Reply = CommandResult | Callable[[tuple[str, ...]], CommandResult]


@dataclass
class _Rule:
    pattern: re.Pattern[str]
    reply: Reply
    times: int | None


class RecordingConnection(BaseConnection):
    """Answers each command with the first rule whose regex matches it.

    `conn.on(r"^systemctl show", stdout="ActiveState=active")` then
    `conn.commands` lists every argv run, in order; `conn.round_trips` counts what
    a real connection would send (a batch is one). Unmatched commands exit 0.
    """

    def __init__(self, name: str = "host1", *, become: bool = False) -> None:
        super().__init__(name, become=become)
        self.commands: list[tuple[str, ...]] = []
        self.round_trips = 0
        self._batching = False
        self._rules: list[_Rule] = []

    def on(self, pattern: str, *, stdout: str = "", stderr: str = "", exit_code: int = 0,
           reply: Callable[[tuple[str, ...]], CommandResult] | None = None,
           times: int | None = None) -> RecordingConnection:
        answer: Reply = reply or CommandResult("", exit_code, stdout, stderr)
        self._rules.append(_Rule(re.compile(pattern), answer, times))
        return self

    def _execute(self, argv: tuple[str, ...], timeout: float | None,
                 command: str) -> tuple[int, str, str]:
        self.commands.append(argv)
        self.round_trips += not self._batching
        line = shlex.join(argv)
        for rule in self._rules:
            if rule.times == 0 or not rule.pattern.search(line):
                continue
            if rule.times is not None:
                rule.times -= 1
            res = rule.reply(argv) if callable(rule.reply) else rule.reply
            return res.exit_code, res.stdout, res.stderr
        return 0, "", ""

    def run_batch(self, argvs: Sequence[Sequence[str]], *,
                  timeout: float | None = None) -> list[CommandResult]:
        """Each command answered and recorded on its own, counted as one round trip."""
        self.round_trips += 1
        self._batching = True
        results: list[CommandResult] = []
        try:
            for argv in argvs:
                results.append(self.run(argv, timeout=timeout, check=False))
                if results[-1].failed:
                    break
        finally:
            self._batching = False
        return results

    @property
    def command_lines(self) -> list[str]:
        return [shlex.join(a) for a in self.commands]

    def ran(self, *argv: str) -> bool:
        return tuple(argv) in self.commands

    def commands_matching(self, pattern: str) -> Sequence[tuple[str, ...]]:
        rx = re.compile(pattern)
        return [a for a in self.commands if rx.search(shlex.join(a))]
