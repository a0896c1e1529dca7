"""A disposition keyed on the agent's headset during wrap-up: the code's digits, then ``#``.

:class:`KeyEntry` is the pure part (no engine, no clock): it takes keys and says what to do.
``#`` ends the entry: a code of the queue is accepted, anything else is refused and the agent
may key again (up to :data:`MAX_TRIES` refusals, then the entry stops taking keys). ``*``
clears what was keyed so far. More than :data:`MAX_CODE_DIGITS` digits is refused at once.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

MAX_CODE_DIGITS = 4  # firmware.config.deskcodec.DISPOSITION_CODE_RE
MAX_TRIES = 3


class KeyResult(StrEnum):
    MORE = "more"  # keep keying
    ACCEPTED = "accepted"  # ``code`` is the queue's: store it
    REFUSED = "refused"  # error tone; the agent may key again
    GAVE_UP = "gave_up"  # too many refusals: the entry is over (the page still takes it)


@dataclass
class KeyEntry:
    codes: Collection[str]
    digits: str = ""
    refusals: int = 0

    def key(self, key: str) -> tuple[KeyResult, str]:
        """One DTMF key; returns what happened and, when accepted, the code."""
        if key == "*":
            self.digits = ""
            return KeyResult.MORE, ""
        if key.isdigit() and len(key) == 1:
            self.digits += key
            if len(self.digits) <= MAX_CODE_DIGITS:
                return KeyResult.MORE, ""
            return self._refuse()
        if key == "#":
            code, self.digits = self.digits, ""
            if code in self.codes:
                return KeyResult.ACCEPTED, code
            return self._refuse()
        return KeyResult.MORE, ""  # A-D: not on an analog keypad's code alphabet

    def _refuse(self) -> tuple[KeyResult, str]:
        self.digits = ""
        self.refusals += 1
        return (KeyResult.GAVE_UP if self.refusals >= MAX_TRIES else KeyResult.REFUSED), ""
