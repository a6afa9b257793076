// Keyboard shortcuts of the triage review queue (the page works without them: every action is a form).
//
// Nothing is saved by choosing: a number key (or the category list) only chooses the category and
// moves to the reason list, which offers that category's reasons; the reason is preselected only
// when the triage's own suggestion belongs to that category.  Enter (or 确认改分类) saves, Esc
// puts the form back as it was and returns to the item.  Confirmed with no reason chosen, nothing is
// sent and the server's own refusal (in Chinese, whatever the browser's language) appears beside the
// reason list and is announced, instead of the browser's bubble.
(function () {
  "use strict";
  var items = Array.prototype.slice.call(document.querySelectorAll("#queue .item"));
  if (!items.length) return;
  var labels = ["immediate", "time_limited", "coordinated", "none"];
  var current = 0;

  function select(index) {
    if (index < 0 || index >= items.length) return;
    items[current].classList.remove("selected");
    current = index;
    items[current].classList.add("selected");
    items[current].focus();
  }

  // The reason list's options by category, read once from the page's optgroups.
  function reasonsOf(reason) {
    var byCategory = {};
    Array.prototype.forEach.call(reason.querySelectorAll("optgroup"), function (group) {
      byCategory[group.getAttribute("data-category")] = Array.prototype.map.call(
        group.querySelectorAll("option"), function (option) { return [option.value, option.textContent]; });
    });
    return byCategory;
  }

  // What to say, by category, when no reason is chosen (the server's wording, on the optgroups).
  function missingOf(reason) {
    var byCategory = {};
    Array.prototype.forEach.call(reason.querySelectorAll("optgroup"), function (group) {
      byCategory[group.getAttribute("data-category")] = group.getAttribute("data-missing") || "请选择原因";
    });
    return byCategory;
  }

  // The message beside the reason list: shown and tied to the list, or gone.
  function tell(form, message) {
    var reason = form.querySelector('select[name="reason"]');
    var problem = form.querySelector(".field-error");
    problem.textContent = message;
    if (message) {
      reason.setAttribute("aria-invalid", "true");
      reason.setAttribute("aria-describedby", problem.id);
    } else {
      reason.removeAttribute("aria-invalid");
      reason.removeAttribute("aria-describedby");
    }
  }

  // Offer only ``label``'s reasons; keep ``keep`` if it is one of them, else none chosen.
  function offer(form, label, keep) {
    var reason = form.querySelector('select[name="reason"]');
    tell(form, "");
    var options = form._reasons[label] || [];
    reason.textContent = "";
    var placeholder = document.createElement("option");
    placeholder.value = "";
    placeholder.textContent = "请选择原因";
    reason.appendChild(placeholder);
    var found = false;
    options.forEach(function (pair) {
      var option = document.createElement("option");
      option.value = pair[0];
      option.textContent = pair[1];
      if (pair[0] === keep) { option.selected = true; found = true; }
      reason.appendChild(option);
    });
    if (!found) reason.value = "";
  }

  // A category chosen by key or by the list: the suggested reason only if it fits, then the reason list.
  function chooseCategory(form, label) {
    form.querySelector('select[name="label"]').value = label;
    offer(form, label, form.getAttribute("data-suggested"));
    form.querySelector('select[name="reason"]').focus();
  }

  function reset(form) {
    var original = form._original;
    form.querySelector('select[name="label"]').value = original.label;
    offer(form, original.label, original.reason);
    form.querySelector('textarea[name="note"]').value = original.note;
  }

  Array.prototype.forEach.call(document.querySelectorAll("form.relabel"), function (form) {
    var label = form.querySelector('select[name="label"]');
    var reason = form.querySelector('select[name="reason"]');
    var note = form.querySelector('textarea[name="note"]');
    form._reasons = reasonsOf(reason);
    form._missing = missingOf(reason);
    form._original = {label: label.value, reason: reason.value, note: note.value};
    offer(form, label.value, reason.value);
    form._original.reason = reason.value;
    label.addEventListener("change", function () { chooseCategory(form, label.value); });
    reason.addEventListener("change", function () { if (reason.value) tell(form, ""); });
    // Sent with no reason (Enter or the button): no browser bubble, which speaks the browser's
    // language; the refusal in Chinese beside the list, read out (role=alert), the list focused.
    reason.addEventListener("invalid", function (event) {
      event.preventDefault();
      tell(form, form._missing[label.value] || "请选择原因");
      reason.focus();
    });
    form.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && event.target.tagName === "SELECT" && !event.altKey) {
        // Enter on either list confirms (a closed list would otherwise do nothing); with no reason
        // chosen nothing is sent and the "invalid" handler above says so.
        event.preventDefault();
        event.stopPropagation();
        form.requestSubmit();
      } else if (event.key === "Enter" && event.target.tagName === "TEXTAREA" && !event.shiftKey) {
        event.preventDefault();
        event.stopPropagation();
        form.requestSubmit();
      } else if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        reset(form);
        var item = form.closest(".item");
        select(items.indexOf(item));
      }
    });
  });

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT")) return;
    if (event.key === "Enter" && target && (target.tagName === "BUTTON" || target.tagName === "A")) return;
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    var item = items[current];
    if (event.key === "j") { select(current + 1); event.preventDefault(); }
    else if (event.key === "k") { select(current - 1); event.preventDefault(); }
    else if (event.key === "a") {
      var accept = item.querySelector("form.accept");
      if (accept) { accept.submit(); event.preventDefault(); }
    } else if (event.key === "A") {
      // Only where there is a bulk form (待复核) and something is ticked: elsewhere the key does nothing.
      var bulk = document.getElementById("bulk");
      if (bulk && document.querySelector('#queue input[type="checkbox"][form="bulk"]:checked')) {
        bulk.submit();
        event.preventDefault();
      }
    } else if (event.key === "x") {
      var box = item.querySelector('input[type="checkbox"]');
      if (box) { box.checked = !box.checked; event.preventDefault(); }
    } else if (event.key >= "1" && event.key <= "4") {
      chooseCategory(item.querySelector("form.relabel"), labels[Number(event.key) - 1]);
      event.preventDefault();
    } else if (event.key === "Enter") {
      window.location.href = item.querySelector("a.code").href;
      event.preventDefault();
    }
  });

  // Tab or a click into another item makes it the current one, so the keys act where the focus is.
  items.forEach(function (item, index) {
    item.addEventListener("focusin", function () {
      if (index !== current) {
        items[current].classList.remove("selected");
        current = index;
        item.classList.add("selected");
      }
    });
  });

  // After a refused correction the page comes back at that item's reason list.
  var draft = document.querySelector("form.relabel[data-draft]");
  if (draft) {
    var index = items.indexOf(draft.closest(".item"));
    if (index >= 0) { select(index); }
    draft.querySelector('select[name="reason"]').focus();
  } else {
    select(0);
  }
})();
