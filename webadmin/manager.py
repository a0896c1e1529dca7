"""The manager page (admin only): the AMI manager interface's settings and its accounts.

The settings are the configuration's ``manager`` section (:data:`webadmin.sections.MANAGER`),
saved through the same path as every configuration page (``webadmin.configedit``: the
configuration's own codec and checks, the version check, the engine asked to apply it). The
accounts are the box's account store (``firmware.accounts``, the one ``linebox users``
writes), role ``manager``, each with its AMI read and write classes: made, changed and
removed here with the store's own rules (user name, password, classes), each refusal next
to its field. Every change goes to the audit log.
"""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from firmware import FirmwareError
from firmware.accounts.model import AMI_CLASSES
from webadmin.app import audit, requires, state
from webadmin.pages import edit_section
from webadmin.sections import MANAGER
from webadmin.security import Permission
from webadmin.services import new_account_errors

blueprint = Blueprint("manager", __name__, url_prefix="/manager")

ROLE = "manager"


def _class_errors(exc: FirmwareError) -> dict[str, str]:
    """The store names the option it refused (``--read: unknown class 'x'``): that field."""
    text = str(exc)
    for option in ("read", "write"):
        if text.startswith(f"--{option}"):
            return {option: text.removeprefix(f"--{option}: ")}
    return {"name": text}


def _page(errors: dict[str, str], values: dict[str, object], status: int = 200) -> tuple[str, int]:
    services = state().services
    settings = services.store.load().manager
    users = sorted((user for user in services.accounts.users() if str(user.role) == ROLE), key=lambda u: u.name)
    return render_template("manager.html", settings=settings, users=users, classes=AMI_CLASSES,
                           errors=errors, values=values), status


@blueprint.route("/")
@requires(Permission.ACCOUNTS)
def page() -> tuple[str, int]:
    return _page({}, {"name": "", "read": [], "write": []})


@blueprint.route("/settings", methods=["GET", "POST"])
@requires(Permission.ACCOUNTS)
def settings():
    return edit_section(MANAGER, url_for("manager.page"))


@blueprint.route("/accounts", methods=["POST"])
@requires(Permission.ACCOUNTS)
def add() -> tuple[str, int] | Response:
    services = state().services
    form = request.form
    name, password = form.get("name", "").strip(), form.get("password", "")
    read, write = form.getlist("read"), form.getlist("write")
    values = {"name": name, "read": read, "write": write}
    errors = new_account_errors(services.check_account, name, password, form.get("password2", ""))
    if not errors:
        try:
            services.accounts.add(name, ROLE, password, services.clock(), read=read, write=write)
        except FirmwareError as exc:
            errors = _class_errors(exc)
        else:
            audit("manager account add", f"{name} read={','.join(read) or '-'} write={','.join(write) or '-'}")
            flash(f"manager account {name} made: a CRM can log in with it now", "ok")
            return redirect(url_for("manager.page"))
    return _page(errors, values, 400)


@blueprint.route("/accounts/<name>", methods=["POST"])
@requires(Permission.ACCOUNTS)
def change(name: str) -> Response:
    services = state().services
    user = services.accounts.get(name)
    if user is None or str(user.role) != ROLE:
        flash(f"no manager account {name!r}", "error")
        return redirect(url_for("manager.page"))
    if request.form.get("action") == "delete":
        services.accounts.delete(name)
        audit("manager account delete", name)
        flash(f"manager account {name} removed (its connected clients keep their session until they log off)",
              "ok")
        return redirect(url_for("manager.page"))
    read, write = request.form.getlist("read"), request.form.getlist("write")
    try:
        services.accounts.set_permissions(name, read, write, services.clock())
    except FirmwareError as exc:
        flash(f"{name}: {exc}", "error")
    else:
        audit("manager account classes", f"{name} read={','.join(read) or '-'} write={','.join(write) or '-'}")
        flash(f"manager account {name}: classes saved (they apply at its next login)", "ok")
    return redirect(url_for("manager.page"))
