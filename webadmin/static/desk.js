// The agent's desk: state, screen pop, script and disposition form, redrawn on every server-sent event.
"use strict";
(function () {
  const root = document.getElementById("desk");
  if (!root) { return; }
  const query = new URLSearchParams(window.location.search).get("agent");
  const withAgent = (url) => (query ? `${url}?agent=${encodeURIComponent(query)}` : url);
  const $ = (id) => document.getElementById(id);
  const el = (tag, text) => { const n = document.createElement(tag); n.textContent = text; return n; };
  let drawnCall = "";
  let codes = [];
  function pairs(target, object) {
    target.replaceChildren(...Object.entries(object || {}).flatMap(([k, v]) => [el("dt", k), el("dd", v)]));
  }
  function draw(doc) {
    $("desk-error").hidden = !doc.error;
    $("desk-error").textContent = doc.error || "";
    if (doc.error) { return; }
    root.hidden = false;
    $("desk-agent").textContent = `${doc.agent} ${doc.name || ""}`.trim();
    $("desk-state").textContent = doc.state + (doc.pause_reason ? ` (${doc.pause_reason})` : "");
    const lead = doc.preview;
    $("preview").hidden = !lead;
    root.dataset.preview = lead ? String(lead.lead) : "";
    if (lead) {
      $("preview-campaign").textContent = lead.campaign;
      $("preview-lead").textContent = lead.lead;
      $("preview-name").textContent = lead.name;
      $("preview-number").textContent = lead.number;
    }
    const booked = doc.callbacks || [];
    $("booked").hidden = booked.length === 0;
    $("booked-callbacks").querySelector("tbody").replaceChildren(...booked.map((b) => {
      const row = document.createElement("tr");
      row.append(el("td", new Date(b.due * 1000).toISOString().slice(0, 16).replace("T", " ")), el("td", b.queue),
        el("td", b.number));
      return row;
    }));
    const call = doc.call;
    $("pop").hidden = !call;
    if (!call) { drawnCall = ""; root.dataset.call = ""; return; }
    $("pop-number").textContent = call.caller_number || "withheld";
    $("pop-queue").textContent = call.queue;
    $("pop-phase").textContent = call.phase;
    $("pop-kind").textContent = call.kind === "callback" ? " · callback (the box calls the caller back)" : "";
    const contact = call.contact;
    $("pop-contact").hidden = !contact;
    $("pop-unknown").hidden = Boolean(contact);
    $("pop-name").textContent = contact ? contact.name : "";
    $("pop-account").textContent = contact ? contact.account || "-" : "";
    pairs($("pop-fields"), contact ? contact.fields : {});
    pairs($("pop-variables"), call.variables);
    $("script").textContent = call.script;
    $("history").querySelector("tbody").replaceChildren(...call.history.map((h) => {
      const row = document.createElement("tr");
      row.append(el("td", new Date(h.start * 1000).toISOString().slice(0, 16).replace("T", " ")),
        el("td", h.disposition), el("td", h.billsec), el("td", h.code ? `${h.code} ${h.label}` : "-"),
        el("td", h.note || ""));
      return row;
    }));
    $("disposed").textContent = call.disposition ? `(recorded: ${call.disposition})` : "";
    $("dispose-form").hidden = call.codes.length === 0;
    if (drawnCall !== call.uniqueid) {
      codes = call.codes;
      $("dispose-code").replaceChildren(...codes.map((c) => {
        const option = el("option", `${c.code} ${c.label}`);
        option.value = c.code;
        return option;
      }));
      $("dispose-note").value = "";
      showCallback();
      drawnCall = call.uniqueid;
      root.dataset.poppedAt = String(Date.now());  // the browser tests measure offer -> pop with this
    }
    root.dataset.call = call.uniqueid;
    root.dataset.phase = call.phase;
  }
  function showCallback() {
    const chosen = codes.find((c) => c.code === $("dispose-code").value);
    $("callback-label").hidden = !(chosen && chosen.callback);
  }
  function post(url, form) {
    return fetch(withAgent(url), { method: "POST", body: form, headers: { "X-CSRF-Token": root.dataset.csrf } })
      .then((r) => r.json()).then((answer) => { $("desk-message").textContent = answer.ok || `refused: ${answer.error}`; });
  }
  $("dispose-code").addEventListener("change", showCallback);
  ["accept", "skip"].forEach((action) => $(`preview-${action}`).addEventListener("click", () => {
    const form = new FormData();
    form.append("action", action);
    post($("preview").dataset.action, form);
  }));
  $("dispose-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = new FormData();
    form.append("code", $("dispose-code").value);
    form.append("note", $("dispose-note").value);
    const when = $("dispose-callback").value;
    if (!$("callback-label").hidden && when) {
      form.append("callback", String(Math.round(new Date(when).getTime() / 1000)));  // the browser's time zone
    }
    post(root.dataset.dispose, form);
  });
  $("pause-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = new FormData($("pause-form"));
    form.append("action", "pause");
    post(root.dataset.state, form);
  });
  $("unpause").addEventListener("click", () => {
    const form = new FormData();
    form.append("action", "unpause");
    post(root.dataset.state, form);
  });
  fetch(withAgent(root.dataset.api)).then((r) => (r.ok ? r.json() : null)).then((doc) => {
    if (!doc) { return; }  // an account that is no agent's: the page keeps its tables only
    draw(doc);
    const listen = () => {
      const source = new EventSource(withAgent(root.dataset.events));
      source.onmessage = (event) => draw(JSON.parse(event.data));
      source.onerror = () => { if (source.readyState === EventSource.CLOSED) { setTimeout(listen, 2000); } };
    };
    listen();
  });
}());
