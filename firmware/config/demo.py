"""The demo configuration of the virtual board, stored on the first start of ``make run``.

Two exchange lines on the FXO ports 0-1, four extensions 201-204 on the FXS ports 2-5,
a ring group ``office`` (number 600) with all four, business hours Monday to Friday
09:00-17:00 (America/New_York, zone ``us``), inbound calls to the ring group in hours and
to extension 201 after hours; outbound calls limited to local numbers after hours.
An ACD queue ``support`` (number 700) with agents 1001 and 1002, who normally sit at
extensions 203 and 204. A small voice menu ``main`` (docs/ivr.md) sits in front of the
queue for callers whose number is 212-555-2xxx (the first route): in business hours "press 1
or say support" joins the queue with priority 1, "2" / "español" switches to Spanish, "0"
or no input rings the office group; after hours the caller reaches voicemail 201. The menu
starts with the named prompt ``welcome`` (``ivr_prompts``, docs/ivr.md): Debian's English
recording "hello", and a Spanish text spoken offline by text-to-speech (espeak-ng; synthesised
once into the data folder's cache, after the first start, never on the start-up path).
"""

from __future__ import annotations

from firmware.config.ivrmodel import IvrFlow, IvrNode, IvrNodeType, MenuChoice, NamedPrompt
from firmware.config.model import (
    Agent,
    Config,
    Destination,
    DestinationKind,
    DispositionCode,
    Extension,
    InboundRoute,
    Line,
    OutboundClass,
    Queue,
    QueueDesk,
    RingGroup,
    RouteWhen,
    Security,
    Zone,
)
from firmware.config.store import ConfigStore
from firmware.schedule import Schedule, TimeRange

DEMO_BOARD = "virtual"
BUSINESS_HOURS = (TimeRange(9 * 60, 17 * 60),)


def demo_ivr() -> IvrFlow:
    """The demo's voice menu in front of the ``support`` queue (English and Spanish)."""
    node = IvrNode
    return IvrFlow(name="main", start="hours", languages=("en", "es"), nodes=(
        node("hours", IvrNodeType.TIME_CONDITION, schedule="office", next="welcome", closed="closed"),
        node("welcome", IvrNodeType.MENU,
             prompt=(("en", ("welcome", "vm-press", "digits/1", "vm-press", "digits/2", "vm-press", "digits/0")),
                     ("es", ("welcome", "vm-press", "digits/1", "vm-press", "digits/2", "vm-press", "digits/0"))),
             invalid_prompt=(("en", ("invalid", "please-try-again")), ("es", ("invalid", "please-try-again"))),
             choices=(MenuChoice("support", "1", (("en", ("support",)), ("es", ("soporte",)))),
                      MenuChoice("spanish", "2", (("en", ("spanish",)), ("es", ("español",)))),
                      MenuChoice("operator", "0", (("en", ("operator",)), ("es", ("operadora",))))),
             timeout_s=5, retries=2, no_input="operator"),
        node("spanish", IvrNodeType.SET, language="es", next="welcome"),
        node("support", IvrNodeType.SET, queue_priority=1, next="queue"),
        node("queue", IvrNodeType.GOTO, destination=Destination(DestinationKind.QUEUE, "support")),
        node("operator", IvrNodeType.GOTO, destination=Destination(DestinationKind.RING_GROUP, "office")),
        node("closed", IvrNodeType.GOTO, destination=Destination(DestinationKind.VOICEMAIL, "201")),
    ))


DEMO_WELCOME = NamedPrompt("welcome", recording=(("en", "hello"),),
                           text=(("es", "Bienvenido a la oficina."),))
"""The menu's first words, changed in one place (the IVR page): a recording and a typed text."""


DEMO_DESK = QueueDesk(
    dispositions=(DispositionCode("1", "resolved"), DispositionCode("2", "call back", callback=True),
                  DispositionCode("3", "do not call", do_not_call=True)),
    script="Hello {name}, thank you for calling {queue}. I see account {account}; how can I help?")
"""The support queue's agent desk: three outcomes and a greeting script (docs/configuration.md)."""


def demo_config() -> Config:
    office = Schedule(name="office", timezone="America/New_York", hours=(BUSINESS_HOURS,) * 5 + ((), ()))
    return Config(
        board=DEMO_BOARD,
        zone=Zone.US,
        lines=(
            Line(port=0, name="Line 1", number="2125550100"),
            Line(port=1, name="Line 2", number="2125550101"),
        ),
        extensions=(
            Extension(number="201", port=2, name="Reception", voicemail=True),
            Extension(number="202", port=3, name="Sales"),
            Extension(number="203", port=4, name="Support", outbound_class=OutboundClass.LOCAL),
            Extension(number="204", port=5, name="Office", outbound_class=OutboundClass.INTERNATIONAL),
        ),
        ring_groups=(
            RingGroup(name="office", number="600", members=("201", "202", "203", "204"),
                      no_answer=Destination(DestinationKind.VOICEMAIL, "201")),
        ),
        routes=(
            InboundRoute(name="voice menu", destination=Destination(DestinationKind.IVR, "main"),
                         caller_id="2125552xxx"),
            InboundRoute(name="business hours", destination=Destination(DestinationKind.RING_GROUP, "office"),
                         schedule="office", when=RouteWhen.OPEN),
            InboundRoute(name="after hours", destination=Destination(DestinationKind.EXTENSION, "201"),
                         schedule="office", when=RouteWhen.CLOSED),
        ),
        schedules=(office,),
        security=Security(after_hours_schedule="office", after_hours_max_class=OutboundClass.LOCAL),
        queues=(
            Queue(name="support", number="700", announce_position_s=60, announce_hold_time=True,
                  max_wait_s=600, overflow=Destination(DestinationKind.VOICEMAIL, "201"), desk=DEMO_DESK),
        ),
        agents=(
            Agent(id="1001", name="Alice", extension="203", queues=(("support", 0),)),
            Agent(id="1002", name="Bob", extension="204", queues=(("support", 0),)),
        ),
        ivr_flows=(demo_ivr(),),
        ivr_prompts=(DEMO_WELCOME,),
    )


def seed_demo(store: ConfigStore) -> Config:
    """Stores the demo configuration (replacing what is there); returns the stored snapshot."""
    return store.save(demo_config(), source="demo")


def seed_demo_if_empty(store: ConfigStore) -> bool:
    """Seeds the demo into a fresh database only; True when it did."""
    if not store.is_empty():
        return False
    seed_demo(store)
    return True
