"""Which language voicemail speaks: the same resolution as the IVR's (docs/ivr.md, "Languages").

- A caller leaving a message (:func:`caller_language`): the language an IVR flow settled on
  before sending the call here (``Call.language``), else the language of the contact whose
  numbers hold the caller ID (the contact store, passed in), else the matched inbound route's, else the line's, else the box's
  (:meth:`firmware.config.model.Config.caller_language`).
- A mailbox's owner (:func:`owner_language`, the ``*97`` menu and ``*`` during the greeting):
  the mailbox's own ``language`` (``voicemail.mailboxes[].language``), else, from an outside
  line, the caller's language as above, else the box's.

Pure functions of the configuration and the call; the prompts then say it in that language when
its recordings were read, else in English (:meth:`VoicemailPrompts.speaks`).
:func:`recorded_languages` says which languages the box has recordings for (what the start-up
reads, and the choices the web admin offers for a mailbox's language).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from firmware import FirmwareError
from firmware.config.model import Config
from firmware.desk.lookup import ContactLookup, contact_language
from firmware.engine.calls import Call
from firmware.speech.say import sound_dir

VOICEMAIL_LANGUAGES = ("en", "es", "fr")  # Debian's asterisk-core-sounds-{en,es,fr}-wav hold voicemail's words


def recorded_languages(find: Callable[[str], Path] = sound_dir) -> dict[str, Path]:
    """Language -> folder of each of :data:`VOICEMAIL_LANGUAGES` whose recordings are installed."""
    found = {}
    for language in VOICEMAIL_LANGUAGES:
        try:
            found[language] = find(language)
        except FirmwareError:  # SpeechError: its package is not installed
            continue
    return found


def caller_language(config: Config, call: Call, line_port: int, contacts: ContactLookup | None = None) -> str:
    if call.language:
        return call.language
    return config.caller_language(call.route, line_port,
                                  contact_language(contacts, str(config.zone), call.caller_number))


def owner_language(config: Config, mailbox: str, call: Call | None, port: int,
                   contacts: ContactLookup | None = None) -> str:
    own = config.voicemail.mailbox(mailbox).language
    if own:
        return own
    return caller_language(config, call, port, contacts) if call is not None else config.effective_language()
