"""Asterisk queue_log lines: the writer's format per event, the parser, round trips."""

import io

import pytest

from firmware import FirmwareError
from firmware.acd.events import AcdEvent, EventKind
from firmware.acd.model import Destination, DestinationKind, QueueConfig
from firmware.acd.queue_log import (
    DATA_FIELDS,
    QueueLogRecord,
    QueueLogWriter,
    event_for,
    format_record,
    parse_line,
    read_queue_log,
    record_for,
)
from tests.acd_helpers import agent, make_core, offered_to

K = EventKind

# (event, expected line): the data fields of each event as Asterisk documents them.
LINES = [
    (AcdEvent(1700000000.4, K.ENTERQUEUE, "c1", "sales", caller_id="+15551234", orig_position=3),
     "1700000000|c1|sales|NONE|ENTERQUEUE||+15551234|3"),
    (AcdEvent(1700000010.0, K.CONNECT, "c1", "sales", "a7", wait=9.6, ring=2.4, bridged="c1-5"),
     "1700000010|c1|sales|a7|CONNECT|10|c1-5|2"),
    (AcdEvent(1700000100.0, K.COMPLETECALLER, "c1", "sales", "a7", wait=10.0, talk=90.0, orig_position=3),
     "1700000100|c1|sales|a7|COMPLETECALLER|10|90|3"),
    (AcdEvent(1700000100.0, K.COMPLETEAGENT, "c1", "sales", "a7", wait=10.0, talk=90.0, orig_position=3),
     "1700000100|c1|sales|a7|COMPLETEAGENT|10|90|3"),
    (AcdEvent(1700000050.0, K.ABANDON, "c2", "sales", position=2, orig_position=4, wait=31.0),
     "1700000050|c2|sales|NONE|ABANDON|2|4|31"),
    (AcdEvent(1700000050.0, K.EXITWITHTIMEOUT, "c3", "sales", position=1, orig_position=1, wait=300.0),
     "1700000050|c3|sales|NONE|EXITWITHTIMEOUT|1|1|300"),
    (AcdEvent(1700000050.0, K.EXITWITHKEY, "c4", "sales", key="0", position=5, orig_position=6, wait=12.0),
     "1700000050|c4|sales|NONE|EXITWITHKEY|0|5|6|12"),
    (AcdEvent(1700000050.0, K.EXITEMPTY, "c5", "sales", position=1, orig_position=2, wait=3.0),
     "1700000050|c5|sales|NONE|EXITEMPTY|1|2|3"),
    (AcdEvent(1700000050.0, K.RINGNOANSWER, "c6", "sales", "a2", ring=15.0),
     "1700000050|c6|sales|a2|RINGNOANSWER|15000"),
    (AcdEvent(1700000050.0, K.RINGCANCELED, "c6", "sales", "a2", ring=1.2345),
     "1700000050|c6|sales|a2|RINGCANCELED|1235"),
    (AcdEvent(1700000000.0, K.ADDMEMBER, queue="sales", agent="a2"), "1700000000|NONE|sales|a2|ADDMEMBER|"),
    (AcdEvent(1700000000.0, K.ADDMEMBER, queue="sales", agent="a2", reason="PAUSED"),
     "1700000000|NONE|sales|a2|ADDMEMBER|PAUSED"),
    (AcdEvent(1700000000.0, K.REMOVEMEMBER, queue="sales", agent="a2"), "1700000000|NONE|sales|a2|REMOVEMEMBER|"),
    (AcdEvent(1700000000.0, K.PAUSE, queue="sales", agent="a2", reason="lunch"), "1700000000|NONE|sales|a2|PAUSE|lunch"),
    (AcdEvent(1700000000.0, K.UNPAUSE, queue="sales", agent="a2"), "1700000000|NONE|sales|a2|UNPAUSE|"),
    (AcdEvent(1700000000.0, K.JOINEMPTY, "c9", "sales"), "1700000000|c9|sales|NONE|JOINEMPTY|"),
]


@pytest.mark.parametrize("event,line", LINES, ids=[event.kind.value + str(i) for i, (event, _) in enumerate(LINES)])
def test_each_event_is_written_with_asterisks_fields(event, line):
    record = record_for(event)
    assert format_record(record) == line
    assert parse_line(line + "\n") == record
    assert format_record(parse_line(line)) == line
    assert len(record.data) == len(DATA_FIELDS[event.kind.value])
    back = event_for(record)
    assert back.kind is event.kind and back.call_id == event.call_id and back.agent == event.agent


