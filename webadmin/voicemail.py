"""The voicemail pages: mailboxes, their messages (play in the browser, delete), greetings, PINs.

Everything goes through the engine's console (``mailbox list``, ``mailbox show``, ``mailbox
delete``, ``mailbox pin``, ``mailbox greeting``: firmware/console/mailboxes.py), so the rules
are the engine's own and one error line comes back for a refused change. Reading a message's
audio asks the console for its file (``mailbox file``) and serves it only if it is a message
file inside the box's voicemail folder.

Uploads are outside input checked at the edge: the file is read here as audio (any WAV the box
reads, converted to 8 kHz mono: ``firmware.media.uploads.decode_upload``, the check every
upload shares; then the greeting's length limits, ``firmware.voicemail.greetings.check_greeting``); a corrupt file gets one line of error and
nothing is stored. A good one is written, converted, to a temporary file the engine reads
(``mailbox greeting N KIND FILE``), then removed. A PIN is checked with the same rule as the
engine's (``firmware.voicemail.pins.check_pin``) and never written to the audit log.

The mailbox's language (``voicemail.mailboxes[].language``: what its owner hears at ``*97``) is
a choice among the languages the box has recordings for (``recorded_languages``) or the site's
default; the chosen value is stored through the configuration's own checks
(``configedit.store_item``, as a flow is), its error shown next to the field.

Role: ``configure`` (admin, installer). Web accounts have no extension of their own, so an
agent cannot be shown "their" mailbox; it stays with the installer.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, send_file, url_for

from drivers import DriverError
from drivers.audiofile import atomic_write_bytes, encode_wav
from firmware import FirmwareError
from firmware.config.validate import plain
from firmware.config.vmcodec import mailbox_dict
from firmware.media.uploads import decode_upload
from firmware.voicemail.greetings import GreetingKind, check_greeting, check_kind
from firmware.voicemail.languages import recorded_languages
from firmware.voicemail.pins import check_pin
from firmware.voicemail.store import FILE_RE, MAILBOX_RE
from webadmin.app import accepts_upload, audit, requires, state
from webadmin.configedit import Conflict, store_item
from webadmin.security import Permission

blueprint = Blueprint("voicemail", __name__)

UPLOAD_LIMIT = 16 * 1024 * 1024  # a two-minute greeting at 48 kHz stereo 16-bit is 23 MB: ask for less
UPLOAD_DIR = ".uploads"
MESSAGE_ID_RE = re.compile(r"[0-9]{1,12}")


def columns(lines: list[str]) -> list[dict[str, str]]:
    """The rows of a console table (``firmware.console.views.table``) as dicts, cut at the
    headers' positions (a cell may hold spaces, as a name does)."""
    if not lines:
        return []
    header = lines[0]
    names = header.split()
    starts = [match.start() for match in re.finditer(r"\S+", header)]
    rows = []
    for line in lines[1:]:
        cells = [line[start:end].strip() for start, end in zip(starts, [*starts[1:], None], strict=True)]
        rows.append(dict(zip(names, cells, strict=True)))
    return rows


def _engine_lines(command: str) -> list[str]:
    return state().services.engine.run(command)


def _mailbox(number: str) -> str:
    if not MAILBOX_RE.fullmatch(number):
        abort(404)
    return number


def _voicemail_root() -> Path:
    return (state().services.data_dir / "voicemail").resolve()


@blueprint.route("/voicemail")
@requires(Permission.CONFIGURE)
def mailboxes() -> str:
    error, rows = None, []
    try:
        rows = columns(_engine_lines("mailbox list"))
    except FirmwareError as exc:
        error = str(exc)
    return render_template("voicemail.html", mailboxes=rows, error=error)


def language_choices() -> list[tuple[str, str]]:
    """(value, label) of the language field: the site's default ('') and each language recorded."""
    config = state().services.store.load()
    return [("", f"site default ({config.effective_language()})"),
            *((language, language) for language in recorded_languages())]


@blueprint.route("/voicemail/<number>")
@requires(Permission.CONFIGURE)
def mailbox(number: str) -> tuple[str, int]:
    return _mailbox_page(_mailbox(number))


def _mailbox_page(number: str, language: str | None = None, language_error: str = "",
                  status: int = 200) -> tuple[str, int]:
    error, messages, info = None, [], {}
    try:
        listing = {row["mailbox"]: row for row in columns(_engine_lines("mailbox list"))}
        if number not in listing:
            abort(404)
        info = listing[number]
        lines = _engine_lines(f"mailbox show {number}")
        messages = columns(lines) if len(lines) > 1 else []
    except FirmwareError as exc:
        error = str(exc)
    if language is None:
        language = state().services.store.load().voicemail.mailbox(number).language
    return render_template("voicemail_mailbox.html", number=number, info=info, messages=messages, error=error,
                           kinds=[kind.value for kind in GreetingKind], languages=language_choices(),
                           language=language, language_error=language_error), status


