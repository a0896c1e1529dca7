"""Live pages: the dashboard (polled by a small script, no reload), port and test-call actions, agents.

The state comes from the engine's console (``show status``), actions go there too
(``port out N``, ``port in N``, ``call test PORT NUMBER``): the console checks their
arguments, and its one-line answer or refusal is shown as it is.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for

from firmware import FirmwareError
from firmware.storage.doctor_report import read_report, report_path
from webadmin.app import requires, state
from webadmin.engine import engine_status
from webadmin.security import Permission
from webadmin.system import storage_figures, system_figures

blueprint = Blueprint("live", __name__)


def doctor_summary(db_path) -> dict:
    """The last ``linebox doctor`` result (firmware/storage/doctor_report.py) for the dashboard:
    when (UTC), ok, the failing checks' names and details; ``ran`` False when it never ran here."""
    try:
        report = read_report(report_path(db_path))
    except FirmwareError as exc:
        return {"ran": False, "error": str(exc)}
    if report is None:
        return {"ran": False, "error": ""}
    when = dt.datetime.fromtimestamp(report.at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    failing = [{"name": check.name, "detail": check.detail} for check in report.checks if not check.ok]
    # the one wording of the result, for the page and for its script (webadmin/static/dashboard.js)
    result = (f"all {len(report.checks)} checks pass" if report.ok
              else f"{len(failing)} of {len(report.checks)} checks fail")
    return {"ran": True, "error": "", "ok": report.ok, "at": report.at, "when": when, "checks": len(report.checks),
            "result": result, "failing": failing}


def _status() -> dict:
    services = state().services
    budget_mb = services.store.load().retention.disk_budget_mb
    return {"engine": engine_status(services.engine),
            "system": {**system_figures(services.data_dir), **storage_figures(services.store.path, budget_mb)},
            "doctor": doctor_summary(services.store.path)}


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
