"""The system pages: audit log, web accounts, version, backup and restore of the configuration
(full backups, their restore and the factory reset: webadmin/data.py).

Restore goes through the same path as ``linebox config import``: the file is read as YAML with
the configuration's own limits, checked whole (every problem listed, each with its path, by
firmware/config/collect.py as ``linebox config validate`` lists them), and only then replaces
the stored configuration, in one transaction, with the version check of every other save.
"""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from firmware import FirmwareError
from firmware.config import to_yaml
from firmware.config.yamlio import MAX_DOCUMENT_BYTES, parse_yaml
from firmware.storage.reset import CONFIRMATION
from webadmin.app import accepts_upload, audit, requires, state
from webadmin.configedit import Conflict, replace_whole
from webadmin.engine import engine_status
from webadmin.security import Permission
from webadmin.services import new_account_errors

blueprint = Blueprint("admin", __name__)

ROLES = ("admin", "installer", "supervisor", "agent")
UPLOAD_LIMIT = MAX_DOCUMENT_BYTES + 16 * 1024  # the document plus the form around it
BACKUP_UPLOAD_LIMIT_MB = 1024  # a full backup's upload (webadmin/data.py): a box's data with its recordings
# ... sent in pieces by the page's script; the plain form (a browser without scripts) takes up to the
# largest other upload's size (music, 32 MB), so that it does not raise the web server's body limit
FORM_BACKUP_LIMIT_MB = 32


@blueprint.route("/audit")
@requires(Permission.CONFIGURE)
def audit_log() -> str:
    return render_template("audit.html", entries=state().services.audit.recent(300))


@blueprint.route("/accounts", methods=["GET", "POST"])
@requires(Permission.ACCOUNTS)
def accounts() -> tuple[str, int] | Response:
    services = state().services
    errors: dict[str, str] = {}
    values = {"name": "", "role": "agent"}
    if request.method == "POST":
        form = request.form
        name, role, password = form.get("name", "").strip(), form.get("role", ""), form.get("password", "")
        values = {"name": name, "role": role}
        if role not in ROLES:
            errors["role"] = f"expected one of {', '.join(ROLES)}"
        errors.update(new_account_errors(services.check_account, name, password, form.get("password2", "")))
        if not errors:
            try:
                services.accounts.add(name, role, password, services.clock())
            except FirmwareError as exc:
                errors["name"] = str(exc)
            else:
                audit("account add", f"{name} ({role})")
                flash(f"account {name} ({role}) made: it can log in now", "ok")
                return redirect(url_for("admin.accounts"))
    users = sorted(services.accounts.users(), key=lambda user: user.name)
    return render_template("accounts.html", users=users, roles=ROLES, errors=errors, values=values), (
        400 if errors else 200)


LOG_LINES = 60


def system_page(problems: list[str], status: int = 200, confirm_restart: bool = False,
                data_problem: str = "") -> tuple[str, int]:
    """The System page; ``problems``: of a configuration restore, ``data_problem``: of a full backup's
    restore or a factory reset (webadmin/data.py)."""
    services = state().services
    try:
        log, log_error = services.engine.tail(LOG_LINES), ""
    except FirmwareError as exc:
        log, log_error = [], str(exc)
    engine = engine_status(services.engine)
    # "systemd": a restart button; "none": a developer's `linebox run` (nothing would start it again)
    restart = engine.get("restart") if "error" not in engine else None
    return render_template("system.html", version=services.version, revision=services.store.config_version(),
                           board=services.board.name, problems=problems, log=log, log_error=log_error,
                           restart=restart, engine_error=engine.get("error", ""),
                           confirm_restart=confirm_restart and restart in ("systemd", "self"), data_problem=data_problem,
                           confirmation=CONFIRMATION, backup_limit_mb=BACKUP_UPLOAD_LIMIT_MB,
                           form_backup_limit_mb=FORM_BACKUP_LIMIT_MB), status


@blueprint.route("/system")
@requires(Permission.CONFIGURE)
def system() -> tuple[str, int]:
    return system_page([])


@blueprint.route("/system/restart", methods=["POST"])
@requires(Permission.RESTART)
def restart() -> tuple[str, int] | Response:
    """First POST: the page asks to confirm; the second (``confirm=yes``) asks the engine, through
    its console, to stop for systemd to start it again (``engine restart``)."""
    if request.form.get("confirm") != "yes":
        return system_page([], confirm_restart=True)
    services = state().services
    try:
        said = " ".join(services.engine.run("engine restart"))
    except FirmwareError as exc:
        flash(f"the engine was not restarted: {exc}", "error")
    else:
        audit("engine restart", said)
        flash(f"{said}. Calls in progress ended; the dashboard shows the engine again when it is back.", "ok")
    return redirect(url_for("admin.system"))


@blueprint.route("/system/backup.yaml")
@requires(Permission.CONFIGURE)
def backup() -> Response:
    services = state().services
    text = to_yaml(services.store.load())
    audit("backup", f"revision {services.store.config_version()}")
    return Response(text, mimetype="application/yaml",
                    headers={"Content-Disposition": "attachment; filename=linebox-config.yaml"})


@blueprint.route("/system/restore", methods=["POST"])
@requires(Permission.CONFIGURE)
@accepts_upload(UPLOAD_LIMIT)
def restore() -> tuple[str, int] | Response:
    services = state().services
    upload = request.files.get("file")
    problems: list[str] = []
    if upload is None or not upload.filename:
        problems.append("choose the backup file (.yaml) to restore")
    elif not upload.filename.lower().endswith((".yaml", ".yml")):
        problems.append(f"{upload.filename}: a backup is a .yaml file")
    else:
        data = upload.read(MAX_DOCUMENT_BYTES + 1)
        try:
            if len(data) > MAX_DOCUMENT_BYTES:
                raise FirmwareError(f"the file is larger than the limit of {MAX_DOCUMENT_BYTES} bytes")
            document = parse_yaml(data.decode("utf-8"))
            if document is None:
                raise FirmwareError("configuration: the document is empty")
        except UnicodeDecodeError as exc:
            problems.append(f"{upload.filename}: byte {exc.start + 1} is not UTF-8 text")
        except FirmwareError as exc:
            problems.append(f"{upload.filename}: {exc}")
        else:
            revision = request.form.get("revision", "")
            try:
                problems = replace_whole(services.store, document, int(revision) if revision.isdigit() else -1,
                                         f"web restore by {request.remote_addr}")
            except Conflict as exc:
                problems = [str(exc)]
            if not problems:
                audit("restore", f"from {upload.filename[:100]}", services.store.config_version())
                try:
                    applied = " ".join(services.engine.run("config reload"))
                except FirmwareError as exc:
                    applied = f"the engine will apply it when it runs ({exc})"
                flash(f"configuration restored from {upload.filename}. {applied}", "ok")
                return redirect(url_for("admin.system"))
    return system_page(problems, 400)
