"""Configuration pages: one list and one form per section of the configuration (webadmin.sections).

Saving goes through :func:`webadmin.configedit.apply_edit` (the store, the configuration's own
checks, a version check). After a save the engine is asked to apply it at once
(``config reload`` on its console); if the engine is not running, it applies when it starts.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for

from firmware import FirmwareError
from firmware.config import to_dict
from webadmin import WebAdminError
from webadmin.app import audit, requires, state
from webadmin.configedit import Conflict, EditResult, apply_edit, form_values, item_index
from webadmin.sections import BOXES, SECTIONS, SETTINGS, Section, checked, get_path, shown
from webadmin.security import Permission

blueprint = Blueprint("pages", __name__, url_prefix="/config")


def _section(name: str) -> Section:
    section = SECTIONS.get(name)
    if section is None:
        abort(404)
    return section


def _key_of(section: Section, index: int, item: dict) -> str:
    return str(item.get(section.id_field)) if section.id_field else str(index)


@blueprint.route("/")
@requires(Permission.CONFIGURE)
def index() -> str:
    return render_template("config_index.html", sections=SECTIONS.values(), settings=SETTINGS)


@blueprint.route("/<name>")
@requires(Permission.CONFIGURE)
def listing(name: str) -> str:
    section = _section(name)
    items = to_dict(state().services.store.load())[section.key]
    rows = [(_key_of(section, index, item), [shown(field, get_path(item, field.path))
                                             for field in _columns(section)]) for index, item in enumerate(items)]
    return render_template("config_list.html", section=section, columns=_columns(section), rows=rows,
                           revision=state().services.store.config_version())


def _columns(section: Section):
    by_path = {field.path: field for field in section.fields}
    return [by_path[path] for path in section.columns]


def _apply_engine() -> str:
    try:
        return " ".join(state().services.engine.run("config reload"))
    except FirmwareError as exc:
        return f"saved; the engine will apply it when it runs ({exc})"


def _saved(result: EditResult, what: str, action: str) -> None:
    revision = state().services.store.config_version()
    audit(action, result.detail, revision)
    flash(f"{what} saved (revision {revision}). {_apply_engine()}", "ok")
    for reason in result.restart:
        flash(f"needs a restart to take full effect: {reason}", "restart")


def edit_section(section: Section, done: str) -> Response | tuple[str, int] | str:
    """A settings section's form on another page (the manager page): the same save path."""
    return _edit(section, None, done=done)


def _edit(section: Section, key: str | None, page: str = "", done: str = "") -> Response | tuple[str, int] | str:
    """A section's form, shown and saved; ``done``: where a saved form goes (default: its list or page)."""
    services = state().services
    store = services.store
    data = to_dict(store.load())
    item = None
    if section.key and key is not None:
        index = item_index(section, data[section.key], key)
        if index is None:
            abort(404)
        item = data[section.key][index]
    elif not section.key:
        item = data
    values = {field.path: value if field.kind == "bool" else checked(field, value) if field.kind in BOXES
              else shown(field, value)
              for field, value in zip(section.fields, form_values(section, item).values(), strict=True)}
    errors: dict[str, str] = {}
    general: list[str] = []
    revision = store.config_version()
    if request.method == "POST":
        form = request.form
        values = {field.path: (form.getlist(field.path) if field.kind in BOXES else
                               (field.path in form) if field.kind == "bool" else form.get(field.path, ""))
                  for field in section.fields}
        try:
            result = apply_edit(store, section, key, lambda f: (form.get(f.path), form.getlist(f.path)),
                                _revision(form.get("revision", "")), f"web {g.user.name}", services.restart_needed)
        except Conflict as exc:
            general.append(str(exc))
        except WebAdminError as exc:
            abort(404, str(exc))
        else:
            if result.ok:
                _saved(result, f"{section.item.capitalize()}", f"{section.key or 'settings'} {'edit' if key else 'add'}"
                       if section.key else "settings edit")
                return redirect(done or (url_for("pages.listing", name=section.key) if section.key
                                         else url_for("pages.settings", name=page)))
            errors, general = result.errors, result.general
    status = 400 if errors or general else 200
    return render_template("config_form.html", section=section, key=key, values=values, errors=errors,
                           general=general, revision=revision), status


def _revision(text: str) -> int:
    return int(text) if text.isascii() and text.isdigit() and len(text) < 12 else -1


@blueprint.route("/settings/<name>", methods=["GET", "POST"])
@requires(Permission.CONFIGURE)
def settings(name: str):
    section = SETTINGS.get(name)
    if section is None:
        abort(404)
    return _edit(section, None, name)


@blueprint.route("/<name>/new", methods=["GET", "POST"])
@requires(Permission.CONFIGURE)
def new(name: str):
    return _edit(_section(name), None)


@blueprint.route("/<name>/item/<key>", methods=["GET", "POST"])
@requires(Permission.CONFIGURE)
def edit(name: str, key: str):
    return _edit(_section(name), key)


@blueprint.route("/<name>/item/<key>/delete", methods=["POST"])
@requires(Permission.CONFIGURE)
def delete(name: str, key: str):
    section = _section(name)
    services = state().services
    try:
        result = apply_edit(services.store, section, key, lambda f: (None, []),
                            _revision(request.form.get("revision", "")), f"web {g.user.name}",
                            services.restart_needed, delete=True)
    except Conflict as exc:
        flash(str(exc), "error")
    except WebAdminError as exc:
        abort(404, str(exc))
    else:
        if result.ok:
            _saved(result, f"{section.item.capitalize()} {key} deleted;", f"{section.key} delete")
        else:
            flash(f"{section.item} {key} was not deleted: " + "; ".join(result.general), "error")
    return redirect(url_for("pages.listing", name=section.key))
