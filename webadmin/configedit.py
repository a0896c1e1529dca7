"""Changing the configuration from a form: the same store, checks and live path as ``linebox config import``.

:func:`apply_edit` takes the revision the page was shown at and what the form says; it builds
the whole new configuration in its plain form, lets the configuration's own codec and
validation judge it -- every problem at once, by firmware/config/collect.py as for
``linebox config validate`` -- and stores it through ``ConfigStore.update``, which checks it again
in the same transaction that writes it. An error is returned next to its field (the
configuration's path of the message: ``extensions[2].forward.no_answer_s: expected ...``);
nothing is stored. A change committed meanwhile by another hand (the console, an import,
another browser) is a :class:`Conflict`: detected, never overwritten. The running engine
picks the new revision up by itself (``linebox run`` polls the store), as after an import.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from firmware.config import Config, ConfigStore, to_dict
from firmware.config.collect import document_problems
from webadmin import WebAdminError
from webadmin.sections import Field, FormProblem, Kind, Section, get_path, new_item, set_path, typed

GENERAL_KEY = ""


class Conflict(WebAdminError):
    """The configuration changed since the page was shown."""


@dataclass
class EditResult:
    errors: dict[str, str] = field(default_factory=dict)  # field path -> message
    general: list[str] = field(default_factory=list)  # problems not of one field of this item
    stored: Config | None = None
    restart: Sequence[str] = ()
    detail: str = ""  # what changed, for the audit log

    @property
    def ok(self) -> bool:
        return self.stored is not None


FormReader = Callable[[Field], tuple[str | None, list[str]]]
"""The raw value(s) of one field as the browser sent them: (value or None when absent, all values)."""


def item_index(section: Section, items: Sequence[Mapping], key: str) -> int | None:
    """The position of the item a URL names (by its id field, or its position for routes)."""
    if not section.id_field:
        return int(key) if key.isdigit() and int(key) < len(items) else None
    for index, item in enumerate(items):
        if str(item.get(section.id_field)) == key:
            return index
    return None


def _place(section: Section, index: int | None) -> str:
    return f"{section.key}[{index}]." if section.key else ""


_PATH_END = re.compile(r"[.\[:]")
_ENTRY = re.compile(r"^\[(\d+)\](\.?)")  # a list field's entry in a message: shown counted from 1


def _attribute(message: str, prefix: str, fields: Sequence[Field]) -> str | None:
    """The field a problem message is about, if of this form: its path starts the message, or the
    message is about the same field of another item that names this one (``extensions[1].number:
    number 202 is already used by extensions[0]``)."""
    if not message.startswith(prefix):
        other = re.match(r"[a-z_]+\[\d+\]\.", message)
        item = prefix.rstrip(".")
        if not item or other is None or not other.group(0).startswith(item.split("[")[0] + "[") \
                or not re.search(re.escape(item) + r"(?![\[\d])", message[other.end():]):
            return None
        prefix = other.group(0)
    rest = message[len(prefix):]
    for each in sorted(fields, key=lambda f: -len(f.path)):
        if rest.startswith(each.path) and _PATH_END.match(rest, len(each.path)):
            return each.path
    return None


def _judge(store: ConfigStore, data: dict, section: Section, index: int | None, fallback: Mapping,
           result: EditResult) -> Config | None:
    """Every problem of the edited configuration, each next to its field when it is about one of
    the form's: the same code as ``linebox config validate`` and import (firmware/config/collect.py,
    which asks the codec again without what it refused, then runs the store's checks), so "every
    problem" and the rules have one definition. The form's own part: a refused field of this form
    is judged at its fallback (the stored value, or a new item's default) for the other checks,
    and the messages are mapped to the fields."""
    prefix = _place(section, index)
    stand_ins = {prefix + each.path: get_path(fallback, each.path) for each in section.fields} \
        if index is not None or not section.key else {}
    findings = document_problems(data, store.check, stand_ins)
    found = findings.errors
    candidate = findings.config
    for message in found:
        path = _attribute(message, prefix, section.fields) if index is not None or not section.key else None
        if path is not None and path not in result.errors:
            own = message.startswith(prefix + path)
            text = message[len(prefix) + len(path):]
            kind = next(f.kind for f in section.fields if f.path == path)
            if own and kind is Kind.CODES:  # which code line: counted from 1
                text = _ENTRY.sub(lambda m: f"entry {int(m.group(1)) + 1}" + (", " if m.group(2) else ""), text, 1)
            elif own and kind is Kind.EMPTY_RULE:  # a ticked box: the message names its value
                text = _ENTRY.sub("", text, 1)
            result.errors[path] = (text.lstrip(":. ").strip() if own else "") or message
        elif path is None:
            result.general.append(message)
    return None if found else candidate


def apply_edit(store: ConfigStore, section: Section, key: str | None, read: FormReader, revision: int,
               source: str, restart_needed: Callable[[Config, Config], Sequence[str]],
               delete: bool = False, base_if_empty: Config | None = None) -> EditResult:
    """One form saved: ``key`` None adds an item (or, for the general settings, edits them).
    ``base_if_empty``: what a fresh database starts from (the first-boot wizard)."""
    result = EditResult()
    empty = base_if_empty is not None and store.is_empty()
    current = base_if_empty if empty else store.load()
    if store.config_version() != revision:
        raise Conflict("the configuration was changed by someone else since this page was shown: "
                       "reload it and make your change again")
    data = to_dict(current)
    before = to_dict(current)
    index: int | None = None
    fallback: Mapping = before
    if section.key:
        items: list = data[section.key]
        if key is not None:
            index = item_index(section, items, key)
            if index is None:
                raise WebAdminError(f"no {section.item} {key!r}")
        if delete:
            result.detail = f"deleted {section.item} {key}"
            del items[index]
            index = None
        else:
            item = new_item(section) if index is None else items[index]
            fallback = new_item(section) if index is None else before[section.key][index]
            if index is None:
                items.append(item)
                index = len(items) - 1
            _fill(section, item, read, fallback, result)
    else:
        _fill(section, data, read, fallback, result)
    candidate = _judge(store, data, section, index, fallback, result)
    if candidate is None or result.errors:
        return result

    def change(now: Config) -> Config:
        if now != current:  # committed by another hand between our read and this transaction
            raise Conflict("the configuration was changed by someone else while saving: nothing was stored; "
                           "reload the page")
        return candidate

    result.stored = store.save(candidate, source=source) if empty else store.update(change, source=source)
    if not result.detail:
        result.detail = _detail(section, key, before, data, index)
    result.restart = tuple(restart_needed(current, result.stored))
    return result


def _fill(section: Section, item: dict, read: FormReader, fallback: Mapping, result: EditResult) -> None:
    """What the form says, in the configuration's plain form; a value that cannot even be put
    there is refused here and its fallback is judged instead (so the other fields still are)."""
    for each in section.fields:
        raw, many = read(each)
        try:
            set_path(item, each.path, typed(each, raw, many))
        except FormProblem as exc:
            result.errors[each.path] = str(exc)
            set_path(item, each.path, get_path(fallback, each.path))


def form_values(section: Section, item: Mapping | None) -> dict[str, object]:
    """The plain values a form shows for ``item`` (a new item: the section's start values)."""
    source = item if item is not None else new_item(section)
    return {each.path: get_path(source, each.path) for each in section.fields}


def _detail(section: Section, key: str | None, before: dict, after: dict, index: int | None) -> str:
    if not section.key:
        return "settings: " + ("; ".join(differences(before, after)) or "no change")
    item = after[section.key][index]
    if key is None:
        return f"added {section.item} " + ", ".join(f"{f.path}={get_path(item, f.path)!r}" for f in section.fields)
    old = before[section.key][item_index(section, before[section.key], key)]
    return f"{section.item} {key}: " + ("; ".join(differences(old, item)) or "no change")


def differences(old: object, new: object, path: str = "") -> list[str]:
    """``path: old -> new`` for every plain value that differs (lists compared whole)."""
    if isinstance(old, dict) and isinstance(new, dict):
        found: list[str] = []
        for name in dict.fromkeys([*old, *new]):
            found += differences(old.get(name), new.get(name), f"{path}.{name}" if path else name)
        return found
    return [] if old == new else [f"{path}: {old!r} -> {new!r}"]


def replace_whole(store: ConfigStore, document: object, revision: int, source: str) -> list[str]:
    """A restored backup (``document``: its YAML's plain data): every problem of it at once, each
    with its path, as ``linebox config validate`` lists them (firmware/config/collect.py; its notes
    follow, ``note: ...``), nothing stored; or [] once it replaced the stored configuration
    (Conflict when another hand changed it since ``revision``)."""
    current = store.load()
    if store.config_version() != revision:
        raise Conflict("the configuration was changed by someone else since this page was shown: reload it")
    findings = document_problems(document, store.check)
    if findings.errors or findings.config is None:
        return [*findings.errors, *(f"note: {note}" for note in findings.notes)]
    config = findings.config

    def change(now: Config) -> Config:
        if now != current:
            raise Conflict("the configuration was changed by someone else while restoring: nothing was stored")
        return config

    store.update(change, source=source)
    return []


def store_item(store: ConfigStore, current: Config, data: dict, prefix: str, source: str,
               accepted: Callable[[], object] | None = None) -> list[str]:
    """Stores ``data`` (the whole configuration in its YAML form, with one item of a list edited
    at ``prefix``, e.g. ``ivr_flows[2]``) through the import's checks; the problems, named from
    inside the item, or ``[]`` once stored. Conflict when another hand changed it meanwhile.
    Every problem at once, as ``linebox config validate`` finds them (firmware/config/collect.py).
    ``accepted``: what goes with the change (a named prompt's recording file), done only once the
    change passed every check and no other hand changed the configuration, inside the store's
    transaction (an exception from it stores nothing)."""
    findings = document_problems(data, store.check)
    if findings.errors or findings.config is None:
        return [item_problem(problem, prefix) for problem in [*findings.errors, *findings.notes]]
    config = findings.config

    def change(now: Config) -> Config:
        if now != current:
            raise Conflict("the configuration was changed by someone else while saving: nothing was stored")
        if accepted is not None:
            accepted()
        return config

    store.update(change, source=source)
    return []


def item_problem(problem: str, prefix: str) -> str:
    """``ivr_flows[2].nodes[1].next: …`` as the item's page shows it: ``nodes[1].next: …``."""
    if problem.startswith(prefix + "."):
        return problem[len(prefix) + 1:]
    return problem[len(prefix):].lstrip(":. ") if problem.startswith(prefix) else problem
