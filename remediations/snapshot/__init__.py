"""`triage`: one read-only snapshot per host, on every kind of target, with what looks wrong first."""

from remediations.snapshot.core import triage

__all__ = ["triage"]
