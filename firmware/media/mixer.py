"""One mixing matrix for every audio path in the box.

Each 20 ms tick the engine stacks what every port sent (``n_ports`` rows) and what every
player produced (prompts, music on hold, tones: ``n_players`` rows) into one input matrix
``X`` of shape ``(n_ports + n_players, 160)``; what each port hears is one matrix product
``Y = M @ X`` with ``M`` of shape ``(n_ports, n_ports + n_players)``. A two-party call, a
three-way conference, a whisper to an agent and music on hold are all just entries of M.

M changes only when calls change (rarely) and is sparse (a port hears one or two others),
so each tick multiplies only its non-zero entries: one gather of the talkers' rows and
one add per *layer* into the listeners' rows (layer k: every listener's k-th source; one
layer for two-party calls), for all ports at once.
"""

from __future__ import annotations

import numpy as np

from dsp.levels import db_to_amplitude_ratio
from firmware import FirmwareError

INT16_MIN, INT16_MAX = -32768, 32767


class Mixer:
    """Who hears whom, and how loud. Ports and players are numbered from 0."""

    def __init__(self, n_ports: int, n_players: int) -> None:
        if n_ports < 1 or n_players < 0:
            raise FirmwareError(f"mixer needs at least one port, got ports={n_ports} players={n_players}")
        self.n_ports = n_ports
        self.n_players = n_players
        self._matrix = np.zeros((n_ports, n_ports + n_players), dtype=np.float32)
        self._entries: list[Layer] | None = None  # rebuilt after a change
        self._players_heard = False  # some entry's talker is a player (set with the entries)
        self._copies = False  # every entry is one port heard at unit gain (set with the entries)

    # Building the matrix -------------------------------------------------------------
    def _check_port(self, port: int) -> None:
        if not 0 <= port < self.n_ports:
            raise FirmwareError(f"port {port} is not on this board (ports 0-{self.n_ports - 1})")

    def _player_column(self, player: int) -> int:
        if not 0 <= player < self.n_players:
            raise FirmwareError(f"player {player} does not exist (players 0-{self.n_players - 1})")
        return self.n_ports + player

    def listen_port(self, listener: int, talker: int, gain_db: float = 0.0) -> None:
        """``listener`` hears port ``talker`` (one direction)."""
        self._check_port(listener)
        self._check_port(talker)
        if listener == talker:
            raise FirmwareError(f"port {listener} cannot be mixed back to itself")
        self._matrix[listener, talker] = db_to_amplitude_ratio(gain_db)
        self._entries = None

    def listen_player(self, listener: int, player: int, gain_db: float = 0.0) -> None:
        """``listener`` hears ``player`` (a prompt, music on hold, a tone)."""
        self._check_port(listener)
        self._matrix[listener, self._player_column(player)] = db_to_amplitude_ratio(gain_db)
        self._entries = None

    def bridge(self, a: int, b: int) -> None:
        """A two-party call: each hears the other."""
        self.listen_port(a, b)
        self.listen_port(b, a)

    def conference(self, members: list[int], gain_db: float = 0.0) -> None:
        """Everyone hears everyone else (never themselves)."""
        for listener in members:
            for talker in members:
                if listener != talker:
                    self.listen_port(listener, talker, gain_db)

    def isolate(self, port: int) -> None:
        """``port`` hears nothing and nobody hears it (hang-up, out of service)."""
        self._check_port(port)
        self._matrix[port, :] = 0.0
        self._matrix[:, port] = 0.0
        self._entries = None

    def mute_player(self, player: int) -> None:
        """Nobody hears ``player`` any more."""
        self._matrix[:, self._player_column(player)] = 0.0
        self._entries = None

    def stop_listening(self, listener: int) -> None:
        """``listener`` hears nothing (others may still hear it)."""
        self._check_port(listener)
        self._matrix[listener, :] = 0.0
        self._entries = None

    # Observation -----------------------------------------------------------------------
    def hears(self, listener: int) -> tuple[list[int], list[int]]:
        """The ports and the players that ``listener`` hears."""
        row = self._matrix[listener]
        ports = [int(i) for i in np.flatnonzero(row[: self.n_ports])]
        players = [int(i) for i in np.flatnonzero(row[self.n_ports :])]
        return ports, players

    def bridged_pairs(self) -> list[tuple[int, int]]:
        """Port pairs that hear each other (for the console and scenario reports)."""
        ports = self._matrix[:, : self.n_ports]
        both = (ports != 0) & (ports.T != 0)
        return [(int(a), int(b)) for a, b in zip(*np.nonzero(np.triu(both)), strict=True)]

    # The per-tick work -----------------------------------------------------------------
    def mix(self, from_ports: np.ndarray, from_players: np.ndarray) -> np.ndarray:
        """int16 ``(n_ports, n)`` heard by each port, from what ports and players sent."""
        if self._entries is None:
            self._entries = _layers(self._matrix)
            self._players_heard = any(bool((talkers >= self.n_ports).any()) for _, talkers, _ in self._entries)
            # Two-party calls alone (one layer of ports at unit gain): each listener hears one port's
            # samples unchanged, so int16 samples are copied as they are (the float path gives the same).
            self._copies = (len(self._entries) == 1 and not self._players_heard
                            and bool((self._entries[0][2] == 1.0).all()))
        n = from_ports.shape[1]
        if self._copies and from_ports.dtype == np.int16:
            rows, talkers, _ = self._entries[0]
            heard = np.zeros((self.n_ports, n), dtype=np.int16)
            heard[rows] = from_ports[talkers]
            return heard
        mixed = np.zeros((self.n_ports, n), dtype=np.float32)
        if self._entries:
            # The players' rows are stacked only when someone hears a player (calls alone: none).
            sources = np.concatenate([from_ports, from_players], axis=0) if self._players_heard else from_ports
            stacked = sources.astype(np.float32, copy=False)
            # Layer k adds each listener's k-th source: the sums run in entry order, as a
            # scatter-add would (the same numbers), with no listener twice in one layer.
            # The first layer is written, not added (0 + x is x): one gather and add fewer.
            rows, talkers, gains = self._entries[0]
            mixed[rows] = stacked[talkers] * gains
            for rows, talkers, gains in self._entries[1:]:
                mixed[rows] += stacked[talkers] * gains
            np.clip(mixed, INT16_MIN, INT16_MAX, out=mixed)
        return np.rint(mixed, out=mixed).astype(np.int16)


Layer = tuple[np.ndarray, np.ndarray, np.ndarray]  # listeners, their talkers, gains (column)


def _layers(matrix: np.ndarray) -> list[Layer]:
    """The non-zero entries of ``matrix`` in layers: layer k holds every listener's k-th source
    (one layer for two-party calls, two or three with conferences, whispers and music)."""
    listeners, talkers = np.nonzero(matrix)  # row-major: grouped by listener, talkers ascending
    if not len(listeners):
        return []
    starts = np.r_[0, np.flatnonzero(np.diff(listeners)) + 1]
    rank = np.arange(len(listeners)) - np.repeat(starts, np.diff(np.r_[starts, len(listeners)]))
    gains = matrix[listeners, talkers][:, None]
    return [(listeners[rank == k], talkers[rank == k], gains[rank == k]) for k in range(int(rank.max()) + 1)]
