"""Runbooks: ordered compositions of remediations that verify their end state."""
