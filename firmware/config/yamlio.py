"""The configuration as a YAML document, for installers, backups and tests.

:func:`to_yaml` writes the documented layout (docs/configuration.md) with keys in a fixed
order, so export → import → export gives the same bytes. :func:`from_yaml` is the trust
boundary of an imported file: it reads with PyYAML's safe loader and refuses, before any
field is looked at,

- a document larger than :data:`MAX_DOCUMENT_BYTES` (UTF-8 bytes);
- mappings and lists nested deeper than :data:`MAX_DEPTH` (checked while the document is
  composed, so a hostile ``[[[[...`` never reaches Python's recursion limit);
- a key that is not text (``? {a: 1}``, ``? [1, 2]``, ``1:``, ``yes:``), and a key given twice
  in one mapping (a second ``zone:`` silently winning is how configuration mistakes hide);

then checks types and bounds (:func:`firmware.config.codec.from_dict`). Every refusal is a
:class:`FirmwareError` with one printable line naming the place: the field's path
(``queues[2].name: ...``) or the line and column in the file (``line 4, column 3: ...``).
"""

from __future__ import annotations

import reprlib
from typing import Any

import yaml

from drivers.logs import one_line
from firmware import FirmwareError
from firmware.config.codec import from_dict, to_dict
from firmware.config.model import Config

HEADER = "# linebox configuration: every key is described in docs/configuration.md\n"
MAX_DOCUMENT_BYTES = 1024 * 1024
"""The largest document imported. A configuration near every limit of docs/configuration.md
(16 schedules of 366 holidays, 64 lines, extensions and agents, 16 queues) is about 520 kB."""
MAX_DEPTH = 32
"""Mappings and lists inside each other; the configuration's own layout goes 6 deep."""

_short = reprlib.Repr()
_short.maxstring = _short.maxother = 40
_short.maxlevel = 2


def _mark(mark: yaml.Mark | None) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""


class _StrictLoader(yaml.SafeLoader):
    """The safe loader with a depth limit, refusing keys that are not text or are given twice."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        collection = self.check_event(yaml.MappingStartEvent, yaml.SequenceStartEvent)
        if collection:
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise FirmwareError(f"{_mark(self.peek_event().start_mark)}mappings and lists nested deeper "
                                    f"than {MAX_DEPTH} levels")
        try:
            return super().compose_node(parent, index)
        finally:
            if collection:
                self.depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """PyYAML's constructors raise ValueError on a tagged or implicit scalar they cannot read
        (``!!int x``, ``2026-02-30``): refused here with the place."""
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, OverflowError) as exc:
            value = _short.repr(node.value) if isinstance(node, yaml.ScalarNode) else "this value"
            raise FirmwareError(f"{_mark(node.start_mark)}{value} cannot be read as {node.tag.rsplit(':', 1)[-1]}"
                                ) from exc


_KINDS = {yaml.MappingNode: "a mapping", yaml.SequenceNode: "a list"}


def _mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[str] = set()
    for key_node, _ in node.value:
        where = _mark(key_node.start_mark)
        if not isinstance(key_node, yaml.ScalarNode):
            raise FirmwareError(f"{where}a key must be text, got {_KINDS.get(type(key_node), 'a collection')}")
        if key_node.tag == "tag:yaml.org,2002:merge":
            raise FirmwareError(f"{where}merge keys (<<) are not part of the configuration format")
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, str):
            raise FirmwareError(f"{where}a key must be text, got {_short.repr(key)} (put it in quotes)")
        if key in seen:
            raise FirmwareError(f"{where}duplicate key {_short.repr(key)}")
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


class _Dumper(yaml.SafeDumper):
    """Lists of plain values on one line (``disconnect: [busy_tone]``), everything else in blocks."""


def _list(dumper: _Dumper, data: list[Any]) -> yaml.SequenceNode:
    flow = all(item is None or isinstance(item, (str, int, float, bool)) for item in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _list)


def to_yaml(config: Config) -> str:
    return HEADER + yaml.dump(to_dict(config), Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                              allow_unicode=True, width=120)


def check_size(size_bytes: int) -> None:
    """Refuses a document larger than :data:`MAX_DOCUMENT_BYTES` (before it is read, where possible)."""
    if size_bytes > MAX_DOCUMENT_BYTES:
        raise FirmwareError(f"configuration: the document is larger than the limit of {MAX_DOCUMENT_BYTES} bytes")


def _parse(text: str) -> Any:
    check_size(len(text.encode("utf-8", errors="surrogatepass")))
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "not YAML"
        raise FirmwareError(f"{_mark(mark)}YAML syntax error: {problem}") from exc
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise FirmwareError(f"line {line}, column {column}: character U+{exc.character:04X} is not allowed "
                            "in YAML (a control character?)") from exc
    except yaml.YAMLError as exc:
        raise FirmwareError(f"YAML error: {exc}") from exc


def parse_yaml(text: str) -> Any:
    """The plain data of a YAML document; FirmwareError (one line, with line and column) if refused."""
    try:
        return _parse(text)
    except FirmwareError as exc:
        raise FirmwareError(one_line(str(exc))) from exc


def from_yaml(text: str) -> Config:
    """A type- and bounds-checked Config (cross-references are checked when it is stored)."""
    data = parse_yaml(text)
    if data is None:
        raise FirmwareError("configuration: the document is empty")
    try:
        return from_dict(data)
    except FirmwareError as exc:
        raise FirmwareError(one_line(str(exc))) from exc
