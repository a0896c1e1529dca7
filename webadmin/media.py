"""The media page: music-on-hold classes and queue greetings (upload, list, play, delete).

Uploads are outside input, checked once at the edge by ``firmware.media.uploads.decode_upload``
(the check every upload shares: size, not MP3, a WAV the box reads, converted to 8 kHz mono);
a refused file gets one line and nothing is stored. Files are written atomically (temp file,
fsync, rename).

- Music: ``<data>/moh/<class>/<name>.wav``. After every upload and delete (music or greeting)
  the engine is sent ``media reload`` over its console socket (firmware/acdengine/mediareload.py):
  it re-reads, off its media loop, the classes and greetings whose files changed, and new plays
  hear them at once, without a restart. When the engine cannot be reached the page says so: it
  reads the files when it starts. A queue naming a class that has no folder (and is not
  ``default`` or ``ringback``) is listed as a warning: its callers hear ``default``.
- Queue greetings: ``<data>/sounds/<name>.wav`` (firmware/ivr/uploads.py ``store_recording``,
  levelled like a prompt), picked for a queue here (``queues[].greeting``, config migration 7;
  stored with the revision check of every other save). A greeting a queue uses is not deleted.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, send_file, url_for

from firmware import FirmwareError
from firmware.config import Config
from firmware.ivr.uploads import MAX_UPLOAD_BYTES, recording_path, store_recording, stored_recordings
from firmware.media.music import DEFAULT_CLASS, RINGBACK_CLASS
from firmware.media.uploads import (
    MAX_MUSIC_BYTES,
    delete_music,
    music_classes,
    music_file,
    name_from_file,
    store_music,
)
from webadmin.app import accepts_upload, audit, requires, state
from webadmin.security import Permission

blueprint = Blueprint("media", __name__)
UPLOAD_SLACK = 64 * 1024  # the multipart envelope around the file


def missing_classes(config: Config, data_dir: Path) -> list[tuple[str, str]]:
    """(queue, class) of every queue naming a class without files: its callers hear ``default``."""
    found = music_classes(data_dir)
    return [(queue.name, queue.music) for queue in config.queues
            if queue.music not in (DEFAULT_CLASS, RINGBACK_CLASS) and not found.get(queue.music)]


def _engine_follows() -> str:
    """Asks the running engine to read the changed files (``media reload``): what to tell the installer."""
    try:
        state().services.engine.run("media reload")
    except FirmwareError as exc:
        return f"; the engine was not told ({exc}): it reads the files when it starts"
    return "; new callers hear the change now"


def _page(problems: list[str], status: int = 200) -> tuple[str, int]:
    services = state().services
    config = services.store.load()
    return render_template("media.html", classes=music_classes(services.data_dir),
                           greetings=stored_recordings(services.data_dir), queues=config.queues,
                           missing=missing_classes(config, services.data_dir), problems=problems,
                           revision=services.store.config_version(),
                           music_mb=MAX_MUSIC_BYTES // (1024 * 1024), greeting_mb=MAX_UPLOAD_BYTES // (1024 * 1024)
                           ), status


@blueprint.route("/media")
@requires(Permission.CONFIGURE)
def index() -> tuple[str, int]:
    return _page([])


def _upload() -> tuple[bytes, str] | None:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return None
    return upload.read(), upload.filename[:100]


@blueprint.route("/media/music", methods=["POST"])
@requires(Permission.CONFIGURE)
@accepts_upload(MAX_MUSIC_BYTES + UPLOAD_SLACK)
def upload_music() -> tuple[str, int] | Response:
    music_class, name = request.form.get("class", "").strip(), request.form.get("name", "").strip()
    upload = _upload()
    if upload is None:
        return _page(["choose the music file (.wav) to upload"], 400)
    data, filename = upload
    name = name or name_from_file(filename)
    try:
        seconds = store_music(state().services.data_dir, music_class, name, data, filename)
    except FirmwareError as exc:
        return _page([str(exc)], 400)
    audit("music upload", f"{music_class}/{name} from {filename} ({seconds:.1f} s)")
    flash(f"music {music_class}: {filename} stored ({seconds:.1f} s){_engine_follows()}", "ok")
    return redirect(url_for("media.index"))


@blueprint.route("/media/music/<music_class>/<name>.wav")
@requires(Permission.CONFIGURE)
def music_audio(music_class: str, name: str) -> Response:
    try:
        path = music_file(state().services.data_dir, music_class, name)
    except FirmwareError:
        abort(404)
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype="audio/wav", download_name=f"{music_class}-{name}.wav")


@blueprint.route("/media/music/<music_class>/<name>/delete", methods=["POST"])
@requires(Permission.CONFIGURE)
def music_delete(music_class: str, name: str) -> tuple[str, int] | Response:
    try:
        deleted = delete_music(state().services.data_dir, music_class, name)
    except FirmwareError as exc:
        return _page([str(exc)], 400)
    if not deleted:
        abort(404)
    audit("music delete", f"{music_class}/{name}")
    flash(f"music {music_class}/{name} deleted{_engine_follows()}", "ok")
    return redirect(url_for("media.index"))


@blueprint.route("/media/greetings", methods=["POST"])
@requires(Permission.CONFIGURE)
@accepts_upload(MAX_UPLOAD_BYTES + UPLOAD_SLACK)
def upload_greeting() -> tuple[str, int] | Response:
    name = request.form.get("name", "").strip()
    upload = _upload()
    if upload is None:
        return _page(["choose the greeting (.wav) to upload"], 400)
    data, filename = upload
    try:
        store_recording(state().services.data_dir, name, data, filename)
    except FirmwareError as exc:
        return _page([str(exc)], 400)
    audit("queue greeting upload", f"{name} from {filename}")
    flash(f"greeting {name} stored: pick it for a queue below{_engine_follows()}", "ok")
    return redirect(url_for("media.index"))


@blueprint.route("/media/greetings/<name>.wav")
@requires(Permission.CONFIGURE)
def greeting_audio(name: str) -> Response:
    try:
        path = recording_path(state().services.data_dir, name)
    except FirmwareError:
        abort(404)
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype="audio/wav", download_name=f"greeting-{name}.wav")


@blueprint.route("/media/greetings/<name>/delete", methods=["POST"])
@requires(Permission.CONFIGURE)
def greeting_delete(name: str) -> tuple[str, int] | Response:
    services = state().services
    try:
        path = recording_path(services.data_dir, name)
    except FirmwareError:
        abort(404)
    users = [queue.name for queue in services.store.load().queues if queue.greeting == name]
    if users:
        return _page([f"greeting {name} is the greeting of queue {', '.join(users)}: pick another there first"],
                     400)
    if not path.is_file():
        abort(404)
    path.unlink()
    audit("queue greeting delete", name)
    flash(f"greeting {name} deleted{_engine_follows()}", "ok")
    return redirect(url_for("media.index"))


@blueprint.route("/media/queues/<queue>/greeting", methods=["POST"])
@requires(Permission.CONFIGURE)
def pick_greeting(queue: str) -> tuple[str, int] | Response:
    """Sets ``queues[].greeting`` to an uploaded greeting (or none), with the revision check."""
    services = state().services
    name = request.form.get("greeting", "")
    revision = request.form.get("revision", "")
    current = services.store.load()
    was = next((item.greeting for item in current.queues if item.name == queue), None)
    if was is None:
        abort(404)
    if name and name != was and name not in {stored for stored, _ in stored_recordings(services.data_dir)}:
        return _page([f"greeting {name!r} is not an uploaded greeting"], 400)
    if not revision.isdigit() or services.store.config_version() != int(revision):
        return _page(["the configuration was changed by someone else since this page was shown: reload it"], 400)

    def change(now: Config) -> Config:
        if now != current:
            raise FirmwareError("the configuration was changed by someone else while saving: nothing was stored")
        return replace(now, queues=tuple(replace(item, greeting=name) if item.name == queue else item
                                         for item in now.queues))

    try:
        services.store.update(change, source=f"web media by {request.remote_addr}")
    except FirmwareError as exc:
        return _page([str(exc)], 400)
    audit("queue greeting", f"{queue}: {name or '(none)'}", services.store.config_version())
    flash(f"queue {queue}: greeting {name or '(none)'}; new callers hear it", "ok")
    return redirect(url_for("media.index"))
