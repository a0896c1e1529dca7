// Dashboard: polls /api/status every 2 s and updates the tables in place (no reload, no inline script).
"use strict";
(function () {
  const PERIOD_MS = 2000;

  function cell(text) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined || text === "" ? "-" : String(text);
    return td;
  }

  function setText(selector, value) {
    document.querySelectorAll(selector).forEach(function (node) {
      node.textContent = value === null || value === undefined ? "-" : String(value);
    });
  }

  function showPorts(ports) {
    (ports || []).forEach(function (port) {
      const row = document.querySelector('#ports tr[data-port="' + Number(port.port) + '"]');
      if (!row) { return; }
      row.querySelector(".state").textContent = port.state;
      row.querySelector(".service").textContent = port.in_service;
      row.querySelector(".call").textContent = port.call === null ? "-" : String(port.call);
    });
  }

  function showCalls(calls) {
    const body = document.querySelector("#calls tbody");
    if (!body) { return; }
    body.replaceChildren();
    if (!calls || calls.length === 0) {
      const row = document.createElement("tr");
      row.className = "none";
      const td = cell("no calls");
      td.colSpan = 7;
      row.appendChild(td);
      body.appendChild(row);
      return;
    }
    calls.forEach(function (call) {
      const row = document.createElement("tr");
      ["call", "direction", "ports", "caller", "destination", "state", "duration"].forEach(function (key) {
        row.appendChild(cell(call[key]));
      });
      body.appendChild(row);
    });
  }

  function showDoctor(doctor) {
    // the last `linebox doctor` result (webadmin/live.py doctor_summary): one element per state
    if (!doctor) { return; }
    const error = document.getElementById("doctor-error");
    if (!error) { return; }
    error.hidden = !doctor.error;
    error.textContent = doctor.error || "";
    document.getElementById("doctor-never").hidden = Boolean(doctor.ran || doctor.error);
    document.getElementById("doctor-last").hidden = !doctor.ran;
    const result = document.getElementById("doctor-result");
    result.textContent = doctor.result || "";
    result.className = doctor.ok ? "ok" : "error";
    document.getElementById("doctor-when").textContent = doctor.when || "";
    const failing = document.getElementById("doctor-failing");
    failing.replaceChildren();
    (doctor.failing || []).forEach(function (check) {
      const item = document.createElement("li");
      const name = document.createElement("strong");
      name.textContent = check.name;
      item.appendChild(name);
      item.appendChild(document.createTextNode(": " + check.detail));
      failing.appendChild(item);
    });
    failing.hidden = !(doctor.failing && doctor.failing.length);
  }

  function show(status) {
    const engine = status.engine || {};
    const error = document.getElementById("engine-error");
    error.hidden = !engine.error;
    error.textContent = engine.error || "";
    Object.entries(engine.stats || {}).forEach(function (entry) {
      setText('[data-stat="' + entry[0] + '"]', entry[1]);
    });
    if (engine.link) {
      setText('[data-link="state"]', engine.link.state);
      Object.entries(engine.link.counters || {}).forEach(function (entry) {
        setText('[data-counter="' + entry[0] + '"]', entry[1]);
      });
    }
    Object.entries(status.system || {}).forEach(function (entry) {
      setText('[data-system="' + entry[0] + '"]', entry[1]);
    });
    document.getElementById("storage-warning").hidden = !(status.system || {}).storage_warning;
    showPorts(engine.ports);
    showCalls(engine.calls);
    showDoctor(status.doctor);
    document.getElementById("updated").textContent = new Date().toLocaleTimeString();
  }

  function poll() {
    fetch("/api/status", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (response.status === 401) { window.location.assign("/login"); return null; }
        return response.ok ? response.json() : null;
      })
      .then(function (status) { if (status) { show(status); } })
      .catch(function () { document.getElementById("updated").textContent = "(the box did not answer)"; })
      .finally(function () { window.setTimeout(poll, PERIOD_MS); });
  }

  window.setTimeout(poll, PERIOD_MS);
})();
