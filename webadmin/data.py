"""The box's data from the System page: full backup, restore, factory reset (admin only).

The same code as ``linebox backup create|restore`` and ``linebox factory-reset``
(firmware/storage/backup.py, reset.py). The engine holds the database open, so, as the command
line refuses to replace data under a running engine, the page does not either: while the engine
answers on its console the operation is *staged* (firmware/storage/pending.py: a restore only
after the whole file is verified) and the engine is asked to restart (``engine restart``); it
applies the operation at its start, before it opens any store. With the engine stopped the page
applies it at once. Either way this web process, which has the database open too, then restarts
on the new data (``WebServices.restart_web``: exit 75 under systemd, else it executes itself
again). An engine that refuses to restart (nothing would start it again) has what was staged
removed, and the page refuses in one line: nothing happens later by surprise.

A restore keeps what it replaces in ``replaced-<n>/``; a factory reset keeps the data in
``factory-reset-<n>/`` with a backup archive (and drops the uploads in progress and a restore still
staged); the newest few of each are kept (firmware/storage/kept.py). A damaged or truncated file is one line and
changes nothing.

A full backup (up to :data:`BACKUP_UPLOAD_LIMIT`) reaches the box in pieces, sent by the page's
own script (static/restore.js), so that the web server's body limit stays the largest *other*
page's (music, 32 MB) and nobody, logged in or not, can make it keep a 1 GB body:

- ``POST /api/restore/start`` ``{"size": N, "name": ..., "sha256": optional}``: refused over the
  limit (413) or when the card has no room for it (507: :func:`room_for_restore`); the answer
  names the upload (a random token) and the piece size :data:`CHUNK_BYTES`;
- ``POST /api/restore/chunk?upload=TOKEN&offset=N``, the body the piece's bytes (at most
  :data:`CHUNK_BYTES`): appended in order to a private file under ``<data>/staging/restore``
  (webadmin/staging.py: 0600 in a 0700 folder, one upload per user and session, gone
  :data:`~webadmin.staging.STAGED_MAX_AGE_S` after its start); a piece out of order, past the
  declared size or of no upload of this session is refused (409) and changes nothing;
- ``POST /api/restore/finish`` ``{"upload": TOKEN}``: the whole file (its SHA-256 checked when one
  was declared) goes, by a rename, exactly where the plain form's upload goes, and the same
  restore runs.

Every step is an admin's (``Permission.DATA``), with the session's CSRF token in the header
``X-CSRF-Token``, like every POST. A browser without scripts posts the plain form, up to
:data:`~webadmin.admin.FORM_BACKUP_LIMIT_MB` MB.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path

from flask import Blueprint, Response, flash, g, jsonify, redirect, request, send_file, session, url_for
from flask.blueprints import BlueprintSetupState

from firmware import FirmwareError
from firmware.storage import backup
from firmware.storage.pending import PENDING_RESET, PENDING_RESTORE, stage_factory_reset, stage_restore
from firmware.storage.reset import CONFIRMATION, STAGING, factory_reset
from firmware.storage.retention import MB, measure
from webadmin import WebAdminError
from webadmin.admin import BACKUP_UPLOAD_LIMIT_MB, FORM_BACKUP_LIMIT_MB, system_page
from webadmin.app import accepts_upload, audit, requires, state
from webadmin.security import Permission
from webadmin.staging import StagingArea

blueprint = Blueprint("data", __name__)

BACKUP_UPLOAD_LIMIT = BACKUP_UPLOAD_LIMIT_MB * MB
FORM_BACKUP_LIMIT = FORM_BACKUP_LIMIT_MB * MB
FORM_SLACK = 64 * 1024
CHUNK_BYTES = 4 * MB  # one request of an upload in pieces: the web server spools at most this much of it
RESTORE_STAGING = f"{STAGING}/restore"  # under the data directory (a factory reset drops STAGING)
MAX_NAME_CHARS = 200
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _created() -> str:
    return dt.datetime.fromtimestamp(state().services.clock(), dt.UTC).isoformat(timespec="seconds")


def _engine_running() -> bool:
    try:
        state().services.engine.run("show status")
    except FirmwareError:
        return False
    return True


def _restart_engine(unstage: Path) -> None:
    """Asks the engine to restart and apply what was staged; when it refuses (nothing would start
    it again), ``unstage`` is removed and FirmwareError raised: nothing happens later by surprise."""
    try:
        state().services.engine.run("engine restart")
    except FirmwareError as exc:
        unstage.unlink(missing_ok=True)
        raise FirmwareError(f"the engine could not be restarted to apply it ({exc})") from None


RESTARTING = "the engine restarts now and applies it before it opens its data; calls in progress ended"


def _after_replacing() -> str:
    restart_web = state().services.restart_web
    if restart_web is None:
        return " Restart the web admin (linebox web) to see the new data."
    restart_web()
    return " The web admin restarts too: log in again in a few seconds."


def _db_path() -> Path:
    return state().services.store.path


@blueprint.route("/system/backup.tar")
@requires(Permission.DATA)
def download_backup() -> Response:
    """The archive ``linebox backup create`` makes (``?recordings=1``: with the voicemail recordings)."""
    db_path = _db_path()
    with_recordings = request.args.get("recordings") == "1"
    handle, name = tempfile.mkstemp(prefix=".download-", suffix=".tar", dir=db_path.parent)
    os.close(handle)
    path = Path(name)
    try:
        manifest = backup.create(db_path, path, _created(), with_recordings=with_recordings)
        archive = path.open("rb")  # read through this handle: the file's name goes at once
    except (FirmwareError, OSError) as exc:
        flash(f"no backup was made: {exc}", "error")
        return redirect(url_for("admin.system"))
    finally:
        path.unlink(missing_ok=True)
    response = send_file(archive, mimetype="application/x-tar", as_attachment=True,
                         download_name=f"linebox-backup-{manifest.created[:19].replace(':', '')}.tar")
    audit("backup download", f"{len(manifest.entries)} files, {'with' if with_recordings else 'without'} recordings")
    return response


def room_for_restore(free_bytes: int, data_bytes: int, budget_bytes: int) -> int:
    """The bytes a restore may use on the card: what is free, less what the retention budget keeps
    for the box's own data to grow into (``budget - data``, none when the data are over it)."""
    return free_bytes - max(0, budget_bytes - data_bytes)


