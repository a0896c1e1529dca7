"""The IVR page: the flows (list, edit one as YAML), the installer's own prompts (upload).

A flow is edited as the YAML of its entry in ``ivr_flows`` (docs/ivr.md). The text goes the
way of ``linebox config import``: read with the configuration's YAML limits (errors with their
line and column), put in place of the flow in the whole configuration, then type-, bound- and
cross-checked by the store (errors naming the field: ``nodes[1].next: …``); nothing is stored
unless all of it is accepted, and a configuration changed by another hand since the page was
shown is refused (the revision check of every other save). Each flow is drawn as an inline SVG
(webadmin/flowchart.py: nodes by depth from the start, every transition labelled).

Prompts: an uploaded WAV is checked and converted by ``firmware.ivr.uploads.store_prompt``
(one line when refused, nothing stored) into ``<data>/sounds/<language>/<name>.wav``, which a
flow names like a recorded word.
"""

from __future__ import annotations

import yaml
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from markupsafe import Markup

from firmware import FirmwareError
from firmware.config.ivrcodec import flow_dict
from firmware.config.validate import plain
from firmware.config.yamlio import MAX_DOCUMENT_BYTES, parse_yaml
from firmware.ivr.uploads import MAX_UPLOAD_BYTES, store_prompt, store_text_prompt, stored_prompts
from webadmin.app import accepts_upload, audit, requires, state
from webadmin.configedit import Conflict, store_item
from webadmin.flowchart import flow_svg
from webadmin.security import Permission

blueprint = Blueprint("ivr", __name__)


def flow_yaml(flow) -> str:
    return yaml.safe_dump(flow_dict(flow), sort_keys=False, allow_unicode=True, default_flow_style=None, width=100)


def _index(problems: list[str], values: dict[str, str], status: int = 200) -> tuple[str, int]:
    services = state().services
    config = services.store.load()
    diagrams = {flow.name: Markup(flow_svg(flow, str(n))) for n, flow in enumerate(config.ivr_flows)}
    return render_template("ivr.html", flows=config.ivr_flows, prompts=stored_prompts(services.data_dir),
                           diagrams=diagrams,
                           problems=problems, values=values,
                           max_mb=MAX_UPLOAD_BYTES // (1024 * 1024)), status


@blueprint.route("/ivr")
@requires(Permission.CONFIGURE)
def index() -> tuple[str, int]:
    return _index([], {"language": "en", "name": "", "text": ""})


def replace_flow(text: str, name: str, revision: int) -> list[str]:
    """Every problem of the edited flow ``text`` (nothing stored), or [] once stored in place of ``name``."""
    store = state().services.store
    if len(text.encode("utf-8", "surrogatepass")) > MAX_DOCUMENT_BYTES:
        return [f"the flow is larger than the limit of {MAX_DOCUMENT_BYTES} bytes"]
    try:
        raw = parse_yaml(text)
    except FirmwareError as exc:
        return [str(exc)]
    if not isinstance(raw, dict):
        return ["the flow is a mapping: name, start, languages, nodes"]
    current = store.load()
    if store.config_version() != revision:
        raise Conflict("the configuration was changed by someone else since this page was shown: reload it")
    data = plain(current)
    index = next((i for i, flow in enumerate(data["ivr_flows"]) if flow["name"] == name), None)
    if index is None:
        return [f"flow {name} no longer exists"]
    data["ivr_flows"][index] = raw
    return store_item(store, current, data, f"ivr_flows[{index}]", f"web ivr by {request.remote_addr}")


@blueprint.route("/ivr/flow/<name>", methods=["GET", "POST"])
@requires(Permission.CONFIGURE)
def flow(name: str) -> tuple[str, int] | Response:
    services = state().services
    found = services.store.load().ivr_flow(name)
    if found is None:
        abort(404, f"no IVR flow named {name}")
    problems: list[str] = []
    text = flow_yaml(found)
    if request.method == "POST":
        text = request.form.get("flow", "")
        revision = request.form.get("revision", "")
        try:
            problems = replace_flow(text, name, int(revision) if revision.isdigit() else -1)
        except Conflict as exc:
            problems = [str(exc)]
        if not problems:
            audit("ivr flow", name, services.store.config_version())
            flash(f"flow {name} stored: new calls take it; calls in it finish on the version they started with",
                  "ok")
            return redirect(url_for("ivr.index"))
    return render_template("ivr_flow.html", name=name, text=text, problems=problems,
                           diagram=Markup(flow_svg(found, "edit")),
                           revision=services.store.config_version()), 400 if problems else 200


@blueprint.route("/ivr/prompts", methods=["POST"])
@requires(Permission.CONFIGURE)
@accepts_upload(MAX_UPLOAD_BYTES + 64 * 1024)
def upload_prompt() -> tuple[str, int] | Response:
    services = state().services
    language, name = request.form.get("language", "").strip(), request.form.get("name", "").strip()
    upload = request.files.get("file")
    values = {"language": language, "name": name}
    if upload is None or not upload.filename:
        return _index(["choose the recording (.wav) to upload"], values, 400)
    try:
        store_prompt(services.data_dir, language, name, upload.read(MAX_UPLOAD_BYTES + 1), upload.filename[:100])
    except FirmwareError as exc:
        return _index([str(exc)], values, 400)
    audit("ivr prompt", f"{language}/{name} from {upload.filename[:100]}")
    flash(f"prompt {language}/{name} stored: a flow names it as {name}; the engine reads it when the "
          "configuration is next stored", "ok")
    return redirect(url_for("ivr.index"))


@blueprint.route("/ivr/prompts/text", methods=["POST"])
@requires(Permission.CONFIGURE)
def text_prompt() -> tuple[str, int] | Response:
    """Typed text spoken by text-to-speech, stored as a prompt (cached by text and voice)."""
    services = state().services
    language, name = request.form.get("language", "").strip(), request.form.get("name", "").strip()
    text = request.form.get("text", "")[:4000]
    try:
        store_text_prompt(services.data_dir, language, name, text)
    except FirmwareError as exc:
        return _index([str(exc)], {"language": language, "name": name, "text": text}, 400)
    audit("ivr prompt", f"{language}/{name} from text")
    flash(f"prompt {language}/{name} synthesised and stored: a flow names it as {name}", "ok")
    return redirect(url_for("ivr.index"))
