// Keyboard shortcuts of the triage review queue (the page works without them: every action is a form).
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

  function firstReason(item, label) {
    var group = item.querySelector('optgroup[data-category="' + label + '"]');
    return group ? group.querySelector("option").value : "";
  }

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT")) return;
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    var item = items[current];
    if (event.key === "j") { select(current + 1); event.preventDefault(); }
    else if (event.key === "k") { select(current - 1); event.preventDefault(); }
    else if (event.key === "a") {
      var accept = item.querySelector("form.accept");
      if (accept) { accept.submit(); event.preventDefault(); }
    } else if (event.key === "A") {
      var bulk = document.getElementById("bulk");
      if (bulk) { bulk.submit(); event.preventDefault(); }
    } else if (event.key === "x") {
      var box = item.querySelector('input[type="checkbox"]');
      if (box) { box.checked = !box.checked; event.preventDefault(); }
    } else if (event.key >= "1" && event.key <= "4") {
      var label = labels[Number(event.key) - 1];
      var form = item.querySelector("form.relabel");
      form.querySelector('select[name="label"]').value = label;
      form.querySelector('select[name="reason"]').value = firstReason(item, label);
      form.submit();
      event.preventDefault();
    } else if (event.key === "Enter") {
      window.location.href = item.querySelector("a.code").href;
      event.preventDefault();
    }
  });
  select(0);

  // Choosing a category with the mouse offers only that category's reasons (the server refuses
  // a reason of another category with a message, but the clerk should never get there).
  function onlyReasonsOf(form, label) {
    var reason = form.querySelector('select[name="reason"]');
    var keep = reason.value;
    var first = "";
    Array.prototype.forEach.call(reason.querySelectorAll("optgroup"), function (group) {
      var mine = group.getAttribute("data-category") === label;
      group.hidden = !mine;
      group.disabled = !mine;
      Array.prototype.forEach.call(group.querySelectorAll("option"), function (option) {
        if (mine && !first) first = option.value;
        if (!mine && option.value === keep) keep = "";
      });
    });
    reason.value = keep || first;
  }
  Array.prototype.forEach.call(document.querySelectorAll("form.relabel"), function (form) {
    var label = form.querySelector('select[name="label"]');
    onlyReasonsOf(form, label.value);
    label.addEventListener("change", function () { onlyReasonsOf(form, label.value); });
  });
})();
