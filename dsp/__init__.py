"""Pure signal processing: numpy only, no I/O, no clock; time is the sample index.

Blocks are arrays shaped ``(channels, samples)`` at 8 kHz; every detector is a state
object fed blocks of any length.
"""


class DspError(ValueError):
    """The one error class of dsp/: bad parameters or malformed signal data."""


SAMPLE_RATE = 8000
