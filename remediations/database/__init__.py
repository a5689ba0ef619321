"""Databases behind a Laravel app: their facts, long queries stopped, migrations rolled back.

`access` says how SQL reaches the database (never a password in argv), `facts` parses
what it answers, `status`, `queries` and `migrations` hold the remediations.
"""

from __future__ import annotations

from remediations.database.migrations import migrations_rolled_back
from remediations.database.queries import long_queries_stopped
from remediations.database.status import database_status

__all__ = ["database_status", "long_queries_stopped", "migrations_rolled_back"]
