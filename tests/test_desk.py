"""The agent desk's parts against fakes: script filling, the screen pop's lookup, disposition
checks and their queue_log line, wrap-up keys, the tracker, the call-record table, and the
configuration's ``desk:`` block (issue 14)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from firmware import FirmwareError
from firmware.acd.queue_log import format_record, parse_line
from firmware.cdr import CallDisposition, CdrStore
from firmware.config import from_dict, to_dict
from firmware.config.demo import DEMO_DESK, demo_config
from firmware.config.model import Contact, DispositionCode, QueueDesk
from firmware.contacts.store import ContactStore
from firmware.desk.dispositions import make_disposition, queue_log_record
from firmware.desk.keys import MAX_TRIES, KeyEntry, KeyResult
from firmware.desk.lookup import find_contact
from firmware.desk.script import UNKNOWN, caller_values, fill_script
from firmware.desk.tracker import DeskTracker
from firmware.engine.calls import Leg

NOW = 1_765_000_000.0
ANN = Contact("Ann Lee", numbers=("2125550101",), account="4711", fields=(("plan", "gold"),))
BOB = Contact("Bob Roe", numbers=("2125550102",), account="815")


# ----------------------------------------------------------------------------- script

def test_script_is_filled_with_the_contact_the_number_and_ivr_variables():
    values = caller_values(ANN, "2125550101", {"order": "A17"}, queue="support", agent="1001")
    text = "Hi {name} ({number}), account {account}, plan {field.plan}, order {var.order}, {queue}/{agent}"
    assert fill_script(text, values) == ("Hi Ann Lee (2125550101), account 4711, plan gold, order A17, "
                                         "support/1001")


def test_script_shows_unknown_values_as_missing_not_blank():
    values = caller_values(None, "", {}, queue="support")
    assert fill_script("Hi {name}, {number}, {field.plan}, {var.order}", values) == \
        f"Hi {UNKNOWN}, {UNKNOWN}, {UNKNOWN}, {UNKNOWN}"


def test_an_account_the_ivr_collected_fills_account_without_a_contact():
    assert fill_script("{account}", caller_values(None, "5", {"account": "99"})) == "99"


# ----------------------------------------------------------------------------- lookup

@pytest.mark.parametrize(("number", "variables", "expected"), [
    ("2125550101", {}, ANN),  # by caller ID
    ("", {"account": "815"}, BOB),  # by the account the IVR collected
    ("2125550101", {"account": "815"}, BOB),  # what the caller entered wins over the line's number
    ("", {"acct": "4711"}, ANN),  # any collected value that is an account
    ("999", {"account": "0"}, None),  # unknown caller
    ("", {}, None),
])
def test_screen_pop_finds_the_contact(tmp_path, number, variables, expected):
    with ContactStore(tmp_path / "linebox.db") as contacts:
        contacts.add([ANN, BOB], "us")
        found = find_contact(contacts, "us", number, variables)
    assert (found.name, found.account, found.fields) == (expected.name, expected.account, expected.fields) \
        if expected is not None else found is None


# ----------------------------------------------------------------------------- dispositions

def _make(code="1", callback_at=None, note="", desk=DEMO_DESK):
    return make_disposition(desk, uniqueid="1765000000.1.7", queue="support", agent="1001",
                            caller_number="2125550101", code=code, note=note, callback_at=callback_at,
                            source="page", now=NOW)


def test_a_known_code_is_recorded_with_its_label_and_flags():
    entry = _make("3", note="  asked to be removed ")
    assert (entry.label, entry.do_not_call, entry.note, entry.entered) == ("do not call", True, "asked to be removed",
                                                                          NOW)


@pytest.mark.parametrize(("code", "callback_at", "note", "why"), [
    ("9", None, "", "not a code of queue support"),
    ("1", NOW + 3600, "", "takes no callback date"),
    ("2", NOW - 1, "", "in the future"),
    ("2", NOW, "", "in the future"),
    ("2", NOW + 367 * 86400, "", "within a year"),
    ("1", None, "x" * 501, "at most 500"),
])
def test_bad_dispositions_are_refused_with_one_line(code, callback_at, note, why):
    with pytest.raises(FirmwareError, match=why):
        _make(code, callback_at, note)


def test_the_callback_edge_a_year_ahead_is_taken():
    assert _make("2", NOW + 366 * 86400).callback_at == NOW + 366 * 86400


def test_queue_log_line_round_trips():
    entry = _make("2", NOW + 86400)
    line = format_record(queue_log_record(entry))
    assert line == f"{int(NOW)}|1765000000.1.7|support|1001|DISPOSITION|2|call back|{int(NOW) + 86400}|0|page"
    record = parse_line(line)
    assert record.field("code") == "2" and record.field("dnc") == "0"


# ----------------------------------------------------------------------------- wrap-up keys

def test_keys_a_code_then_hash():
    entry = KeyEntry({"1", "12"})
    assert [entry.key(k) for k in "12#"] == [(KeyResult.MORE, ""), (KeyResult.MORE, ""),
                                             (KeyResult.ACCEPTED, "12")]


def test_a_wrong_code_is_refused_and_may_be_keyed_again_until_the_tries_run_out():
    entry = KeyEntry({"1"})
    results = []
    for _ in range(MAX_TRIES):
        entry.key("7")
        results.append(entry.key("#")[0])
    assert results == [KeyResult.REFUSED] * (MAX_TRIES - 1) + [KeyResult.GAVE_UP]


def test_star_clears_and_too_many_digits_are_refused():
    entry = KeyEntry({"1"})
    entry.key("9")
    entry.key("*")
    assert [entry.key(k)[0] for k in "1#"] == [KeyResult.MORE, KeyResult.ACCEPTED]
    entry = KeyEntry({"1234"})
    assert [entry.key(k)[0] for k in "12345"] == [KeyResult.MORE] * 4 + [KeyResult.REFUSED]
    assert entry.key("#")[0] is KeyResult.REFUSED  # nothing keyed is no code either


# ----------------------------------------------------------------------------- tracker

class FakeDesk:
    """The tracker's neighbours: a port state, what the phone was told, what was stored."""

    def __init__(self, desk: QueueDesk = DEMO_DESK) -> None:
        self.leg = Leg.FAILED
        self.said: list[list[str]] = []
        self.stored: list[CallDisposition] = []
        self.logged = []
        self.booked = []
        self.tracker = DeskTracker(queue_desk=lambda name: desk, agent_port=lambda agent: 4,
                                   agent_state=lambda agent: ("wrapup", ""), say=lambda port, words:
                                   self.said.append(words), state_of=lambda port: self.leg,
                                   record=self.stored.append, queue_log=self.logged.append,
                                   schedule_callback=lambda *args: self.booked.append(args) or True)

    def call(self, uniqueid="u1", number="2125550101", end=True):
        self.tracker.offered("1001", uniqueid, "support", number, "", {"account": "4711"}, NOW)
        self.tracker.connected("1001", uniqueid)
        if end:
            self.tracker.ended("1001", uniqueid)


