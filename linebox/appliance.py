"""Builds the running appliance: board, line card, configuration, engine, call records.

This is where the layers meet (the composition root): every object is made here and
handed to the ones that use it, so each layer can be tested with stand-ins.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from board.definitions import BoardDefinition, load_board
from board.virtual.board import VirtualBoard
from board.virtual.world import make_world
from drivers.link import LinkConfig
from drivers.logs import EventLogger
from drivers.ports import LineCard, open_line_card
from dsp.toneplans import get_plan
from firmware.cdr import CdrStore
from firmware.config.demo import seed_demo_if_empty
from firmware.config.model import Config
from firmware.config.store import ConfigStore
from firmware.engine.cdr_writer import CdrWriter
from firmware.engine.detectors import DetectorBank
from firmware.engine.loop import MediaLoop
from firmware.engine.switch import Switch
from firmware.media.mixer import Mixer
from firmware.media.players import PlayerBank
from linebox.commands.config import board_ports


@dataclass
class Appliance:
    definition: BoardDefinition
    board: VirtualBoard
    card: LineCard
    store: ConfigStore
    cdr: CdrStore
    cdr_writer: CdrWriter
    switch: Switch
    loop: MediaLoop

    @property
    def world(self):
        return self.board.world

    def close(self) -> None:
        self.cdr_writer.close()
        self.card.close()
        self.board.close()
        self.cdr.close()
        self.store.close()


def open_virtual_appliance(
    db_path: str | Path,
    paced: bool,
    seed: int,
    origin: dt.datetime,
    board_name: str = "virtual",
    config: Config | None = None,
    link_config: LinkConfig | None = None,
) -> Appliance:
    """The appliance on the virtual board: the production stack over a real pseudo-terminal.

    ``config``: stored before start (replacing what is there); otherwise the demo office
    is seeded into an empty database. ``origin``: the wall time of tick 0 (the engine never
    reads the clock; the caller does, once, or sets it for a simulation).
    """
    definition = load_board(board_name)
    store = ConfigStore(db_path, boards=board_ports)
    if config is not None:
        store.save(config, source="scenario")
    else:
        seed_demo_if_empty(store)
    snapshot = store.load()
    zone = str(snapshot.zone)
    world = make_world(definition, zone, rng=np.random.default_rng(seed),
                       callerid_standard=str(snapshot.effective_caller_id_standard()))
    board = VirtualBoard(definition, zone, world=world, paced=paced, seed=seed)
    port_types = [str(port.kind) for port in definition.ports]
    card = open_line_card(board.serial_url, port_types, zone, config=link_config)
    cdr = CdrStore(db_path)
    cdr_writer = CdrWriter(cdr.record)
    plan = get_plan(zone)
    port_is_fxs = [kind == "fxs" for kind in port_types]
    players = PlayerBank(len(port_types))
    mixer = Mixer(len(port_types), len(port_types))
    switch = Switch(snapshot, port_is_fxs, plan, card, players, mixer, cdr_writer.submit, origin,
                    log=EventLogger("switch"))
    detectors = DetectorBank(port_is_fxs, plan, str(snapshot.effective_caller_id_standard()))
    loop = MediaLoop(board, card, switch, detectors, players, mixer, time.perf_counter, sync_commands=True)
    store.subscribe(lambda new_config: loop.submit(lambda: switch.apply_config(new_config)))
    return Appliance(definition, board, card, store, cdr, cdr_writer, switch, loop)
