"""Line-card protocol, serial and audio I/O, and audio files. Depends only on dsp/."""


class DriverError(Exception):
    """The one error class of drivers/: bad frames, dead links, unreadable audio."""
