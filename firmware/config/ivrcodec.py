"""The ``ivr_flows:`` section as plain data (the YAML form) and back, and the rules of one contact.

A contact (:func:`contact_from_dict`) is no longer part of the configuration document (config
migration 17: firmware/contacts/store.py keeps them); its rules here are the ones a CSV row
(firmware/contacts/importer.py) and a scenario's ``contacts:`` entry are checked against.

The same rules as :mod:`firmware.config.codec` (which calls these from ``from_dict`` and
``to_dict``): unknown keys, wrong types and out-of-range values are refused with a
:class:`FirmwareError` whose message starts with the field's path
(``ivr_flows[0].nodes[3].timeout_s: expected an integer 1-60, got 0``). A node may only
carry the fields its type uses (``ivr_flows[0].nodes[1].choices: not used by a play node``),
so a typo'd or misplaced key never passes silently. Cross-references (node ids,
destinations, schedules, prompts per language) are :mod:`firmware.config.ivrcheck`'s.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from firmware import FirmwareError
from firmware.config import codec
from firmware.config.ivrmodel import (
    DigitCheck,
    IvrFlow,
    IvrNode,
    IvrNodeType,
    LookupBy,
    MenuChoice,
    Prompt,
    SayKind,
)
from firmware.config.model import Contact

MAX_IVR_FLOWS = 32
MAX_NODES = 64
MAX_CHOICES = 12  # twelve DTMF keys
MAX_LANGUAGES = 4
MAX_PROMPT_WORDS = 32
MAX_PHRASES = 8  # spoken words per choice and language (the recognizer's grammar stays small)
MAX_PHRASE_CHARS = 40
MAX_TIMEOUT_S = 60
MAX_RETRIES = 9
MAX_COLLECT_DIGITS = 32
MAX_VALUE_CHARS = 64
MAX_CONTACT_NUMBERS = 8
MAX_CONTACT_FIELDS = 16
MAX_NOTES_CHARS = 256
CONTACT_NUMBER_RE = re.compile(r"\+?[0-9]{1,20}")
"""A contact's number: E.164 (``+4930123456``, as the contacts import stores it) or digits as dialled."""

SOUND_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}(/[A-Za-z0-9][A-Za-z0-9_-]{0,63}){0,2}")
"""A recorded word: a sound file's stem under a language's prompt folder (``digits/1``); no
dots, so no ``..`` and no extension."""
VARIABLE_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")
ACCOUNT_RE = re.compile(r"[0-9]{1,32}")

_COMMON = ("id", "type")
FIELDS: Mapping[IvrNodeType, tuple[str, ...]] = {
    IvrNodeType.PLAY: ("prompt", "next"),
    IvrNodeType.MENU: ("prompt", "choices", "timeout_s", "retries", "invalid_prompt", "no_input"),
    IvrNodeType.COLLECT: ("prompt", "next", "timeout_s", "retries", "invalid_prompt", "no_input", "min_digits",
                          "max_digits", "terminator", "check", "variable"),
    IvrNodeType.SAY: ("prompt", "next", "say", "variable", "value"),
    IvrNodeType.LOOKUP: ("next", "by", "variable", "no_match"),
    IvrNodeType.SET: ("next", "variable", "value", "language", "queue_priority", "queue_skills"),
    IvrNodeType.TIME_CONDITION: ("next", "schedule", "closed"),
    IvrNodeType.GOTO: ("destination",),
}
"""The fields each node type uses (besides ``id`` and ``type``); docs/ivr.md, "Nodes"."""
REQUIRED: Mapping[IvrNodeType, tuple[str, ...]] = {
    IvrNodeType.PLAY: ("prompt", "next"),
    IvrNodeType.MENU: ("prompt", "choices", "no_input"),
    IvrNodeType.COLLECT: ("prompt", "next", "no_input", "variable"),
    IvrNodeType.SAY: ("next", "say"),
    IvrNodeType.LOOKUP: ("next", "no_match"),
    IvrNodeType.SET: ("next",),
    IvrNodeType.TIME_CONDITION: ("next", "schedule", "closed"),
    IvrNodeType.GOTO: ("destination",),
}
_NODE_ID = "a node id (letters, digits, _ . -; up to 32)"


