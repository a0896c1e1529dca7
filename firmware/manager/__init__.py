"""The manager interface: an Asterisk-AMI-compatible TCP interface for CRMs, wallboards and
click-to-call tools (docs/manager.md).

- :mod:`~firmware.manager.protocol`: AMI framing (greeting, ``Key: Value`` blocks, CRLF),
  bounded parsing;
- :mod:`~firmware.manager.events`: AMI events and their fan-out to sessions;
- :mod:`~firmware.manager.channels`: the engine's ports and calls as AMI channels (events
  Newchannel, Newstate, DialBegin/DialEnd, Hangup) and CoreShowChannels/Status;
- :mod:`~firmware.manager.queues`: the ACD as AMI queues (Queue*/Agent* events, QueueStatus,
  QueueSummary, QueueAdd/Remove/Pause);
- :mod:`~firmware.manager.originate`: click-to-call (ring the extension, then dial out);
- :mod:`~firmware.manager.actions`: the actions, their permission classes and replies;
- :mod:`~firmware.manager.server`: the TCP server (its own threads, bounded everything).
"""

from firmware import FirmwareError


class ManagerError(FirmwareError):
    """The error class of firmware.manager: a refused action or a bad manager setting."""
