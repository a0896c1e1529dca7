"""The virtual board: a line-card emulator speaking the real UART protocol over a
pseudo-terminal (``card.py``), the analog interface to a simulated telephone world
(``analog.py``), the world itself and the board assembly (``world.py``, ``board.py``)."""
