"""Benchmarks for ``linebox bench``; add a new benchmark's module here."""

from linebox.bench import acd, callerid

BENCHMARKS: tuple = (acd, callerid)
