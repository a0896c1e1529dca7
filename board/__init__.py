"""Board definitions (data) and the virtual board: a line-card emulator and a simulated
telephone world. Depends on dsp/ and drivers/ (it speaks the drivers' protocol)."""


class BoardError(Exception):
    """The one error class of board/: invalid board definitions, emulator faults."""
