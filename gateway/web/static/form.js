/* 找茬窗口 progressive enhancement.  The pages work fully without this file; with it:
   the reason options appear only for 不满意/非常不满意, a character counter, a draft kept in this tab
   (sessionStorage, text and choices only, never name or phone) so a failed network or a back button
   loses nothing, the large-text toggle without reloading, and a submit button that shows progress.
   Plain ES5 for old in-app browsers. */
(function () {
  "use strict";
  document.documentElement.className += " js";
  var BAD = { dissatisfied: true, very_dissatisfied: true };
  var DRAFT_PREFIX = "hcp-draft:";

  function each(list, fn) { Array.prototype.forEach.call(list, fn); }

  function storage() {
    try { return window.sessionStorage; } catch (e) { return null; }
  }

  function markChoices(form) {
    each(form.querySelectorAll(".fz-choice input"), function (input) {
      var label = input.parentNode;
      if (input.checked) { label.classList.add("fz-on"); } else { label.classList.remove("fz-on"); }
    });
  }

  function showReasons(form) {
    var box = form.querySelector(".fz-reasons");
    if (!box) { return; }
    var checked = form.querySelector("input[name=rating]:checked");
    if (checked && BAD[checked.value]) { box.classList.add("fz-show"); } else { box.classList.remove("fz-show"); }
  }

  function counter(form) {
    var text = form.querySelector("textarea[name=text]");
    var out = document.getElementById("text-count");
    if (!text || !out) { return; }
    var max = parseInt(text.getAttribute("maxlength"), 10) || 2000;
    // The visible counter changes on every keystroke; the live region speaks only when a threshold
    // is crossed (100, 20, 0 left), so a screen reader is not interrupted after every character.
    var live = document.getElementById("text-count-live");
    var THRESHOLDS = [100, 20, 0];
    var spoken = null;
    function update() {
      var left = max - text.value.length;
      out.textContent = text.value.length ? "已写 " + text.value.length + " 字，还可以写 " + left + " 字" : "";
      var reached = null;
      for (var i = 0; i < THRESHOLDS.length; i++) { if (left <= THRESHOLDS[i]) { reached = THRESHOLDS[i]; } }
      if (live && reached !== spoken) {
        spoken = reached;
        live.textContent = reached === null ? "" : (left <= 0 ? "已达到 " + max + " 字上限" : "还可以写 " + left + " 字");
      }
    }
    text.addEventListener("input", update);
    update();
  }

  function draft(form) {
    var store = storage();
    var key = form.getAttribute("data-draft");
    if (!store || !key) { return; }
    key = DRAFT_PREFIX + key;
    var text = form.querySelector("textarea[name=text]");
    var pristine = !form.querySelector("input[name=rating]:checked") && !(text && text.value);
    if (pristine) {
      try {
        var saved = JSON.parse(store.getItem(key) || "null");
        if (saved) {
          if (text && saved.text) { text.value = saved.text; }
          each(form.querySelectorAll("input[name=rating]"), function (r) { r.checked = r.value === saved.rating; });
          each(form.querySelectorAll("input[name=reason]"), function (c) {
            c.checked = (saved.reasons || []).indexOf(c.value) >= 0;
          });
        }
      } catch (e) { store.removeItem(key); }
    }
    function save() {
      var rating = form.querySelector("input[name=rating]:checked");
      var reasons = [];
      each(form.querySelectorAll("input[name=reason]:checked"), function (c) { reasons.push(c.value); });
      try {
        store.setItem(key, JSON.stringify({ text: text ? text.value : "", rating: rating ? rating.value : "",
                                            reasons: reasons }));
      } catch (e) { /* storage full or disabled: the server still keeps text on errors */ }
    }
    form.addEventListener("input", save);
    form.addEventListener("change", save);
  }

  function clearDrafts() {
    var store = storage();
    if (!store) { return; }
    for (var i = store.length - 1; i >= 0; i--) {
      var name = store.key(i);
      if (name && name.indexOf(DRAFT_PREFIX) === 0) { store.removeItem(name); }
    }
  }

  function sizeToggle() {
    each(document.querySelectorAll(".fz-size-toggle"), function (button) {
      button.addEventListener("click", function (event) {
        var main = document.querySelector("main");
        if (!main) { return; }
        event.preventDefault();
        var big = !main.classList.contains("big");
        main.classList.toggle("big", big);
        document.cookie = "hcp_big=" + (big ? "1" : "0") + "; path=/; max-age=31536000; samesite=lax";
        // The label stays "大字"; the state is in aria-pressed (and the button's look).
        button.value = big ? "0" : "1";
        button.setAttribute("aria-pressed", big ? "true" : "false");
      });
    });
  }

  function submitting(form) {
    var button = form.querySelector("button[type=submit]");
    if (!button) { return; }
    var label = button.textContent;
    form.addEventListener("submit", function () {
      // Disabled after this tick so the click still submits; the server makes a second copy harmless anyway.
      window.setTimeout(function () { button.disabled = true; button.textContent = "正在提交，请稍候…"; }, 0);
    });
    window.addEventListener("pageshow", function () { button.disabled = false; button.textContent = label; });
  }

  function ready() {
    sizeToggle();
    var main = document.querySelector("main");
    if (main && main.getAttribute("data-clear-drafts")) { clearDrafts(); }
    var form = document.getElementById("fz");
    if (form) {
      draft(form);
      showReasons(form);
      markChoices(form);
      counter(form);
      form.addEventListener("change", function () { showReasons(form); markChoices(form); });
    }
    each(document.querySelectorAll("form.fz"), submitting);
    var errors = document.getElementById("errors") || document.getElementById("notice");
    if (errors) {
      // The summary (or the 429 / wrong-code notice) takes focus so a screen reader reads it first;
      // the page title already begins with it.  The autofocus attribute does the same without JavaScript.
      errors.focus();
      errors.scrollIntoView({ block: "center" });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
