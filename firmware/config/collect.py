"""Every problem of a configuration document at once, each starting with its field's path.

The codec (:func:`~firmware.config.codec.from_dict`) stops at the first value it cannot take,
and the cross-reference checks (:mod:`firmware.config.validate`) need a typed snapshot. An
installer (``linebox config validate``) wants the whole list in one run, as the web admin's
forms show it. So :func:`document_problems` asks the codec again and again, each time taking
out what it refused -- no rule is written twice here, every message is the codec's own:

- a refused value at or under a path the caller gave a stand-in for (``stand_ins``: the web
  admin's forms give each field of the form its stored value) takes that stand-in, once;
- a number where text is expected (``number: 204``, the codec's hint to quote it) is judged
  again as the text the installer meant (``'204'``), so its references are checked;
- a refused value whose key has a default is removed (the default then stands in for it);
- a value the item cannot do without (a required key, refused or missing), a list entry
  that is no mapping: the whole list entry is left out; the messages that follow are
  renumbered back to the document's own positions, and a note says which entry the
  cross-reference checks did not see (they may then report a reference to it as missing);
- a problem of the document as a whole (not a mapping, a wrong format version): the end.

Once the codec takes what is left, the cross-reference checks run on it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from firmware import FirmwareError
from firmware.config.codec import QUOTE_HINT, from_dict, path_token
from firmware.config.model import Config

MAX_ROUNDS = 1000  # each round takes something out of a bounded document: a guard, never reached
_INDEX = re.compile(r"\[(\d+)\]")


@dataclass
class Findings:
    """What :func:`document_problems` found: errors block a save, notes and warnings do not."""

    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # entries left out of the cross-reference checks
    config: Config | None = None  # what the codec took (with the refused parts left out)


@dataclass(frozen=True)
class _Step:
    parent: Any  # the mapping or list holding the value
    key: Any  # its key or index
    end: int  # where this step's text ends in the message


def _locate(data: Any, message: str) -> tuple[list[_Step], str]:
    """The values of ``data`` a message's path goes through, and what follows the part found."""
    steps: list[_Step] = []
    node, at = data, 0
    while True:
        if isinstance(node, list) and message.startswith("[", at):
            found = _INDEX.match(message, at)
            if found is None or int(found.group(1)) >= len(node):
                break
            steps.append(_Step(node, int(found.group(1)), found.end()))
            node, at = node[int(found.group(1))], found.end()
        elif isinstance(node, Mapping):
            start = at + 1 if steps and message.startswith(".", at) else at
            if steps and start == at:
                break
            names = [(path_token(key), key) for key in node if isinstance(key, str)]
            fits = [(token, key) for token, key in names if message.startswith(token, start)
                    and (len(message) == start + len(token) or message[start + len(token)] in ".[:")]
            if not fits:
                break
            token, key = max(fits, key=lambda fit: len(fit[0]))
            steps.append(_Step(node, key, start + len(token)))
            node, at = node[key], start + len(token)
        else:
            break
    return steps, message[at:]


@dataclass
class _Drop:
    list_path: str  # the list's path in the numbering of the moment it was dropped
    index: int


def _renumber(message: str, drops: list[_Drop]) -> str:
    """``message`` with list positions as in the document (before any entry was left out)."""
    for drop in reversed(drops):
        pattern = re.compile(r"(?<![\w.\]])" + re.escape(drop.list_path) + r"\[(\d+)\]")
        message = pattern.sub(lambda m, d=drop: f"{d.list_path}[{int(m.group(1)) + (int(m.group(1)) >= d.index)}]",
                              message)
    return message


def _within(path: str, outer: str) -> bool:
    """``path`` is ``outer`` or a value inside it (``queues[0].desk`` holds ``queues[0].desk.script``)."""
    return path == outer or (path.startswith(outer) and path[len(outer)] in ".[")


def _stand_in(steps: list[_Step], message: str, drops: list[_Drop], stand_ins: Mapping[str, Any],
              touched: set[str]) -> tuple[_Step, Any] | None:
    """Where a stand-in goes for the value a message refuses, and the stand-in: the outermost step
    of the message's path the caller gave one for, not used yet and not what is there already."""
    for step in steps:
        here = message[:step.end]
        document_path = _renumber(here, drops)
        if document_path in stand_ins and here not in touched:
            value = stand_ins[document_path]
            return None if step.parent[step.key] == value else (step, value)
    return None


def document_problems(raw: Any, check: Callable[[Config], list[str]],
                      stand_ins: Mapping[str, Any] | None = None) -> Findings:
    """Every problem of the plain document ``raw`` (YAML's data): the codec's, then ``check``'s
    (``ConfigStore.check``: the cross-reference checks against the board). ``stand_ins``: path (in
    the document's numbering, as messages name it) -> the value judged instead of a refused one
    at or under that path, for the rest of the checks. ``raw`` is not changed."""
    data = copy.deepcopy(raw)
    found = Findings()
    drops: list[_Drop] = []
    touched: set[str] = set()  # paths of values replaced or taken out: a problem about them is ours now
    for _ in range(MAX_ROUNDS):
        try:
            found.config = from_dict(data)
            break
        except FirmwareError as exc:
            message = str(exc)
        path = message.split(": ", 1)[0]
        repaired = any(_within(path, each) for each in touched)
        if not repaired:
            found.errors.append(_renumber(message, drops))
        steps, rest = _locate(data, message)
        stand_in = _stand_in(steps, message, drops, stand_ins or {}, touched)
        if stand_in is not None:
            step, value = stand_in
            step.parent[step.key] = copy.deepcopy(value)
            touched.add(message[:step.end])
            continue
        if rest.startswith(":") and steps:
            parent, key = steps[-1].parent, steps[-1].key
            if not repaired and isinstance(parent[key], (int, float)) and not isinstance(parent[key], bool) \
                    and QUOTE_HINT in message:
                parent[key] = str(parent[key])  # the hint's own fix: judged as the text it was meant to be
                touched.add(path)
                continue
            if isinstance(parent, Mapping):
                del parent[key]  # its default stands in
                touched.add(path)
                continue
        entries = [step for step in steps if isinstance(step.parent, list)]
        if not entries:
            return found  # the document as a whole: nothing more can be read
        entry = entries[-1]
        list_path = message[:entry.end][: message[:entry.end].rfind("[")]
        del entry.parent[entry.key]
        drops.append(_Drop(list_path, entry.key))
        found.notes.append(f"{_renumber(f'{list_path}[{entry.key}]', drops[:-1])}: left out of the other "
                           "checks until its problem is fixed (a reference to it may be reported as missing)")
    if found.config is not None:
        found.errors.extend(_renumber(problem, drops) for problem in check(found.config))
    return found
