"""Benchmarks for ``linebox bench``; add a new benchmark's module here."""

from linebox.bench import acd, callerid, dtmf, echo, engine, linecard

BENCHMARKS: tuple = (acd, callerid, dtmf, echo, engine, linecard)
