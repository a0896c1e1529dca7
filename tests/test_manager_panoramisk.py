"""The manager interface with a real asyncio AMI client from PyPI (panoramisk), over TCP, against
the whole appliance on the virtual board: log in, the events of a queue call from ring to
hang-up in Asterisk's order, pause and unpause an agent, originate a click-to-call."""

from __future__ import annotations

import asyncio

import pytest
from acd_engine_helpers import queue_config
from features_helpers import LINE_1, PORT
from manager_helpers import PanoramiskClient, manager_box
from panoramisk import Manager

from board.virtual.pstn import FarEnd
from dsp.callerid import CallerId

ALICE = "203"  # agent 1001 sits at extension 203 (port 4)


async def call_in_queue(tmp_path) -> None:
    with manager_box(tmp_path) as (app, driver, _, port):
        client = PanoramiskClient(port)
        await client.connect()
        assert client.manager.protocol.version == "5.0.0"  # it parsed our greeting
        login = await client.manager.send_action({"Action": "QueueAdd", "Queue": "support",
                                                  "Interface": "Agent/1001"}, as_list=False)
        assert login.success and login.message == "Added interface to queue"
        await client.until("QueueMemberAdded", Interface="Agent/1001")
        added = client.named("QueueMemberAdded")[0]
        assert added.StateInterface == f"FXS/{PORT[ALICE]}" and added.MemberName == "Alice"

        driver.on_loop(lambda: app.world.line(LINE_1).ring(caller_id=CallerId(number="2125557788", name="OUTSIDE"),
                                                           far_end=FarEnd()))
        await asyncio.to_thread(driver.advance, 7.0)
        called = await client.until("AgentCalled")
        assert called.Queue == "support" and called.Interface == "Agent/1001"
        assert called.CallerIDNum == "2125557788" and called.Channel.startswith("FXO/0-")
        assert called.DestChannel.startswith(f"FXS/{PORT[ALICE]}-")
        driver.on_loop(lambda: app.world.phone(PORT[ALICE]).offhook())
        await asyncio.to_thread(driver.advance, 4.0)
        connect = await client.until("AgentConnect")
        assert connect.Queue == "support" and connect.Linkedid == called.Linkedid
        driver.on_loop(lambda: app.world.line(LINE_1).far_end_hangup())
        await asyncio.to_thread(driver.advance, 3.0)
        complete = await client.until("AgentComplete")
        assert complete.Reason == "caller" and int(complete.TalkTime) >= 2

        caller_channel = called.Channel
        wanted = [("Newchannel", caller_channel), ("QueueCallerJoin", caller_channel),
                  ("Newchannel", called.DestChannel), ("DialBegin", caller_channel), ("AgentCalled", caller_channel),
                  ("Newstate", called.DestChannel), ("DialEnd", caller_channel),
                  ("QueueCallerLeave", caller_channel), ("AgentConnect", caller_channel),
                  ("Hangup", caller_channel), ("AgentComplete", caller_channel)]
        seen = [(e.event, e.get("Channel")) for e in client.events]
        positions = [seen.index(item) for item in wanted]
        assert positions == sorted(positions), "\n".join(map(str, seen))
        dial_end = client.named("DialEnd")[0]
        assert dial_end.DialStatus == "ANSWER" and dial_end.DestChannel == called.DestChannel
        # the caller and the agent hear each other after the whisper: both enter the call's bridge
        enters = [e for e in client.named("BridgeEnter")]
        assert {e.Channel for e in enters} == {caller_channel, called.DestChannel}
        assert len({e.BridgeUniqueid for e in enters}) == 1
        assert seen.index(("BridgeEnter", caller_channel)) > seen.index(("AgentConnect", caller_channel))
        leaves = {e.Channel for e in client.named("BridgeLeave")}
        assert leaves == {caller_channel, called.DestChannel}
        cdr = await client.until("Cdr")
        hangup = next(e for e in client.named("Hangup") if e.Channel == caller_channel)
        assert hangup.Cause == "16" and hangup["Cause-txt"] == "Normal Clearing"
        # Uniqueid/Linkedid are the call record's uniqueid.
        app.cdr_writer.drain()
        (record,) = [r for r in app.cdr.records() if r.src_port == LINE_1]
        assert hangup.Uniqueid == hangup.Linkedid == record.uniqueid == cdr.UniqueID
        assert (cdr.Channel, cdr.DestinationChannel, cdr.Disposition) == (caller_channel, called.DestChannel, "ANSWERED")
        assert (int(cdr.Duration), int(cdr.BillableSeconds), cdr.Source) == (record.duration, record.billsec, "2125557788")

        # Pause with a reason, seen in the event and in QueueStatus; then unpause.
        paused = await client.manager.send_action({"Action": "QueuePause", "Interface": "Agent/1001",
                                                   "Paused": "true", "Reason": "lunch"})
        assert paused.success and paused.message == "Interface paused successfully"
        pause_event = await client.until("QueueMemberPause", Paused="1")
        assert pause_event.PausedReason == "lunch" and pause_event.Queue == "support"
        status = await client.manager.send_action({"Action": "QueueStatus", "Queue": "support"})
        alice = next(m for m in status if m.event == "QueueMember" and m.Interface == "Agent/1001")
        assert (alice.Paused, alice.PausedReason, alice.CallsTaken) == ("1", "lunch", "1")
        assert status[-1].event == "QueueStatusComplete"
        params = next(m for m in status if m.event == "QueueParams")
        assert params.Completed == "1" and params.Calls == "0"
        unpaused = await client.manager.send_action({"Action": "QueuePause", "Interface": "Agent/1001",
                                                     "Paused": "false"})
        assert unpaused.message == "Interface unpaused successfully"
        await client.until("QueueMemberPause", Paused="0")
        assert driver.on_loop(lambda: app.acd.core.agents["1001"].state.value) == "available"
        client.manager.close()


