"""Several commands in one round trip, run for real by the controller's shell."""

from __future__ import annotations

from remediations.connections.batch import run_batch
from remediations.connections.local import LocalConnection
from remediations.connections.recording import RecordingConnection


def test_each_command_keeps_its_own_output_and_exit_code() -> None:
    res = LocalConnection().run_batch([
        ["printf", "a\nb"], ["sh", "-c", "echo out; echo err >&2"], ["printf", "%s", "x y"]])
    assert [(r.exit_code, r.stdout, r.stderr) for r in res] == [
        (0, "a\nb", ""), (0, "out\n", "err\n"), (0, "x y", "")]
    assert [r.command for r in res] == ["printf 'a\nb'", "sh -c 'echo out; echo err >&2'",
                                        "printf %s 'x y'"]


def test_the_batch_stops_after_the_first_failure() -> None:
    res = LocalConnection().run_batch([["true"], ["sh", "-c", "echo no >&2; exit 4"],
                                       ["touch", "/nonexistent/never"]])
    assert [r.exit_code for r in res] == [0, 4] and res[1].stderr == "no\n"


def test_a_shell_that_dies_mid_command_fails_that_command() -> None:
    # argv with a $0 is not inlined as a subshell: its $PPID is the batch shell
    res = LocalConnection().run_batch([["echo", "one"], ["sh", "-c", "kill -9 $PPID", "sh"],
                                       ["echo", "never"]])
    assert len(res) == 2 and res[0].stdout == "one\n" and res[1].failed


def test_quoting_survives_the_script() -> None:
    odd = "it's \"$HOME\" `x` \\ ;|&"
    (res,) = LocalConnection().run_batch([["printf", "%s", odd]])
    (one, two) = LocalConnection().run_batch([["printf", "%s", odd], ["printf", "%s", odd]])
    assert res.stdout == one.stdout == two.stdout == odd


def test_a_connection_without_batches_runs_one_by_one() -> None:
    class Plain:
        name = "p"

        def __init__(self) -> None:
            self.conn = RecordingConnection("p").on("false", exit_code=1)

        def run(self, argv, *, timeout=None, check=True):  # type: ignore[no-untyped-def]
            return self.conn.run(argv, timeout=timeout, check=check)

        def close(self) -> None: ...

    plain = Plain()
    res = run_batch(plain, [["true"], ["false"], ["true"]])  # type: ignore[arg-type]
    assert [r.exit_code for r in res] == [0, 1] and plain.conn.round_trips == 2


def test_an_inlined_script_keeps_its_own_exit_variables_and_arguments() -> None:
    res = LocalConnection().run_batch([
        ["sh", "-c", 'x=inner; set -- a b; echo "$#"; exit 0'],
        ["sh", "-c", 'echo "x=${x:-unset} n=$#"'],
        ["sh", "-c", "exit 7"],
        ["echo", "never"],
    ])
    assert [r.stdout for r in res] == ["2\n", "x=unset n=0\n", ""]
    assert res[2].exit_code == 7 and len(res) == 3