def test_tracker_follows_offer_answer_end_and_bumps_its_version():
    fake = FakeDesk()
    versions = [fake.tracker.version]
    fake.tracker.offered("1001", "u1", "support", "2125550101", "", {"account": "4711"}, NOW)
    versions.append(fake.tracker.version)
    assert fake.tracker.rows(["1001"])[0]["call"]["phase"] == "offered"
    fake.tracker.connected("1001", "u1")
    versions.append(fake.tracker.version)
    fake.tracker.ended("1001", "u1")
    versions.append(fake.tracker.version)
    assert versions == sorted(set(versions))
    row = fake.tracker.rows(["1001"])[0]
    assert row["call"]["phase"] == "ended" and row["call"]["variables"] == {"account": "4711"}


def test_withdrawn_and_forgotten_offers_leave_the_desk():
    fake = FakeDesk()
    fake.tracker.offered("1001", "u1", "support", "1", "", {}, NOW)
    fake.tracker.withdrawn("1001", "u1")
    assert fake.tracker.rows(["1001"])[0]["call"] is None
    fake.tracker.offered("1001", "u2", "support", "1", "", {}, NOW)
    fake.tracker.forget("u2")
    assert fake.tracker.rows(["1001"])[0]["call"] is None


def test_a_queue_without_codes_owes_no_disposition():
    fake = FakeDesk(QueueDesk())
    fake.call()
    assert fake.tracker.rows(["1001"])[0]["call"] is None
    assert not fake.tracker.on_digit("1001", 4, "1", NOW)  # the keys go to the dial plan


