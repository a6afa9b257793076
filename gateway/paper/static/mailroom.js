/* The mailroom pages by keyboard.
 *
 * Queue: J/K move the selection through the table, Enter opens it, U focuses the upload field,
 * M jumps to the pages that need a manual id.  Draft page: Ctrl+Enter confirms, Ctrl+S saves,
 * and outside text fields 1–5 pick the rating by its score, as on the hotline (5 = 非常满意 … 1 = 非常不满意), T goes to the text,
 * N/P open the next/previous draft.  Everything also works without JavaScript (plain forms/links).
 */
(function () {
  "use strict";
  const main = document.querySelector("main.mailroom");
  if (!main) return;

  function typing(target) {
    return target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
  }

  document.querySelectorAll("button.zoom").forEach(function (button) {
    button.addEventListener("click", function () {
      const figure = button.closest("figure");
      if (figure) figure.classList.toggle("zoomed");
    });
  });

  document.querySelectorAll("table.queue tbody tr[data-href]").forEach(function (row) {
    row.addEventListener("click", function (event) {
      if (event.target.tagName !== "A") window.location.href = row.dataset.href;
    });
  });

  if (main.dataset.page === "queue") {
    let rows = Array.from(document.querySelectorAll("#queue tbody tr[data-href]"));
    let index = -1;
    function select(next) {
      if (!rows.length) return;
      if (index >= 0) rows[index].classList.remove("selected");
      index = Math.max(0, Math.min(rows.length - 1, next));
      rows[index].classList.add("selected");
      rows[index].scrollIntoView({ block: "nearest" });
    }
    document.addEventListener("keydown", function (event) {
      if (typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
      const key = event.key.toLowerCase();
      if (key === "j") { select(index + 1); event.preventDefault(); }
      else if (key === "k") { select(index - 1); event.preventDefault(); }
      else if (key === "enter" && index >= 0) { window.location.href = rows[index].dataset.href; }
      else if (key === "u") { const files = document.getElementById("files"); if (files) { files.focus(); event.preventDefault(); } }
      else if (key === "m") { const manual = document.getElementById("manual"); if (manual) manual.scrollIntoView(); const first = document.querySelector("#manual-list a"); if (first) first.focus(); event.preventDefault(); }
    });
  }

  if (main.dataset.page === "draft") {
    const form = document.getElementById("draft-form");
    if (!form) return;
    function submit(action) {
      const button = form.querySelector('button[name="action"][value="' + action + '"]');
      if (button) form.requestSubmit(button);
    }
    document.addEventListener("keydown", function (event) {
      if ((event.ctrlKey || event.metaKey) && event.key === "Enter") { submit("confirm"); event.preventDefault(); return; }
      if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s") { submit("save"); event.preventDefault(); return; }
      if (typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
      if (/^[1-5]$/.test(event.key)) {
        const radio = form.querySelector('input[name="rating"][data-key="' + event.key + '"]');
        if (radio && !radio.disabled) { radio.checked = true; radio.focus(); event.preventDefault(); }
      } else if (event.key.toLowerCase() === "t") {
        const text = document.getElementById("text"); if (text) { text.focus(); event.preventDefault(); }
      } else if (event.key.toLowerCase() === "n" && main.dataset.next) { window.location.href = main.dataset.next; }
      else if (event.key.toLowerCase() === "p" && main.dataset.previous) { window.location.href = main.dataset.previous; }
    });
  }

  if (main.dataset.page === "identify") {
    const hall = document.getElementById("hall");
    const windowSelect = document.getElementById("window");
    function filterWindows() {
      if (!hall || !windowSelect) return;
      Array.from(windowSelect.options).forEach(function (option) {
        option.hidden = Boolean(option.dataset.hall) && Boolean(hall.value) && option.dataset.hall !== hall.value;
      });
    }
    if (hall) hall.addEventListener("change", filterWindows);
    filterWindows();
  }
})();
