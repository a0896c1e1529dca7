"""The wallboard (supervisors) and the agent desk (agents): live pages fed by server-sent events.

The web process learns what happens on the engine through its console only: it polls
``show desk`` every :data:`POLL_S` (one JSON line with a ``version`` that grows with every
offer, answer, end, disposition or state change) and reads ``show status`` for the queue
figures when the version moved or :data:`STATUS_EVERY_S` passed. What changed goes to the
browser as a server-sent event (``text/event-stream``), so an offer reaches the agent's screen
within a poll and a page render (measured by the browser tests). Each stream holds one of
waitress's threads: it ends after :data:`STREAM_S` (the browser's EventSource reconnects at
once) and at most :data:`MAX_STREAMS` run at a time (``linebox web`` serves with more threads
than that, so pages and actions always find one).

Actions go to the console as its own commands (``agent pause|unpause|logout``, ``agent
dispose``), which check their arguments; the refusal is shown as it is.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator

from flask import Blueprint, Response, abort, current_app, g, jsonify, render_template, request

from firmware import FirmwareError
from webadmin.app import audit, requires, state
from webadmin.campaignview import board_rows, engine_figures, preview_of
from webadmin.contacts import contact_store
from webadmin.deskview import agent_of, screen_pop, wallboard
from webadmin.engine import engine_status
from webadmin.security import Permission

blueprint = Blueprint("desk", __name__)

POLL_S = 0.1  # show desk: a few hundred bytes, one tick of the media loop
STATUS_EVERY_S = 1.0  # queue figures (waiting, longest wait) move without a desk event
STREAM_S = 60.0
KEEPALIVE_S = 15.0
MAX_STREAMS = 6
HISTORY_ROWS = 10
PREVIEW_EVERY_POLLS = 3  # show campaigns for a preview lead: every 0.3 s, a lead shows within a human's glance
STREAMS_KEY = "linebox_desk_streams"


@blueprint.record_once
def _stream_cap(setup) -> None:
    """The application's cap on streams held open (one per application, not a module global)."""
    setup.app.extensions[STREAMS_KEY] = threading.BoundedSemaphore(MAX_STREAMS)


def _desk(engine, agent: str | None = None) -> dict:
    try:
        lines = engine.run("show desk" + (f" agent={agent}" if agent else ""))
        return json.loads(lines[0]) if lines else {"error": "the engine sent nothing"}
    except FirmwareError as exc:
        return {"error": str(exc)}
    except (ValueError, IndexError) as exc:
        return {"error": f"the engine's desk could not be read: {exc}"}


def _stream(document: Callable[[bool], dict]) -> Response:
    """Server-sent events: ``document(full)`` each poll, sent when it changed."""
    streams = current_app.extensions[STREAMS_KEY]
    if not streams.acquire(blocking=False):
        abort(503, "too many live pages open: close one")

    def events() -> Iterator[str]:
        try:
            started = last_sent = last_full = time.monotonic()
            last = ""
            yield "retry: 500\n\n"
            while time.monotonic() - started < STREAM_S:
                now = time.monotonic()
                full = now - last_full >= STATUS_EVERY_S
                text = json.dumps(document(full), sort_keys=True, separators=(",", ":"))
                if full:
                    last_full = now
                if text != last:
                    last, last_sent = text, now
                    yield f"data: {text}\n\n"
                elif now - last_sent > KEEPALIVE_S:
                    last_sent = now
                    yield ": keepalive\n\n"
                time.sleep(POLL_S)
        finally:
            streams.release()

    return Response(events(), mimetype="text/event-stream", headers={"X-Accel-Buffering": "no"})


# ----------------------------------------------------------------------------- wallboard

def _wallboard_source(services) -> Callable[[bool], dict]:
    cache: dict = {"version": None, "status": {}, "campaigns": {}}

    def document(full: bool) -> dict:
        desk = _desk(services.engine)
        if "error" in desk:
            return {"error": desk["error"]}
        config = services.store.load()
        if full or desk.get("version") != cache["version"]:
            cache["status"] = engine_status(services.engine)
            cache["version"] = desk.get("version")
            # campaign figures (issue 15) move with every attempt: read with the queue figures
            cache["campaigns"] = engine_figures(services.engine) if config.campaigns else {}
        board = wallboard(cache["status"], desk, config)
        if "error" not in board:
            board["campaigns"] = board_rows(cache["campaigns"].get("campaigns", {}), config.campaigns)
            board["campaigns_error"] = cache["campaigns"].get("error")
        return board

    return document


@blueprint.route("/wallboard")
@requires(Permission.SUPERVISE)
def wallboard_page() -> str:
    services = state().services
    return render_template("wallboard.html", board=_wallboard_source(services)(True))


@blueprint.route("/wallboard/events")
@requires(Permission.SUPERVISE)
def wallboard_events() -> Response:
    return _stream(_wallboard_source(state().services))


@blueprint.route("/api/wallboard")
@requires(Permission.SUPERVISE)
def wallboard_api() -> Response:
    return jsonify(_wallboard_source(state().services)(True))


