"""Deciding a scenario's expectations from what the observer saw.

Each ``expect_*`` step is checked after every tick until it holds or its timeout passes.
"Since" below is the time of the last action step before the expectation (the start of
the scenario if there was none): an expectation is about what that action caused.

- ``expect_state``: the port is in the state now, or entered it since;
- ``expect_tone``: the tone, recognised in the audio the port heard, started since, or was
  recognised before and still sounds after the action: its frequencies are heard (frame by
  frame, :class:`~linebox.sim.audiocheck.ToneSounding`) from :data:`REACTION_MS` after the
  action on, and no other tone took its place. A tone that stopped with the action (the
  caller's ringback when the callee answers) does not count, though its cadence analysis
  cannot tell yet that it has ended. ``stutter`` is the message-waiting dial tone;
- ``expect_digits``: the digits (as a substring) among those heard since: DTMF in the audio
  a phone heard, or, for an exchange line, the digits the exchange received (DTMF through
  its Q.24 receiver, or pulses);
- ``expect_caller_id``: a caller ID message with a good checksum decoded from the audio the
  phone heard since, with the given number / name / withheld (number absent: private);
- ``expect_mwi``: a message-waiting message (the on-hook FSK message that sets a phone's
  lamp) decoded from the audio the phone heard since, with the given lamp state;
- ``expect_bridge``: the two ports hear each other now, or were bridged since;
- ``expect_cdr``: a call record stored (committed to the database) during the scenario,
  not already claimed by an earlier ``expect_cdr``, with all the given fields; ``name``
  labels it, and a later ``transfer_of`` names the record a transferred call continues;
- ``expect_speech``: the audio the port heard since contains the file's audio: the peak of
  the normalised cross-correlation (:func:`best_match`) reaches ``min_correlation``;
- ``expect_exchange``: the simulated exchange's view of a line now (its state, and whether
  the box holds the line seized);
- ``expect_idle``: no call in the switch, every port idle, nothing bridged;
- ``expect_log``: a log event of any component (or of ``component``) since, with the given
  field values;
- ``expect_queue_log``: a queue_log line written since, with the event, queue, agent and
  data fields given.

The negatives (``expect_not_state``, ``expect_not_tone``, ``expect_no_bridge``,
``expect_no_log``, ``expect_no_queue_log``) are the positive checks turned round: run with
"since" the start of the step, they must not hold at any tick during ``for_ms``
(:data:`NEGATIVES`).

A check returns a :class:`Verdict`; a failed one says what was observed instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from firmware.cdr import channel
from linebox.sim.audiocheck import (
    SAMPLES_PER_MS,
    STUTTER,
    SpeechSearch,
    ToneSounding,
    best_match,
    tone_frequencies,
)
from linebox.sim.observer import Observer

__all__ = ["NEGATIVES", "Expectations", "SpeechSearch", "Verdict", "best_match", "cdr_dict"]

REACTION_MS = 100  # a tone heard this long after the action is not just the end of one the action stopped
# negative step -> the positive check that must not hold during its interval
NEGATIVES = {
    "expect_not_state": "expect_state",
    "expect_not_tone": "expect_tone",
    "expect_no_bridge": "expect_bridge",
    "expect_no_log": "expect_log",
    "expect_no_queue_log": "expect_queue_log",
}


@dataclass
class Verdict:
    passed: bool
    detail: str
    data: dict[str, Any] = field(default_factory=dict)


def seconds(ms: int | None) -> str:
    return "-" if ms is None else f"{ms / 1000:.2f} s"


class Expectations:
    """Checks expectations against an :class:`Observer` and the appliance it watches."""

    def __init__(self, observer: Observer, app) -> None:
        self.obs = observer
        self.app = app
        self.claimed_cdrs: set[str] = set()
        self.named_cdrs: dict[str, str] = {}  # expect_cdr name -> the uniqueid of the record it matched
        self._speech: dict[int, SpeechSearch] = {}  # step index -> its search
        self._sounding: dict[tuple[int, int], ToneSounding] = {}  # (step index, since) -> frame search

    def check(self, kind: str, index: int, params: dict[str, Any], since_ms: int) -> Verdict:
        return getattr(self, f"_{kind}")(params, since_ms, index)

    def check_absent(self, kind: str, index: int, params: dict[str, Any], from_ms: int) -> Verdict:
        """A negative step at one tick: passes while its positive check does not hold."""
        positive = self.check(NEGATIVES[kind], index, params, from_ms)
        if positive.passed:
            return Verdict(False, f"{positive.detail} (at {seconds(self.obs.now_ms)}; it must not since "
                                  f"{seconds(from_ms)})", positive.data)
        return Verdict(True, "not seen", {})

    def _expect_state(self, p: dict[str, Any], since: int, index: int) -> Verdict:
        port = self.obs.ports[p["port"]]
        now = self.obs.state(p["port"])
        entered = [e for e in port.states if e["ms"] >= since and e["state"] == p["state"]]
        if now == p["state"] or entered:
            return Verdict(True, f"port {p['port']} {p['state']}", {"state_now": now})
        seen = ", ".join(f"{e['state']} at {seconds(e['ms'])}" for e in port.states if e["ms"] >= since)
        return Verdict(False, f"port {p['port']} is {now}, not {p['state']} (states since {seconds(since)}: "
                              f"{seen or 'no change'})")

    def _expect_tone(self, p: dict[str, Any], since: int, index: int) -> Verdict:
        port = self.obs.ports[p["port"]]
        name = p["tone"]
        for entry in port.tones:
            if entry["tone"] != name:
                continue
            if entry["start_ms"] >= since:
                return Verdict(True, f"port {p['port']} heard {name} from {seconds(entry['start_ms'])}",
                               {"tone": dict(entry)})
            if self._still_sounding(p["port"], entry, since, index):
                return Verdict(True, f"port {p['port']} heard {name} (on from {seconds(entry['start_ms'])}, "
                                     f"still sounding after {seconds(since)})", {"tone": dict(entry)})
        heard = [f"{e['tone']} {seconds(e['start_ms'])}-{seconds(e['end_ms'])}" for e in port.tones
                 if e["end_ms"] is None or e["end_ms"] >= since]
        box = self.obs.box_tone(p["port"])
        return Verdict(False, f"port {p['port']} did not hear {name} (tones recognised in its audio since "
                              f"{seconds(since)}: {', '.join(heard) or 'none'}; the box says it plays: {box or 'nothing'})")

    def _still_sounding(self, port_number: int, entry: dict[str, Any], since: int, index: int) -> bool:
        """A tone recognised before ``since``: do its frequencies still sound after it?"""
        if entry["tone"] == STUTTER:  # recorded once its bursts have ended: never on at a later action
            return False
        after = since + REACTION_MS
        if entry["end_ms"] is not None and entry["end_ms"] <= after:
            return False
        port = self.obs.ports[port_number]
        if any(other["tone"] != entry["tone"] and other["start_ms"] >= since for other in port.tones):
            return False  # another tone took its place
        search = self._sounding.get((index, since))
        if search is None:
            search = self._sounding[(index, since)] = ToneSounding(tone_frequencies(self.obs.plan, entry["tone"]),
                                                                  after)
        search.update(*self.obs.heard_since(port_number, after))
        return search.sounding_ms is not None and (entry["end_ms"] is None or search.sounding_ms < entry["end_ms"])

    def _expect_digits(self, p: dict[str, Any], since: int, index: int) -> Verdict:
        port = self.obs.ports[p["port"]]
        source = port.exchange_digits if port.kind == "fxo" else port.digits
        what = "the exchange received" if port.kind == "fxo" else "heard (DTMF)"
        digits = "".join(digit for ms, digit in source if ms >= since)
        if p["digits"] in digits:
            return Verdict(True, f"port {p['port']} {what} {digits}", {"digits": digits})
        return Verdict(False, f"port {p['port']} {what} {digits or 'nothing'} since {seconds(since)}, "
                              f"not {p['digits']}", {"digits": digits})

    def _expect_caller_id(self, p: dict[str, Any], since: int, index: int) -> Verdict:
        port = self.obs.ports[p["port"]]
        heard = [e for e in port.caller_ids if e["ms"] >= since]
        for entry in heard:
            if not entry["checksum_ok"]:
                continue
            if p["number"] and entry.get("number") != p["number"]:
                continue
            if p["name"] and entry.get("name") != p["name"]:
                continue
            if p["withheld"] and (entry.get("number") or entry.get("number_absence") != "private"):
                continue
            return Verdict(True, f"port {p['port']} showed {_caller_text(entry)}", {"caller_id": entry})
        shown = "; ".join(_caller_text(e) for e in heard) or "none"
        return Verdict(False, f"port {p['port']} did not show the expected caller ID (decoded since "
                              f"{seconds(since)}: {shown})")

    def _expect_mwi(self, p: dict[str, Any], since: int, index: int) -> Verdict:
        heard = [e for e in self.obs.ports[p["port"]].mwi if e["ms"] >= since]
        for entry in heard:
            if entry["lamp"] == p["lamp"]:
                return Verdict(True, f"port {p['port']} got message waiting {p['lamp']} at {seconds(entry['ms'])}",
                               {"mwi": dict(entry)})
        shown = ", ".join(f"{e['lamp']} at {seconds(e['ms'])}" for e in heard) or "none"
        return Verdict(False, f"port {p['port']} got no message waiting {p['lamp']} (messages decoded since "
                              f"{seconds(since)}: {shown})")

    def _expect_bridge(self, p: dict[str, Any], since: int, index: int) -> Verdict:
        pair = tuple(p["ports"])
        if pair in self.obs.bridged_now() or any(
            tuple(b["ports"]) == pair and b["start_ms"] >= since for b in self.obs.bridges
        ):
            return Verdict(True, f"ports {pair[0]} and {pair[1]} bridged")
        now = ", ".join(f"{a}-{b}" for a, b in sorted(self.obs.bridged_now()))
        return Verdict(False, f"ports {pair[0]} and {pair[1]} are not bridged (bridged now: {now or 'none'})")

    def _expect_cdr(self, p: dict[str, Any], since: int, index: int) -> Verdict:
        self.app.cdr_writer.drain()
        wanted = {k: v for k, v in p.items() if k not in ("timeout_ms", "name") and v is not None}
        if "transfer_of" in wanted:
            wanted["userfield"] = f"transfer {self.named_cdrs[wanted.pop('transfer_of')]}"
        records = list(self.app.cdr.records())
        for record in records:
            if record.uniqueid in self.claimed_cdrs:
                continue
            if all(_cdr_field_matches(record, key, value) for key, value in wanted.items()):
                self.claimed_cdrs.add(record.uniqueid)
                if p.get("name"):
                    self.named_cdrs[p["name"]] = record.uniqueid
                return Verdict(True, f"call record {record.uniqueid} {record.disposition}", {"cdr": cdr_dict(record)})
        others = "; ".join(f"{r.uniqueid} {r.context} {r.disposition} {r.src_port}->{r.dst_port} "
                           f"{r.hangup_cause}{f' userfield {r.userfield!r}' if r.userfield else ''}"
                           f"{' (claimed)' if r.uniqueid in self.claimed_cdrs else ''}"
                           for r in records[-5:])
        return Verdict(False, f"no call record with {_fields_text(wanted)} (records: {others or 'none'})")

    def _expect_speech(self, p: dict[str, Any], since: int, index: int) -> Verdict:
        search = self._speech.get(index)
        if search is None:
            search = self._speech[index] = SpeechSearch(p["file"])
        first, heard = self.obs.heard_since(p["port"], since)
        search.update(first, heard)
        heard_at = None if search.best_sample is None else search.best_sample // SAMPLES_PER_MS
        data = {"correlation": round(search.best, 4), "match_ms": heard_at}
        if search.best >= p["min_correlation"]:
            return Verdict(True, f"port {p['port']} heard the speech at {seconds(heard_at)} "
                                 f"(correlation {search.best:.3f})", data)
        return Verdict(False, f"port {p['port']} did not hear the speech of {p['file']} (best correlation "
                              f"{search.best:.3f} < {p['min_correlation']})", data)

    def _expect_exchange(self, p: dict[str, Any], since: int, index: int) -> Verdict:
        line = self.app.world.line(p["port"])
        state, seized = str(line.state), bool(line.box_offhook)
        ok = (p["state"] is None or state == p["state"]) and (p["seized"] is None or seized == p["seized"])
        text = f"the exchange sees line {p['port']} {state}, {'seized' if seized else 'not seized'} by the box"
        return Verdict(ok, text, {"state": state, "seized": seized})

    def _expect_idle(self, p: dict[str, Any], since: int, index: int) -> Verdict:
        busy = [f"{entry['port']} {entry['state']}" for entry in self.app.switch.snapshot() if entry["state"] != "idle"]
        calls = sorted(self.app.switch.calls)
        bridges = self.app.switch.mixer.bridged_pairs()
        if not busy and not calls and not bridges:
            return Verdict(True, "every port idle, no call, nothing bridged")
        return Verdict(False, f"not idle: ports {', '.join(busy) or 'idle'}; calls {calls or 'none'}; "
                              f"bridges {bridges or 'none'}")

    def _expect_log(self, p: dict[str, Any], since: int, index: int) -> Verdict:
        events = [e for e in self.obs.events if e["ms"] >= since and e["event"] == p["event"]
                  and (p["component"] is None or e["component"] == p["component"])]
        for event in events:
            if all(_log_value(event.get(key)) == value for key, value in p["fields"].items()):
                return Verdict(True, f"log event {event['component']} {p['event']} at {seconds(event['ms'])}",
                               {"event": event})
        seen = "; ".join(" ".join(f"{k}={v}" for k, v in e.items() if k not in ("ms", "component")) for e in events)
        return Verdict(False, f"no log event {p['event']} with {_fields_text(p['fields'])} since {seconds(since)} "
                              f"(seen: {seen or 'none'})")

    def _expect_queue_log(self, p: dict[str, Any], since: int, index: int) -> Verdict:
        self.obs.poll_queue_log()
        lines = [e for e in self.obs.queue_log if e["ms"] >= since and e["event"] == p["event"]]
        for line in lines:
            if all(line[key] == p[key] for key in ("queue", "agent") if p[key] is not None) and all(
                    line["fields"].get(name) == value for name, value in p["fields"].items()):
                return Verdict(True, f"queue_log {_queue_line_text(line)} at {seconds(line['ms'])}",
                               {"queue_log": line})
        wanted = {**{k: p[k] for k in ("queue", "agent") if p[k] is not None}, **p["fields"]}
        seen = "; ".join(_queue_line_text(e) for e in lines[-5:])
        return Verdict(False, f"no queue_log {p['event']} with {_fields_text(wanted)} since {seconds(since)} "
                              f"(seen: {seen or 'none'})")


def _queue_line_text(line: dict[str, Any]) -> str:
    return "|".join((line["callid"], line["queue"], line["agent"], line["event"], *line["data"]))


def _log_value(value: Any) -> str:
    if value is None:
        return ""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _caller_text(entry: dict[str, Any]) -> str:
    parts = [entry.get("number") or (f"number {entry['number_absence']}" if entry.get("number_absence") else "no number"),
             entry.get("name") or (f"name {entry['name_absence']}" if entry.get("name_absence") else "no name")]
    if not entry["checksum_ok"]:
        parts.append("damaged")
    return f"{' / '.join(parts)} at {seconds(entry['ms'])}"


def _fields_text(fields: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in fields.items()) or "any fields"


def _cdr_field_matches(record, key: str, value: Any) -> bool:
    if key == "answered":
        return (record.answer is not None) == value
    if key in ("min_billsec", "max_billsec", "min_duration", "max_duration"):
        actual = record.billsec if key.endswith("billsec") else record.duration
        return actual >= value if key.startswith("min") else actual <= value
    if key == "channel":
        return channel(record.src_port, record.src_extension) == value
    if key == "dstchannel":
        return channel(record.dst_port, record.dst_extension) == value
    actual = getattr(record, key)
    return (str(actual) if not isinstance(value, int) else actual) == value


def cdr_dict(record) -> dict[str, Any]:
    """A call record for the JSON report (with Asterisk's duration, billsec and channels)."""
    return {
        "uniqueid": record.uniqueid, "context": record.context, "disposition": str(record.disposition),
        "hangup_by": str(record.hangup_by), "hangup_cause": record.hangup_cause,
        "caller_number": record.caller_number, "caller_name": record.caller_name, "dst": record.dst,
        "src_port": record.src_port, "src_extension": record.src_extension,
        "dst_port": record.dst_port, "dst_extension": record.dst_extension,
        "channel": channel(record.src_port, record.src_extension),
        "dstchannel": channel(record.dst_port, record.dst_extension),
        "start": record.start, "answer": record.answer, "end": record.end,
        "duration": record.duration, "billsec": record.billsec,
        "lastapp": record.lastapp, "lastdata": record.lastdata, "accountcode": record.accountcode,
        "amaflags": str(record.amaflags), "userfield": record.userfield,
    }