def _words(raw: Any, path: str, pattern: re.Pattern[str] | None, what: str, limit: int,
           max_chars: int = 40) -> tuple[str, ...]:
    if isinstance(raw, (str, bytes, Mapping)) or not isinstance(raw, (list, tuple)):
        raise FirmwareError(f"{path}: expected a list, got {codec.describe(raw)}")
    if not raw or len(raw) > limit:
        raise FirmwareError(f"{path}: expected 1-{limit} entries, got {len(raw)}")
    return tuple(codec.check_text(item, f"{path}[{index}]", pattern, what, max_chars=max_chars)
                 for index, item in enumerate(raw))


def _prompt(raw: Any, path: str, pattern: re.Pattern[str] | None = SOUND_RE, limit: int = MAX_PROMPT_WORDS,
            what: str = "a recorded word (letters, digits, _ -, folders with /; no dots)") -> Prompt:
    """Language -> list of words, e.g. ``{en: [hello, vm-press, digits/1]}``."""
    if not isinstance(raw, Mapping):
        raise FirmwareError(f"{path}: expected a mapping language: [words], got {codec.describe(raw)}")
    if len(raw) > MAX_LANGUAGES:
        raise FirmwareError(f"{path}: at most {MAX_LANGUAGES} languages, got {len(raw)}")
    pairs = []
    for language, words in raw.items():
        codec.check_text(language, f"{path}: key", codec.LANGUAGE_RE, "a language code like en or pt_BR")
        pairs.append((language, _words(words, codec.join(path, language), pattern, what, limit,
                                       max_chars=MAX_PHRASE_CHARS)))
    return tuple(pairs)


def _choice(raw: Any, path: str) -> MenuChoice:
    r = codec.Reader(raw, path, MenuChoice)
    key = r.text("key", empty=True, max_chars=1)
    if key and key not in codec.DTMF_KEYS:
        raise FirmwareError(f"{r.at('key')}: expected one DTMF key (0-9, *, #) or '', got {codec.describe(key)}")
    words = _prompt(r.value("words"), r.at("words"), None, MAX_PHRASES, "a word or phrase") \
        if "words" in r.raw else ()
    if not key and not words:
        raise FirmwareError(f"{path}: a choice needs a key, spoken words, or both")
    return MenuChoice(next=r.text("next", codec.NAME_RE, _NODE_ID), key=key, words=words)


