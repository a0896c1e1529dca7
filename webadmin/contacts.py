"""The contacts page: search and list, upload a CSV file -> its validation report -> confirm, export.

The rules are firmware.contacts' (the same as ``linebox contacts import``): the upload is read
at the CSV trust boundary and checked against the stored contacts and the zone's numbering
plan, and the report (counts, then every problem with its CSV line) is shown before anything
is stored. The report page carries the file back (base64, in a hidden field) with the
configuration's revision: confirming checks it again and stores it all or nothing (or only the
valid rows, when the person chose so); a change made meanwhile by another hand shows the new
report instead of storing. After a store the engine is asked to apply it at once, as after a
configuration edit. Roles: admin and supervisor (:data:`Permission.CONTACTS`).
"""

from __future__ import annotations

import base64
import binascii

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for

from firmware import FirmwareError
from firmware.contacts.csvfile import MAX_CSV_BYTES, CsvTable, read_table
from firmware.contacts.directory import contacts_csv, search
from firmware.contacts.importer import ContactImport, apply_import, check_import, refusal
from webadmin.app import accepts_upload, audit, requires, state
from webadmin.security import Permission

blueprint = Blueprint("contacts", __name__, url_prefix="/contacts")

MAX_SHOWN = 200
UPLOAD_LIMIT = MAX_CSV_BYTES * 2  # the form around the file; base64 of the confirm form is 4/3 of it
MAX_FILENAME_CHARS = 100


@blueprint.route("/")
@requires(Permission.CONTACTS)
def index() -> str:
    config = state().services.store.load()
    query = request.args.get("q", "")[:64]
    found = search(config.contacts, query, str(config.zone), MAX_SHOWN)
    return render_template("contacts.html", contacts=found, total=len(config.contacts), query=query,
                           zone=config.zone, shown_max=MAX_SHOWN)


@blueprint.route("/export.csv")
@requires(Permission.CONTACTS)
def export() -> Response:
    contacts = state().services.store.load().contacts
    audit("contacts export", f"{len(contacts)} contacts")
    return Response(contacts_csv(contacts), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=linebox-contacts.csv"})


def _report_page(table: CsvTable, data: bytes, filename: str, replace: bool, status: int = 200,
                 note: str = "") -> tuple[str, int]:
    store = state().services.store
    revision = store.config_version()
    config = store.load()
    report = check_import(table, str(config.zone), config.contacts, replace)
    return render_template("contacts_report.html", report=report, reason=refusal(report), filename=filename,
                           data=base64.b64encode(data).decode("ascii"), replace=replace, revision=revision,
                           note=note), status


def _upload_error(message: str) -> tuple[str, int]:
    config = state().services.store.load()
    return render_template("contacts.html", contacts=search(config.contacts, "", str(config.zone), MAX_SHOWN),
                           total=len(config.contacts), query="", zone=config.zone, shown_max=MAX_SHOWN,
                           upload_error=message), 400


@blueprint.route("/import", methods=["POST"])
@requires(Permission.CONTACTS)
@accepts_upload(UPLOAD_LIMIT)
def upload() -> tuple[str, int]:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _upload_error("choose the CSV file to import")
    filename = upload.filename[:MAX_FILENAME_CHARS]
    data = upload.read(MAX_CSV_BYTES + 1)
    try:
        table = read_table(data)
    except FirmwareError as exc:
        return _upload_error(f"{filename}: {exc}")
    return _report_page(table, data, filename, request.form.get("mode") == "replace")


@blueprint.route("/import/confirm", methods=["POST"])
@requires(Permission.CONTACTS)
@accepts_upload(UPLOAD_LIMIT)
def confirm() -> Response | tuple[str, int]:
    services = state().services
    form = request.form
    filename = form.get("filename", "")[:MAX_FILENAME_CHARS]
    replace = form.get("replace") == "1"
    try:
        data = base64.b64decode(form.get("data", ""), validate=True)
        table = read_table(data)
    except (binascii.Error, ValueError, FirmwareError):
        return _upload_error("the confirmed file did not come back intact: upload it again")
    if form.get("revision") != str(services.store.config_version()):
        return _report_page(table, data, filename, replace, 409,
                            note="the configuration changed since this report: here is the new one; confirm again")
    try:
        report: ContactImport = apply_import(services.store, table, replace=replace,
                                             skip_invalid=form.get("skip_invalid") == "1",
                                             source=f"web contacts import by {g.user.name}")
    except FirmwareError as exc:
        return _report_page(table, data, filename, replace, 400, note=str(exc))
    revision = services.store.config_version()
    audit("contacts import", f"{filename}: {report.valid} stored, {report.invalid} invalid, "
          f"{report.duplicates} duplicates{', replacing' if replace else ''}", revision)
    try:
        applied = " ".join(services.engine.run("config reload"))
    except FirmwareError as exc:
        applied = f"the engine will apply it when it runs ({exc})"
    flash(f"{report.valid} contacts stored from {filename} (revision {revision}). {applied}", "ok")
    return redirect(url_for("contacts.index"))
