"""Benchmarks for ``linebox bench``; add a new benchmark's module here."""

from linebox.bench import (
    acd,
    acdengine,
    amd,
    callerid,
    dtmf,
    durability,
    echo,
    echobridge,
    engine,
    linecard,
    speech,
)

BENCHMARKS: tuple = (acd, acdengine, amd, callerid, dtmf, durability, echo, echobridge, engine, linecard, speech)
