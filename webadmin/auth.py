"""Login, logout and the first-boot wizard.

The wizard is the only page while no admin account exists. It needs the one-time setup
token ``linebox web`` printed on the console and in the journal, and is refused to any
address outside the local network. It sets the country (tone plan, numbering, caller ID
standard, language follow it), shows the ports found on the board, and makes the admin
account; the token is then deleted. There is no default password.
"""

from __future__ import annotations

import ipaddress
import secrets
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, session, url_for

from firmware import FirmwareError
from firmware.config import ZONE_DEFAULTS, Config, Zone
from webadmin.app import audit, csrf_token, has_admin, requires, state
from webadmin.configedit import Conflict, apply_edit
from webadmin.sections import Field, Kind, Section
from webadmin.security import ADDRESS_LOCK_S, SESSION_MAX_S, Permission
from webadmin.services import new_account_errors

blueprint = Blueprint("auth", __name__)

WIZARD = Section("", "First start", "settings", "", (
    Field("zone", "Country", Kind.CHOICE, tuple(zone.value for zone in Zone),
          help="sets the tone plan, the numbering plan and the defaults below"),
    Field("caller_id_standard", "Caller ID standard", Kind.OPTIONAL_CHOICE,
          ("bell202", "v23", "v23_bt", "dtmf"), help="empty: the country's"),
    Field("language", "Language of prompts", Kind.OPTIONAL_TEXT, help="empty: the country's"),
), ())


def _local_address(address: str | None) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return ip.is_loopback or ip.is_private or ip.is_link_local


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never ``//host`` or a scheme): no open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("home")
    parts = urlsplit(target)
    return url_for("home") if parts.scheme or parts.netloc else target


def start_session(name: str, role: str, now: float) -> None:
    session.clear()
    session.permanent = True
    session.update(user=name, role=role, since=now, seen=now, sid=secrets.token_urlsafe(16))
    csrf_token()


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> Response | str:
    web = state()
    services = web.services
    error = ""
    if request.args.get("expired"):
        error = "Your session has ended: log in again."
    if request.method == "POST":
        now = services.clock()
        address = request.remote_addr or "unknown"
        name = request.form.get("name", "")[:64]
        password = request.form.get("password", "")[:256]
        if web.throttle.locked(address, now):
            error = f"Too many failed logins from this address: try again in {ADDRESS_LOCK_S // 60} minutes."
        else:
            try:
                account = services.accounts.authenticate(name, password, now)
            except FirmwareError as exc:
                web.throttle.failed(address, now)
                error = str(exc)
                audit("login refused", error, user=name)
            else:
                web.throttle.succeeded(address)
                start_session(account.name, str(account.role), now)
                audit("login", f"role {account.role}", user=account.name)
                return redirect(_safe_next(request.form.get("next")))
        return render_template("login.html", error=error, name=name, next=request.form.get("next", "")), 401
    return render_template("login.html", error=error, name="", next=request.args.get("next", ""))


@blueprint.route("/logout", methods=["POST"])
def logout() -> Response:
    web = state()
    if session.get("sid"):
        now = web.services.clock()
        web.revoked.revoke(str(session["sid"]), float(session.get("since", now)) + SESSION_MAX_S, now)
    session.clear()
    return redirect(url_for("auth.login"))


@blueprint.route("/setup", methods=["GET", "POST"])
def setup() -> Response | str:
    web = state()
    services = web.services
    if has_admin(services):
        return redirect(url_for("auth.login"))
    if not _local_address(request.remote_addr):
        abort(403, "the first-start wizard is open only to the local network")
    store = services.store
    base = Config(board=services.board.name)
    current = base if store.is_empty() else store.load()
    values = {"zone": str(current.zone), "caller_id_standard": current.caller_id_standard,
              "language": current.language, "name": "admin"}
    errors: dict[str, str] = {}
    general: list[str] = []
    if request.method == "POST":
        form = request.form
        values.update({key: form.get(key, "") for key in ("zone", "caller_id_standard", "language", "name")})
        name, password = form.get("name", "").strip(), form.get("password", "")
        if not web.setup_token.matches(form.get("token", "")):
            errors["token"] = "not the setup token printed on the console (see the journal: journalctl -u linebox-web)"
        errors.update(new_account_errors(services.check_account, name, password, form.get("password2", "")))
        if not errors:
            try:
                result = apply_edit(store, WIZARD, None, lambda f: (form.get(f.path), form.getlist(f.path)),
                                    _revision(form.get("revision", "")), f"web setup by {name}",
                                    services.restart_needed, base_if_empty=base)
            except Conflict as exc:
                general.append(str(exc))
            else:
                errors.update(result.errors)
                general += result.general
                if result.ok:
                    try:
                        services.accounts.add(name, "admin", password, services.clock())
                    except FirmwareError as exc:
                        errors["name"] = str(exc)
                    else:
                        web.setup_token.consume()
                        audit("first start", f"admin account made; {result.detail}", store.config_version(), user=name)
                        start_session(name, "admin", services.clock())
                        return redirect(url_for("live.dashboard"))
    return render_template("setup.html", section=WIZARD, values=values, errors=errors, general=general,
                           revision=store.config_version(), ports=list(enumerate(services.board.kinds)),
                           board=services.board.name, zone_defaults=ZONE_DEFAULTS), (400 if errors or general else 200)


def _revision(text: str) -> int:
    return int(text) if text.isascii() and text.isdigit() and len(text) < 12 else -1


@blueprint.route("/password", methods=["GET", "POST"])
@requires(Permission.SELF)
def password() -> tuple[str, int] | Response:
    """One's own password: the current one first; then every other session of the account ends."""
    services = state().services
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = request.form
        name, now = g.user.name, services.clock()
        try:
            services.accounts.authenticate(name, form.get("current", ""), now)
        except FirmwareError:
            errors["current"] = "not your current password"
        try:
            services.check_account(name, form.get("password", ""))
        except FirmwareError as exc:
            errors["password"] = str(exc)
        if form.get("password", "") != form.get("password2", ""):
            errors["password2"] = "the two passwords differ"
        if not errors:
            services.accounts.set_password(name, form["password"], now)
            audit("password change", "own password")
            start_session(name, str(g.user.role), services.clock())
            flash("password changed; your other sessions are logged out", "ok")
            return redirect(url_for("home"))
    return render_template("password.html", errors=errors), (400 if errors else 200)
