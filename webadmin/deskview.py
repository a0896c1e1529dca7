"""What the wallboard and the agent page show, as plain data: pure functions of the engine's
console answers (``show status``, ``show desk``), the configuration and the call records.

- :func:`wallboard`: per queue the live figures with an ``alert`` flag per figure that crossed
  the queue's target (``queues[].desk.targets``), and the agents grouped by state;
- :func:`agent_of`: which agent a web account is (its name is the agent's id or name);
- :func:`screen_pop`: the agent's current call with the caller's contact (one lookup,
  :func:`firmware.desk.lookup.find_contact`), previous calls and dispositions, and the queue's
  script filled in and disposition codes.
"""

from __future__ import annotations

from collections.abc import Sequence

from firmware.cdr import CallDisposition, CallRecord
from firmware.config.model import Agent, Config, QueueDesk
from firmware.desk.lookup import ContactLookup, find_contact
from firmware.desk.script import caller_values, fill_script

STATE_GROUPS = ("available", "ringing", "oncall", "wrapup", "paused", "loggedout")


def _percent(value: float | None) -> float | None:
    return None if value is None else round(value * 100.0, 1)


def queue_figures(row: dict, config: Config) -> dict:
    """One queue's wallboard figures and which of them crossed the queue's targets."""
    queue = config.queue(str(row.get("queue")))
    targets = (queue.desk if queue is not None else QueueDesk()).targets
    service_level = _percent(row.get("service_level"))
    abandon = _percent(row.get("abandon_rate"))
    asa = row.get("asa_seconds")
    longest = float(row.get("longest_wait_seconds") or 0.0)
    return {
        "queue": row.get("queue"), "waiting": row.get("waiting", 0), "longest_wait_s": round(longest),
        "answered": row.get("answered", 0), "offered": row.get("offered", 0), "abandoned": row.get("abandoned", 0),
        "service_level_percent": service_level, "abandon_percent": abandon,
        "asa_s": None if asa is None else round(float(asa), 1),
        "service_level_s": queue.service_level_s if queue is not None else None,
        "alert": {
            "service_level": service_level is not None and service_level < targets.service_level_min_percent,
            "abandon": abandon is not None and abandon > targets.abandon_max_percent,
            "asa": asa is not None and float(asa) > targets.asa_max_s,
            "longest_wait": longest > targets.longest_wait_max_s,
        },
        "targets": {"service_level_min_percent": targets.service_level_min_percent,
                    "abandon_max_percent": targets.abandon_max_percent, "asa_max_s": targets.asa_max_s,
                    "longest_wait_max_s": targets.longest_wait_max_s},
    }


def wallboard(status: dict, desk: dict, config: Config) -> dict:
    """The wallboard's document (what the page draws and the event stream sends)."""
    if "error" in status:
        return {"error": status["error"]}
    agents = []
    for row in desk.get("agents", []):
        call = row.get("call") or {}
        agents.append({"agent": row["agent"], "name": row.get("name", ""), "state": row["state"],
                       "pause_reason": row.get("pause_reason", ""), "queue": call.get("queue", ""),
                       "caller": call.get("caller_number", "") if call.get("phase") != "ended" else ""})
    counts = {group: sum(1 for agent in agents if agent["state"] == group) for group in STATE_GROUPS}
    return {"queues": [queue_figures(row, config) for row in status.get("queues") or []], "agents": agents,
            "counts": counts}


def agent_of(config: Config, account_name: str) -> Agent | None:
    """The agent a web account of role agent is: ``agent<id>`` (``agent1001``), or the agent's
    name, case aside (account ``alice`` for agent Alice). Account names start with a letter."""
    wanted = account_name.casefold()
    return next((agent for agent in config.agents if wanted == f"agent{agent.id}"
                 or (agent.name and agent.name.casefold() == wanted)), None)


def history_rows(calls: Sequence[CallRecord], dispositions: Sequence[CallDisposition], skip: str) -> list[dict]:
    """Previous calls from the number, newest first, each with its disposition if one was entered."""
    by_call = {entry.uniqueid: entry for entry in dispositions}
    rows = []
    for record in calls:
        if record.uniqueid == skip:
            continue
        entry = by_call.get(record.uniqueid)
        rows.append({"uniqueid": record.uniqueid, "start": record.start, "disposition": str(record.disposition),
                     "billsec": record.billsec, "code": entry.code if entry else "",
                     "label": entry.label if entry else "", "note": entry.note if entry else ""})
    return rows


def screen_pop(row: dict, config: Config, contacts: ContactLookup, calls: Sequence[CallRecord],
               dispositions: Sequence[CallDisposition]) -> dict:
    """The agent page's document for one agent's ``show desk`` row."""
    call = row.get("call")
    document = {"agent": row["agent"], "name": row.get("name", ""), "state": row["state"],
                "pause_reason": row.get("pause_reason", ""), "call": None,
                "callbacks": list(row.get("callbacks") or [])}  # booked by a disposition, not yet due
    if call is None:
        return document
    variables = {str(k): str(v) for k, v in (call.get("variables") or {}).items()}
    number = str(call.get("caller_number") or "")
    contact = find_contact(contacts, str(config.zone), number, variables)
    queue = config.queue(str(call.get("queue")))
    desk = queue.desk if queue is not None else QueueDesk()
    values = caller_values(contact, number, variables, queue=str(call.get("queue")), agent=row["agent"])
    document["call"] = {
        "uniqueid": call["uniqueid"], "queue": call["queue"], "phase": call["phase"], "caller_number": number,
        "kind": str(call.get("kind") or "inbound"),  # callback: the ACD calls the caller back
        "variables": variables, "disposition": call.get("disposition", ""), "offered_at": call.get("offered_at"),
        "contact": None if contact is None else {"name": contact.name, "account": contact.account,
                                                 "numbers": list(contact.numbers), "fields": dict(contact.fields)},
        "script": fill_script(desk.script, values),
        "codes": [{"code": code.code, "label": code.label, "callback": code.callback,
                   "do_not_call": code.do_not_call} for code in desk.dispositions],
        "history": history_rows(calls, dispositions, skip=call["uniqueid"]),
    }
    return document