def node_from_dict(raw: Any, path: str) -> IvrNode:
    r = codec.Reader(raw, path, IvrNode)
    node_type = r.choice("type", IvrNodeType)
    allowed = FIELDS[node_type]
    for key in r.raw:
        if key not in _COMMON and key not in allowed:
            raise FirmwareError(f"{r.at(str(key))}: not used by a {node_type} node (it uses {', '.join(allowed)})")
    for key in REQUIRED[node_type]:
        r.value(key, required=True)

    def prompt(key: str) -> Prompt:
        return _prompt(r.value(key), r.at(key)) if key in r.raw else ()

    def node_id(key: str) -> str:
        return r.text(key, codec.NAME_RE, _NODE_ID, empty=True)

    choices = tuple(_choice(item, item_path) for item_path, item in r.items("choices", MAX_CHOICES))
    keys: dict[str, int] = {}
    for index, choice in enumerate(choices):
        if choice.key in keys:
            raise FirmwareError(f"{r.at('choices')}[{index}].key: key {choice.key} is already used by "
                                f"choices[{keys[choice.key]}]")
        if choice.key:
            keys[choice.key] = index
    terminator = r.text("terminator", empty=True, max_chars=1)
    if terminator and terminator not in "#*":
        raise FirmwareError(f"{r.at('terminator')}: expected # or * or '', got {codec.describe(terminator)}")
    min_digits = r.integer("min_digits", 1, MAX_COLLECT_DIGITS)
    max_digits = r.integer("max_digits", 1, MAX_COLLECT_DIGITS)
    if max_digits < min_digits:
        raise FirmwareError(f"{r.at('max_digits')}: {max_digits} is below min_digits {min_digits}")
    by = r.choice("by", LookupBy)
    variable = r.text("variable", VARIABLE_RE, "a variable name (a-z, 0-9, _; up to 32, starting with a letter)",
                      empty=True)
    if node_type is IvrNodeType.LOOKUP and by is LookupBy.VARIABLE and not variable:
        raise FirmwareError(f"{r.at('variable')}: missing (a lookup by variable names the variable)")
    value = r.text("value", empty=True, max_chars=MAX_VALUE_CHARS)
    if node_type is IvrNodeType.SAY and bool(variable) == bool(value):
        raise FirmwareError(f"{r.at('variable')}: a say node says either a variable or a value (one of the two)")
    if node_type is IvrNodeType.SET and bool(variable) != bool(value):
        raise FirmwareError(f"{r.at('value' if variable else 'variable')}: a variable is set with a value")
    skills = codec.read_skills(r, "queue_skills") if r.raw.get("queue_skills") is not None else None
    priority = r.integer("queue_priority", 0, codec.MAX_ROUTE_PRIORITY, optional=True)
    language = r.text("language", codec.LANGUAGE_RE, "a language code like en or pt_BR", empty=True)
    if node_type is IvrNodeType.SET and not (variable or language or priority is not None or skills is not None):
        raise FirmwareError(f"{path}: a set node sets a variable, the language, queue_priority or queue_skills")
    return IvrNode(
        id=r.text("id", codec.NAME_RE, _NODE_ID),
        type=node_type,
        prompt=prompt("prompt"),
        next=node_id("next"),
        choices=choices,
        timeout_s=r.integer("timeout_s", 1, MAX_TIMEOUT_S),
        retries=r.integer("retries", 0, MAX_RETRIES),
        invalid_prompt=prompt("invalid_prompt"),
        no_input=node_id("no_input"),
        min_digits=min_digits,
        max_digits=max_digits,
        terminator=terminator,
        check=r.choice("check", DigitCheck),
        variable=variable,
        value=value,
        say=r.choice("say", SayKind, optional=True),
        by=by,
        no_match=node_id("no_match"),
        schedule=r.text("schedule", codec.NAME_RE, "a schedule name", empty=True),
        closed=node_id("closed"),
        language=language,
        queue_priority=priority,
        queue_skills=skills,
        destination=codec.destination_from_dict(r.value("destination"), r.at("destination"))
        if r.value("destination") is not None else None,
    )


def flow_from_dict(raw: Any, path: str) -> IvrFlow:
    r = codec.Reader(raw, path, IvrFlow)
    for key in ("name", "start", "languages", "nodes"):
        r.value(key, required=True)
    languages = _words(r.value("languages"), r.at("languages"), codec.LANGUAGE_RE,
                       "a language code like en or pt_BR", MAX_LANGUAGES)
    for index, language in enumerate(languages):
        if languages.index(language) != index:
            raise FirmwareError(f"{r.at('languages')}[{index}]: {language} is listed twice")
    return IvrFlow(
        name=r.text("name", codec.NAME_RE, "a name (letters, digits, _ . -; up to 32)"),
        start=r.text("start", codec.NAME_RE, _NODE_ID),
        languages=languages,
        nodes=tuple(node_from_dict(item, item_path) for item_path, item in r.items("nodes", MAX_NODES)),
    )


