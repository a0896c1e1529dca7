"""The IVR's part of the configuration: flows of nodes (``ivr_flows``) and named prompts
(``ivr_prompts``), frozen dataclasses like the rest of :mod:`firmware.config.model`, which
holds them in :class:`~firmware.config.model.Config`. What the fields mean: docs/ivr.md;
their bounds: :mod:`firmware.config.ivrcodec` and :mod:`firmware.config.promptcodec`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the model imports this module
    from firmware.config.model import Destination, SkillLevels

Prompt = tuple[tuple[str, tuple[str, ...]], ...]
"""Language -> recorded words (sound names under that language's prompt folder, ``digits/1``),
as ordered pairs (the YAML mapping's order is kept)."""


class IvrNodeType(StrEnum):
    """What an IVR node does (docs/ivr.md, "Nodes")."""

    PLAY = "play"
    MENU = "menu"
    COLLECT = "collect"
    SAY = "say"
    LOOKUP = "lookup"
    SET = "set"
    TIME_CONDITION = "time_condition"
    GOTO = "goto"


IVR_INPUT_NODES = frozenset({IvrNodeType.MENU, IvrNodeType.COLLECT})
"""Nodes that wait for the caller (timeout, retries, invalid prompt, no-input destination)."""


class SayKind(StrEnum):
    NUMBER = "number"
    DIGITS = "digits"
    DATE = "date"
    TIME = "time"
    MONEY = "money"


class DigitCheck(StrEnum):
    """How a collect node checks the entered digits."""

    NONE = "none"
    LUHN = "luhn"  # ISO/IEC 7812-1 annex B check digit (card and account numbers)
    LOOKUP = "lookup"  # an account number of the contact store


class LookupBy(StrEnum):
    CALLER_ID = "caller_id"  # the caller's number among a contact's numbers
    VARIABLE = "variable"  # a variable's value (an entered account number) as a contact's account


@dataclass(frozen=True)
class MenuChoice:
    """One choice of a menu: a key and/or spoken words per language, and the node it leads to."""

    next: str
    key: str = ""
    words: Prompt = ()
    """Language -> keywords or phrases the recognizer listens for (the node's grammar)."""


@dataclass(frozen=True)
class IvrNode:
    """One node of a flow; which fields a type uses is in docs/ivr.md ("Nodes")."""

    id: str
    type: IvrNodeType
    prompt: Prompt = ()
    next: str = ""
    choices: tuple[MenuChoice, ...] = ()
    timeout_s: int = 5
    retries: int = 2
    invalid_prompt: Prompt = ()
    no_input: str = ""
    """Input nodes: where the call goes when the retries are used up (no input or invalid input)."""
    min_digits: int = 1
    max_digits: int = 10
    terminator: str = "#"
    check: DigitCheck = DigitCheck.NONE
    variable: str = ""
    value: str = ""
    say: SayKind | None = None
    by: LookupBy = LookupBy.CALLER_ID
    no_match: str = ""
    """Lookup: where the call goes when no contact matches."""
    schedule: str = ""
    closed: str = ""
    """Time condition: where the call goes while the schedule is closed (``next`` while open)."""
    language: str = ""
    queue_priority: int | None = None
    queue_skills: SkillLevels | None = None
    destination: Destination | None = None


@dataclass(frozen=True)
class IvrFlow:
    """A voice menu: nodes from ``start``; ``languages`` offered (the first one is the default)."""

    name: str
    start: str
    languages: tuple[str, ...]
    nodes: tuple[IvrNode, ...]

    def node(self, node_id: str) -> IvrNode | None:
        return next((node for node in self.nodes if node.id == node_id), None)


@dataclass(frozen=True)
class NamedPrompt:
    """A prompt of ``ivr_prompts`` (config migration 18): per language a text to synthesise or a
    recorded word (an uploaded prompt's name, a prompt recorded by phone, a system recording).
    A flow names it like a recorded word; the installer changes its words in this one place."""

    name: str
    text: tuple[tuple[str, str], ...] = ()
    """Language -> the words, synthesised offline (firmware/speech/tts.py), cached by text and voice."""
    recording: tuple[tuple[str, str], ...] = ()
    """Language -> a recorded word's name (``welcome-acme``, ``42``, ``hello``)."""

    def source(self, language: str) -> tuple[str, str] | None:
        """``('text', words)`` or ``('recording', name)`` in ``language``; None if it has neither."""
        for kind, pairs in (("recording", self.recording), ("text", self.text)):
            for own, value in pairs:
                if own == language:
                    return kind, value
        return None

    def languages(self) -> list[str]:
        return [language for language, _ in (*self.recording, *self.text)]
