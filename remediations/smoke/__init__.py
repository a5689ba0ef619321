"""CI smoke tests: the pytest plugin, its fixtures, the results file, `invoke smoke`'s pytest session."""
