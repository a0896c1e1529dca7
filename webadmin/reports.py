"""Call records: filters by date, disposition and number, and a CSV export (Asterisk's Master.csv).

Dates are whole days in UTC (``YYYY-MM-DD``, the end day included). The records come from the
engine's call-record table (firmware.cdr), read only.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping

from flask import Blueprint, Response, render_template, request

from firmware.cdr import CallRecord, Disposition, write_master_csv
from webadmin.app import requires, state
from webadmin.charts import line_chart
from webadmin.security import Permission

blueprint = Blueprint("reports", __name__)

MAX_ROWS = 500  # shown on the page; the CSV has them all
DISPOSITIONS = tuple(each.value for each in Disposition)


def parse_filters(args: Mapping[str, str]) -> tuple[dict[str, object], dict[str, str]]:
    """The filters and, per field, what is wrong with it."""
    errors: dict[str, str] = {}
    filters: dict[str, object] = {"since": None, "until": None, "disposition": "", "number": ""}
    for name in ("since", "until"):
        text = args.get(name, "").strip()
        if text:
            try:
                day = dt.date.fromisoformat(text)
            except ValueError:
                errors[name] = f"{text[:20]!r} is not a date like 2026-12-05"
                continue
            start = dt.datetime.combine(day, dt.time(), dt.UTC)
            filters[name] = (start + dt.timedelta(days=1 if name == "until" else 0)).timestamp()
    disposition = args.get("disposition", "")
    if disposition and disposition not in DISPOSITIONS:
        errors["disposition"] = f"expected one of {', '.join(DISPOSITIONS)}"
    else:
        filters["disposition"] = disposition
    number = args.get("number", "").strip()
    if len(number) > 32 or any(ch not in "0123456789*#+" for ch in number):
        errors["number"] = "digits (and * # +), at most 32"
    else:
        filters["number"] = number
    return filters, errors


def matching(filters: dict[str, object]) -> list[CallRecord]:
    web = state()
    with web.cdr_lock:  # the store's one connection, shared by the request threads
        records = list(web.services.cdr.records(filters["since"], filters["until"]))  # type: ignore[arg-type]
    disposition, number = filters["disposition"], filters["number"]
    return [record for record in records
            if (not disposition or record.disposition == disposition)
            and (not number or any(number in field for field in (record.caller_number, record.dst,
                                                                   record.src_extension, record.dst_extension)))]


@blueprint.route("/reports")
@requires(Permission.LIVE)
def calls() -> tuple[str, int]:
    filters, errors = parse_filters(request.args)
    records = [] if errors else matching(filters)
    shown = list(reversed(records))[:MAX_ROWS]
    return render_template("reports.html", records=shown, total=len(records), errors=errors, args=request.args,
                           dispositions=DISPOSITIONS, utc=lambda epoch: _utc(epoch)), (400 if errors else 200)


@blueprint.route("/reports/calls.csv")
@requires(Permission.LIVE)
def calls_csv() -> Response:
    filters, errors = parse_filters(request.args)
    if errors:
        return Response("; ".join(f"{k}: {v}" for k, v in errors.items()) + "\n", status=400, mimetype="text/plain")
    out = io.StringIO()
    write_master_csv(matching(filters), out, dt.UTC, header=True)
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=linebox-calls.csv"})


SIZES = {"15min": 900, "hour": 3600, "day": 86400}


@blueprint.route("/reports/queues")
@requires(Permission.LIVE)
def queues() -> tuple[str, int]:
    """A queue's service level, ASA and abandon rate per interval, as charts and a table."""
    web = state()
    filters, errors = parse_filters(request.args)
    errors.pop("disposition", None)
    errors.pop("number", None)
    with web.cdr_lock:
        names = web.services.intervals.names("queue")
    queue = request.args.get("queue", names[0] if names else "")
    size = request.args.get("size", "hour")
    if queue and queue not in names:
        errors["queue"] = f"no statistics for queue {queue[:40]!r} yet (queues: {', '.join(names) or 'none'})"
    if size not in SIZES:
        errors["size"] = f"expected one of {', '.join(SIZES)}"
    rows = []
    if not errors and queue:
        with web.cdr_lock:
            rows = web.services.intervals.queue_rows(queue, SIZES[size], filters["since"], filters["until"])
    labels = (_utc(rows[0][0]), _utc(rows[-1][0])) if rows else ("", "")
    charts = [
        line_chart([(start, None if s.service_level is None else 100 * s.service_level) for start, s in rows],
                   100, "Service level (answered within target / answered)", "%", labels),
        line_chart([(start, s.asa_seconds) for start, s in rows],
                   max([s.asa_seconds or 0 for _, s in rows] + [10]), "Average speed of answer", "s", labels),
        line_chart([(start, None if s.abandon_rate is None else 100 * s.abandon_rate) for start, s in rows],
                   100, "Abandon rate", "%", labels),
    ]
    return render_template("queue_report.html", names=names, queue=queue, size=size, sizes=SIZES, rows=rows,
                           charts=charts, errors=errors, args=request.args, utc=_utc), (400 if errors else 200)


def _utc(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
