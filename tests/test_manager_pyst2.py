"""The manager interface with the classic synchronous AMI client from PyPI (pyst2), over TCP,
against the whole appliance on the virtual board: greeting, login, a wrong secret and the
lockout after 5, events of a queue call, Status, pausing an agent, click-to-call."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from asterisk.manager import Manager, ManagerAuthException
from features_helpers import LINE_1, PORT
from manager_helpers import SECRET, manager_box, wait_for

from board.virtual.pstn import FarEnd
from dsp.callerid import CallerId
from firmware.accounts import LOCKOUT_SECONDS, MAX_FAILED_LOGINS


class Events:
    def __init__(self, manager: Manager) -> None:
        self.seen: list = []
        self._lock = threading.Lock()
        manager.register_event("*", self._take)

    def _take(self, event, manager) -> None:
        with self._lock:
            self.seen.append(event)

    def named(self, name: str) -> list:
        with self._lock:
            return [e for e in self.seen if e.name == name]


def close(manager: Manager) -> None:
    """pyst2's ``close()`` logs off; the server answers Goodbye and closes the connection (as
    Asterisk does), and pyst2's reader thread, seeing the end, may close the socket file its
    ``send_action`` is still flushing (ValueError). That race is the client's: the Logoff was
    received and answered by then."""
    try:
        manager.close()
    except ValueError as exc:
        assert "closed file" in str(exc)


def connect(port: int) -> Manager:
    manager = Manager()
    greeting = manager.connect("127.0.0.1", port)
    assert manager.title == "Asterisk Call Manager" and manager.version == "5.0.0", greeting
    return manager


def test_login_queue_events_status_pause_and_originate(tmp_path):
    with manager_box(tmp_path) as (app, driver, _, port):
        manager = connect(port)
        events = Events(manager)
        accepted = manager.login("crm", SECRET)
        assert accepted.get_header("Message") == "Authentication accepted"
        assert manager.ping().get_header("Ping") == "Pong"

        added = manager.send_action({"Action": "QueueAdd", "Queue": "support", "Interface": "Agent/1001"})
        assert added.get_header("Response") == "Success"
        again = manager.send_action({"Action": "QueueAdd", "Queue": "support", "Interface": "Agent/1001"})
        assert again.get_header("Response") == "Error" and "Already there" in again.get_header("Message")

        driver.on_loop(lambda: app.world.line(LINE_1).ring(caller_id=CallerId(number="2125557788", name="OUTSIDE"),
                                                           far_end=FarEnd()))
        driver.advance(7.0)
        assert wait_for(lambda: events.named("AgentCalled"))
        (called,) = events.named("AgentCalled")
        assert called.get_header("CallerIDNum") == "2125557788"
        shown = manager.send_action({"Action": "Command", "Command": "show calls"})
        assert shown.get_header("Message") == "Command output follows"
        assert "2125557788" in shown.get_header("Output", "") + "".join(shown.response)
        refused = manager.send_action({"Action": "Command", "Command": "port out 3"})
        assert refused.get_header("Response") == "Error" and "only the console's show commands" in \
            refused.get_header("Message")
        status = manager.status()  # pyst2 reads up to StatusComplete
        assert status.get_header("Response") == "Success" and "StatusComplete" in status.data + str(status.headers)
        driver.on_loop(lambda: app.world.phone(PORT["203"]).offhook())
        driver.advance(3.0)
        assert wait_for(lambda: events.named("AgentConnect"))
        hung_up = manager.hangup(called.get_header("Channel"))  # the CRM hangs the caller up
        assert hung_up.get_header("Message") == "Channel Hungup"
        driver.advance(2.0)
        assert wait_for(lambda: events.named("AgentComplete"))
        hangups = [e for e in events.named("Hangup") if e.get_header("Channel") == called.get_header("Channel")]
        assert hangups and hangups[0].get_header("Cause") == "16"
        gone = manager.hangup(called.get_header("Channel"))
        assert gone.get_header("Response") == "Error" and gone.get_header("Message") == "No such channel"

        paused = manager.send_action({"Action": "QueuePause", "Interface": "Agent/1001", "Paused": "true",
                                      "Reason": "training"})
        assert paused.get_header("Message") == "Interface paused successfully"
        assert wait_for(lambda: any(e.get_header("Paused") == "1" for e in events.named("QueueMemberPause")))
        assert driver.on_loop(lambda: app.acd.core.agents["1001"].state.value) == "paused"
        manager.send_action({"Action": "QueuePause", "Interface": "Agent/1001", "Paused": "false"})
        assert wait_for(lambda: any(e.get_header("Paused") == "0" for e in events.named("QueueMemberPause")))

        sales = PORT["202"]
        queued = manager.originate(f"FXS/{sales}", "92125551234", run_async=True, caller_id="CRM <5551000>")
        assert queued.get_header("Message") == "Originate successfully queued"
        assert wait_for(lambda: driver.on_loop(lambda: app.switch.control.state(sales).value) == "ringing")
        driver.on_loop(lambda: app.world.phone(sales).offhook())
        assert wait_for(lambda: events.named("OriginateResponse"))
        (outcome,) = events.named("OriginateResponse")
        assert outcome.get_header("Response") == "Success" and outcome.get_header("Reason") == "4"
        assert outcome.get_header("ActionID") == queued.get_header("ActionID")
        driver.advance(1.0)
        driver.on_loop(lambda: app.world.phone(sales).hangup())
        driver.advance(2.0)

        # Without Async the response waits for the outcome: nobody answers within 1 s.
        sync = manager.originate(f"FXS/{sales}", "92125551234", timeout="1000")
        assert (sync.get_header("Response"), sync.get_header("Message")) == ("Error", "Originate failed")
        driver.advance(0.5)
        assert driver.on_loop(lambda: app.switch.control.state(sales).value) == "idle"

        logged = manager.send_action({"Action": "QueueLog", "Queue": "support", "Event": "CRMNOTE",
                                      "Interface": "Agent/1001", "Uniqueid": called.get_header("Linkedid"),
                                      "Message": "ticket 4711"})
        assert logged.get_header("Message") == "Added Queue Log"
        forged = manager.send_action({"Action": "QueueLog", "Queue": "support", "Event": "CRMNOTE",
                                      "Message": "a|b"})
        assert forged.get_header("Response") == "Error"
        app.queue_log.flush()
        note = [line for line in Path(app.queue_log.name).read_text().splitlines() if "|CRMNOTE|" in line]
        assert len(note) == 1 and note[0].split("|")[1:] == [called.get_header("Linkedid"), "support", "1001",
                                                               "CRMNOTE", "ticket 4711"]

        removed = manager.send_action({"Action": "QueueRemove", "Queue": "support", "Interface": "Agent/1001"})
        assert removed.get_header("Message") == "Removed interface from queue"
        assert wait_for(lambda: events.named("QueueMemberRemoved"))
        close(manager)


def test_wrong_secret_refused_and_lockout_after_five(tmp_path):
    with manager_box(tmp_path) as (app, driver, service, port):
        manager = connect(port)
        for _ in range(MAX_FAILED_LOGINS):
            with pytest.raises(ManagerAuthException, match="Authentication failed"):
                manager.login("crm", "not-the-secret-1")
        # locked (the account and this address): even the right secret is refused now
        with pytest.raises(ManagerAuthException, match="Authentication failed"):
            manager.login("crm", SECRET)
        user = service.accounts.get("crm")
        assert user.failed_logins == 0 and LOCKOUT_SECONDS == 300
        assert user.locked_until == pytest.approx(time.time() + LOCKOUT_SECONDS, abs=30)  # the box's clock
        refused = manager.send_action({"Action": "QueueStatus"})
        assert refused.get_header("Response") == "Error" and refused.get_header("Message") == "Permission denied"
        close(manager)