def test_queue_call_events_pause_and_unpause(tmp_path):
    asyncio.run(call_in_queue(tmp_path))


async def click_to_call(tmp_path) -> None:
    with manager_box(tmp_path) as (app, driver, _, port):
        client = PanoramiskClient(port)
        await client.connect()
        sales = PORT["202"]
        pending = asyncio.ensure_future(client.manager.send_action({
            "Action": "Originate", "Channel": f"FXS/{sales}", "Exten": "92125551234", "Async": "true",
            "CallerID": '"CRM" <5551000>', "Timeout": "20000"}))
        for _ in range(200):
            if driver.on_loop(lambda: app.switch.control.state(sales).value) == "ringing":
                break
            await asyncio.sleep(0.02)
        driver.on_loop(lambda: app.world.phone(sales).offhook())
        responses = await asyncio.wait_for(pending, 10)
        first, outcome = responses
        assert first.message == "Originate successfully queued"
        assert outcome.event == "OriginateResponse" and outcome.Response == "Success" and outcome.Reason == "4"
        await asyncio.to_thread(driver.advance, 8.0)  # seize, dial tone, digits, 4 s of ringback, answer
        dial_end = await client.until("DialEnd", DialStatus="ANSWER")
        assert dial_end.DestChannel.startswith("FXO/") and dial_end.Channel.startswith(f"FXS/{sales}-")
        driver.on_loop(lambda: app.world.phone(sales).hangup())
        await asyncio.to_thread(driver.advance, 2.0)
        app.cdr_writer.drain()
        (record,) = app.cdr.records()
        assert record.dst == "2125551234" and record.src_port == sales and record.answer is not None

        # The toll guard applies as if the extension dialled: 203 (class local) may not call long distance.
        refused = await client.manager.send_action({"Action": "Originate", "Channel": f"FXS/{PORT['203']}",
                                                    "Exten": "912125551234", "Async": "true"})
        assert not isinstance(refused, list), refused
        assert refused.response == "Error" and refused.message.startswith("Originate refused by the toll guard")
        assert driver.on_loop(lambda: app.switch.control.state(PORT["203"]).value) == "idle"
        client.manager.close()


def test_originate_rings_the_extension_then_dials_with_its_toll_rules(tmp_path):
    asyncio.run(click_to_call(tmp_path))


@pytest.mark.parametrize("secret", ["wrong-secret-123"])
def test_wrong_secret_is_refused(tmp_path, secret):
    async def attempt():
        with manager_box(tmp_path) as (_, _, _, port):
            manager = Manager(loop=asyncio.get_running_loop(), host="127.0.0.1", port=port, username="crm",
                              secret=secret, ping_delay=3600, reconnect_timeout=3600)
            await manager.connect()
            for _ in range(100):
                if manager.authenticated_future is None:
                    break
                await asyncio.sleep(0.02)
            assert not manager.authenticated
            manager.close()
    asyncio.run(attempt())


async def abandoned_after_no_answer(tmp_path) -> None:
    with manager_box(tmp_path, config=queue_config(announce_hold_time=False, ring_s=5)) as (app, driver, _, port):
        client = PanoramiskClient(port)
        await client.connect()
        await client.manager.send_action({"Action": "QueueAdd", "Queue": "support", "Interface": "Agent/1001"},
                                         as_list=False)
        driver.on_loop(lambda: app.world.line(LINE_1).ring(caller_id=CallerId(number="2125550000", name="OUTSIDE"),
                                                           far_end=FarEnd()))
        await asyncio.to_thread(driver.advance, 7.0)
        called = await client.until("AgentCalled")
        await asyncio.to_thread(driver.advance, 6.0)  # Alice does not answer within the 5 s ring time
        missed = await client.until("AgentRingNoAnswer")
        assert missed.Interface == "Agent/1001" and 4500 <= int(missed.RingTime) <= 5500
        dial_end = next(e for e in client.named("DialEnd") if e.DestChannel == called.DestChannel)
        assert dial_end.DialStatus in ("NOANSWER", "CANCEL")
        summary = await client.manager.send_action({"Action": "QueueSummary", "Queue": "support"})
        (row,) = [m for m in summary if m.event == "QueueSummary"]
        assert (row.Queue, row.Callers, row.LoggedIn) == ("support", "1", "1")
        driver.on_loop(lambda: app.world.line(LINE_1).far_end_hangup())  # the caller gives up
        await asyncio.to_thread(driver.advance, 2.0)
        abandon = await client.until("QueueCallerAbandon")
        assert abandon.Queue == "support" and abandon.Channel == called.Channel and abandon.OriginalPosition == "1"
        assert int(abandon.HoldTime) >= 5
        seen = [(e.event, e.get("Channel")) for e in client.events]
        assert seen.index(("QueueCallerAbandon", called.Channel)) < seen.index(("Hangup", called.Channel))
        client.manager.close()


def test_ring_no_answer_then_abandon(tmp_path):
    asyncio.run(abandoned_after_no_answer(tmp_path))
