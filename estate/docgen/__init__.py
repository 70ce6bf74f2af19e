"""Generators of the reference docs (configuration, policies); the suite fails when stale."""