@blueprint.route("/wallboard/agent", methods=["POST"])
@requires(Permission.SUPERVISE)
def wallboard_agent() -> Response:
    action = request.form.get("action", "")
    agent = request.form.get("agent", "")
    if action not in ("pause", "unpause", "logout") or not agent.isascii() or not agent.isdigit() or len(agent) > 8:
        return jsonify(error="choose pause, unpause or logout and an agent"), 400
    reason = request.form.get("reason", "").strip()
    command = f"agent {action} {agent}"
    if action == "pause" and reason:
        if any(ch.isspace() for ch in reason):
            return jsonify(error="a pause reason is one word"), 400
        command += f" reason={reason}"
    return _run(command, f"{action} agent {agent}")


def _run(command: str, what: str) -> Response | tuple[Response, int]:
    try:
        lines = state().services.engine.run(command)
    except FirmwareError as exc:
        return jsonify(error=str(exc)), 400
    audit("desk", what)
    return jsonify(ok=" ".join(lines))


# ----------------------------------------------------------------------------- the agent's desk

def _my_agent() -> str:
    """The agent this page is about: the account's own for an agent; any (``?agent=``) for supervisors."""
    config = state().services.store.load()
    wanted = request.values.get("agent", "")
    if str(g.user.role) in ("supervisor", "admin") and wanted:
        if config.agent(wanted) is None:
            abort(404, f"no agent {wanted}")
        return wanted
    agent = agent_of(config, g.user.name)
    if agent is None:
        abort(403, f"the account {g.user.name} is no agent's: name it agent<id> (agent1001) or the agent's name")
    return agent.id


def _preview(services, agent: str) -> dict | None:
    """The lead a preview campaign offers ``agent`` (``show campaigns``), or None."""
    if not any(str(c.mode) == "preview" for c in services.store.load().campaigns):
        return None  # no console round trip on a box without preview campaigns
    return preview_of(engine_figures(services.engine).get("campaigns", {}), agent)


def _pop_source(services, agent: str) -> Callable[[bool], dict]:
    web = state()
    contacts = contact_store()  # read here: the stream's generator runs outside the request
    cache: dict = {"key": None, "document": {}, "preview": None, "polls": 0}

    def document(full: bool) -> dict:
        desk = _desk(services.engine, agent)
        if "error" in desk:
            return {"error": desk["error"]}
        if full or cache["polls"] % PREVIEW_EVERY_POLLS == 0:
            cache["preview"] = _preview(services, agent)
        cache["polls"] += 1
        (row,) = desk["agents"]
        key = json.dumps(row, sort_keys=True)
        if key == cache["key"]:
            return {**cache["document"], "preview": cache["preview"]}
        call = row.get("call") or {}
        number = str(call.get("caller_number") or "")
        calls, entries = [], []
        if number:
            with web.cdr_lock:  # the store's one connection, shared by the request threads
                calls = services.cdr.calls_from(number, HISTORY_ROWS + 1)
                entries = services.cdr.dispositions(number, HISTORY_ROWS + 1)
        cache["key"], cache["document"] = key, screen_pop(row, services.store.load(), contacts, calls, entries)
        return {**cache["document"], "preview": cache["preview"]}

    return document


@blueprint.route("/desk/events")
@requires(Permission.AGENT)
def desk_events() -> Response:
    return _stream(_pop_source(state().services, _my_agent()))


@blueprint.route("/api/desk")
@requires(Permission.AGENT)
def desk_api() -> Response:
    return jsonify(_pop_source(state().services, _my_agent())(True))


@blueprint.route("/desk/dispose", methods=["POST"])
@requires(Permission.AGENT)
def desk_dispose() -> Response:
    agent = _my_agent()
    code = request.form.get("code", "")
    if not code.isascii() or not code.isdigit() or len(code) > 4:
        return jsonify(error="choose a disposition code"), 400
    command = f"agent dispose {agent} {code}"
    note = request.form.get("note", "").strip()
    if note:
        command += " note=" + urllib.parse.quote(note, safe="")
    callback = request.form.get("callback", "").strip()
    if callback:
        if not callback.isascii() or not callback.isdigit():
            return jsonify(error="the callback date could not be read"), 400
        command += f" callback={callback}"
    return _run(command, f"agent {agent} disposition {code}")


@blueprint.route("/desk/state", methods=["POST"])
@requires(Permission.AGENT)
def desk_state() -> Response:
    agent = _my_agent()
    action = request.form.get("action", "")
    reason = request.form.get("reason", "").strip()
    if action not in ("pause", "unpause") or any(ch.isspace() for ch in reason):
        return jsonify(error="pause (with a one-word reason) or unpause"), 400
    return _run(f"agent {action} {agent}" + (f" reason={reason}" if action == "pause" and reason else ""),
                f"agent {agent} {action}")


@blueprint.route("/desk/preview", methods=["POST"])
@requires(Permission.AGENT)
def desk_preview() -> Response:
    """A preview campaign's lead: the agent accepts it (the box dials it) or skips it."""
    agent = _my_agent()
    action = request.form.get("action", "")
    if action not in ("accept", "skip"):
        return jsonify(error="accept or skip the lead shown"), 400
    return _run(f"campaign {action} {agent}", f"agent {agent} preview {action}")
