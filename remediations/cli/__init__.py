"""The command line: an Invoke collection (`ns`) and the `remediate` console script."""

from __future__ import annotations

from typing import Any

from remediations.cli.tasks import build_namespace

__all__ = ["build_namespace", "main", "ns"]


def __getattr__(name: str) -> Any:
    # `ns` is built on first use, once: tasks.py builds its own from `build_namespace`,
    # and building one it never uses was a tenth of `invoke --list`.
    if name == "ns":
        globals()["ns"] = namespace = build_namespace()
        return namespace
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Entry point of the `remediate` console script."""
    from invoke.program import Program

    from remediations import __version__

    Program(namespace=__getattr__("ns"), version=__version__, name="remediate",
            binary="remediate").run()
