"""Voicemail: callers leave messages in mailboxes (extensions with ``voicemail: true``).

``store`` keeps the messages (a WAV file and a row each), ``prompts`` the recorded words,
``deposit`` is the call service for ``DestinationKind.VOICEMAIL`` (leaving a message),
``mailbox`` the *97 menu (listening, PIN, options), ``mwi`` message-waiting indication,
``pins`` hashed PINs with lockout, ``greetings`` personal greetings, ``envelope`` the date and
number said before a message, ``notify`` e-mail, ``expiry`` per-mailbox message expiry, and
``attach`` puts them into a running switch. docs/voicemail.md describes what callers hear.
"""

from firmware.voicemail.attach import Voicemail, attach_voicemail
from firmware.voicemail.prompts import VoicemailPrompts
from firmware.voicemail.store import Message, VoicemailStore

__all__ = ["Message", "Voicemail", "VoicemailPrompts", "VoicemailStore", "attach_voicemail"]
