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

Named prompts (the configuration's ``ivr_prompts``, docs/ivr.md "Named prompts"): listed with
their text or recording per language and a player; typing a text for a language, or uploading
a recording for it (the same checks, ``check_prompt_upload``, stored under the prompt's name), changes
that entry through the configuration's checks (``configedit.store_item``), like a flow. The
recording's file is written (atomically) only once that change is accepted: a refused change
leaves the prompts folder as it was.
"""

from __future__ import annotations

from collections.abc import Callable

import yaml
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from markupsafe import Markup

from drivers import DriverError
from drivers.audiofile import encode_wav, read_audio
from firmware import FirmwareError
from firmware.config.ivrcodec import flow_dict
from firmware.config.validate import plain
from firmware.config.yamlio import MAX_DOCUMENT_BYTES, parse_yaml
from firmware.ivr.uploads import (
    MAX_UPLOAD_BYTES,
    TextSpeech,
    check_prompt_upload,
    prompt_path,
    store_prompt,
    store_text_prompt,
    stored_prompts,
)
from firmware.speech.say import sound_dir
from webadmin.app import accepts_upload, audit, requires, state
from webadmin.configedit import Conflict, store_item
from webadmin.flowchart import flow_svg
from webadmin.security import Permission

blueprint = Blueprint("ivr", __name__)


def flow_yaml(flow) -> str:
    return yaml.safe_dump(flow_dict(flow), sort_keys=False, allow_unicode=True, default_flow_style=None, width=100)


def _index(problems: list[str], values: dict[str, str], status: int = 200,
           named_errors: dict[str, str] | None = None) -> tuple[str, int]:
    """The page; ``problems`` listed under the prompts' forms, or ``named_errors`` (field -> the
    problem) next to the fields of the named-prompt form ``values['form']``."""
    services = state().services
    config = services.store.load()
    diagrams = {flow.name: Markup(flow_svg(flow, str(n))) for n, flow in enumerate(config.ivr_flows)}
    return render_template("ivr.html", flows=config.ivr_flows, prompts=stored_prompts(services.data_dir),
                           diagrams=diagrams, named=config.ivr_prompts,
                           problems=problems, values=values, named_errors=named_errors or {},
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


# -- named prompts ---------------------------------------------------------------------------------

def set_named(name: str, language: str, kind: str, value: str,
              accepted: Callable[[], object] | None = None) -> list[str]:
    """Sets ``kind`` ('text' or 'recording') of named prompt ``name`` in ``language`` (the other
    kind of that language goes), a new prompt when there is none; problems, or [] once stored.
    ``accepted``: done only once the change is accepted, before it is committed (``store_item``)."""
    store = state().services.store
    current = store.load()
    data = plain(current)
    entries = data["ivr_prompts"]
    index = next((i for i, entry in enumerate(entries) if entry["name"] == name), None)
    if index is None:
        entries.append({"name": name, "text": {}, "recording": {}})
        index = len(entries) - 1
    entry = entries[index]
    other = "recording" if kind == "text" else "text"
    entry[other] = {own: words for own, words in entry[other].items() if own != language}
    entry[kind] = {**entry[kind], language: value}
    return store_item(store, current, data, f"ivr_prompts[{index}]", f"web ivr by {request.remote_addr}", accepted)


def _named_stored(name: str, language: str, how: str) -> Response:
    audit("ivr named prompt", f"{name} {language} {how}", state().services.store.config_version())
    flash(f"prompt {name} in {language} stored ({how}): flows naming {name} say it from the next call", "ok")
    return redirect(url_for("ivr.index"))


def _named_values(form: str, name: str, language: str, text: str = "") -> dict[str, str]:
    return {"form": form, "language": language, "name": name, "text": text}


def named_field(problem: str, value_field: str) -> str:
    """The named-prompt form's field a problem is about: ``name``, ``language`` (a key of the
    text or recording mapping, or the upload's language check), the value (``text`` or ``file``),
    else ``''`` (not of one field: a cross-check with a flow, a conflict)."""
    if problem.startswith(("name:", "prompt: the name")):
        return "name"
    if problem.startswith(("text: key", "recording: key", "prompt: the language")):
        return "language"
    if problem.startswith(("text.", "recording.")):
        return value_field
    return value_field if value_field == "file" and problem.startswith(("prompt", "upload", "choose")) else ""


def _named_refused(problems: list[str], values: dict[str, str], value_field: str) -> tuple[str, int]:
    errors: dict[str, str] = {}
    general = []
    for problem in problems:
        where = named_field(problem, value_field)
        if where and where not in errors:
            errors[where] = problem
        else:
            general.append(problem)
    return _index([], values, 400, {**errors, "": "; ".join(general)})


@blueprint.route("/ivr/named", methods=["POST"])
@requires(Permission.CONFIGURE)
def named_text() -> tuple[str, int] | Response:
    """A named prompt's text in a language (synthesised by the engine, cached by text and voice)."""
    name, language = request.form.get("name", "").strip(), request.form.get("language", "").strip()
    text = request.form.get("text", "")[:4000].strip()
    try:
        problems = set_named(name, language, "text", text)
    except Conflict as exc:
        problems = [str(exc)]
    if problems:
        return _named_refused(problems, _named_values("text", name, language, text), "text")
    return _named_stored(name, language, "text")


@blueprint.route("/ivr/named/upload", methods=["POST"])
@requires(Permission.CONFIGURE)
@accepts_upload(MAX_UPLOAD_BYTES + 64 * 1024)
def named_upload() -> tuple[str, int] | Response:
    """A named prompt's recording in a language: checked and stored as an upload under its name."""
    services = state().services
    name, language = request.form.get("name", "").strip(), request.form.get("language", "").strip()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _named_refused(["choose the recording (.wav) to upload"], _named_values("upload", name, language), "file")
    try:  # checked and converted first; the file is written only once the configuration change is accepted
        prompt = check_prompt_upload(services.data_dir, language, name, upload.read(MAX_UPLOAD_BYTES + 1),
                                     upload.filename[:100])
        problems = set_named(name, language, "recording", name, accepted=prompt.write)
    except (FirmwareError, Conflict) as exc:
        problems = [str(exc)]
    if problems:
        return _named_refused(problems, _named_values("upload", name, language), "file")
    return _named_stored(name, language, f"recording from {upload.filename[:100]}")


@blueprint.route("/ivr/named/<name>/<language>.wav")
@requires(Permission.CONFIGURE)
def named_audio(name: str, language: str) -> Response:
    """What a flow naming the prompt says in ``language``, as an 8 kHz WAV (the page's player)."""
    services = state().services
    named = services.store.load().named_prompt(name)
    source = named.source(language) if named is not None else None
    if source is None:
        abort(404, f"prompt {name} has nothing in {language}")
    kind, value = source
    try:
        if kind == "text":  # the engine's cache (no voice loaded for it): synthesised here only if not in it yet
            samples = TextSpeech(services.data_dir)(value, language)
        else:
            own = prompt_path(services.data_dir, language, value)
            samples = read_audio(own if own.is_file() else sound_dir(language) / f"{value}.wav")
    except (FirmwareError, DriverError) as exc:
        abort(404, str(exc))
    return Response(encode_wav(samples), mimetype="audio/wav")