def contact_from_dict(raw: Any, path: str) -> Contact:
    r = codec.Reader(raw, path, Contact)
    r.value("name", required=True)
    numbers = r.value("numbers")
    fields = r.value("fields")
    return Contact(
        name=r.text("name", max_chars=MAX_VALUE_CHARS),
        numbers=_words(numbers, r.at("numbers"), CONTACT_NUMBER_RE,
                       "a phone number of 1-20 digits, + first for E.164", MAX_CONTACT_NUMBERS) if numbers else (),
        account=r.text("account", ACCOUNT_RE, "an account number of 1-32 digits or ''", empty=True),
        fields=_fields(dict(fields) if isinstance(fields, tuple) else fields, r.at("fields")),
        language=r.text("language", codec.LANGUAGE_RE, "a language code like en or pt_BR", empty=True),
        notes=r.text("notes", empty=True, max_chars=MAX_NOTES_CHARS),
    )


def _fields(raw: Any, path: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, Mapping):
        raise FirmwareError(f"{path}: expected a mapping field: text, got {codec.describe(raw)}")
    if len(raw) > MAX_CONTACT_FIELDS:
        raise FirmwareError(f"{path}: at most {MAX_CONTACT_FIELDS} entries, got {len(raw)}")
    return tuple((codec.check_text(key, f"{path}: key", VARIABLE_RE, "a field name (a-z, 0-9, _; up to 32)"),
                  codec.check_text(value, codec.join(path, key), max_chars=MAX_VALUE_CHARS))
                 for key, value in raw.items())


# -- to plain data -----------------------------------------------------------------------------


def _prompt_dict(prompt: Any) -> Any:
    return {language: list(words) for language, words in prompt} if isinstance(prompt, tuple) else prompt


def node_dict(node: IvrNode) -> dict[str, Any]:
    """The YAML form of ``node``: ``id``, ``type`` and only the fields its type uses, every one."""
    values: dict[str, Any] = {
        "prompt": _prompt_dict(node.prompt), "next": node.next,
        "choices": [{"key": choice.key, "words": _prompt_dict(choice.words), "next": choice.next}
                    if isinstance(choice, MenuChoice) else choice for choice in node.choices],
        "timeout_s": node.timeout_s, "retries": node.retries, "invalid_prompt": _prompt_dict(node.invalid_prompt),
        "no_input": node.no_input, "min_digits": node.min_digits, "max_digits": node.max_digits,
        "terminator": node.terminator, "check": codec.plain_value(node.check), "variable": node.variable,
        "value": node.value, "say": codec.plain_value(node.say), "by": codec.plain_value(node.by),
        "no_match": node.no_match, "schedule": node.schedule, "closed": node.closed, "language": node.language,
        "queue_priority": node.queue_priority,
        "queue_skills": dict(node.queue_skills) if isinstance(node.queue_skills, tuple) else node.queue_skills,
        "destination": codec.destination_dict(node.destination),
    }
    try:
        used = FIELDS[IvrNodeType(node.type)]
    except ValueError:  # not a node type: from_dict says so, naming the field
        used = tuple(values)
    out: dict[str, Any] = {"id": node.id, "type": codec.plain_value(node.type)}
    for key in used:
        if key == "invalid_prompt" and not node.invalid_prompt:
            continue  # optional mappings: left out when empty (an empty mapping is refused on import)
        out[key] = values[key]
    for choice in out.get("choices", []):
        if isinstance(choice, dict) and not choice.get("words"):
            choice.pop("words", None)
    return out


def flow_dict(flow: IvrFlow) -> dict[str, Any]:
    return {"name": flow.name, "start": flow.start, "languages": list(flow.languages),
            "nodes": [node_dict(node) if isinstance(node, IvrNode) else node for node in flow.nodes]}


def contact_dict(contact: Contact) -> dict[str, Any]:
    return {"name": contact.name, "numbers": list(contact.numbers), "account": contact.account,
            "fields": dict(contact.fields) if isinstance(contact.fields, tuple) else contact.fields,
            "language": contact.language, "notes": contact.notes}
