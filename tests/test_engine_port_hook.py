"""The port's state, the phone's hook and the agent's state never disagree (issue 10): a
port taken out of service and back in with its phone still off hook is not idle (the hook
is read again from the line card), cannot be rung, and its agent is busy for the queues.
Fast: the real switch and ACD service over a stub card."""

from __future__ import annotations

import numpy as np
from engine_fakes import Rig

from drivers.ports import OffHook, OnHook
from firmware.acdengine import Prompts, attach_acd
from firmware.acdengine.announcements import WORDS
from firmware.acdengine.setup import setup_from_config
from firmware.media.music import MusicLibrary
from firmware.media.words import NUMBER_WORDS

AGENT, AGENT_PORT = "1002", 5  # extension 204


def with_acd(rig: Rig):
    words = {name: np.full(400, 1000, dtype=np.int16) for name in (*WORDS, *NUMBER_WORDS)}
    music = MusicLibrary({}, lambda path: np.zeros(8000, dtype=np.int16))
    service = attach_acd(rig.switch.control, setup_from_config(rig.config), Prompts(words), music, None)
    service.login(AGENT, AGENT_PORT)
    rig.run(0.1)
    return service


def test_port_in_with_the_phone_still_off_hook_is_not_idle():
    rig = Rig()
    service = with_acd(rig)
    rig.call_between(AGENT_PORT, 4)
    rig.event(OnHook(4))  # the other side hangs up: the agent's phone hears busy, still off hook
    assert rig.state(AGENT_PORT) == "failed"
    rig.switch.set_in_service(AGENT_PORT, False)
    assert rig.state(AGENT_PORT) == "out_of_service"
    rig.switch.set_in_service(AGENT_PORT, True)
    rig.run(0.1)
    # the card still has the phone off hook: the port is not idle and the agent is busy
    assert rig.state(AGENT_PORT) == "failed" and rig.players.tone(AGENT_PORT) == "congestion"
    assert not rig.switch.control.can_ring(AGENT_PORT)
    assert service.core.agents[AGENT].phone_busy
    # hanging up makes all three agree again: idle, on hook, the agent available
    rig.event(OnHook(AGENT_PORT))
    rig.run(0.1)
    assert rig.state(AGENT_PORT) == "idle" and not service.core.agents[AGENT].phone_busy
    rig.event(OffHook(AGENT_PORT))
    assert rig.state(AGENT_PORT) == "dialtone"


def test_a_phone_hung_up_while_out_of_service_comes_back_idle():
    rig = Rig()
    rig.event(OffHook(3))
    rig.switch.set_in_service(3, False)
    rig.event(OnHook(3))  # seen by the card while the port is out: followed, not acted on
    assert rig.state(3) == "out_of_service"
    rig.switch.set_in_service(3, True)
    assert rig.state(3) == "idle"
    rig.event(OffHook(3))
    assert rig.state(3) == "dialtone"


def test_a_phone_off_hook_while_out_of_service_is_not_rung():
    rig = Rig()
    rig.switch.set_in_service(2, False)
    rig.event(OffHook(2))
    rig.switch.set_in_service(2, True)
    rig.event(OffHook(4))
    rig.digits(4, "201")
    assert rig.state(2) == "failed" and rig.state(4) == "failed"  # 201 is busy: the caller hears busy
    assert rig.players.tone(4) == "busy"


def test_the_line_card_reports_its_host_side_hook_state():
    """``LineCard.off_hook``: the hook as the host qualified the card's reports."""
    from drivers.link import CardMessage
    from drivers.ports import LineCard
    from drivers.protocol import message

    class Link:
        def __init__(self) -> None:
            self.inbox: list = []

        def send(self, name, **fields):
            return None

        def poll_events(self):
            events, self.inbox = self.inbox, []
            return events

        def wait_acked(self, timeout_s):
            return True

        def set_session_setup(self, setup):
            return None

        def close(self):
            return None

        def now(self):
            return 0.0

    link = Link()
    card = LineCard(link, ["fxo", "fxs"])
    assert card.off_hook(1) is False and card.off_hook(0) is False
    link.inbox.append(CardMessage(message("fxs_off_hook", port=1, t_ms=0)))
    assert card.poll() == [OffHook(1, 0)] and card.off_hook(1) is True
    link.inbox.append(CardMessage(message("fxs_on_hook", port=1, t_ms=5000)))
    card.poll()
    assert card.off_hook(1) is False
