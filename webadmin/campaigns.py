"""The campaigns page: the outbound campaigns with their live figures, their set-up, lead hygiene.

- The list (admin, installer, supervisor): every configured campaign with the engine's live
  figures (``show campaigns``, :mod:`webadmin.campaignview`).
- Set-up (admin, installer): a campaign is edited as the YAML of its entry in ``campaigns``
  (docs/campaigns.md), the way the IVR page edits a flow: read with the configuration's YAML
  limits, put in place of the campaign (or appended, for a new one) in the whole
  configuration, then type-, bound- and cross-checked by the store (errors naming the field,
  ``max_abandon_rate: expected a number 0-0.03, got 0.05``); nothing is stored unless all of it
  is accepted, and a configuration changed by another hand since the page was shown is refused.
  A stored change reaches the running engine at once (its configuration subscribers,
  firmware/campaign/attach.py): a new campaign starts, an edit applies to the next call,
  ``enabled: false`` pauses it (the list's Pause and Resume buttons store only that) and a
  deletion stops it; calls in progress go on unchanged.
- The report (admin, installer, supervisor): every campaign's statistics over its whole life
  (``firmware.campaign.report``: attempts, contacts, contacts per agent-hour, penetration,
  outcomes, dispositions, abandon rate, agent productivity, per agent), from the campaign
  store and the ACD's agent intervals, as a page and a CSV file.
- Lead hygiene (admin, installer, supervisor): a leads CSV (and optionally a do-not-call CSV)
  is read at the CSV trust boundary (firmware.contacts.csvfile: size, encoding, shape; one
  line when refused) and checked by ``firmware.campaign.hygiene.check_tables``, the report of
  ``linebox campaign check``, against the box's stored do-not-call list (``DncList``, the one
  the campaigns filter their leads with) and the uploaded one. Nothing is stored.
"""

from __future__ import annotations

import datetime as dt

import yaml
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from firmware import FirmwareError
from firmware.campaign.hygiene import check_tables
from firmware.campaign.report import campaign_report, report_csv
from firmware.campaign.store import CampaignStore
from firmware.config import from_dict
from firmware.config.campaigncodec import campaign_dict
from firmware.config.validate import plain
from firmware.config.yamlio import MAX_DOCUMENT_BYTES, parse_yaml
from firmware.contacts.csvfile import MAX_CSV_BYTES, CsvTable, read_table
from firmware.leads import DncList
from webadmin.app import accepts_upload, audit, requires, state
from webadmin.campaignview import board_rows, engine_figures
from webadmin.configedit import Conflict, store_item
from webadmin.security import Permission

blueprint = Blueprint("campaigns", __name__, url_prefix="/campaigns")

UPLOAD_LIMIT = 2 * MAX_CSV_BYTES + 64 * 1024  # two files of at most MAX_CSV_BYTES and the form around them
MAX_FILENAME_CHARS = 100
NEW_CAMPAIGN = """\
name: renewals
queue: {queue}
mode: preview                  # preview | progressive | predictive (predictive needs abandon_message)
enabled: false
lead_source: csv               # or contacts
lead_file: renewals.csv        # under <data>/campaigns/
country: ''                    # the leads' numbering ('' = the box's zone)
lines: []                      # the exchange lines it may seize ([] = all)
calling_hours:
- {{timezone: {timezone}, days: [mon, tue, wed, thu, fri], hours: '09:00-20:00'}}
max_abandon_rate: 0.03
no_answer_s: 30
amd: false
machine_message: ''
abandon_message: ''
"""
_ZONE_TIMEZONES = {  # the first calling window's time zone offered for a new campaign (the person edits it)
    "us": "America/New_York", "ca": "America/Toronto", "uk": "Europe/London", "de": "Europe/Berlin",
    "fr": "Europe/Paris", "es": "Europe/Madrid", "it": "Europe/Rome", "pt": "Europe/Lisbon",
    "nl": "Europe/Amsterdam", "gr": "Europe/Athens", "mx": "America/Mexico_City", "co": "America/Bogota",
    "ar": "America/Argentina/Buenos_Aires", "cl": "America/Santiago", "br": "America/Sao_Paulo",
    "au": "Australia/Sydney"}


def campaign_yaml(campaign) -> str:
    return yaml.safe_dump(campaign_dict(campaign), sort_keys=False, allow_unicode=True, default_flow_style=None,
                          width=100)


def _country(zone: str) -> str:
    return "GB" if zone == "uk" else zone.upper()