def test_dtmf_disposition_is_stored_logged_and_confirmed():
    fake = FakeDesk()
    fake.call()
    assert [fake.tracker.on_digit("1001", 4, k, NOW + 5) for k in "1#"] == [True, True]
    (stored,) = fake.stored
    assert (stored.code, stored.source, stored.uniqueid, stored.caller_number) == ("1", "dtmf", "u1", "2125550101")
    assert fake.logged[0].event == "DISPOSITION"
    assert fake.said == [["digits/1", "queue-thankyou"]]
    assert not fake.tracker.on_digit("1001", 4, "2", NOW + 6)  # nothing owed any more: the dial plan's


def test_wrong_dtmf_code_gets_the_error_beep_and_a_retry_works():
    fake = FakeDesk()
    fake.call()
    for key in "9#":
        fake.tracker.on_digit("1001", 4, key, NOW)
    assert fake.said == [["beeperr"]] and not fake.stored
    for key in "3#":
        fake.tracker.on_digit("1001", 4, key, NOW)
    assert fake.stored[0].do_not_call and fake.said[-1] == ["digits/3", "queue-thankyou"]


def test_keys_during_the_call_or_a_feature_code_are_not_the_dispositions():
    fake = FakeDesk()
    fake.call(end=False)
    assert not fake.tracker.on_digit("1001", 4, "1", NOW)  # connected: the caller's business
    fake.tracker.ended("1001", "u1")
    fake.leg = Leg.CONNECTED
    assert not fake.tracker.on_digit("1001", 4, "1", NOW)
    fake.leg = Leg.DIALTONE
    assert not fake.tracker.on_digit("1001", 4, "*", NOW)  # *49: ready, through the dial plan


def test_a_callback_the_acd_places_is_on_the_desk_like_an_inbound_call():
    """The ACD's callbacks tell the tracker the same events (firmware/acdengine/callbacks.py):
    kind ``callback``; answered and ended, a disposition is owed; a dial-out that reached nobody
    leaves the desk with nothing owed."""
    fake = FakeDesk()
    fake.tracker.offered("1001", "cb1", "support", "2125550101", "", {"account": "4711"}, NOW, kind="callback")
    (row,) = fake.tracker.rows(["1001"])
    assert (row["call"]["kind"], row["call"]["phase"], row["call"]["caller_number"]) == (
        "callback", "offered", "2125550101")
    fake.tracker.connected("1001", "cb1")
    fake.tracker.ended("1001", "cb1")
    assert fake.tracker.owes("1001").kind == "callback"
    fake.tracker.dispose("1001", "1", "", None, "page", NOW)
    assert fake.stored[-1].uniqueid == "cb1" and fake.stored[-1].caller_number == "2125550101"
    version = fake.tracker.version
    fake.tracker.offered("1001", "cb2", "support", "2125550101", "", {}, NOW, kind="callback")
    fake.tracker.connected("1001", "cb2")
    fake.tracker.cleared("1001", "other")  # another call's: nothing changes
    assert fake.tracker.calls["1001"].uniqueid == "cb2"
    fake.tracker.cleared("1001", "cb2")
    assert "1001" not in fake.tracker.calls and fake.tracker.owes("1001") is None
    assert fake.tracker.version > version + 2


def test_the_desk_lists_the_agents_booked_callbacks():
    fake = FakeDesk()
    assert fake.tracker.rows(["1001"])[0]["callbacks"] == []  # no ACD callbacks attached: none
    booked = [{"due": NOW + 60, "queue": "support", "number": "2125550101"}]
    fake.tracker.booked_by = lambda agent: booked if agent == "1001" else []
    assert [row["callbacks"] for row in fake.tracker.rows(["1001", "1002"])] == [booked, []]


