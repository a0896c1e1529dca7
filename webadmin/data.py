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

A restore keeps what it replaces in ``replaced-<n>/``; a factory reset keeps everything in
``factory-reset-<n>/`` with a backup archive. A damaged or truncated file is one line and
changes nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path

from flask import Blueprint, Response, flash, redirect, request, send_file, url_for

from firmware import FirmwareError
from firmware.storage import backup
from firmware.storage.pending import PENDING_RESET, PENDING_RESTORE, stage_factory_reset, stage_restore
from firmware.storage.reset import CONFIRMATION, factory_reset
from webadmin.admin import BACKUP_UPLOAD_LIMIT_MB, system_page
from webadmin.app import accepts_upload, audit, requires, state
from webadmin.security import Permission

blueprint = Blueprint("data", __name__)

BACKUP_UPLOAD_LIMIT = BACKUP_UPLOAD_LIMIT_MB * 1024 * 1024
FORM_SLACK = 64 * 1024


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
@accepts_upload(BACKUP_UPLOAD_LIMIT + FORM_SLACK)
def restore_backup() -> Response | tuple[str, int]:
    db_path = _db_path()
    try:
        archive = _saved_upload()
    except FirmwareError as exc:
        return system_page([], 400, data_problem=str(exc))
    try:
        if _engine_running():
            manifest = stage_restore(archive, db_path)  # verified whole first; a damaged file raises
            _restart_engine(db_path.parent / PENDING_RESTORE)
            done = RESTARTING
        else:
            manifest, kept = backup.restore(archive, db_path)  # verifies the whole file before it replaces anything
            done = "restored now" + (f"; the data it replaced are in {kept.name}/" if kept is not None else "")
    except FirmwareError as exc:
        return system_page([], 400, data_problem=f"nothing was restored: {exc}")
    finally:
        archive.unlink(missing_ok=True)
    audit("backup restore", f"backup made {manifest.created}, {len(manifest.entries)} files")
    flash(f"backup made {manifest.created} verified ({len(manifest.entries)} files): {done}."
          + _after_replacing(), "ok")
    return redirect(url_for("admin.system"))


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
