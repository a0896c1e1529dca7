"""Benchmarks for ``linebox bench``; add a new benchmark's module here."""

from linebox.bench import acd, callerid, engine, linecard

BENCHMARKS: tuple = (acd, callerid, engine, linecard)
