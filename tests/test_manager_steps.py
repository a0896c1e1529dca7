"""The manager's Newexten, VarSet, Hold/Unhold events and the Redirect action, with the real
PyPI clients (panoramisk, pyst2) over TCP against the whole appliance on the virtual board:
a caller keys an account number in an IVR flow and goes to a queue (a CRM pops the record
by the VarSet before AgentCalled), a phone holds its party with a flash, an operator panel
redirects a caller talking to an extension into a queue."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from acd_engine_helpers import queue_config
from asterisk.manager import Manager
from features_helpers import LINE_1, PORT
from manager_helpers import SECRET, PanoramiskClient, manager_box, wait_for
from test_manager_pyst2 import Events, close, connect

from board.virtual.pstn import FarEnd
from dsp.callerid import CallerId
from firmware.config.ivrmodel import IvrFlow, IvrNode, IvrNodeType
from firmware.config.model import Destination, DestinationKind, InboundRoute

ALICE = "203"  # agent 1001 sits at extension 203 (port 4)
READ = "call,agent,system,dialplan,cdr"


def ivr_config():
    """Calls go to flow ``acct``: key an account number, a set node, then the queue ``support``."""
    nodes = (
        IvrNode("account", IvrNodeType.COLLECT, prompt=(("en", ("vm-enter-num-to-call",)),), next="tier",
                no_input="bye", variable="account", min_digits=4, max_digits=8, timeout_s=5, retries=1),
        IvrNode("tier", IvrNodeType.SET, variable="tier", value="gold", next="to_queue"),
        IvrNode("to_queue", IvrNodeType.GOTO, destination=Destination(DestinationKind.QUEUE, "support")),
        IvrNode("bye", IvrNodeType.GOTO, destination=Destination(DestinationKind.HANGUP)),
    )
    config = queue_config(announce_hold_time=False)
    flow = IvrFlow(name="acct", start="account", languages=("en",), nodes=nodes)
    return replace(config, ivr_flows=(*config.ivr_flows, flow),
                   routes=(InboundRoute("all", Destination(DestinationKind.IVR, "acct")),))


async def ivr_to_queue(tmp_path) -> None:
    with manager_box(tmp_path, ivr_config(), read=READ) as (app, driver, _, port):
        client = PanoramiskClient(port)
        await client.connect()
        added = await client.manager.send_action({"Action": "QueueAdd", "Queue": "support",
                                                  "Interface": "Agent/1001"}, as_list=False)
        assert added.success
        far_end = FarEnd()
        driver.on_loop(lambda: app.world.line(LINE_1).ring(caller_id=CallerId(number="2125557788", name="OUTSIDE"),
                                                           far_end=far_end))
        await asyncio.to_thread(driver.advance, 7.0)
        first = await client.until("Newexten", Context="ivr-acct", Extension="account")
        assert first.Application == "Read" and first.Channel.startswith("FXO/0-") and first.Priority == "1"
        driver.on_loop(lambda: far_end.dial("40172#"))
        await asyncio.to_thread(driver.advance, 3.0)
        account = await client.until("VarSet", Variable="account")
        assert account.Value == "40172" and account.Channel == first.Channel
        assert account.CallerIDNum == "2125557788" and account.Linkedid == first.Linkedid
        tier = await client.until("VarSet", Variable="tier")
        assert tier.Value == "gold"
        queue = await client.until("Newexten", Context="queue")
        assert (queue.Extension, queue.Application, queue.AppData) == ("support", "Queue", "support")
        called = await client.until("AgentCalled")
        assert called.Channel == first.Channel

        seen = [(e.event, e.get("Extension") or e.get("Variable") or "") for e in client.events
                if e.get("Channel") == first.Channel]
        wanted = [("Newchannel", ""), ("Newexten", "account"), ("VarSet", "account"), ("Newexten", "tier"),
                  ("VarSet", "tier"), ("Newexten", "to_queue"), ("Newexten", "support"), ("QueueCallerJoin", ""),
                  ("AgentCalled", "")]
        positions = [seen.index(item) for item in wanted]
        assert positions == sorted(positions), "\n".join(map(str, seen))
        priorities = [int(e.Priority) for e in client.named("Newexten") if e.Channel == first.Channel]
        assert priorities == list(range(1, len(priorities) + 1))  # one dialplan step after the other
        assert all(e.Privilege == "dialplan,all" for e in client.named("Newexten", "VarSet"))
        await asyncio.to_thread(driver.advance, 0.2)
        client.manager.close()


def test_an_ivr_call_shows_its_nodes_and_variables_before_the_agent_is_called(tmp_path):
    asyncio.run(ivr_to_queue(tmp_path))


async def hold_and_back(tmp_path) -> None:
    with manager_box(tmp_path, read=READ) as (app, driver, _, port):
        client = PanoramiskClient(port)
        await client.connect()

        def phone(extension):
            return app.world.phone(PORT[extension])

        driver.on_loop(lambda: phone("201").offhook())
        await asyncio.to_thread(driver.advance, 0.4)
        driver.on_loop(lambda: phone("201").dial("202"))
        await asyncio.to_thread(driver.advance, 0.8)
        driver.on_loop(lambda: phone("202").offhook())
        await asyncio.to_thread(driver.advance, 0.6)
        up = await client.until("Newstate", ChannelStateDesc="Up", CallerIDNum="202")
        assert up.Channel.startswith(f"FXS/{PORT['202']}-")
        driver.on_loop(lambda: phone("201").flash(300))  # 202 goes on hold, 201 hears recall dial tone
        await asyncio.to_thread(driver.advance, 1.2)
        hold = await client.until("Hold")
        assert hold.Channel == up.Channel and hold.MusicClass == "default" and hold.Privilege == "call,all"
        assert client.named("Unhold") == []
        driver.on_loop(lambda: phone("201").flash(300))  # back to 202
        await asyncio.to_thread(driver.advance, 1.2)
        unhold = await client.until("Unhold")
        assert unhold.Channel == up.Channel
        assert [e.event for e in client.named("Hold", "Unhold")] == ["Hold", "Unhold"]
        client.manager.close()


def test_a_flash_holds_the_party_and_a_second_flash_takes_it_back(tmp_path):
    asyncio.run(hold_and_back(tmp_path))


def test_redirect_moves_a_caller_from_an_extension_into_a_queue(tmp_path):
    config = queue_config(announce_hold_time=False)
    config = replace(config, routes=(InboundRoute("all", Destination(DestinationKind.EXTENSION, "201")),))
    with manager_box(tmp_path, config, read=READ) as (app, driver, _, port):
        manager: Manager = connect(port)
        events = Events(manager)
        manager.login("crm", SECRET)
        assert manager.send_action({"Action": "QueueAdd", "Queue": "support",
                                    "Interface": "Agent/1001"}).get_header("Response") == "Success"
        driver.on_loop(lambda: app.world.line(LINE_1).ring(caller_id=CallerId(number="2125557788", name="OUTSIDE"),
                                                           far_end=FarEnd()))
        driver.advance(7.0)
        driver.on_loop(lambda: app.world.phone(PORT["201"]).offhook())
        driver.advance(1.0)
        line = next(e.get_header("Channel") for e in events.named("Newchannel")
                    if e.get_header("Channel").startswith("FXO/0-"))
        phone = next(e.get_header("Channel") for e in events.named("Newchannel")
                     if e.get_header("Channel").startswith(f"FXS/{PORT['201']}-"))

        refused = manager.redirect(phone, "support", context="queue")
        assert refused.get_header("Response") == "Error"
        assert "only an exchange line" in refused.get_header("Message")
        unknown = manager.redirect(line, "nosuch", context="queue")
        assert unknown.get_header("Message") == "Redirect: no queue 'nosuch' in the configuration"
        bad_context = manager.redirect(line, "support", context="parking")
        assert bad_context.get_header("Message").startswith("Context 'parking': expected one of")

        moved = manager.redirect(line, "support", context="queue")
        assert (moved.get_header("Response"), moved.get_header("Message")) == ("Success", "Redirect successful")
        driver.advance(3.0)
        assert wait_for(lambda: events.named("AgentCalled"))
        called = events.named("AgentCalled")[0]
        assert called.get_header("Queue") == "support" and called.get_header("Interface") == "Agent/1001"
        assert called.get_header("Channel").startswith("FXO/0-") and called.get_header("Channel") != line
        assert called.get_header("CallerIDNum") == "2125557788"
        first_hangup = next(e for e in events.named("Hangup") if e.get_header("Channel") == line)
        assert first_hangup.get_header("Cause") == "16"
        driver.on_loop(lambda: app.world.phone(PORT[ALICE]).offhook())
        driver.advance(4.0)
        assert wait_for(lambda: events.named("AgentConnect"))
        assert driver.on_loop(lambda: app.switch.control.state(PORT["201"]).value) in ("failed", "idle")
        app.cdr_writer.drain()
        causes = [record.hangup_cause for record in app.cdr.records() if record.src_port == LINE_1]
        assert causes == ["manager_redirect"]  # the first call's record; the queue call is still up
        close(manager)
