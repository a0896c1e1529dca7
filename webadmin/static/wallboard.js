// The wallboard: drawn from the server's JSON document, redrawn on every server-sent event.
"use strict";
(function () {
  const root = document.getElementById("wallboard");
  if (!root) { return; }
  const el = (tag, attrs, text) => {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  };
  const show = (value, unit) => (value === null || value === undefined ? "-" : `${value}${unit || ""}`);
  function figure(name, label, value, alert) {
    const box = el("div", { class: `figure ${name}${alert ? " alert" : ""}` });
    box.append(el("span", { class: "value" }, value), el("span", { class: "label" }, label));
    return box;
  }
  function draw(doc) {
    const error = document.getElementById("wallboard-error");
    error.hidden = !doc.error;
    error.textContent = doc.error || "";
    if (doc.error) { return; }
    const queues = document.getElementById("wb-queues");
    queues.replaceChildren(...doc.queues.map((q) => {
      const card = el("article", { class: "queue", id: `queue-${q.queue}` });
      card.append(el("h2", {}, q.queue),
        figure("waiting", "waiting", q.waiting, q.alert.longest_wait),
        figure("longest", "longest wait s", q.longest_wait_s, q.alert.longest_wait),
        figure("sl", `answered in ${q.service_level_s} s (target ${q.targets.service_level_min_percent} %)`,
               show(q.service_level_percent, " %"), q.alert.service_level),
        figure("asa", "ASA s", show(q.asa_s), q.alert.asa),
        figure("abandon", `abandoned (max ${q.targets.abandon_max_percent} %)`, show(q.abandon_percent, " %"),
               q.alert.abandon),
        figure("answered", "answered today", q.answered));
      return card;
    }));
    const campaigns = document.getElementById("wb-campaigns");
    const rows = doc.campaigns || [];
    campaigns.hidden = rows.length === 0;
    campaigns.replaceChildren(...rows.map((c) => {
      const card = el("article", { class: "queue campaign", id: `campaign-${c.name}` });
      card.append(el("h2", {}, `campaign ${c.name} (${c.mode}${c.running ? "" : ", not running"})`),
        figure("attempts", "attempts", show(c.attempts)),
        figure("contacts", "contacts", show(c.contacts)),
        figure("cph", "contacts per agent-hour", show(c.contacts_per_agent_hour)),
        figure("abandon", `abandoned (max ${c.max_abandon_percent} %)`, show(c.abandon_percent, " %"), c.alert),
        figure("productivity", "agent productivity", show(c.productivity_percent, " %")),
        figure("penetration", "list penetration", show(c.penetration_percent, " %")),
        figure("dispositions", "dispositions",
               Object.entries(c.dispositions || {}).map(([code, n]) => `${code} ${n}`).join(" · ") || "-"));
      return card;
    }));
    document.getElementById("wb-counts").textContent = Object.entries(doc.counts)
      .filter(([, n]) => n > 0).map(([s, n]) => `${s} ${n}`).join(" · ");
    const body = document.querySelector("#wb-agents tbody");
    body.replaceChildren(...doc.agents.map((a) => {
      const row = el("tr", { id: `agent-${a.agent}`, class: `state-${a.state}` });
      row.append(el("td", {}, `${a.agent} ${a.name}`),
        el("td", { class: "state" }, a.state + (a.pause_reason ? ` (${a.pause_reason})` : "")),
        el("td", { class: "call" }, [a.queue, a.caller].filter(Boolean).join(" / ") || "-"));
      const actions = el("td", { class: "actions" });
      const buttons = a.state === "paused" ? ["unpause", "logout"] : a.state === "loggedout" ? [] : ["pause", "logout"];
      buttons.forEach((action) => {
        const button = el("button", { type: "button", "data-agent": a.agent, "data-action": action }, action);
        actions.append(button);
      });
      row.append(actions);
      return row;
    }));
    document.getElementById("wb-updated").textContent = new Date().toLocaleTimeString();
  }
  root.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) { return; }
    const form = new FormData();
    form.append("agent", button.dataset.agent);
    form.append("action", button.dataset.action);
    if (button.dataset.action === "pause") { form.append("reason", "supervisor"); }
    fetch(root.dataset.action, { method: "POST", body: form, headers: { "X-CSRF-Token": root.dataset.csrf } })
      .then((r) => r.json()).then((answer) => {
        document.getElementById("wb-message").textContent = answer.ok || `refused: ${answer.error}`;
      });
  });
  draw(JSON.parse(root.dataset.initial));
  function listen() {
    const source = new EventSource(root.dataset.events);
    source.onmessage = (event) => draw(JSON.parse(event.data));
    source.onerror = () => { if (source.readyState === EventSource.CLOSED) { setTimeout(listen, 2000); } };
  }
  listen();
}());