def restore_needs(size: int) -> int:
    """A restore of an archive of ``size`` bytes holds the archive and, while it verifies it, every
    member extracted beside it (firmware/storage/backup.py): twice its size at its peak."""
    return 2 * size


def _restore_staging() -> StagingArea:
    return StagingArea(state().services.data_dir / RESTORE_STAGING, BACKUP_UPLOAD_LIMIT)


@blueprint.record_once
def _sweep_at_start(setup: BlueprintSetupState) -> None:
    """Uploads in pieces left by an earlier run: the expired ones go at once."""
    services = setup.app.extensions["linebox"].services
    StagingArea(services.data_dir / RESTORE_STAGING, BACKUP_UPLOAD_LIMIT).sweep(services.clock())


def _owner() -> tuple[str, str]:
    """Whose upload: the user and the session."""
    return g.user.name, str(session.get("sid", ""))


def _refused(status: int, message: str) -> Response:
    response = jsonify(error=message)
    response.status_code = status
    return response


def _disk_problem(size: int, owner: str) -> str:
    """Why the card cannot take a restore of ``size`` bytes now ("" when it can). Other users'
    uploads under way keep the room they still need (a start replaces the owner's own)."""
    services = state().services
    try:
        budget_mb = services.store.load().retention.disk_budget_mb
        free = shutil.disk_usage(services.data_dir).free
        data = measure(_db_path(), budget_mb).total
    except (FirmwareError, OSError) as exc:
        return f"cannot tell the room on the card: {exc}"
    promised = sum(restore_needs(upload.size) - upload.received
                   for upload in _restore_staging().uploads(services.clock())
                   if upload.size is not None and upload.owner != owner)
    room = room_for_restore(free, data, budget_mb * MB) - promised
    if restore_needs(size) > room:
        return (f"not enough room on the card: the restore needs {restore_needs(size) // MB + 1} MB (twice the file), "
                f"{max(0, room) // MB} MB may be used ({free // MB} MB free, less what the retention budget of "
                f"{budget_mb} MB keeps for the box's data"
                + (f" and {promised // MB + 1} MB for another upload under way" if promised else "")
                + "); nothing was uploaded")
    return ""


