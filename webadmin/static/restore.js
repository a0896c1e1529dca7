// System page: a full backup's restore sent in pieces (webadmin/data.py), so that the web server never
// takes a body larger than one piece for it. start (the size) -> chunk after chunk, each at its offset
// -> finish (the box verifies the whole file and restores it as the plain form would). No inline script.
"use strict";
(function () {
  const form = document.getElementById("restore-backup-form");
  if (!form) { return; }
  const input = document.getElementById("f-backup");
  const problem = document.getElementById("data-problem");
  const progress = document.getElementById("restore-progress");
  const button = document.getElementById("restore-backup");
  const note = document.getElementById("restore-needs-script");
  if (note) { note.hidden = true; }  // this script runs: any size up to the limit goes

  function show(node, text) {
    node.textContent = text;
    node.hidden = !text;
  }

  // The box's answer: its JSON, or its status line when something in between answered (a proxy, waitress).
  function answer(response) {
    return response.text().then(function (text) {
      let body = null;
      try { body = JSON.parse(text); } catch (e) { body = null; }
      if (!response.ok) {
        const said = body && body.error ? body.error : (response.status + " " + response.statusText);
        throw new Error(said);
      }
      if (body === null) { throw new Error("the box's answer was not understood (" + response.status + ")"); }
      return body;
    });
  }

  function post(url, body, type) {
    return fetch(url, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRF-Token": form.dataset.csrf, "Content-Type": type }
    }).then(answer);
  }

  function sendFrom(file, upload, offset, size) {
    show(progress, "sent " + Math.floor(100 * offset / file.size) + " % of " + file.name);
    if (offset >= file.size) { return Promise.resolve(); }
    const end = Math.min(file.size, offset + size);
    const url = form.dataset.chunk + "?upload=" + encodeURIComponent(upload) + "&offset=" + offset;
    return post(url, file.slice(offset, end), "application/octet-stream").then(function (body) {
      return sendFrom(file, upload, body.received, size);
    });
  }

  form.addEventListener("submit", function (event) {
    const file = input.files && input.files[0];
    if (!file || file.size === 0) { return; }  // the plain form: the box says what is missing
    event.preventDefault();
    button.disabled = true;
    show(problem, "");
    post(form.dataset.start, JSON.stringify({ size: file.size, name: file.name }), "application/json")
      .then(function (started) {
        return sendFrom(file, started.upload, 0, started.chunk_bytes).then(function () {
          show(progress, "checking the whole file and restoring it…");
          return post(form.dataset.finish, JSON.stringify({ upload: started.upload }), "application/json");
        });
      })
      .then(function (finished) {
        show(progress, finished.done);
        window.location.assign(finished.next);
      })
      .catch(function (error) {
        show(progress, "");
        const text = String(error.message || error);
        show(problem, text.startsWith("nothing was restored") ? text : "nothing was restored: " + text);
        button.disabled = false;
      });
  });
})();
