"""E-mail notification of a new message, with the message attached (WAV), off the media loop.

A mailbox whose ``voicemail.mailboxes`` entry has an ``email`` gets one e-mail per message
stored, through the SMTP server of ``voicemail.smtp`` (RFC 5321; STARTTLS per RFC 3207 when
``starttls`` is on; SMTP AUTH when a ``user`` is set). The deposit's save worker hands the
stored :class:`~firmware.voicemail.store.Message` to :meth:`Notifier.submit`, which only
queues it: this class's own thread builds the e-mail (reading the WAV file) and talks to the
server, so neither the media loop nor message saving ever waits for the network.

Retries: a failure that may pass (connection refused or dropped, timeout, a 4xx reply) is
tried again after each of :data:`RETRY_DELAYS_S` (then given up, logged ``vm_email_failed``);
a permanent refusal (a 5xx reply to the login, the sender or the recipient) is not retried.
Settings are read when the e-mail is sent (the running configuration), so a fixed SMTP
setting applies to the next try. Log component ``voicemail``: ``vm_email_sent``,
``vm_email_retry``, ``vm_email_failed`` (mailbox, message id, to, attempt, error).
"""

from __future__ import annotations

import datetime as dt
import queue
import smtplib
import ssl
import threading
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from drivers.logs import EventLogger
from firmware.config.model import MailboxSettings, SmtpSettings, VoicemailSettings
from firmware.schedule import zone_info
from firmware.voicemail.store import Message

RETRY_DELAYS_S = (30.0, 120.0, 600.0)  # then the e-mail is given up (four tries in all)
TIMEOUT_S = 30.0  # per SMTP connection (RFC 5321 4.5.3.2 allows minutes; a LAN server answers at once)
_STOP = object()


class PermanentFailure(Exception):
    """The server refused for good (5xx): trying again would not help."""


def build_email(message: Message, entry: MailboxSettings, smtp: SmtpSettings, timezone: str,
                wav: bytes | None) -> EmailMessage:
    """The notification for ``message`` (``wav``: the attachment, or None)."""
    caller = message.caller_number or "unknown caller"
    if message.caller_name:
        caller = f"{message.caller_name} <{caller}>"
    received = dt.datetime.fromtimestamp(message.received, zone_info(timezone))
    mail = EmailMessage()
    mail["From"] = smtp.from_address
    mail["To"] = entry.email
    mail["Subject"] = f"New voicemail in mailbox {message.mailbox} from {caller}"
    mail["Date"] = format_datetime(received)
    mail["Message-ID"] = make_msgid(idstring=f"vm{message.id}", domain="linebox.invalid")
    mail.set_content(
        f"Mailbox {message.mailbox} has a new message.\n\n"
        f"From:     {caller}\n"
        f"Received: {received:%Y-%m-%d %H:%M:%S %Z}\n"
        f"Length:   {message.duration_s:.0f} s\n\n"
        + ("The message is attached (WAV, 8 kHz).\n" if wav is not None else "Dial *97 to listen.\n"))
    if wav is not None:
        mail.add_attachment(wav, maintype="audio", subtype="wav", filename=f"msg-{message.id:06d}.wav")
    return mail


def send_email(mail: EmailMessage, smtp: SmtpSettings, timeout_s: float = TIMEOUT_S,
               tls: ssl.SSLContext | None = None) -> None:
    """One delivery attempt; PermanentFailure for a 5xx refusal, OSError/SMTPException otherwise."""
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=timeout_s) as client:
            client.ehlo()
            if smtp.starttls:
                client.starttls(context=tls or ssl.create_default_context())
                client.ehlo()
            if smtp.user:
                client.login(smtp.user, smtp.password)
            client.send_message(mail)
    except smtplib.SMTPAuthenticationError as exc:
        raise PermanentFailure(f"login refused: {exc.smtp_code} {exc.smtp_error!r}") from exc
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        if all(500 <= code < 600 for code in codes):
            raise PermanentFailure(f"recipient refused: {exc.recipients}") from exc
        raise
    except smtplib.SMTPResponseException as exc:
        if 500 <= exc.smtp_code < 600:
            raise PermanentFailure(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
        raise


class Notifier:
    """Queues stored messages and e-mails them from its own thread (see module docstring)."""

    def __init__(self, settings: Callable[[], VoicemailSettings], log: EventLogger | None = None,
                 retry_delays_s: Sequence[float] = RETRY_DELAYS_S,
                 send: Callable[[EmailMessage, SmtpSettings], None] = send_email) -> None:
        self.settings = settings
        self.log = log or EventLogger("voicemail")
        self.retry_delays_s = tuple(retry_delays_s)
        self._send = send
        self._queue: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self.sent = 0
        self.failed = 0
        self._thread = threading.Thread(target=self._run, name="voicemail-email", daemon=True)
        self._thread.start()

    def submit(self, message: Message) -> None:
        """Called with every stored message (any thread); returns at once."""
        self._queue.put(message)

    def drain(self) -> None:
        """Waits until every message submitted so far is sent or given up (tests, shutdown)."""
        self._queue.join()

    def close(self) -> None:
        """Stops after the e-mail being sent; retries still waiting are given up (logged)."""
        self._stop.set()
        self._queue.put(_STOP)
        self._thread.join()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                self._notify(item)
            except Exception:  # a thread's entry point: log it, serve the next message
                self.log.exception("vm_email_failed", id=getattr(item, "id", None))
            finally:
                self._queue.task_done()

    def _notify(self, message: Message) -> None:
        settings = self.settings()
        entry = settings.mailbox(message.mailbox)
        if not entry.email or not settings.smtp.host:
            return
        for attempt in range(1, len(self.retry_delays_s) + 2):
            settings = self.settings()  # a setting fixed meanwhile applies to this try
            entry, smtp = settings.mailbox(message.mailbox), settings.smtp
            fields = {"mailbox": message.mailbox, "id": message.id, "to": entry.email, "attempt": attempt}
            try:
                wav = message.path.read_bytes() if entry.attach else None
                self._send(build_email(message, entry, smtp, settings.timezone, wav), smtp)
            except PermanentFailure as exc:
                self.failed += 1
                self.log.error("vm_email_failed", **fields, error=str(exc), permanent=True)
                return
            except (OSError, smtplib.SMTPException) as exc:
                if attempt > len(self.retry_delays_s) or self._stop.is_set():
                    self.failed += 1
                    self.log.error("vm_email_failed", **fields, error=f"{type(exc).__name__}: {exc}")
                    return
                delay = self.retry_delays_s[attempt - 1]
                self.log.warning("vm_email_retry", **fields, error=f"{type(exc).__name__}: {exc}", in_s=delay)
                if self._stop.wait(delay):
                    self.failed += 1
                    self.log.error("vm_email_failed", **fields, error="shutting down")
                    return
                continue
            self.sent += 1
            self.log.info("vm_email_sent", **fields, bytes=len(wav) if wav is not None else 0)
            return
