# cython: language_level=3
"""Compiled core of lighterfast (placeholder until the core lands)."""
