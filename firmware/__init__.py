"""Call engine, ACD, IVR, storage and the technician's console. Depends on dsp/ and drivers/."""


class FirmwareError(Exception):
    """The one error class of firmware/: invalid configuration, refused operations."""