def test_page_disposition_with_a_callback_books_it():
    fake = FakeDesk()
    fake.call()
    entry = fake.tracker.dispose("1001", "2", "after lunch", NOW + 7200, "page", NOW)
    assert entry.callback_at == NOW + 7200 and fake.booked == [("support", "2125550101", NOW + 7200, "1001", "u1")]
    with pytest.raises(FirmwareError, match="no ended call"):
        FakeDesk().tracker.dispose("1001", "1", "", None, "page", NOW)


# ----------------------------------------------------------------------------- call records

def test_cdr_store_keeps_dispositions_beside_the_records(tmp_path):
    with CdrStore(tmp_path / "cdr.db") as store:
        first = _make("1")
        store.dispose(first)
        corrected = replace(first, code="3", label="do not call", do_not_call=True, entered=NOW + 1)
        store.dispose(corrected)  # the agent corrected it: one disposition per call
        assert store.disposition(first.uniqueid) == corrected
        assert store.dispositions("2125550101") == [corrected]
        assert store.do_not_call_numbers() == ["2125550101"]
        with pytest.raises(FirmwareError, match="disposition.source"):
            store.dispose(replace(first, uniqueid="x", source="fax"))
        assert store.disposition("x") is None


# ----------------------------------------------------------------------------- configuration

def test_desk_block_round_trips_and_bad_values_name_their_field():
    config = demo_config()
    assert from_dict(to_dict(config)) == config
    data = to_dict(config)
    data["queues"][0]["desk"]["dispositions"][0]["code"] = "1a"
    with pytest.raises(FirmwareError, match=r"queues\[0\]\.desk\.dispositions\[0\]\.code"):
        from_dict(data)
    data = to_dict(config)
    data["queues"][0]["desk"]["script"] = "Hi {nmae}"
    with pytest.raises(FirmwareError, match="unknown placeholder"):
        from_dict(data)
    data["queues"][0]["desk"]["script"] = "Hi {name"
    with pytest.raises(FirmwareError, match="unmatched brace"):
        from_dict(data)
    data = to_dict(config)
    data["queues"][0]["desk"]["dispositions"].append({"code": "1", "label": "again"})
    with pytest.raises(FirmwareError, match="listed twice"):
        from_dict(data)
    data = to_dict(config)
    data["queues"][0]["desk"]["dispositions"][0].update(callback=True, do_not_call=True)
    with pytest.raises(FirmwareError, match="cannot both"):
        from_dict(data)
    data = to_dict(config)
    data["queues"][0]["desk"]["targets"]["service_level_min_percent"] = 101
    with pytest.raises(FirmwareError, match="service_level_min_percent"):
        from_dict(data)


def test_disposition_code_defaults():
    assert DispositionCode("1", "x") == DispositionCode("1", "x", callback=False, do_not_call=False)


# ----------------------------------------------------------------------------- console arguments

@pytest.mark.parametrize(("check", "text", "expected"), [
    ("agent_id", "1001", "1001"), ("note", "after%20lunch%20%7C%20ok", "after lunch | ok"),
    ("epoch", "1765003600", 1765003600.0), ("reason", "lunch", "lunch"),
])
def test_console_desk_arguments(check, text, expected):
    from firmware.console import desk

    assert getattr(desk, check)(text) == expected


@pytest.mark.parametrize(("check", "text", "why"), [
    ("agent_id", "10a1", "not an agent number"), ("agent_id", "123456789", "not an agent number"),
    ("note", "%ff", "percent-encoded UTF-8"), ("note", "x" * 501, "up to 500"), ("note", "a%0Db", "printable"),
    ("epoch", "-5", "epoch seconds"), ("epoch", "1e9", "epoch seconds"), ("epoch", str(2**33), "epoch seconds"),
    ("reason", "a|b", "without"), ("reason", "x" * 17, "1-16"),
])
def test_console_desk_arguments_refused(check, text, why):
    from firmware.console import desk

    with pytest.raises(FirmwareError, match=why):
        getattr(desk, check)(text)
