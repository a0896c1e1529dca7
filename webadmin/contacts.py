"""The contacts page: search and list, upload a CSV file -> its validation report -> confirm, export.

The rules are firmware.contacts' (the same as ``linebox contacts import``): the upload is read
at the CSV trust boundary and checked against the stored contacts and the zone's numbering
plan, and the report (counts, then every problem with its CSV line) is shown before anything
is stored. The uploaded file stays on the box (webadmin/staging.py: a private folder under the
data directory, a random token, 30 minutes at most, one per user) and the report page carries
only its token with the contact store's revision: confirming reads the staged file, checks it
again and stores it all or nothing in one transaction (or only the valid rows, when the person
chose so); a change made meanwhile by another hand shows the new report instead of storing.
Confirming or cancelling removes the staged file; a token that is unknown, expired, another
user's or another session's is refused and nothing changes. The engine reads the store at each
lookup: nothing to reload. The list is searched and shown a page at a time and the export is
streamed, so the page never holds the whole store. Roles: admin and supervisor
(:data:`Permission.CONTACTS`).
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)
from flask.blueprints import BlueprintSetupState

from firmware import FirmwareError
from firmware.contacts.csvfile import CsvTable, read_table
from firmware.contacts.directory import MAX_QUERY_CHARS, export_csv
from firmware.contacts.importer import MAX_IMPORT_BYTES, ContactImport, apply_import, check_import, refusal
from firmware.contacts.store import MAX_CONTACTS, ContactStore
from firmware.storage.reset import STAGING
from webadmin import WebAdminError
from webadmin.app import accepts_upload, audit, requires, state
from webadmin.security import Permission
from webadmin.staging import Staged, StagingArea

blueprint = Blueprint("contacts", __name__, url_prefix="/contacts")

PAGE_SIZE = 50
UPLOAD_LIMIT = MAX_IMPORT_BYTES + 64 * 1024  # the file and the form around it
MAX_FILENAME_CHARS = 100
MAX_PAGE_NUMBER = MAX_CONTACTS // PAGE_SIZE + 1


def contact_store() -> ContactStore:
    store = state().services.contacts
    if store is None:
        raise FirmwareError("this web admin was started without the contact store")
    return store


STAGING_FOLDER = f"{STAGING}/contacts"  # under the data directory (a factory reset drops STAGING)
NOT_STAGED = "this import is no longer waiting (confirmed, cancelled, expired or not yours): upload the file again"


def _staging() -> StagingArea:
    return StagingArea(state().services.data_dir / STAGING_FOLDER, MAX_IMPORT_BYTES)


def _owner() -> tuple[str, str]:
    """Whose staged import: the user and the session."""
    return g.user.name, str(session.get("sid", ""))


def _list_page(query: str, page: int, status: int = 200, **extra: object) -> tuple[str, int]:
    zone = state().services.store.load().zone
    contacts = contact_store()
    found, matched = contacts.search(query, str(zone), (page - 1) * PAGE_SIZE, PAGE_SIZE)
    pages = max(1, -(-matched // PAGE_SIZE))
    return render_template("contacts.html", contacts=found, matched=matched, total=contacts.count(), query=query,
                           zone=zone, page=min(page, pages), pages=pages, page_size=PAGE_SIZE, **extra), status


@blueprint.record_once
def _sweep_at_start(setup: BlueprintSetupState) -> None:
    """Staged imports left by an earlier run: the expired ones go at once."""
    services = setup.app.extensions["linebox"].services
    StagingArea(services.data_dir / STAGING_FOLDER, MAX_IMPORT_BYTES).sweep(services.clock())


@blueprint.route("/")
@requires(Permission.CONTACTS)
def index() -> tuple[str, int]:
    _staging().sweep(state().services.clock())
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


def _report_page(table: CsvTable, token: str, filename: str, replace: bool, status: int = 200,
                 note: str = "", data: bytes | None = None) -> tuple[str, int]:
    """The validation report; ``data``: the new upload, staged here when the report lets it be stored."""
    contacts = contact_store()
    revision = contacts.revision()
    zone = str(state().services.store.load().zone)
    report = check_import(table, zone, contacts, replace)
    if data is not None and not report.refused and report.valid > 0:
        user, sid = _owner()
        try:
            token = _staging().stage(user, sid, filename, {"replace": "1" if replace else "0"}, data,
                                     state().services.clock())
        except WebAdminError as exc:
            return _upload_error(f"{filename}: {exc}")
    return render_template("contacts_report.html", report=report, reason=refusal(report), filename=filename,
                           token=token, replace=replace, revision=revision, note=note), status


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
    return _report_page(table, "", filename, request.form.get("mode") == "replace", data=data)


def _staged_import() -> tuple[StagingArea, Staged | None]:
    staging = _staging()
    user, sid = _owner()
    return staging, staging.take(request.form.get("token", ""), user, sid, state().services.clock())


@blueprint.route("/import/confirm", methods=["POST"])
@requires(Permission.CONTACTS)
def confirm() -> Response | tuple[str, int]:
    services = state().services
    contacts = contact_store()
    staging, staged = _staged_import()
    if staged is None:
        return _upload_error(NOT_STAGED)
    filename, replace = staged.filename, staged.options.get("replace") == "1"
    try:
        table = _read(staged.data)
    except FirmwareError as exc:  # it was read before it was staged: only a damaged file gets here
        staging.discard(staged.token)
        return _upload_error(f"{filename}: {exc}")
    if request.form.get("revision") != str(contacts.revision()):
        return _report_page(table, staged.token, filename, replace, 409,
                            note="the contacts changed since this report: here is the new one; confirm again")
    try:
        report: ContactImport = apply_import(contacts, table, str(services.store.load().zone), replace=replace,
                                             skip_invalid=request.form.get("skip_invalid") == "1")
    except FirmwareError as exc:
        return _report_page(table, staged.token, filename, replace, 400, note=str(exc))
    staging.discard(staged.token)
    revision = contacts.revision()
    audit("contacts import", f"{filename}: {report.valid} stored, {report.invalid} invalid, "
          f"{report.duplicates} duplicates{', replacing' if replace else ''} by {g.user.name}", revision)
    flash(f"{report.valid} contacts stored from {filename} (contacts revision {revision}); the IVR and the "
          "desk find them at once.", "ok")
    return redirect(url_for("contacts.index"))


@blueprint.route("/import/cancel", methods=["POST"])
@requires(Permission.CONTACTS)
def cancel() -> Response | tuple[str, int]:
    staging, staged = _staged_import()
    if staged is None:
        return _upload_error(NOT_STAGED)
    staging.discard(staged.token)
    flash(f"the import of {staged.filename} was cancelled: nothing stored", "ok")
    return redirect(url_for("contacts.index"))
