"""A queue's ``desk:`` block as plain data (the YAML form) and back: disposition codes, the
call script and the wallboard's targets (docs/configuration.md, "Agent desk").

The same rules as :mod:`firmware.config.codec`, which calls these from the queue's reader:
unknown keys, wrong types and out-of-range values are refused with a FirmwareError naming
the field (``queues[0].desk.dispositions[1].code: '12a' is not 1-4 digits``). The script's
placeholders are checked here, once, against :data:`PLACEHOLDER_RE`; the desk fills them
(:mod:`firmware.desk.script`) with this one definition.
"""

from __future__ import annotations

import re
from typing import Any

from firmware import FirmwareError
from firmware.config.model import DispositionCode, QueueDesk, WallboardTargets

MAX_DISPOSITIONS = 32
MAX_LABEL_CHARS = 40
MAX_SCRIPT_CHARS = 4000
MAX_THRESHOLD_S = 3600
DISPOSITION_CODE_RE = re.compile(r"[0-9]{1,4}")
"""Keyed on a headset's keypad during wrap-up, then ``#`` (so ``#`` and ``*`` are not part of it)."""
PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")
PLACEHOLDER_NAME_RE = re.compile(r"name|number|account|queue|agent|(field|var)\.[A-Za-z0-9_]{1,40}")
"""What a script may name: the contact's name, the caller's number, the account number, the
queue and agent, a contact's free field (``field.balance``) or an IVR variable (``var.order``)."""


def _code(raw: Any, path: str) -> DispositionCode:
    from firmware.config.codec import Reader

    if isinstance(raw, DispositionCode):
        raw = disposition_dict(raw)
    r = Reader(raw, path, DispositionCode)
    callback, do_not_call = r.boolean("callback"), r.boolean("do_not_call")
    if callback and do_not_call:
        raise FirmwareError(f"{path}: a code cannot both ask for a callback and mark the number do-not-call")
    return DispositionCode(code=r.text("code", DISPOSITION_CODE_RE, "1-4 digits"),
                           label=r.text("label", max_chars=MAX_LABEL_CHARS), callback=callback,
                           do_not_call=do_not_call)


def check_script(text: Any, path: str) -> str:
    if not isinstance(text, str):
        raise FirmwareError(f"{path}: expected text, got {type(text).__name__}")
    if len(text) > MAX_SCRIPT_CHARS:
        raise FirmwareError(f"{path}: at most {MAX_SCRIPT_CHARS} characters, got {len(text)}")
    if any(not (ch.isprintable() or ch in "\n\t") for ch in text):
        raise FirmwareError(f"{path}: only printable characters, new lines and tabs")
    stripped = PLACEHOLDER_RE.sub("", text)
    if "{" in stripped or "}" in stripped:
        raise FirmwareError(f"{path}: an unmatched brace (placeholders are written {{name}})")
    for match in PLACEHOLDER_RE.finditer(text):
        if not PLACEHOLDER_NAME_RE.fullmatch(match.group(1)):
            raise FirmwareError(f"{path}: unknown placeholder {{{match.group(1)[:40]}}} (known: name, number, "
                                "account, queue, agent, field.NAME, var.NAME)")
    return text


def _targets(raw: Any, path: str) -> WallboardTargets:
    from firmware.config.codec import Reader

    if isinstance(raw, WallboardTargets):
        return raw
    r = Reader(raw, path, WallboardTargets)
    return WallboardTargets(service_level_min_percent=r.integer("service_level_min_percent", 0, 100),
                            abandon_max_percent=r.integer("abandon_max_percent", 0, 100),
                            asa_max_s=r.integer("asa_max_s", 1, MAX_THRESHOLD_S),
                            longest_wait_max_s=r.integer("longest_wait_max_s", 1, MAX_THRESHOLD_S))


def desk_from_dict(raw: Any, path: str) -> QueueDesk:
    from firmware.config.codec import Reader

    if isinstance(raw, QueueDesk):
        raw = desk_dict(raw)
    r = Reader(raw, path, QueueDesk)
    codes = tuple(_code(item, item_path) for item_path, item in r.items("dispositions", MAX_DISPOSITIONS))
    seen: set[str] = set()
    for index, code in enumerate(codes):
        # One code may not begin another: "1" then "#" must not be ambiguous with "12" then "#"
        # only in the keys typed, so only exact duplicates are refused.
        if code.code in seen:
            raise FirmwareError(f"{r.at('dispositions')}[{index}].code: {code.code} is listed twice")
        seen.add(code.code)
    return QueueDesk(dispositions=codes, script=check_script(r.value("script"), r.at("script")),
                     targets=_targets(r.value("targets"), r.at("targets")))


def disposition_dict(code: DispositionCode) -> dict[str, Any]:
    return {"code": code.code, "label": code.label, "callback": code.callback, "do_not_call": code.do_not_call}


def desk_dict(desk: QueueDesk) -> dict[str, Any]:
    targets = desk.targets
    return {
        "dispositions": [disposition_dict(code) if isinstance(code, DispositionCode) else code
                         for code in desk.dispositions],
        "script": desk.script,
        "targets": {"service_level_min_percent": targets.service_level_min_percent,
                    "abandon_max_percent": targets.abandon_max_percent, "asa_max_s": targets.asa_max_s,
                    "longest_wait_max_s": targets.longest_wait_max_s}
        if isinstance(targets, WallboardTargets) else targets,
    }