@blueprint.route("/")
@requires(Permission.LIVE)
def index() -> str:
    return _index({}, [], {})


def _index(report: dict, problems: list[str], files: dict[str, str], status: int = 200):
    services = state().services
    config = services.store.load()
    live = engine_figures(services.engine)
    rows = board_rows(live.get("campaigns", {}), config.campaigns)
    country = request.form.get("country", "").strip().upper()[:2] or _country(str(config.zone))
    return render_template("campaigns.html", rows=rows, engine_error=live.get("error"), report=report,
                           problems=problems, files=files, country=country,
                           max_kb=MAX_CSV_BYTES // 1024, revision=services.store.config_version()), status


# ----------------------------------------------------------------------------- whole-campaign report

def campaign_reports() -> list[dict]:
    """Every campaign's report: the configured ones in order, then those only stored (deleted)."""
    web = state()
    config = web.services.store.load()
    configured = {campaign.name: campaign for campaign in config.campaigns}
    with web.cdr_lock, CampaignStore(web.services.cdr.path) as store:  # the intervals' connection is shared
        names = list(configured) + [name for name in store.campaigns() if name not in configured]
        reports = []
        for name in names:
            queue = configured[name].queue if name in configured else None
            agents = [agent.agent_id for agent in config.agents if queue in agent.queues]
            report = campaign_report(store, web.services.intervals, name, agents)
            report["configured"] = name in configured
            report["queue"] = queue or ""
            reports.append(report)
    return reports


@blueprint.route("/report")
@requires(Permission.LIVE)
def report() -> str:
    return render_template("campaign_report.html", reports=campaign_reports(), utc=_utc)


@blueprint.route("/report.csv")
@requires(Permission.LIVE)
def report_download() -> Response:
    return Response(report_csv(campaign_reports()), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=linebox-campaigns.csv"})


def _utc(epoch: float | None) -> str:
    return "-" if epoch is None else dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M")


# ----------------------------------------------------------------------------- lead hygiene

def stored_dnc() -> frozenset[str]:
    """The box's stored do-not-call numbers (E.164), in the database of the call records."""
    with DncList(state().services.cdr.path) as dnc:
        return dnc.numbers()


def _table(field: str, what: str, required: bool) -> tuple[CsvTable | None, str]:
    upload = request.files.get(field)
    if upload is None or not upload.filename:
        if required:
            raise FirmwareError(f"choose the {what} (CSV) to check")
        return None, ""
    filename = upload.filename[:MAX_FILENAME_CHARS]
    try:
        return read_table(upload.read(MAX_CSV_BYTES + 1)), filename
    except FirmwareError as exc:
        raise FirmwareError(f"{what} {filename}: {exc}") from exc


@blueprint.route("/check", methods=["POST"])
@requires(Permission.LIVE)
@accepts_upload(UPLOAD_LIMIT)
def check() -> tuple[str, int]:
    try:
        leads, leads_name = _table("leads", "lead list", required=True)
        dnc, dnc_name = _table("dnc", "do-not-call list", required=False)
        stored = stored_dnc()
        report = check_tables(leads, request.form.get("country", ""), dnc, stored)
    except FirmwareError as exc:
        return _index({}, [str(exc)], {}, 400)
    report["stored_dnc"] = len(stored)
    audit("campaign leads check", f"{leads_name}: {report['callable']} callable of {report['rows']}"
          + (f" (do-not-call {dnc_name})" if dnc_name else ""))
    return _index(report, [], {"leads": leads_name, "dnc": dnc_name})


# ----------------------------------------------------------------------------- set-up

def store_campaign(text: str, name: str | None, revision: int) -> list[str]:
    """Every problem of the campaign ``text`` (nothing stored), or [] once stored in place of
    the campaign ``name`` (None: appended as a new one)."""
    store = state().services.store
    if len(text.encode("utf-8", "surrogatepass")) > MAX_DOCUMENT_BYTES:
        return [f"the campaign is larger than the limit of {MAX_DOCUMENT_BYTES} bytes"]
    try:
        raw = parse_yaml(text)
    except FirmwareError as exc:
        return [str(exc)]
    if not isinstance(raw, dict):
        return ["the campaign is a mapping: name, queue, mode, lead_source... (docs/campaigns.md)"]
    current = store.load()
    if store.config_version() != revision:
        raise Conflict("the configuration was changed by someone else since this page was shown: reload it")
    data = plain(current)
    if name is None:
        index = len(data["campaigns"])
        data["campaigns"].append(raw)
    else:
        index = next((i for i, c in enumerate(data["campaigns"]) if c["name"] == name), -1)
        if index < 0:
            return [f"campaign {name} no longer exists"]
        data["campaigns"][index] = raw
    return store_item(store, current, data, f"campaigns[{index}]", f"web campaign by {request.remote_addr}")


def _edit(name: str | None, text: str) -> tuple[str, int] | Response:
    services = state().services
    problems: list[str] = []
    if request.method == "POST":
        text = request.form.get("campaign", "")
        revision = request.form.get("revision", "")
        try:
            problems = store_campaign(text, name, int(revision) if revision.isdigit() else -1)
        except Conflict as exc:
            problems = [str(exc)]
        if not problems:
            raw = parse_yaml(text)
            stored = str(raw.get("name"))
            audit("campaign new" if name is None else "campaign edit", stored, services.store.config_version())
            flash(f"campaign {stored} stored (revision {services.store.config_version()}): the engine applies "
                  "it now (calls in progress keep their settings)", "ok")
            return redirect(url_for("campaigns.index"))
    return render_template("campaign_edit.html", name=name, text=text, problems=problems,
                           revision=services.store.config_version()), 400 if problems else 200


@blueprint.route("/new", methods=["GET", "POST"])
@requires(Permission.CONFIGURE)
def new() -> tuple[str, int] | Response:
    config = state().services.store.load()
    queue = config.queues[0].name if config.queues else "support"
    timezone = _ZONE_TIMEZONES.get(str(config.zone), "UTC")
    return _edit(None, NEW_CAMPAIGN.format(queue=queue, timezone=timezone))


@blueprint.route("/item/<name>", methods=["GET", "POST"])
@requires(Permission.CONFIGURE)
def edit(name: str) -> tuple[str, int] | Response:
    found = next((c for c in state().services.store.load().campaigns if c.name == name), None)
    if found is None:
        abort(404, f"no campaign named {name}")
    return _edit(name, campaign_yaml(found))


@blueprint.route("/item/<name>/enabled", methods=["POST"])
@requires(Permission.CONFIGURE)
def set_enabled(name: str) -> Response:
    """Pause (``enabled`` 0) or resume (1) a campaign: its ``enabled`` stored, applied at once."""
    store = state().services.store
    revision, wanted = request.form.get("revision", ""), request.form.get("enabled", "")
    if wanted not in ("0", "1"):
        flash(f"campaign {name}: enabled must be 0 or 1", "error")
        return redirect(url_for("campaigns.index"))

    def change(now):
        if str(store.config_version()) != revision:
            raise Conflict("the configuration was changed by someone else since this page was shown: reload it")
        data = plain(now)
        found = [c for c in data["campaigns"] if c["name"] == name]
        if not found:
            raise Conflict(f"campaign {name} no longer exists")
        found[0]["enabled"] = wanted == "1"
        return from_dict(data)

    verb = "resumed" if wanted == "1" else "paused"
    try:
        store.update(change, source=f"web campaign {verb} by {request.remote_addr}")
    except (Conflict, FirmwareError) as exc:
        flash(f"campaign {name} not {verb}: {exc}", "error")
        return redirect(url_for("campaigns.index"))
    audit(f"campaign {verb}", name, store.config_version())
    flash(f"campaign {name} {verb}: applied now (calls in progress go on)", "ok")
    return redirect(url_for("campaigns.index"))


@blueprint.route("/item/<name>/delete", methods=["POST"])
@requires(Permission.CONFIGURE)
def delete(name: str) -> Response:
    store = state().services.store
    revision = request.form.get("revision", "")

    def change(now):
        if str(store.config_version()) != revision:
            raise Conflict("the configuration was changed by someone else since this page was shown: reload it")
        data = plain(now)
        kept = [c for c in data["campaigns"] if c["name"] != name]
        if len(kept) == len(data["campaigns"]):
            raise Conflict(f"campaign {name} no longer exists")
        data["campaigns"] = kept
        return from_dict(data)

    try:
        store.update(change, source=f"web campaign delete by {request.remote_addr}")
    except (Conflict, FirmwareError) as exc:
        flash(f"campaign {name} not deleted: {exc}", "error")
        return redirect(url_for("campaigns.index"))
    audit("campaign delete", name, store.config_version())
    flash(f"campaign {name} deleted: the engine stops dialling it now (calls in progress go on)", "ok")
    return redirect(url_for("campaigns.index"))
