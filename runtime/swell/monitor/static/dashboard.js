// swell dashboard: live queue depth (polls the JSON API) and job actions. No dependencies.
(function () {
  "use strict";
  var body = document.body;
  var base = body.getAttribute("data-base") || "";
  var flash = document.getElementById("flash");

  function say(text, isError) {
    if (!flash) return;
    flash.textContent = text;
    flash.className = isError ? "flash error" : "flash ok";
    flash.hidden = false;
  }

  function age(seconds) {
    if (seconds < 60) return seconds.toFixed(1) + "s";
    if (seconds < 3600) return (seconds / 60).toFixed(1) + "m";
    return (seconds / 3600).toFixed(1) + "h";
  }

  function request(method, path, payload) {
    var init = {
      method: method,
      credentials: "same-origin",
      // Marks the call as coming from this page: cookie-authenticated actions need it (CSRF guard).
      headers: { "X-Requested-With": "swell", "Accept": "application/json" }
    };
    if (payload !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(payload);
    }
    return fetch(base + path, init).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) throw new Error(data.message || ("HTTP " + response.status));
        return data;
      });
    });
  }

  // -- live queue depth on the overview ------------------------------------------------------
  var queues = document.getElementById("queues");
  function fieldValue(q, field) {
    if (field.indexOf("pending.") === 0) return q.pending[field.slice(8)] || 0;
    return q[field];
  }
  function refreshQueues() {
    request("GET", "/api/queues").then(function (data) {
      var known = {};
      data.queues.forEach(function (q) {
        var row = queues.querySelector('tr[data-queue="' + CSS.escape(q.name) + '"]');
        if (!row) { window.location.reload(); return; }  // a new queue: redraw the table
        known[q.name] = true;
        row.querySelectorAll("[data-field]").forEach(function (cell) {
          var field = cell.getAttribute("data-field");
          var value = fieldValue(q, field);
          var text = cell.hasAttribute("data-age") ? age(value) : String(value);
          if (cell.textContent !== text) {
            cell.textContent = text;
            cell.classList.remove("changed"); void cell.offsetWidth; cell.classList.add("changed");
          }
        });
      });
      var updated = document.getElementById("updated");
      if (updated) updated.textContent = new Date(data.at * 1000).toISOString().replace("T", " ");
      var live = document.getElementById("live");
      if (live) live.className = "live";
    }).catch(function (err) {
      var live = document.getElementById("live");
      if (live) { live.className = "live down"; live.title = String(err.message || err); }
    });
  }
  if (queues) setInterval(refreshQueues, 2000);

  // -- actions: replay / cancel one job, replay a queue's dead jobs ----------------------------
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.act");
    if (!button) return;
    var action = button.getAttribute("data-action");
    var job = button.getAttribute("data-job");
    var queue = button.getAttribute("data-queue");
    if (action === "cancel" && !window.confirm("Cancel job " + job + "?")) return;
    button.disabled = true;
    var call = job
      ? request("POST", "/api/jobs/" + encodeURIComponent(job) + "/" + action)
      : request("POST", "/api/queues/" + encodeURIComponent(queue) + "/replay-dead", {});
    call.then(function (data) {
      if (job) {
        // the row (or detail block) holding the button; the button itself carries data-job too
        var holder = button.parentElement.closest("[data-job]");
        var status = holder && holder.querySelector('[data-field="status"]');
        if (status) {
          status.textContent = data.status;
          status.className = "status s-" + data.status;
        }
        holder.querySelectorAll("button.act").forEach(function (b) { b.remove(); });
        if (action !== "cancel") say("Job " + job + " was replayed: it is " + data.status + ".");
        else if (data.cancel_requested) say("Cancel requested: the worker running " + job + " will stop it.");
        else say("Job " + job + " is now " + data.status + ".");
      } else {
        say(data.replayed + " dead jobs of " + queue + " were replayed.");
        button.remove();
      }
    }).catch(function (err) {
      button.disabled = false;
      say("Could not " + action + ": " + err.message, true);
    });
  });
})();
