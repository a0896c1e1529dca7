"""Board definitions: what hardware a box has, as data (YAML files beside this module).

A board definition names the UART the line cards talk on, the ALSA PCM their codec
appears as, the GPIO line that resets the cards, the card model and protocol version the
host expects at the identify handshake, and the port map: ports numbered 0..N-1, each an
``fxs`` (a phone is plugged in) or ``fxo`` (an exchange line is plugged in) port carried on
one ALSA channel. ``virtual`` is the default board (the line-card emulator and simulated
telephone world of ``board/virtual``: 2 FXO ports 0-1, 4 FXS ports 2-5); ``rpi`` is the
reference Raspberry Pi board.

A definition is validated completely when loaded: unknown keys are refused, types and
bounds are checked, and the first problem is one ``BoardError`` naming the file and the
field (``board rpi.yaml: serial.baud: must be one of 9600, ..., got 1234``). The result
is a tree of frozen dataclasses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from board import BoardError

BOARD_FOLDER = Path(__file__).resolve().parent
STANDARD_BAUDS = (9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600)
MAX_PORTS = 32
MAX_CHANNELS = 32
MAX_GPIO_LINE = 53  # BCM2835..BCM2712 gpiochip0 lines 0-53 on Raspberry Pi boards
MAX_PROTOCOL_VERSION = 255  # one byte on the wire (docs/protocol.md)
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


class PortKind(StrEnum):
    FXS = "fxs"  # the card's SLIC feeds an analog phone
    FXO = "fxo"  # the card's DAA terminates an exchange line


@dataclass(frozen=True)
class PortDefinition:
    port: int
    kind: PortKind
    channel: int  # the ALSA channel carrying this port's audio
    label: str


@dataclass(frozen=True)
class SerialDefinition:
    device: str | None  # None on the virtual board: the emulator's pty, known at start
    baud: int


@dataclass(frozen=True)
class AudioDefinition:
    capture: str | None  # ALSA PCM names; None on the virtual board (it is its own audio device)
    playback: str | None
    channels: int


@dataclass(frozen=True)
class GpioLine:
    chip: str
    line: int
    active_low: bool


@dataclass(frozen=True)
class CardDefinition:
    model: str
    protocol_version: int
    reset_gpio: GpioLine | None


@dataclass(frozen=True)
class BoardDefinition:
    name: str
    description: str
    virtual: bool
    serial: SerialDefinition
    audio: AudioDefinition
    card: CardDefinition
    ports: tuple[PortDefinition, ...]

    @property
    def n_ports(self) -> int:
        return len(self.ports)

    @property
    def fxo_ports(self) -> tuple[int, ...]:
        return tuple(p.port for p in self.ports if p.kind is PortKind.FXO)

    @property
    def fxs_ports(self) -> tuple[int, ...]:
        return tuple(p.port for p in self.ports if p.kind is PortKind.FXS)

    @property
    def channel_map(self) -> tuple[int, ...]:
        """``channel_map[port]`` is the ALSA channel of that port."""
        return tuple(p.channel for p in self.ports)

    def kind_of(self, port: int) -> PortKind:
        if not 0 <= port < self.n_ports:
            raise BoardError(f"port {port} does not exist on board {self.name} (ports 0-{self.n_ports - 1})")
        return self.ports[port].kind


def available_boards() -> tuple[str, ...]:
    return tuple(sorted(path.stem for path in BOARD_FOLDER.glob("*.yaml")))


def load_board(name_or_path: str | Path) -> BoardDefinition:
    """A board by name (``virtual``, ``rpi``: the YAML files beside this module) or by path."""
    text = str(name_or_path)
    if NAME_PATTERN.match(text) and not text.endswith((".yaml", ".yml")):
        path = BOARD_FOLDER / f"{text}.yaml"
        if not path.is_file():
            raise BoardError(f"unknown board {text!r} (available: {', '.join(available_boards())})")
    else:
        path = Path(name_or_path)
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BoardError(f"board {path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from exc
    try:
        data = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise BoardError(f"board {path.name}: YAML error{where}: {problem}") from None
    return parse_board(data, path.name)


def parse_board(data: Any, source: str = "<data>") -> BoardDefinition:
    """Validates a board document (the parsed YAML) and builds the definition."""
    return _BoardParser(source).board(data)


class _BoardParser:
    """Validation with field paths in the messages; the first problem raises."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, message: str) -> BoardError:
        return BoardError(f"board {self.source}: {path}: {message}" if path else f"board {self.source}: {message}")

    def mapping(self, value: Any, path: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> Mapping:
        if not isinstance(value, Mapping):
            raise self.fail(path, f"must be a mapping, got {_type_name(value)}")
        for key in value:
            if key not in required and key not in optional:
                allowed = ", ".join(required + optional)
                raise self.fail(path, f"unknown key {key!r} (allowed: {allowed})")
        for key in required:
            if key not in value:
                raise self.fail(_join(path, key), "is missing")
        return value

    def integer(self, value: Any, path: str, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"must be an integer, got {_type_name(value)} {value!r}")
        if not low <= value <= high:
            raise self.fail(path, f"must be between {low} and {high}, got {value}")
        return value

    def boolean(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, f"must be true or false, got {_type_name(value)} {value!r}")
        return value

    def string(self, value: Any, path: str, nullable: bool = False) -> str | None:
        if value is None and nullable:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, f"must be a non-empty string, got {_type_name(value)} {value!r}")
        return value

    def board(self, data: Any) -> BoardDefinition:
        doc = self.mapping(data, "", ("name", "virtual", "serial", "audio", "card", "ports"), ("description",))
        name = self.string(doc["name"], "name")
        if not NAME_PATTERN.match(name):
            raise self.fail("name", f"must be lower-case letters, digits, '-' or '_' (max 32), got {name!r}")
        description = "" if doc.get("description") is None else self.string(doc["description"], "description")
        virtual = self.boolean(doc["virtual"], "virtual")
        serial = self.serial(doc["serial"], virtual)
        audio = self.audio(doc["audio"], virtual)
        card = self.card(doc["card"])
        ports = self.ports(doc["ports"], audio.channels)
        return BoardDefinition(name, description, virtual, serial, audio, card, ports)

    def serial(self, value: Any, virtual: bool) -> SerialDefinition:
        doc = self.mapping(value, "serial", ("device", "baud"))
        device = self.string(doc["device"], "serial.device", nullable=True)
        if virtual and device is not None:
            raise self.fail("serial.device", "must be null on a virtual board (the emulator creates its pty)")
        if not virtual and device is None:
            raise self.fail("serial.device", "is required on a hardware board (e.g. /dev/serial0)")
        if device is not None and not (device.startswith("/") or "://" in device):
            raise self.fail("serial.device", f"must be a device path or a pyserial URL, got {device!r}")
        baud = doc["baud"]
        if isinstance(baud, bool) or baud not in STANDARD_BAUDS:
            raise self.fail("serial.baud", f"must be one of {', '.join(map(str, STANDARD_BAUDS))}, got {baud!r}")
        return SerialDefinition(device, baud)

    def audio(self, value: Any, virtual: bool) -> AudioDefinition:
        doc = self.mapping(value, "audio", ("capture", "playback", "channels"))
        names = {}
        for key in ("capture", "playback"):
            names[key] = self.string(doc[key], f"audio.{key}", nullable=True)
            if virtual and names[key] is not None:
                raise self.fail(f"audio.{key}", "must be null on a virtual board (it is its own audio device)")
            if not virtual and names[key] is None:
                raise self.fail(f"audio.{key}", "is required on a hardware board (an ALSA PCM name)")
        channels = self.integer(doc["channels"], "audio.channels", 1, MAX_CHANNELS)
        return AudioDefinition(names["capture"], names["playback"], channels)

    def card(self, value: Any) -> CardDefinition:
        doc = self.mapping(value, "card", ("model", "protocol_version", "reset_gpio"))
        model = self.string(doc["model"], "card.model")
        version = self.integer(doc["protocol_version"], "card.protocol_version", 1, MAX_PROTOCOL_VERSION)
        gpio = None
        if doc["reset_gpio"] is not None:
            g = self.mapping(doc["reset_gpio"], "card.reset_gpio", ("chip", "line", "active_low"))
            chip = self.string(g["chip"], "card.reset_gpio.chip")
            if not chip.startswith("/dev/gpiochip"):
                raise self.fail("card.reset_gpio.chip", f"must be a /dev/gpiochipN path, got {chip!r}")
            line = self.integer(g["line"], "card.reset_gpio.line", 0, MAX_GPIO_LINE)
            gpio = GpioLine(chip, line, self.boolean(g["active_low"], "card.reset_gpio.active_low"))
        return CardDefinition(model, version, gpio)

    def ports(self, value: Any, channels: int) -> tuple[PortDefinition, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail("ports", f"must be a non-empty list, got {_type_name(value)}")
        if len(value) > min(MAX_PORTS, channels):
            raise self.fail("ports", f"has {len(value)} ports, at most {min(MAX_PORTS, channels)} (audio.channels)")
        ports = []
        used_channels: dict[int, int] = {}
        for index, entry in enumerate(value):
            path = f"ports[{index}]"
            doc = self.mapping(entry, path, ("port", "kind", "channel"), ("label",))
            number = self.integer(doc["port"], f"{path}.port", 0, MAX_PORTS - 1)
            if number != index:
                raise self.fail(f"{path}.port", f"ports must be numbered 0..N-1 in order: expected {index}, got {number}")
            kind_text = doc["kind"]
            if kind_text not in {k.value for k in PortKind}:
                raise self.fail(f"{path}.kind", f"must be 'fxs' or 'fxo', got {kind_text!r}")
            channel = self.integer(doc["channel"], f"{path}.channel", 0, channels - 1)
            if channel in used_channels:
                raise self.fail(f"{path}.channel", f"channel {channel} is already used by port {used_channels[channel]}")
            used_channels[channel] = number
            label = f"{kind_text.upper()} {number}" if doc.get("label") is None else self.string(doc["label"], f"{path}.label")
            ports.append(PortDefinition(number, PortKind(kind_text), channel, label))
        return tuple(ports)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__
