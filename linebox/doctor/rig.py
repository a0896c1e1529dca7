"""The virtual board and its line card, stepped one tick at a time by the doctor's checks.

What the card reports about its ports (``drivers.ports`` events: in and out of service, hook,
line voltage) is kept per port as it comes, for the port checks.
"""

from __future__ import annotations

import numpy as np

from board.definitions import load_board
from board.virtual.board import VirtualBoard
from board.virtual.world import make_world
from drivers.audio import TICK_SAMPLES
from drivers.ports import LineCard, LineVoltage, PortOutOfService, open_line_card


class Rig:
    def __init__(self, seed: int, board: str = "virtual", zone: str = "us") -> None:
        self.definition = load_board(board)
        self.zone = zone
        self.world = make_world(self.definition, self.zone, rng=np.random.default_rng(seed))
        self.board = VirtualBoard(self.definition, self.zone, world=self.world, paced=False, seed=seed)
        self.kinds = [str(port.kind) for port in self.definition.ports]
        self.card: LineCard = open_line_card(self.board.serial_url, self.kinds, self.zone,
                                             card_model=self.definition.card.model, clock=self.board.host_clock)
        self.board.attach_host(self.card.link)
        self.line_voltage: dict[int, LineVoltage] = {}  # the last line-voltage report of each FXO port
        self.out_of_service: dict[int, str] = {}  # why, for a port the card took out of service

    def step(self, out: np.ndarray | None = None) -> np.ndarray:
        frame = self.board.read_frame()
        for event in self.card.poll():
            if isinstance(event, LineVoltage):
                self.line_voltage[event.port] = event
            elif isinstance(event, PortOutOfService):
                self.out_of_service[event.port] = event.reason
        self.board.write_frame(out if out is not None else np.zeros((self.board.ports, TICK_SAMPLES), np.int16))
        return frame

    def close(self) -> None:
        self.card.close()
        self.board.close()
