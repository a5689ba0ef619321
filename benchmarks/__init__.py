"""Benchmarks: the same remediation done by this library, ansible-playbook, pyinfra and Fabric.

`invoke bench` (see `benchmarks.tasks`) starts the bench hosts, times every tool on them
and writes `benchmarks/RESULTS.md`.
"""
