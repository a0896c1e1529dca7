"""Live pages: the dashboard (polled by a small script, no reload), port and test-call actions, agents.

The state comes from the engine's console (``show status``), actions go there too
(``port out N``, ``port in N``, ``call test PORT NUMBER``): the console checks their
arguments, and its one-line answer or refusal is shown as it is.
"""

from __future__ import annotations

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for

from firmware import FirmwareError
from webadmin.app import requires, state
from webadmin.engine import engine_status
from webadmin.security import Permission
from webadmin.system import storage_figures, system_figures

blueprint = Blueprint("live", __name__)


def _status() -> dict:
    services = state().services
    budget_mb = services.store.load().retention.disk_budget_mb
    return {"engine": engine_status(services.engine),
            "system": {**system_figures(services.data_dir), **storage_figures(services.store.path, budget_mb)}}


@blueprint.route("/dashboard")
@requires(Permission.LIVE)
def dashboard() -> str:
    return render_template("dashboard.html", status=_status())


@blueprint.route("/api/status")
@requires(Permission.LIVE)
def api_status() -> Response:
    return jsonify(_status())


def _engine_action(command: str) -> Response:
    try:
        lines = state().services.engine.run(command)
        flash(" ".join(lines) or "done", "ok")
    except FirmwareError as exc:
        flash(f"refused: {exc}", "error")
    return redirect(url_for("live.dashboard"))


def _port() -> str:
    text = request.form.get("port", "")
    return text if text.isascii() and text.isdigit() and len(text) <= 3 else "?"


@blueprint.route("/dashboard/port", methods=["POST"])
@requires(Permission.CONTROL)
def port_service() -> Response:
    action = "in" if request.form.get("action") == "in" else "out"
    return _engine_action(f"port {action} {_port()}")


@blueprint.route("/dashboard/test-call", methods=["POST"])
@requires(Permission.CONTROL)
def test_call() -> Response:
    number = request.form.get("number", "").strip()
    if not number or any(ch.isspace() for ch in number):
        flash("refused: give the number to call (keys 0-9 * #)", "error")
        return redirect(url_for("live.dashboard"))
    return _engine_action(f"call test {_port()} {number}")


@blueprint.route("/agent")
@requires(Permission.AGENT)
def agent() -> str:
    return render_template("agent.html", status=engine_status(state().services.engine), percent=_percent)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"
