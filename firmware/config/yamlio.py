"""The configuration as a YAML document, for installers, backups and tests.

:func:`to_yaml` writes the documented layout (docs/configuration.md) with keys in a fixed
order, so export → import → export gives the same bytes. :func:`from_yaml` reads with
PyYAML's safe loader, refuses duplicate keys (a second ``zone:`` silently winning is how
configuration mistakes hide) and checks types and bounds; errors are one line naming the
field, or the line and column for YAML syntax errors.
"""

from __future__ import annotations

from typing import Any

import yaml

from firmware import FirmwareError
from firmware.config.codec import from_dict, to_dict
from firmware.config.model import Config

HEADER = "# linebox configuration: every key is described in docs/configuration.md\n"


class _StrictLoader(yaml.SafeLoader):
    """The safe loader, refusing a key given twice in one mapping."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            mark = key_node.start_mark
            raise FirmwareError(f"line {mark.line + 1}, column {mark.column + 1}: duplicate key {key!r}")
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


def parse_yaml(text: str) -> Any:
    """The plain data of a YAML document; FirmwareError with line and column on a syntax error."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise FirmwareError(f"{where}YAML syntax error: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise FirmwareError(f"YAML error: {exc}") from exc


def from_yaml(text: str) -> Config:
    """A type- and bounds-checked Config (cross-references are checked when it is stored)."""
    data = parse_yaml(text)
    if data is None:
        raise FirmwareError("configuration: the document is empty")
    return from_dict(data)
