"""Deciding a scenario's expectations from what the observer saw.

Each ``expect_*`` step is checked after every tick until it holds or its timeout passes.
"Since" below is the time of the last action step before the expectation (the start of
the scenario if there was none): an expectation is about what that action caused.

- ``expect_state``: the port is in the state now, or entered it since;
- ``expect_tone``: the tone, recognised in the audio the port heard, is on now or started
  since;
- ``expect_digits``: the digits (as a substring) among those heard since: DTMF in the audio
  a phone heard, or, for an exchange line, the digits the exchange received (DTMF through
  its Q.24 receiver, or pulses);
- ``expect_caller_id``: a caller ID message with a good checksum decoded from the audio the
  phone heard since, with the given number / name / withheld (number absent: private);
- ``expect_bridge``: the two ports hear each other now, or were bridged since;
- ``expect_cdr``: a call record stored (committed to the database) during the scenario,
  not already claimed by an earlier ``expect_cdr``, with all the given fields;
- ``expect_speech``: the audio the port heard since contains the file's audio: the peak of
  the normalised cross-correlation (:func:`best_match`) reaches ``min_correlation``;
- ``expect_exchange``: the simulated exchange's view of a line now (its state, and whether
  the box holds the line seized);
- ``expect_idle``: no call in the switch, every port idle, nothing bridged;
- ``expect_log``: a switch log event since, with the given field values.

A check returns a :class:`Verdict`; a failed one says what was observed instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from drivers.audiofile import read_audio
from linebox.sim.observer import SAMPLES_PER_MS, Observer


@dataclass
class Verdict:
    passed: bool
    detail: str
    data: dict[str, Any] = field(default_factory=dict)


def seconds(ms: int | None) -> str:
    return "-" if ms is None else f"{ms / 1000:.2f} s"


# --------------------------------------------------------------------------- speech


def best_match(template: np.ndarray, heard: np.ndarray) -> tuple[float, int]:
    """(peak normalised cross-correlation, offset in samples) of ``template`` within ``heard``.

    Only full overlaps count; 1.0 means ``heard`` contains the template exactly (up to a
    gain). Computed with one FFT product; window energies with a running sum.
    """
    x = np.asarray(template, dtype=np.float64)
    h = np.asarray(heard, dtype=np.float64)
    n_x, n_h = len(x), len(h)
    norm_x = float(np.sqrt(np.dot(x, x)))
    if n_x == 0 or n_h < n_x or norm_x == 0.0:
        return 0.0, 0
    size = 1 << int(np.ceil(np.log2(n_h + n_x)))
    product = np.fft.rfft(h, size) * np.conj(np.fft.rfft(x, size))
    numerator = np.fft.irfft(product, size)[: n_h - n_x + 1]
    energy = np.concatenate(([0.0], np.cumsum(h * h)))
    window = np.sqrt(np.maximum(energy[n_x:] - energy[: n_h - n_x + 1], 0.0))
    floor = 1e-6 * norm_x  # windows of digital silence correlate with nothing
    correlation = np.where(window > floor, numerator / np.maximum(window, floor) / norm_x, 0.0)
    best = int(np.argmax(correlation))
    return float(correlation[best]), best


class SpeechSearch:
    """Incremental :func:`best_match`: each check only scans the windows not scanned yet."""

    def __init__(self, path: str) -> None:
        self.template = read_audio(path).astype(np.float64)
        self.best = 0.0
        self.best_sample: int | None = None
        self._scanned_to = 0  # first sample of the next window to scan

    def update(self, first_sample: int, heard: np.ndarray) -> None:
        n_x = len(self.template)
        start = max(self._scanned_to - first_sample, 0)
        region = heard[start:]
        if len(region) < n_x:
            return
        score, offset = best_match(self.template, region)
        if score > self.best:
            self.best, self.best_sample = score, first_sample + start + offset
        self._scanned_to = first_sample + start + len(region) - n_x + 1


# --------------------------------------------------------------------------- the checks


class Expectations:
    """Checks expectations against an :class:`Observer` and the appliance it watches."""

    def __init__(self, observer: Observer, app) -> None:
        self.obs = observer
        self.app = app
        self.claimed_cdrs: set[str] = set()
        self._speech: dict[int, SpeechSearch] = {}  # step index -> its search

    def check(self, kind: str, index: int, params: dict[str, Any], since_ms: int) -> Verdict:
        return getattr(self, f"_{kind}")(params, since_ms, index)

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
        for entry in port.tones:
            if entry["tone"] == p["tone"] and (entry["end_ms"] is None or entry["start_ms"] >= since):
                return Verdict(True, f"port {p['port']} heard {p['tone']} from {seconds(entry['start_ms'])}",
                               {"tone": dict(entry)})
        heard = [f"{e['tone']} {seconds(e['start_ms'])}-{seconds(e['end_ms'])}" for e in port.tones
                 if e["end_ms"] is None or e["end_ms"] >= since]
        box = self.obs._last_states[p["port"]][2]
        return Verdict(False, f"port {p['port']} did not hear {p['tone']} (tones recognised in its audio since "
                              f"{seconds(since)}: {', '.join(heard) or 'none'}; the box says it plays: {box or 'nothing'})")

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
        wanted = {k: v for k, v in p.items() if k != "timeout_ms" and v is not None}
        records = list(self.app.cdr.records())
        for record in records:
            if record.uniqueid in self.claimed_cdrs:
                continue
            if all(_cdr_field_matches(record, key, value) for key, value in wanted.items()):
                self.claimed_cdrs.add(record.uniqueid)
                return Verdict(True, f"call record {record.uniqueid} {record.disposition}", {"cdr": cdr_dict(record)})
        others = "; ".join(f"{r.uniqueid} {r.context} {r.disposition} {r.src_port}->{r.dst_port} "
                           f"{r.hangup_cause}{' (claimed)' if r.uniqueid in self.claimed_cdrs else ''}"
                           for r in records[-5:])
        return Verdict(False, f"no call record with {_fields_text(wanted)} (records: {others or 'none'})")

    def _expect_speech(self, p: dict[str, Any], since: int, index: int) -> Verdict:
        search = self._speech.get(index)
        if search is None:
            search = self._speech[index] = SpeechSearch(p["file"])
        first, heard = self.obs.heard_since(p["port"], since)
        search.update(first, heard)
        delay = None if search.best_sample is None else search.best_sample // SAMPLES_PER_MS
        data = {"correlation": round(search.best, 4), "at_ms": delay}
        if search.best >= p["min_correlation"]:
            return Verdict(True, f"port {p['port']} heard the speech at {seconds(delay)} "
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
        events = [e for e in self.obs.events if e["ms"] >= since and e["event"] == p["event"]]
        for event in events:
            if all(_log_value(event.get(key)) == value for key, value in p["fields"].items()):
                return Verdict(True, f"log event {p['event']} at {seconds(event['ms'])}", {"event": event})
        seen = "; ".join(" ".join(f"{k}={v}" for k, v in e.items() if k not in ("ms", "component")) for e in events)
        return Verdict(False, f"no log event {p['event']} with {_fields_text(p['fields'])} since {seconds(since)} "
                              f"(seen: {seen or 'none'})")


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
    if key == "min_billsec":
        return record.billsec >= value
    if key == "max_billsec":
        return record.billsec <= value
    actual = getattr(record, key)
    return (str(actual) if not isinstance(value, int) else actual) == value


def cdr_dict(record) -> dict[str, Any]:
    """A call record for the JSON report (with Asterisk's duration and billsec)."""
    return {
        "uniqueid": record.uniqueid, "context": record.context, "disposition": str(record.disposition),
        "hangup_by": str(record.hangup_by), "hangup_cause": record.hangup_cause,
        "caller_number": record.caller_number, "caller_name": record.caller_name, "dst": record.dst,
        "src_port": record.src_port, "src_extension": record.src_extension,
        "dst_port": record.dst_port, "dst_extension": record.dst_extension,
        "start": record.start, "answer": record.answer, "end": record.end,
        "duration": record.duration, "billsec": record.billsec,
    }
