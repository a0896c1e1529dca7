"""The technician's console (like ``asterisk -r``): a local socket into the running engine.

- :mod:`protocol`: the line protocol, shared by server and client (docs/console.md);
- :mod:`logbuffer`: the last log lines in memory and live copies for ``log tail``;
- :mod:`gateway`: requests run on the media loop's thread, waited for with a timeout;
- :mod:`access`: what the console may see and change (handed over by ``linebox run``);
- :mod:`commands` and :mod:`views`: the commands and their text;
- :mod:`server`: the socket, one thread per console; :mod:`client`: the other end.

``linebox run`` starts it: ``LogBuffer().attach()``, then
``ConsoleServer(path, EngineAccess(...), log_buffer).start()``, and ``close()`` at the end.
"""

from firmware.console.access import EngineAccess
from firmware.console.client import ConsoleClient
from firmware.console.logbuffer import LogBuffer
from firmware.console.server import ConsoleServer

__all__ = ["ConsoleClient", "ConsoleServer", "EngineAccess", "LogBuffer"]
