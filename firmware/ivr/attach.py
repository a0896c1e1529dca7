"""Puts the IVR into a running switch: the call service for ``DestinationKind.IVR``.

``attach_ivr`` registers :class:`~firmware.ivr.service.IvrService` with the engine's call
control (``firmware/engine/control.py``), attaches it (ticks, digits, call ends) and adds its
frame tap to the media loop. The composition root (linebox/appliance.py) calls it once at
start, after reading the flows' prompts (:meth:`IvrPrompts.learn`), and has the configuration
store call ``learn`` again for every stored snapshot before the engine sees it.
"""

from __future__ import annotations

from drivers.logs import EventLogger
from firmware.config.ivrmodel import SayKind
from firmware.config.model import DestinationKind
from firmware.desk.lookup import ContactLookup
from firmware.engine.control import CallControlApi
from firmware.ivr import logic
from firmware.ivr.prompts import IvrPrompts
from firmware.ivr.recorder import PromptRecorder, RecorderWords, StorePrompt
from firmware.ivr.service import IvrService
from firmware.speech import say
from firmware.speech.api import SpeechService

CURRENCY = "USD"  # the only currency the core recordings name (firmware.speech.say.CURRENCIES)


def say_functions() -> logic.SayFunctions:
    """What a say node speaks, from text values (variables are text): firmware.speech.say."""
    return {
        SayKind.NUMBER: lambda value, language: say.say_number(logic.parse_number(value), language),
        SayKind.DIGITS: lambda value, language: say.say_digits(value.strip(), language),
        SayKind.DATE: lambda value, language: say.say_date(logic.parse_date(value), language),
        SayKind.TIME: lambda value, language: say.say_time(logic.parse_time(value), language),
        SayKind.MONEY: lambda value, language: say.say_money(logic.parse_cents(value), CURRENCY, language),
    }


def attach_ivr(control: CallControlApi, loop, prompts: IvrPrompts, speech: SpeechService | None = None,
               log: EventLogger | None = None, contacts: ContactLookup | None = None) -> IvrService:
    """The IVR attached to the engine's call control and ``loop`` (see module docstring);
    ``contacts``: what its lookup nodes read (the contact store)."""
    service = IvrService(control, prompts, say_functions(), speech, log or EventLogger("ivr"), contacts)
    control.register_service(DestinationKind.IVR, service)
    control.attach(service)
    loop.taps.append(service.tap)
    return service


def attach_prompt_recorder(control: CallControlApi, loop, words: RecorderWords, store: StorePrompt,
                           saved=None, log: EventLogger | None = None) -> PromptRecorder:
    """The ``record_prompt`` feature code (firmware/ivr/recorder.py) attached to ``control`` and ``loop``."""
    recorder = PromptRecorder(control, words, store, saved, log or EventLogger("ivr"))
    control.add_feature_codes(recorder.codes())
    control.attach(recorder)
    loop.taps.append(recorder.tap)
    return recorder


def find_ivr(control: CallControlApi) -> IvrService | None:
    """The :class:`IvrService` attached to ``control``, if the box has one (the console's ``show ivr``)."""
    return next((service for service in control.attached if isinstance(service, IvrService)), None)
