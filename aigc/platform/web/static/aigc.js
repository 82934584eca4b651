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
})();