def set_language(number: str, language: str) -> list[str]:
    """Stores mailbox ``number``'s language (its entry made with the defaults when it has none)
    through the configuration's checks; the problems named from inside the entry, or []."""
    store = state().services.store
    current = store.load()
    data = plain(current)
    entries = data["voicemail"]["mailboxes"]
    index = next((i for i, entry in enumerate(entries) if entry["number"] == number), None)
    if index is None:
        entries.append(mailbox_dict(current.voicemail.mailbox(number)))  # its defaults
        index = len(entries) - 1
    entries[index]["language"] = language
    return store_item(store, current, data, f"voicemail.mailboxes[{index}]", f"web voicemail by {request.remote_addr}")


@blueprint.route("/voicemail/<number>/language", methods=["POST"])
@requires(Permission.CONFIGURE)
def set_mailbox_language(number: str) -> tuple[str, int] | Response:
    number = _mailbox(number)
    language = request.form.get("language", "")[:20]
    choices = [value for value, _ in language_choices()]
    if language not in choices:
        problem = (f"language: {language!r} is not one the box has recordings for "
                   f"(site default, {', '.join(choices[1:])})")
        return _mailbox_page(number, language, problem, 400)
    try:
        problems = set_language(number, language)
    except Conflict as exc:
        problems = [str(exc)]
    if problems:
        return _mailbox_page(number, language, "; ".join(problems), 400)
    audit("voicemail language", f"mailbox {number} {language or 'site default'}",
          state().services.store.config_version())
    flash(f"mailbox {number} speaks {language or 'the site default language'} to its owner", "ok")
    return redirect(url_for("voicemail.mailbox", number=number))


@blueprint.route("/voicemail/<number>/<message_id>.wav")
@requires(Permission.CONFIGURE)
def message_audio(number: str, message_id: str) -> Response:
    number = _mailbox(number)
    if not MESSAGE_ID_RE.fullmatch(message_id):
        abort(404)
    try:
        [text] = _engine_lines(f"mailbox file {number} {message_id}")
    except (FirmwareError, ValueError):
        abort(404)
    path = Path(text).resolve()
    root = _voicemail_root()
    if path.parent != root / number or not FILE_RE.fullmatch(path.name) or not path.is_file():
        abort(404)  # only a message file of this mailbox, wherever the console says it is
    return send_file(path, mimetype="audio/wav", download_name=f"mailbox-{number}-{path.name}")


def _change(number: str, command: str, action: str, detail: str, done: str) -> Response:
    try:
        [answer, *_] = _engine_lines(command) or [done]
    except FirmwareError as exc:
        flash(str(exc), "error")
    else:
        audit(action, detail)
        flash(answer, "ok")
    return redirect(url_for("voicemail.mailbox", number=number))


@blueprint.route("/voicemail/<number>/<message_id>/delete", methods=["POST"])
@requires(Permission.CONFIGURE)
def delete_message(number: str, message_id: str) -> Response:
    number = _mailbox(number)
    if not MESSAGE_ID_RE.fullmatch(message_id):
        abort(404)
    return _change(number, f"mailbox delete {number} {message_id}", "voicemail delete",
                   f"mailbox {number} message {message_id}", "deleted")


@blueprint.route("/voicemail/<number>/pin", methods=["POST"])
@requires(Permission.CONFIGURE)
def set_pin(number: str) -> Response:
    number = _mailbox(number)
    pin, again = request.form.get("pin", ""), request.form.get("pin2", "")
    try:
        check_pin(number, pin)
        if pin != again:
            raise FirmwareError("voicemail: the two PINs differ")
    except FirmwareError as exc:
        flash(str(exc), "error")
        return redirect(url_for("voicemail.mailbox", number=number))
    return _change(number, f"mailbox pin {number} {pin}", "voicemail pin", f"mailbox {number}", "PIN set")


@blueprint.route("/voicemail/<number>/greeting", methods=["POST"])
@requires(Permission.CONFIGURE)
@accepts_upload(UPLOAD_LIMIT)
def upload_greeting(number: str) -> Response:
    number = _mailbox(number)
    kind = request.form.get("kind", "")
    if kind not in [k.value for k in GreetingKind]:
        flash(f"voicemail: a greeting is one of {', '.join(k.value for k in GreetingKind)}", "error")
        return redirect(url_for("voicemail.mailbox", number=number))
    if request.form.get("action") == "delete":
        return _change(number, f"mailbox greeting {number} {kind} delete", "voicemail greeting",
                       f"mailbox {number} {kind} deleted", "deleted")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("voicemail: choose a WAV file to upload", "error")
        return redirect(url_for("voicemail.mailbox", number=number))
    folder = _voicemail_root() / UPLOAD_DIR
    ready = folder / f"greeting-{secrets.token_hex(8)}.wav"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        samples = decode_upload(upload.read(UPLOAD_LIMIT + 1), folder, "voicemail", upload.filename[:60],
                                UPLOAD_LIMIT)  # the check every upload shares: converted to 8 kHz mono
        samples = check_greeting(check_kind(kind), samples)
        atomic_write_bytes(ready, encode_wav(samples.astype(float)))
    except (FirmwareError, DriverError, OSError) as exc:
        flash(str(exc), "error")  # one line, nothing stored
        return redirect(url_for("voicemail.mailbox", number=number))
    try:
        return _change(number, f"mailbox greeting {number} {kind} {ready}", "voicemail greeting",
                       f"mailbox {number} {kind} uploaded", "set")
    finally:
        ready.unlink(missing_ok=True)
