"""The command line: an Invoke collection (`ns`) and the `remediate` console script."""

from __future__ import annotations

from remediations.cli.tasks import build_namespace

ns = build_namespace()


def main() -> None:
    """Entry point of the `remediate` console script."""
    from invoke.program import Program

    from remediations import __version__

    Program(namespace=ns, version=__version__, name="remediate", binary="remediate").run()
