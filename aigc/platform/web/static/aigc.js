// AIGC pages: upload checks, the phase list of the submit form, live submission status,
// and confirmations. No inline script anywhere: the pages' CSP allows only this file.
(() => {
  "use strict";

  const POLL_MS = 2000;
  const ARCHIVE = /\.(zip|tar\.gz|tgz)$/i;

  function sizeText(bytes) {
    const units = ["bytes", "KiB", "MiB", "GiB"];
    let value = bytes;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit += 1;
    }
    return `${unit ? value.toFixed(1) : value} ${units[unit]}`;
  }

  // Ask before buttons that cannot be undone.
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-confirm]");
    if (button && !window.confirm(button.dataset.confirm)) event.preventDefault();
  });

  // Refuse a file that is too large or not an archive before uploading it.
  for (const form of document.querySelectorAll("form[data-upload]")) {
    const input = form.querySelector("input[type=file][data-max-bytes]");
    const message = form.querySelector("[data-upload-error]");
    if (!input || !message) continue;
    const max = Number.parseInt(input.dataset.maxBytes, 10);
    const check = () => {
      const file = input.files && input.files[0];
      let problem = "";
      if (file && file.size > max) {
        problem = `${file.name} has ${sizeText(file.size)}, more than the ${sizeText(max)} allowed: shrink the package (leave out data and checkpoints it does not need).`;
      } else if (file && !ARCHIVE.test(file.name)) {
        problem = `${file.name} is not a .zip, .tar.gz or .tgz archive: pack the agent folder first.`;
      }
      message.textContent = problem;
      message.hidden = !problem;
      return !problem;
    };
    input.addEventListener("change", check);
    form.addEventListener("submit", (event) => {
      if (!check()) {
        event.preventDefault();
        input.focus();
        return;
      }
      const button = form.querySelector("button[type=submit]");
      if (button) {
        button.disabled = true;
        button.textContent = "Uploading…";
      }
    });
  }

  // Offer only the phases of the chosen challenge.
  const challengeSelect = document.querySelector("[data-challenge-select]");
  const phaseSelect = document.querySelector("[data-phase-select]");
  if (challengeSelect && phaseSelect) {
    const filter = () => {
      const slug = challengeSelect.value;
      let keep = null;
      let first = null;
      for (const group of phaseSelect.querySelectorAll("optgroup")) {
        const mine = group.dataset.challenge === slug;
        group.hidden = !mine;
        for (const option of group.querySelectorAll("option")) {
          option.hidden = !mine;
          option.disabled = !mine || option.hasAttribute("data-closed");
          if (!option.disabled) {
            first = first || option;
            if (option.selected) keep = option;
          }
        }
      }
      if (keep) keep.selected = true;
      else if (first) first.selected = true;
      else phaseSelect.value = "";
    };
    challengeSelect.addEventListener("change", filter);
    filter();
  }

  // Keep the status of queued and running submissions current.
  const table = document.querySelector("table[data-live]");
  if (table && table.dataset.live) {
    const url = table.dataset.live;
    const reloadWhenDone = table.closest("[data-reload-when-done]") !== null;
    // The server says which rows are active (queued or running): data-active, item.active.
    const active = () => table.querySelector('tr[data-active="true"]') !== null;
    const cell = (row, field) => row.querySelector(`[data-field="${field}"]`);
    const update = (row, item) => {
      const badge = cell(row, "status").querySelector(".status");
      if (badge) {
        badge.className = `status status-${item.status}`;
        badge.textContent = item.status;
      }
      // Hidden phases show no progress: the count could carry what the agent observed.
      cell(row, "episodes").textContent =
        item.episodes_done === null ? "—" : `${item.episodes_done} / ${item.episodes_total}`;
      cell(row, "score").textContent = item.score_text;
      cell(row, "failure").textContent = item.failure;
      row.dataset.status = item.status;
      row.dataset.active = String(item.active);
    };
    let schedule = null;
    const poll = async () => {
      if (document.hidden) return schedule(POLL_MS);
      let ended = false;
      try {
        const response = await fetch(url, {
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        });
        if (!response.ok) throw new Error(`status ${response.status}`);
        const data = await response.json();
        for (const item of data.submissions) {
          const row = table.querySelector(`tr[data-id="${item.id}"]`);
          if (!row) continue;
          if (row.dataset.active === "true" && !item.active) ended = true;
          update(row, item);
        }
      } catch (error) {
        return schedule(POLL_MS * 3); // the server is busy or restarting: try again later
      }
      if (ended && reloadWhenDone) window.location.reload();
      else schedule(POLL_MS);
    };
    schedule = (delay) => {
      if (active()) window.setTimeout(poll, delay);
    };
    schedule(POLL_MS);
  }

  // Sortable tables: a click on a heading sorts the rows by that column, again to reverse.
  for (const table of document.querySelectorAll("table[data-sortable]")) {
    const body = table.tBodies[0];
    const headings = Array.from(table.tHead ? table.tHead.rows[0].cells : []);
    headings.forEach((heading, column) => {
      const kind = heading.dataset.sort;
      if (!kind || !body) return;
      heading.classList.add("sortable");
      heading.tabIndex = 0;
      const sort = () => {
        const ascending = heading.getAttribute("aria-sort") !== "ascending";
        for (const other of headings) other.removeAttribute("aria-sort");
        heading.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        const key = (row) => {
          const cell = row.cells[column];
          const text = cell.dataset.value !== undefined ? cell.dataset.value : cell.textContent;
          if (kind !== "number") return text.trim();
          const value = Number.parseFloat(text);
          return Number.isNaN(value) ? -Infinity : value;
        };
        const rows = Array.from(body.rows);
        rows.sort((a, b) => {
          const x = key(a);
          const y = key(b);
          const order = x < y ? -1 : x > y ? 1 : 0;
          return ascending ? order : -order;
        });
        for (const row of rows) body.appendChild(row);
      };
      heading.addEventListener("click", sort);
      heading.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          sort();
        }
      });
    });
  }

  // Replays a worker is still rendering: ask every few seconds, show each once it is made.
  for (const figure of document.querySelectorAll("figure[data-replay-waiting]")) {
    const wait = figure.querySelector(".replay-wait");
    const check = async () => {
      let data = null;
      try {
        const response = await fetch(figure.dataset.replayState, {
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        });
        if (response.ok) data = await response.json();
      } catch (error) {
        data = null;
      }
      if (!data || data.state === "rendering" || data.state === "missing") {
        window.setTimeout(check, POLL_MS);
        return;
      }
      let shown;
      if (data.state === "failed") {
        shown = document.createElement("p");
        shown.className = "error replay-error";
        shown.textContent = data.error || "the replay could not be made";
      } else if (data.kind === "text") {
        shown = document.createElement("pre");
        shown.className = "replay-text";
        const response = await fetch(data.url, { credentials: "same-origin" });
        shown.textContent = await response.text();
      } else {
        shown = document.createElement("img");
        shown.src = data.url;
        shown.alt = figure.dataset.replayLabel || "replay";
      }
      figure.removeAttribute("data-replay-waiting");
      if (wait) wait.replaceWith(shown);
    };
    window.setTimeout(check, POLL_MS / 2);
  }
})();