def test_named_fields():
    record = parse_line("1366720340|1366720340.303267|MYQUEUE|SIP/8007|CONNECT|12|1366720339.55|3")
    assert (record.field("holdtime"), record.field("ringtime")) == ("12", "3")
    with pytest.raises(FirmwareError, match="no waittime"):
        record.field("waittime")


def test_lines_written_by_asterisk_parse():
    text = (
        "1330592040|NONE|NONE|NONE|QUEUESTART|\n"
        "1366720340|1366720340.303267|MYQUEUE|SIP/8007|RINGNOANSWER|1000\n"
        "\n"
        "1366720350|1366720340.303267|MYQUEUE|NONE|ENTERQUEUE||5551234|1|Jane Doe\n"
    )
    records = list(read_queue_log(io.StringIO(text)))
    assert [r.event for r in records] == ["QUEUESTART", "RINGNOANSWER", "ENTERQUEUE"]
    assert records[0].data == ("",) and records[2].data[3] == "Jane Doe"
    assert event_for(records[0]) is None  # not an ACD event: skipped by statistics
    assert event_for(records[1]).ring == 1.0


@pytest.mark.parametrize(
    "line,match",
    [
        ("1366720340|c|q|a", "4 fields"),
        ("abc|c|q|a|ENTERQUEUE|", "not an integer"),
        ("1366720340|c|q|a||x", "empty event"),
    ],
)
def test_malformed_lines_are_refused(line, match):
    with pytest.raises(FirmwareError, match=match):
        parse_line(line)


def test_read_reports_the_line_number_and_bad_parameters():
    with pytest.raises(FirmwareError, match=r"line 2\)"):
        list(read_queue_log(["1|c|q|a|PAUSE|x\n", "oops\n"]))
    with pytest.raises(FirmwareError, match="bad parameters for CONNECT"):
        event_for(parse_line("1|c|q|a|CONNECT|x|y|z"))


def test_pipes_and_newlines_cannot_break_a_line():
    record = record_for(AcdEvent(1.0, K.ENTERQUEUE, "c1", "q", caller_id='Bob|"x"\nEvil', orig_position=1))
    assert format_record(record) == '1|c1|q|NONE|ENTERQUEUE||Bob "x" Evil|1'
    with pytest.raises(FirmwareError, match="contains"):
        format_record(QueueLogRecord(1, "c|1", "q", "NONE", "ABANDON", ("1", "1", "1")))


def test_linebox_only_events_are_not_written():
    for kind in (K.OFFER, K.OFFERCANCEL, K.AGENTSTATE, K.CALLBACKREQUEST):
        assert record_for(AcdEvent(1.0, kind)) is None


def test_a_call_through_the_core_writes_a_complete_queue_log():
    stream = io.StringIO()
    queue = QueueConfig("sales", exit_keys={"0": Destination(DestinationKind.VOICEMAIL, "100")})
    core, _ = make_core(queue, (agent("a1", {"sales": 0}),), login_at=None)
    core.listeners.append(QueueLogWriter(stream))
    core.agent_login("a1", 1000)
    core.call_arrived("c1", ["sales"], "+1555", 1001)
    core.call_arrived("c2", ["sales"], "+1666", 1002)
    offered_to(core, 1003)
    core.offer_failed("c1", "a1", 1006)
    core.caller_pressed_key("c2", "0", 1007)
    core.tick(1012)
    core.offer_answered("c1", "a1", 1013)
    core.agent_pause("a1", "notes", 1014)
    core.call_ended("c1", 1100, by_agent=True)
    core.agent_unpause("a1", 1200)
    core.agent_logout("a1", 1300)
    assert stream.getvalue().splitlines() == [
        "1000|NONE|sales|a1|ADDMEMBER|",
        "1001|c1|sales|NONE|ENTERQUEUE||+1555|1",
        "1002|c2|sales|NONE|ENTERQUEUE||+1666|2",
        "1006|c1|sales|a1|RINGNOANSWER|3000",
        "1007|c2|sales|NONE|EXITWITHKEY|0|2|2|5",  # c1 (waiting again) is ahead
        "1013|c1|sales|a1|CONNECT|12|c1-2|1",
        "1100|c1|sales|a1|COMPLETEAGENT|12|87|1",
        "1100|NONE|sales|a1|PAUSE|notes",
        "1200|NONE|sales|a1|UNPAUSE|",
        "1300|NONE|sales|a1|REMOVEMEMBER|",
    ]
