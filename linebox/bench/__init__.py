"""Benchmarks for ``linebox bench``; add a new benchmark's module here."""

BENCHMARKS: tuple = ()
