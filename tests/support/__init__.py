"""Helpers for tests that run real processes and a real broker."""