@blueprint.route("/api/restore/start", methods=["POST"])
@requires(Permission.DATA)
def restore_start() -> Response:
    """Starts a full backup's upload in pieces (see the module)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _refused(400, "the request is not a JSON object")
    size, name, declared = body.get("size"), body.get("name", ""), body.get("sha256")
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        return _refused(400, "size: the file's size in bytes (a whole number over 0)")
    if size > BACKUP_UPLOAD_LIMIT:
        return _refused(413, f"the file is {size} bytes, more than the limit of {BACKUP_UPLOAD_LIMIT_MB} MB; "
                             "restore it with linebox backup restore on the box")
    if not isinstance(name, str) or len(name) > MAX_NAME_CHARS:
        return _refused(400, f"name: the file's name, at most {MAX_NAME_CHARS} characters")
    if declared is not None and (not isinstance(declared, str) or not _SHA256.fullmatch(declared)):
        return _refused(400, "sha256: 64 lowercase hexadecimal digits, or left out")
    user, sid = _owner()
    problem = _disk_problem(size, user)
    if problem:
        return _refused(507, problem)
    try:
        token = _restore_staging().begin(user, sid, name, {"sha256": declared} if declared else {}, size,
                                         state().services.clock())
    except WebAdminError as exc:
        return _refused(500, str(exc))
    return jsonify(upload=token, chunk_bytes=CHUNK_BYTES)


@blueprint.route("/api/restore/chunk", methods=["POST"])
@requires(Permission.DATA)
@accepts_upload(CHUNK_BYTES)
def restore_chunk() -> Response:
    """One piece of an upload, its bytes the body, appended at ``offset``."""
    token, offset = request.args.get("upload", ""), request.args.get("offset", "")
    if not offset.isdigit() or len(offset) > 12:
        return _refused(400, "offset: the piece's first byte in the file (a whole number)")
    data = request.get_data(cache=False)  # bounded: CHUNK_BYTES (accepts_upload), else 413 before this line
    user, sid = _owner()
    try:
        received = _restore_staging().append(token, user, sid, int(offset), data, state().services.clock())
    except WebAdminError as exc:  # out of order, past the declared size, or no such upload (of this session)
        return _refused(409, str(exc))
    return jsonify(received=received)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


@blueprint.route("/api/restore/finish", methods=["POST"])
@requires(Permission.DATA)
def restore_finish() -> Response:
    """The whole upload goes where the plain form's goes, and the same restore runs."""
    body = request.get_json(silent=True)
    token = body.get("upload", "") if isinstance(body, dict) else ""
    user, sid = _owner()
    area = _restore_staging()
    handle, name = tempfile.mkstemp(prefix=".upload-", suffix=".tar", dir=_db_path().parent)
    os.close(handle)
    archive = Path(name)
    try:
        staged = area.claim(str(token), user, sid, state().services.clock(), archive)
    except WebAdminError as exc:
        archive.unlink(missing_ok=True)
        return _refused(400, f"nothing was restored: {exc}")
    declared = staged.options.get("sha256")
    if declared and _sha256_of(archive) != declared:
        archive.unlink(missing_ok=True)
        return _refused(400, "nothing was restored: the file received differs from the one sent (SHA-256): "
                             "send it again")
    try:
        message = _restore(archive)
    except FirmwareError as exc:
        return _refused(400, f"nothing was restored: {exc}")
    flash(message, "ok")
    return jsonify(done=message, next=url_for("admin.system"))


def _saved_upload() -> Path:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise FirmwareError("choose the backup file (.tar, made by linebox backup create or this page) to restore")
    handle, name = tempfile.mkstemp(prefix=".upload-", suffix=".tar", dir=_db_path().parent)
    with os.fdopen(handle, "wb") as out:
        upload.save(out)
    return Path(name)


@blueprint.route("/system/restore-backup", methods=["POST"])
@requires(Permission.DATA)
@accepts_upload(FORM_BACKUP_LIMIT + FORM_SLACK)
def restore_backup() -> Response | tuple[str, int]:
    """The plain form (a browser without scripts; the page's script sends pieces instead)."""
    try:
        archive = _saved_upload()
    except FirmwareError as exc:
        return system_page([], 400, data_problem=str(exc))
    try:
        message = _restore(archive)
    except FirmwareError as exc:
        return system_page([], 400, data_problem=f"nothing was restored: {exc}")
    flash(message, "ok")
    return redirect(url_for("admin.system"))


def _restore(archive: Path) -> str:
    """Restores the uploaded ``archive`` (removed after); the page's message. FirmwareError: nothing
    was restored (its one line)."""
    db_path = _db_path()
    try:
        if _engine_running():
            manifest = stage_restore(archive, db_path)  # verified whole first; a damaged file raises
            _restart_engine(db_path.parent / PENDING_RESTORE)
            done = RESTARTING
        else:
            manifest, kept = backup.restore(archive, db_path)  # verifies the whole file before it replaces anything
            done = "restored now" + (f"; the data it replaced are in {kept.name}/" if kept is not None else "")
    finally:
        archive.unlink(missing_ok=True)
    audit("backup restore", f"backup made {manifest.created}, {len(manifest.entries)} files")
    return f"backup made {manifest.created} verified ({len(manifest.entries)} files): {done}." + _after_replacing()


@blueprint.route("/system/factory-reset", methods=["POST"])
@requires(Permission.DATA)
def reset() -> Response | tuple[str, int]:
    if request.form.get("confirm", "").strip() != CONFIRMATION:
        return system_page([], 400, data_problem=f"type {CONFIRMATION} to confirm the factory reset; nothing changed")
    db_path = _db_path()
    audit("factory reset", "asked")  # in the database that is kept aside
    try:
        if _engine_running():
            stage_factory_reset(db_path, _created())
            _restart_engine(db_path.parent / PENDING_RESET)
            done = RESTARTING
        else:
            kept = factory_reset(db_path, _created())
            done = f"done; the former data and a backup archive are in {kept.name}/"
    except (FirmwareError, OSError) as exc:
        return system_page([], 500, data_problem=f"the factory reset failed: {exc}")
    flash(f"factory reset: {done}. The first-boot wizard comes next (its setup token is in the log)."
          + _after_replacing(), "ok")
    return redirect(url_for("admin.system"))
