"""The contacts page: search and list, upload a CSV file -> its validation report -> confirm, export.

The rules are firmware.contacts' (the same as ``linebox contacts import``): the upload is read
at the CSV trust boundary and checked against the stored contacts and the zone's numbering
plan, and the report (counts, then every problem with its CSV line) is shown before anything
is stored. The report page carries the file back (base64, in a hidden field) with the
contact store's revision: confirming checks it again and stores it all or nothing in one
transaction (or only the valid rows, when the person chose so); a change made meanwhile by
another hand shows the new report instead of storing. The engine reads the store at each
lookup: nothing to reload. The list is searched and shown a page at a time and the export is
streamed, so the page never holds the whole store. Roles: admin and supervisor
(:data:`Permission.CONTACTS`).
"""

from __future__ import annotations

import base64
import binascii

from flask import (
    Blueprint,
    Response,
    flash,
    g,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)

from firmware import FirmwareError
from firmware.contacts.csvfile import CsvTable, read_table
from firmware.contacts.directory import MAX_QUERY_CHARS, export_csv
from firmware.contacts.importer import MAX_IMPORT_BYTES, ContactImport, apply_import, check_import, refusal
from firmware.contacts.store import MAX_CONTACTS, ContactStore
from webadmin.app import accepts_upload, audit, requires, state
from webadmin.security import Permission

blueprint = Blueprint("contacts", __name__, url_prefix="/contacts")

PAGE_SIZE = 50
UPLOAD_LIMIT = MAX_IMPORT_BYTES * 2  # the form around the file; base64 of the confirm form is 4/3 of it
MAX_FILENAME_CHARS = 100
MAX_PAGE_NUMBER = MAX_CONTACTS // PAGE_SIZE + 1


def contact_store() -> ContactStore:
    store = state().services.contacts
    if store is None:
        raise FirmwareError("this web admin was started without the contact store")
    return store


def _list_page(query: str, page: int, status: int = 200, **extra: object) -> tuple[str, int]:
    zone = state().services.store.load().zone
    contacts = contact_store()
    found, matched = contacts.search(query, str(zone), (page - 1) * PAGE_SIZE, PAGE_SIZE)
    pages = max(1, -(-matched // PAGE_SIZE))
    return render_template("contacts.html", contacts=found, matched=matched, total=contacts.count(), query=query,
                           zone=zone, page=min(page, pages), pages=pages, page_size=PAGE_SIZE, **extra), status


@blueprint.route("/")
@requires(Permission.CONTACTS)
def index() -> tuple[str, int]:
    query = request.args.get("q", "")[:MAX_QUERY_CHARS]
    page = request.args.get("page", "1")
    number = int(page) if page.isdigit() and 1 <= int(page) <= MAX_PAGE_NUMBER else 1
    return _list_page(query, number)


@blueprint.route("/export.csv")
@requires(Permission.CONTACTS)
def export() -> Response:
    contacts = contact_store()
    audit("contacts export", f"{contacts.count()} contacts")
    # streamed: a piece of CSV text at a time, read from the store a batch at a time
    return Response(stream_with_context(export_csv(contacts)), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=linebox-contacts.csv"})


def _report_page(table: CsvTable, data: bytes, filename: str, replace: bool, status: int = 200,
                 note: str = "") -> tuple[str, int]:
    contacts = contact_store()
    revision = contacts.revision()
    zone = str(state().services.store.load().zone)
    report = check_import(table, zone, contacts, replace)
    return render_template("contacts_report.html", report=report, reason=refusal(report), filename=filename,
                           data=base64.b64encode(data).decode("ascii"), replace=replace, revision=revision,
                           note=note), status


def _upload_error(message: str) -> tuple[str, int]:
    return _list_page("", 1, 400, upload_error=message)


def _read(data: bytes) -> CsvTable:
    return read_table(data, MAX_IMPORT_BYTES, MAX_CONTACTS)


@blueprint.route("/import", methods=["POST"])
@requires(Permission.CONTACTS)
@accepts_upload(UPLOAD_LIMIT)
def upload() -> tuple[str, int]:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _upload_error("choose the CSV file to import")
    filename = upload.filename[:MAX_FILENAME_CHARS]
    data = upload.read(MAX_IMPORT_BYTES + 1)
    try:
        table = _read(data)
    except FirmwareError as exc:
        return _upload_error(f"{filename}: {exc}")
    return _report_page(table, data, filename, request.form.get("mode") == "replace")


@blueprint.route("/import/confirm", methods=["POST"])
@requires(Permission.CONTACTS)
@accepts_upload(UPLOAD_LIMIT)
def confirm() -> Response | tuple[str, int]:
    services = state().services
    contacts = contact_store()
    form = request.form
    filename = form.get("filename", "")[:MAX_FILENAME_CHARS]
    replace = form.get("replace") == "1"
    try:
        data = base64.b64decode(form.get("data", ""), validate=True)
        table = _read(data)
    except (binascii.Error, ValueError, FirmwareError):
        return _upload_error("the confirmed file did not come back intact: upload it again")
    if form.get("revision") != str(contacts.revision()):
        return _report_page(table, data, filename, replace, 409,
                            note="the contacts changed since this report: here is the new one; confirm again")
    try:
        report: ContactImport = apply_import(contacts, table, str(services.store.load().zone), replace=replace,
                                             skip_invalid=form.get("skip_invalid") == "1")
    except FirmwareError as exc:
        return _report_page(table, data, filename, replace, 400, note=str(exc))
    revision = contacts.revision()
    audit("contacts import", f"{filename}: {report.valid} stored, {report.invalid} invalid, "
          f"{report.duplicates} duplicates{', replacing' if replace else ''} by {g.user.name}", revision)
    flash(f"{report.valid} contacts stored from {filename} (contacts revision {revision}); the IVR and the "
          "desk find them at once.", "ok")
    return redirect(url_for("contacts.index"))
