"""Releases: a host's releases and their history, the three kinds of target, the rollback over all of them."""
