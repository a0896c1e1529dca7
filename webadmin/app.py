"""The Flask application: the frame every page lives in (sessions, CSRF, roles, headers, limits).

``create_app(services)`` returns the WSGI app; ``linebox web`` serves it with waitress as a
process of its own, so a slow page or a crash here never touches a call. Every request is
outside input:

- a request to any page but ``/login`` needs a session (else: redirect to ``/login``), and
  while no admin account exists every page redirects to the first-boot wizard ``/setup``;
- every page declares the permission it needs (:func:`requires`); a page that declares none
  is refused to everyone (default deny); roles map to permissions in one table
  (:data:`webadmin.security.ROLE_PERMISSIONS`);
- every state-changing request (POST) carries the session's CSRF token (form field
  ``csrf_token`` or header ``X-CSRF-Token``), else 400 and nothing happens;
- sessions: a signed cookie (HttpOnly, SameSite=Strict, Secure unless served on the
  loopback address), over after 30 minutes unused or 12 hours; the account is read again on
  every request (a removed account or a changed role ends the session);
- request bodies are limited (:data:`MAX_REQUEST_BYTES`); every response carries the
  security headers (:data:`SECURITY_HEADERS`: a Content-Security-Policy without inline
  scripts or styles, no framing, no sniffing, no referrer).
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import TypeVar

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from webadmin.security import (
    IDLE_TIMEOUT_S,
    SESSION_MAX_S,
    LoginThrottle,
    Permission,
    RevokedSessions,
    SetupToken,
    allowed,
    home_permission,
    session_secret,
)
from webadmin.services import WebServices

MAX_REQUEST_BYTES = 64 * 1024  # the largest form is a few kB; uploads (music, greetings) get their own limit
MAX_FORM_PARTS = 300
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
                                "object-src 'none'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
# Files served without touching the session. Chromium fetches /favicon.ico without the
# SameSite=Strict cookie; making a session for that request would replace the browser's
# cookie and void the login form's CSRF token.
SESSIONLESS_ENDPOINTS = frozenset({"static", "favicon"})
PUBLIC_ENDPOINTS = frozenset({"static", "auth.login", "auth.logout", "auth.setup"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

F = TypeVar("F", bound=Callable)


def requires(permission: Permission) -> Callable[[F], F]:
    """Declares the permission a page needs (checked before the page runs)."""

    def mark(view: F) -> F:
        view.required_permission = permission  # type: ignore[attr-defined]
        return view

    return mark


def accepts_upload(limit_bytes: int) -> Callable[[F], F]:
    """A page that takes a file upload larger than :data:`MAX_REQUEST_BYTES` (up to ``limit_bytes``)."""

    def mark(view: F) -> F:
        view.upload_limit = limit_bytes  # type: ignore[attr-defined]
        return view

    return mark


def largest_upload(app: Flask) -> int:
    """The largest request body any page of ``app`` takes: the WSGI server's own limit (waitress
    refuses a larger body before the application sees it; each page's own limit is then set by
    :func:`accepts_upload`)."""
    return max(MAX_REQUEST_BYTES, *(getattr(view, "upload_limit", 0) for view in app.view_functions.values()))


@dataclass
class WebState:
    """Per-application state (no module globals): the services, the login throttle, the setup token."""

    services: WebServices
    throttle: LoginThrottle
    setup_token: SetupToken
    cdr_lock: threading.Lock
    revoked: RevokedSessions


def state() -> WebState:
    return current_app.extensions["linebox"]


def create_app(services: WebServices) -> Flask:
    app = Flask(__name__, static_folder=str(Path(__file__).parent / "static"))
    app.config.update(
        SECRET_KEY=session_secret(services.data_dir),
        SESSION_COOKIE_NAME="linebox_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=services.cookie_secure,
        PERMANENT_SESSION_LIFETIME=SESSION_MAX_S,
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        MAX_FORM_MEMORY_SIZE=MAX_REQUEST_BYTES,
        MAX_FORM_PARTS=MAX_FORM_PARTS,
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.extensions["linebox"] = WebState(services, LoginThrottle(), SetupToken(services.data_dir), threading.Lock(),
                                         RevokedSessions())

    from webadmin import admin, auth, live, pages, reports

    app.register_blueprint(admin.blueprint)
    app.register_blueprint(reports.blueprint)
    app.register_blueprint(auth.blueprint)
    app.register_blueprint(live.blueprint)
    app.register_blueprint(pages.blueprint)
    from webadmin import desk  # noqa: PLC0415 -- the wallboard and agent desk (issue 14)

    app.register_blueprint(desk.blueprint)
    from webadmin import contacts as contact_pages  # noqa: PLC0415
    from webadmin import ivr, manager, voicemail

    app.register_blueprint(ivr.blueprint)
    app.register_blueprint(manager.blueprint)
    app.register_blueprint(contact_pages.blueprint)
    app.register_blueprint(voicemail.blueprint)
    app.register_blueprint(import_module("webadmin.media").blueprint)  # music and queue greetings (issue 13)
    from webadmin import campaigns  # noqa: PLC0415 -- outbound campaigns (issue 15)

    app.register_blueprint(campaigns.blueprint)
    app.register_blueprint(import_module("webadmin.data").blueprint)  # full backup, restore, factory reset (issue 16)
    app.before_request(_guard)
    app.after_request(_headers)
    app.context_processor(_template_values)
    app.add_template_filter(_utc, "utc")
    app.add_url_rule("/", "home", _home)
    app.add_url_rule("/favicon.ico", "favicon", _favicon)
    for code in (400, 403, 404, 405, 413):
        app.register_error_handler(code, _error_page)
    return app


def audit(action: str, detail: str = "", revision: int | None = None, user: str | None = None) -> None:
    """One row of the audit log for this request: who (the session's user), from where, when."""
    services = state().services
    who = user if user is not None else (g.user.name if g.get("user") is not None else "-")
    services.audit.record(services.clock(), who, request.remote_addr or "-", action, detail, revision)


def has_admin(services: WebServices) -> bool:
    return any(str(account.role) == "admin" for account in services.accounts.users())


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def _csrf_ok() -> bool:
    expected = session.get("csrf")
    given = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    return bool(expected) and hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _guard() -> Response | None:
    web = state()
    services = web.services
    if request.endpoint in SESSIONLESS_ENDPOINTS:
        return None  # no session is read or made: see SESSIONLESS_ENDPOINTS
    limit = getattr(_view(request.endpoint or ""), "upload_limit", None)
    if limit is not None:
        request.max_content_length = request.max_form_memory_size = limit
    csrf_token()
    if request.method not in SAFE_METHODS and not _csrf_ok():
        abort(400, "the form's security token is missing or out of date: reload the page and try again")
    if not has_admin(services):
        return None if request.endpoint == "auth.setup" else redirect(url_for("auth.setup"))
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    now = services.clock()
    name = session.get("user")
    since, seen = session.get("since", 0.0), session.get("seen", 0.0)
    account = services.accounts.get(name) if isinstance(name, str) else None
    if (account is None or str(account.role) != session.get("role")
            or now - seen > IDLE_TIMEOUT_S or now - since > SESSION_MAX_S or now < since
            or getattr(account, "changed", 0.0) > since or web.revoked.revoked(str(session.get("sid")))):
        expired = name is not None
        if expired:  # a stranger's session (only its form token) is kept, so another page
            session.clear()  # opened beside the login form does not void that form's token
        csrf_token()
        if _wants_json():
            return _json_error(401, "not logged in")
        return redirect(url_for("auth.login", next=request.path, expired="1" if expired else None))
    session["seen"] = now
    g.user = account
    if request.endpoint is None:
        return None  # no such page: 404 (after the login check, so nothing is revealed to strangers)
    permission = getattr(_view(request.endpoint), "required_permission", None)
    if permission is None and request.endpoint != "home":
        abort(403)  # a page that declares no permission is for nobody
    if permission is not None and not allowed(str(account.role), permission):
        if _wants_json():
            return _json_error(403, "your role may not do this")
        abort(403, f"your role ({account.role}) may not open this page")
    return None


def _view(endpoint: str):
    return current_app.view_functions.get(endpoint)


def _json_error(status: int, message: str) -> Response:
    response = jsonify(error=message)
    response.status_code = status
    return response


def _headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"  # pages hold live state and CSRF tokens
    return response


def _favicon() -> Response:
    return current_app.send_static_file("favicon.svg")


def _home() -> Response:
    role = str(g.user.role)
    permission = home_permission(role)
    if permission is Permission.LIVE:
        return redirect(url_for("live.dashboard"))
    if permission is Permission.AGENT:
        return redirect(url_for("live.agent"))
    abort(403, f"accounts of role {role} have no pages here")


def _template_values() -> dict:
    user = g.get("user")
    role = str(user.role) if user is not None else ""
    return {
        "csrf_token": csrf_token,
        "user": user,
        "may": lambda permission: bool(role) and allowed(role, Permission(permission)),
    }


def _error_page(error) -> tuple[str, int] | Response:
    code = getattr(error, "code", 500)
    message = getattr(error, "description", "") or "error"
    if _wants_json():
        return _json_error(code, message)
    return render_template("error.html", code=code, message=message), code


def _utc(epoch: float | None) -> str:
    return "-" if epoch is None else dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
