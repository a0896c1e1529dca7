"""Benchmarks for ``linebox bench``: one row (name, module path, one-line help) per benchmark,
each module imported only when its benchmark runs (``linebox.commands.add_lazy_groups``).
Add a new benchmark's module and its row here."""

BENCHMARKS: tuple[tuple[str, str, str], ...] = (
    ("acd", "linebox.bench.acd", "ACD routing decision time with 200 agents and 1,000 waiting calls"),
    ("amd", "linebox.bench.amd", "answering-machine detection: CPU time per 20 ms frame"),
    ("acd-engine", "linebox.bench.acdengine", "per-tick time of the media loop with the ACD and voicemail busy"),
    ("contacts", "linebox.bench.contacts", "contact store: import 50,000 contacts, lookup by number"),
    ("callerid", "linebox.bench.callerid", "FSK caller ID receiver: real-time lines per CPU core"),
    ("dtmf", "linebox.bench.dtmf", "DTMF receiver: real-time channels per CPU core"),
    ("durability", "linebox.bench.durability",
     "kill the engine (SIGKILL) at random moments: rows lost, integrity, orphans, restart time"),
    ("echo", "linebox.bench.echo", "line echo canceller: real-time channels per CPU core"),
    ("echo-bridge", "linebox.bench.echobridge", "echo a bridged phone hears, line echo canceller on vs off"),
    ("engine", "linebox.bench.engine", "per-tick time of the media loop with every port in a call"),
    ("linecard", "linebox.bench.linecard", "line-card protocol parsing and emulator cost"),
    ("manager-observer", "linebox.bench.manager_observer", "per-tick cost of the manager's channel observer"),
    ("speech", "linebox.bench.speech", "speech recognition: accuracy and real-time factor"),
)
