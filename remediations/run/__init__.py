"""A run: what a remediation receives (`Target`), `apply()`, once-per-run markers, host locks, the runner, its events and reporters."""
