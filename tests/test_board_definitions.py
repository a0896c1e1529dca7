"""Board definitions: the shipped boards load, and every kind of bad field is refused by name."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import yaml

from board import BoardError
from board.definitions import BOARD_FOLDER, PortKind, available_boards, load_board, parse_board


def rpi_doc() -> dict:
    return yaml.safe_load((BOARD_FOLDER / "rpi.yaml").read_text())


def test_shipped_boards():
    assert {"virtual", "rpi"} <= set(available_boards())
    virtual = load_board("virtual")
    assert virtual.virtual and virtual.n_ports == 6
    assert virtual.fxo_ports == (0, 1) and virtual.fxs_ports == (2, 3, 4, 5)
    assert virtual.serial.device is None and virtual.audio.capture is None
    rpi = load_board("rpi")
    assert not rpi.virtual
    assert (rpi.serial.device, rpi.serial.baud) == ("/dev/serial0", 115200)
    assert rpi.audio.capture == rpi.audio.playback == "hw:CARD=linebox,DEV=0" and rpi.audio.channels == 8
    assert rpi.card.reset_gpio is not None and rpi.card.reset_gpio.line == 17
    assert rpi.card.model == virtual.card.model and rpi.card.protocol_version == virtual.card.protocol_version
    assert rpi.channel_map == (0, 1, 2, 3, 4, 5)
    assert [p.kind for p in rpi.ports] == [PortKind.FXO] * 2 + [PortKind.FXS] * 4


def test_definitions_are_frozen():
    board = load_board("virtual")
    with pytest.raises(dataclasses.FrozenInstanceError):
        board.name = "other"
    assert isinstance(board.ports, tuple)


def test_load_by_path_and_unknown_name(tmp_path):
    path = tmp_path / "custom.yaml"
    doc = rpi_doc()
    doc["name"] = "custom"
    path.write_text(yaml.safe_dump(doc))
    assert load_board(path).name == "custom"
    assert load_board(str(path)).name == "custom"
    with pytest.raises(BoardError, match=r"unknown board 'nosuch' \(available: .*rpi.*virtual"):
        load_board("nosuch")
    with pytest.raises(BoardError, match="missing.yaml: cannot read"):
        load_board(tmp_path / "missing.yaml")


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nports: [\n  {port: 0\n")
    with pytest.raises(BoardError, match=r"^board broken.yaml: YAML error at line \d+"):
        load_board(path)


def test_port_kind_lookup():
    board = load_board("virtual")
    assert board.kind_of(0) is PortKind.FXO and board.kind_of(5) is PortKind.FXS
    with pytest.raises(BoardError, match=r"port 6 does not exist on board virtual \(ports 0-5\)"):
        board.kind_of(6)


def _set(doc: dict, path: str, value) -> None:
    keys = path.split(".")
    target = doc
    for key in keys[:-1]:
        target = target[int(key)] if isinstance(target, list) else target[key]
    last = keys[-1]
    if value is DELETE:
        del target[last]
    elif isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value


DELETE = object()

BAD_FIELDS = [
    ("name", "Bad Name", r"name: must be lower-case"),
    ("name", DELETE, r"name: is missing"),
    ("colour", "red", r"board rpi.yaml: unknown key 'colour'"),
    ("virtual", "no", r"virtual: must be true or false, got str"),
    ("serial.baud", 115201, r"serial.baud: must be one of 9600, .*, got 115201"),
    ("serial.baud", True, r"serial.baud: must be one of"),
    ("serial.device", None, r"serial.device: is required on a hardware board"),
    ("serial.device", "serial0", r"serial.device: must be a device path or a pyserial URL"),
    ("serial.parity", "N", r"serial: unknown key 'parity' \(allowed: device, baud\)"),
    ("serial", "fast", r"serial: must be a mapping, got str"),
    ("audio.channels", 0, r"audio.channels: must be between 1 and 32, got 0"),
    ("audio.channels", 2.5, r"audio.channels: must be an integer, got float"),
    ("audio.channels", 4, r"ports: has 6 ports, at most 4 \(audio.channels\)"),
    ("audio.capture", "", r"audio.capture: must be a non-empty string"),
    ("audio.playback", None, r"audio.playback: is required on a hardware board"),
    ("card.protocol_version", 0, r"card.protocol_version: must be between 1 and 255, got 0"),
    ("card.protocol_version", 256, r"card.protocol_version: must be between 1 and 255, got 256"),
    ("card.model", 7, r"card.model: must be a non-empty string, got int"),
    ("card.reset_gpio.line", 54, r"card.reset_gpio.line: must be between 0 and 53, got 54"),
    ("card.reset_gpio.line", -1, r"card.reset_gpio.line: must be between 0 and 53, got -1"),
    ("card.reset_gpio.chip", "/dev/gpio", r"card.reset_gpio.chip: must be a /dev/gpiochipN path"),
    ("card.reset_gpio.active_low", DELETE, r"card.reset_gpio.active_low: is missing"),
    ("ports", [], r"ports: must be a non-empty list"),
    ("ports.2.port", 3, r"ports\[2\].port: ports must be numbered 0..N-1 in order: expected 2, got 3"),
    ("ports.1.kind", "fxx", r"ports\[1\].kind: must be 'fxs' or 'fxo', got 'fxx'"),
    ("ports.3.channel", 2, r"ports\[3\].channel: channel 2 is already used by port 2"),
    ("ports.3.channel", 8, r"ports\[3\].channel: must be between 0 and 7, got 8"),
    ("ports.0.gain", 3, r"ports\[0\]: unknown key 'gain'"),
    ("ports.0", "fxo", r"ports\[0\]: must be a mapping, got str"),
]


@pytest.mark.parametrize("path, value, message", BAD_FIELDS, ids=[f"{p}=<deleted>" if v is DELETE else f"{p}={v!r}" for p, v, _ in BAD_FIELDS])
def test_bad_fields_are_refused_naming_the_field(path, value, message):
    doc = copy.deepcopy(rpi_doc())
    _set(doc, path, value)
    with pytest.raises(BoardError, match=message):
        parse_board(doc, "rpi.yaml")


def test_the_unmodified_document_is_valid():
    """The bad-field table edits a valid document: it must be valid to begin with."""
    assert parse_board(rpi_doc(), "rpi.yaml") == load_board("rpi")


@pytest.mark.parametrize(
    "path, value, message",
    [
        ("serial.device", "/dev/ttyUSB0", r"serial.device: must be null on a virtual board"),
        ("audio.capture", "hw:0", r"audio.capture: must be null on a virtual board"),
    ],
)
def test_virtual_boards_have_no_device_names(path, value, message):
    doc = yaml.safe_load((BOARD_FOLDER / "virtual.yaml").read_text())
    _set(doc, path, value)
    with pytest.raises(BoardError, match=message):
        parse_board(doc, "virtual.yaml")


def test_bounds_are_inclusive():
    doc = rpi_doc()
    _set(doc, "card.reset_gpio.line", 53)
    _set(doc, "card.protocol_version", 255)
    _set(doc, "card.reset_gpio", None)
    board = parse_board(doc, "rpi.yaml")
    assert board.card.reset_gpio is None and board.card.protocol_version == 255
    doc = rpi_doc()
    _set(doc, "card.reset_gpio.line", 0)
    _set(doc, "serial.device", "socket://127.0.0.1:7000")
    assert parse_board(doc, "rpi.yaml").card.reset_gpio.line == 0


def test_labels_default_from_kind_and_number():
    doc = rpi_doc()
    del doc["ports"][3]["label"]
    assert parse_board(doc).ports[3].label == "FXS 3"
