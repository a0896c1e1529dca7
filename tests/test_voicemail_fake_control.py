"""A call service against a fake of call control (``CallControlApi``): voicemail's deposit
runs without the switch, the mixer or a line card, in milliseconds. What the service may do
to the engine is exactly what the fake records."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

import numpy as np

from firmware.config.demo import demo_config
from firmware.config.model import Destination, DestinationKind, MailboxSettings, VoicemailSettings
from firmware.engine.calls import Call, Direction, Leg
from firmware.engine.control import Then
from firmware.voicemail.deposit import VoicemailDeposit

LINE = 0


@dataclass
class FakeControl:
    """The part of call control voicemail's deposit uses; every action is recorded."""

    config: object = field(default_factory=demo_config)
    tick: int = 0
    origin: dt.datetime = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)
    actions: list[tuple] = field(default_factory=list)
    busy_until: dict[int, int] = field(default_factory=dict)
    legs: dict[int, Leg] = field(default_factory=dict)

    def now(self) -> dt.datetime:
        return self.origin + dt.timedelta(milliseconds=20 * self.tick)

    def answer_line(self, call: Call, port: int) -> None:
        call.answer_tick = self.tick
        self.actions.append(("answer_line", port))

    def say(self, port: int, samples: np.ndarray, then: Then = Then.WAIT_ON_HOOK) -> None:
        self.actions.append(("say", port, len(samples), then))
        self.busy_until[port] = self.tick + len(samples) // 160

    def playing(self, port: int) -> bool:
        return self.tick < self.busy_until.get(port, 0)

    def stop_audio(self, port: int) -> None:
        self.busy_until.pop(port, None)
        self.actions.append(("stop_audio", port))

    def hear_nothing(self, port: int) -> None:
        self.actions.append(("hear_nothing", port))

    def end_service_call(self, call: Call, cause: str) -> None:
        self.actions.append(("end", call.call_id, cause))

    def state(self, port: int) -> Leg:
        return self.legs.get(port, Leg.IDLE)

    def deliver(self, call: Call, line_port: int, destination) -> None:
        self.actions.append(("deliver", call.call_id, line_port, str(destination)))


class Prompts:
    def greeting(self, mailbox: str, language: str | None = None) -> np.ndarray:
        return np.ones(1600)

    def sentence(self, names, language: str | None = None) -> np.ndarray:
        return np.ones(800)

    def speaks(self, language: str | None) -> str:
        return "en"


@dataclass
class Store:
    saved: list[tuple] = field(default_factory=list)
    held: int = 0  # messages already in the mailbox

    def count(self, mailbox: str) -> int:
        return self.held + len(self.saved)

    def save(self, mailbox, caller_number, caller_name, received, samples):
        self.saved.append((mailbox, caller_number, len(samples)))

        class Message:
            duration_s = len(samples) / 8000.0
            id = 1

        return Message()


def test_a_message_is_left_through_call_control_only():
    cc, store = FakeControl(), Store()
    deposit = VoicemailDeposit(cc, store, Prompts())
    call = Call(7, LINE, Direction.INBOUND, 0, caller_number="5551234")
    assert deposit.take(call, LINE, "201")
    assert cc.actions[:2] == [("answer_line", LINE), ("say", LINE, 1600, Then.CONTINUE)]
    speech = np.full((6, 160), 3000, dtype=np.int16)
    for _ in range(300):  # 10 ticks of greeting, 5 of beep, then speech
        cc.tick += 1
        deposit.on_tick(cc.tick)
        deposit.tap(speech)
    deposit.on_digit(LINE, "#")
    for _ in range(10):  # "message saved, goodbye", then the box hangs up
        cc.tick += 1
        deposit.on_tick(cc.tick)
    deposit.drain()
    deposit.close()
    assert ("end", 7, "voicemail") in cc.actions
    [(mailbox, number, samples)] = store.saved
    # recording from tick 15 (greeting 10 ticks, beep 5) to tick 300: 286 frames, less the
    # digit's 100 ms (5 frames) trimmed after '#'
    assert (mailbox, number, samples) == ("201", "5551234", (286 - 5) * 160)


def voicemail_with(**mailbox):
    return replace(demo_config(), voicemail=VoicemailSettings(mailboxes=(MailboxSettings("201", **mailbox),)))


def test_zero_hands_the_call_to_the_operator_through_call_control():
    cc, store = FakeControl(config=voicemail_with(operator=Destination(DestinationKind.EXTENSION, "202"))), Store()
    deposit = VoicemailDeposit(cc, store, Prompts())
    call = Call(8, LINE, Direction.INBOUND, 0, caller_number="5551234")
    assert deposit.take(call, LINE, "201")
    cc.tick += 3
    deposit.on_tick(cc.tick)
    assert deposit.on_digit(LINE, "0")
    assert cc.actions[-1] == ("deliver", 8, LINE, "extension 202")
    assert deposit.deposits == {} and store.saved == []


def test_zero_without_an_operator_is_ignored():
    cc, store = FakeControl(), Store()
    deposit = VoicemailDeposit(cc, store, Prompts())
    assert deposit.take(Call(9, LINE, Direction.INBOUND, 0), LINE, "201")
    deposit.on_digit(LINE, "0")
    assert not any(action[0] == "deliver" for action in cc.actions) and 9 in deposit.deposits


def test_a_full_mailbox_says_so_and_releases_the_line_without_recording():
    cc, store = FakeControl(config=voicemail_with(max_messages=3)), Store(held=3)
    deposit = VoicemailDeposit(cc, store, Prompts())
    assert deposit.take(Call(10, LINE, Direction.INBOUND, 0), LINE, "201")
    for _ in range(10):
        cc.tick += 1
        deposit.on_tick(cc.tick)
        deposit.tap(np.full((6, 160), 3000, dtype=np.int16))
    assert ("end", 10, "voicemail") in cc.actions
    assert store.saved == [] and deposit.deposits == {}


def test_star_in_the_greeting_hands_the_caller_to_the_mailbox_menu():
    cc, store = FakeControl(), Store()
    deposit = VoicemailDeposit(cc, store, Prompts())
    entered = []
    deposit.enter_mailbox = lambda call, port, mailbox: entered.append((call.call_id, port, mailbox))
    assert deposit.take(Call(11, LINE, Direction.INBOUND, 0), LINE, "201")
    deposit.on_digit(LINE, "*")
    assert entered == [(11, LINE, "201")] and deposit.deposits == {}
