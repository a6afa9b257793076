/* The hotline operator's page: keyboard-first call logging.
 *
 * Enter saves from any field (Shift+Enter makes a new line in the summary); Alt+N jumps to the
 * number, Alt+F to the 续报受理编号 field (to log a follow-up), Alt+R starts
 * a new call, Alt+B jumps to the call-back list.  Saving posts the same form the page posts without
 * JavaScript, asks for JSON, shows the tracking code, category and deadline, and clears the form
 * for the next call.  Personal data is only ever sent in POST bodies, never in URLs.
 */
(function () {
  "use strict";
  const main = document.querySelector("main.hotline");
  if (!main) return;
  const csrf = main.dataset.csrf;
  const area = main.dataset.area || "0537";
  const form = document.getElementById("call-form");
  const phone = document.getElementById("phone");
  const hint = document.getElementById("phone-hint");
  const result = document.getElementById("result");
  const problems = document.getElementById("problems");
  const historyBox = document.getElementById("history");
  const saveButton = document.getElementById("save");
  let saving = false;
  let lookupTimer = null;
  let lastLookup = "";
  let typingStarted = false;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value;
      else if (key.startsWith("data-")) node.setAttribute(key, value);
      else node[key] = value;
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  /* The same rules as channels.contact.normalize_phone / channels.phone.numbers.normalize_caller. */
  function normalize(raw) {
    let text = raw.replace(/[０-９＋]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0));
    text = text.replace(/[\s\-().（）－—_]+/g, "");
    if (!text) return { empty: true };
    if (text.startsWith("+86")) text = text.slice(3);
    else if (text.startsWith("0086")) text = text.slice(4);
    else if (text.startsWith("86") && text.length === 13) text = text.slice(2);
    if (!/^\d+$/.test(text)) return { ok: false };
    if (/^01[3-9]\d{9}$/.test(text)) text = text.slice(1);
    if (/^1[3-9]\d{9}$/.test(text)) {
      return { ok: true, value: text, label: "手机 " + text.slice(0, 3) + " " + text.slice(3, 7) + " " + text.slice(7) };
    }
    if (/^[2-9]\d{6,7}$/.test(text)) text = area + text;
    let match = /^(0\d{2,3})(\d{7,8})$/.exec(text);
    if (!match && !text.startsWith("0") && text.length >= 9) match = /^(0\d{2,3})(\d{7,8})$/.exec("0" + text);
    if (match) return { ok: true, value: match[1] + "-" + match[2], label: "固话 " + match[1] + "-" + match[2] };
    if (/^1\d{0,9}$/.test(text) || /^0\d{0,9}$/.test(text)) return { partial: true };
    return { ok: false };
  }

  function showHint() {
    const found = normalize(phone.value);
    hint.classList.remove("bad");
    phone.removeAttribute("aria-invalid");
    if (found.empty || found.partial) {
      hint.textContent = "";
    } else if (found.ok) {
      hint.textContent = found.label;
    } else {
      hint.textContent = "号码格式不对：手机 11 位，固话带区号（0537-6851890）";
      hint.classList.add("bad");
    }
    return found;
  }

  async function post(url, data) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(data),
      credentials: "same-origin",
    });
    let body = {};
    try { body = await response.json(); } catch (e) { body = { error: "服务器没有返回有效结果" }; }
    return { status: response.status, body };
  }

  function renderHistory(data) {
    historyBox.replaceChildren();
    if (!data.cases || data.cases.length === 0) {
      historyBox.append(el("p", { class: "muted" }, `号码 ${data.phone || ""} 以前没有案件。`));
    } else {
      const table = el("table", {},
        el("thead", {}, el("tr", {}, ...["受理编号", "日期", "状态", "分类", "内容", ""].map((t) => el("th", {}, t)))));
      const body = el("tbody");
      for (const item of data.cases) {
        const action = item.open
          ? el("button", { type: "button", class: "follow", "data-code": item.code, title: "把这通电话作为该案件的续报" }, "续报")
          : null;
        body.append(el("tr", { class: item.open ? "open-case" : "" },
          el("td", {}, item.code),
          el("td", {}, item.received_at),
          el("td", {}, item.status_label + (item.countdown ? `（${item.countdown}）` : "")),
          el("td", {}, item.category_label || "—"),
          el("td", {}, item.summary || ""),
          el("td", {}, action)));
      }
      table.append(body);
      historyBox.append(el("p", { class: "muted" }, `号码 ${data.phone} 共 ${data.cases.length} 件` +
        (data.cases.some((c) => c.open) ? "，按 Alt+F 续报未办结的案件" : "")), table);
    }
    if (data.open_tasks) historyBox.append(el("p", { class: "warn" }, `该号码有 ${data.open_tasks} 个待回拨任务，保存后自动完成。`));
  }

  async function lookup(force) {
    const found = showHint();
    if (!found.ok) {
      if (found.empty) { historyBox.replaceChildren(el("p", { class: "muted" }, "输入来电号码后显示该号码以前的案件。")); lastLookup = ""; }
      return;
    }
    if (!force && found.value === lastLookup) return;
    lastLookup = found.value;
    historyBox.setAttribute("aria-busy", "true");
    const { status, body } = await post("/hotline/history", { phone: phone.value });
    historyBox.removeAttribute("aria-busy");
    if (status === 200) renderHistory(body);
    else historyBox.replaceChildren(el("p", { class: "warn" }, body.error || "查询失败"));
  }

  phone.addEventListener("input", () => {
    if (!typingStarted && phone.value.trim()) {
      typingStarted = true;
      form.elements.started_at.value = new Date().toISOString();
    }
    showHint();
    clearTimeout(lookupTimer);
    lookupTimer = setTimeout(() => lookup(false), 300);
  });
  phone.addEventListener("blur", () => lookup(false));

  historyBox.addEventListener("click", (event) => {
    const button = event.target.closest("button.follow");
    if (!button) return;
    form.elements.follow_up.value = button.dataset.code;
    form.elements.summary.focus();
  });

  function showProblems(map) {
    problems.replaceChildren(el("p", {}, "来电记录有误，请按提示修改："));
    const list = el("ul");
    let first = null;
    for (const [field, message] of Object.entries(map || {})) {
      list.append(el("li", { "data-field": field }, message));
      const input = form.elements[field];
      if (input && input.setAttribute) {
        input.setAttribute("aria-invalid", "true");
        first = first || input;
      }
    }
    problems.append(list);
    problems.hidden = false;
    (first || phone).focus();
  }

  function showResult(data) {
    const due = data.first_response_due
      ? el("p", { class: "deadline" }, "首次回复期限：", el("strong", {}, data.first_response_due),
        data.countdown ? el("span", {}, "（", el("span", { class: "countdown" }, data.countdown), "）") : null)
      : null;
    const resultDue = data.result_due ? el("p", { class: "deadline" }, "整改结果期限：", el("strong", {}, data.result_due)) : null;
    const none = !data.first_response_due && !data.result_due ? el("p", { class: "deadline" }, "该分类没有法定回复期限") : null;
    const parts = [
      el("p", { class: "code" }, "受理编号 ", el("strong", {}, data.code)),
      el("p", {}, `${data.message}；分类：`, el("strong", {}, data.category_label || "待复核"),
        data.needs_review ? "（待人工复核）" : "", `；状态：${data.status_label}`),
      due, resultDue, none,
      data.tasks_closed ? el("p", {}, `已完成该号码的 ${data.tasks_closed} 个回拨任务`) : null];
    result.replaceChildren(...parts.filter((part) => part !== null));
    result.className = "result shown level-" + (data.level || "none");
  }

  function clearForm(nextCallId, startedAt) {
    const keep = { csrf_token: form.elements.csrf_token.value, call_id: nextCallId || form.elements.call_id.value };
    form.reset();
    for (const input of form.querySelectorAll("input, select, textarea")) {
      if (input.type === "hidden") continue;
      if (input.type === "checkbox") input.checked = false; else input.value = "";
      input.removeAttribute("aria-invalid");
    }
    form.elements.csrf_token.value = keep.csrf_token;
    form.elements.call_id.value = keep.call_id;
    form.elements.started_at.value = startedAt || new Date().toISOString();
    form.elements.callback_task.value = "";
    typingStarted = false;
    lastLookup = "";
    hint.textContent = "";
    problems.hidden = true;
    historyBox.replaceChildren(el("p", { class: "muted" }, "输入来电号码后显示该号码以前的案件。"));
    phone.focus();
  }

  async function save() {
    if (saving) return;
    saving = true;
    saveButton.disabled = true;
    const data = {};
    for (const [key, value] of new FormData(form).entries()) {
      if (key === "reasons") (data.reasons = data.reasons || []).push(value);
      else data[key] = value;
    }
    for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
    try {
      const { status, body } = await post("/hotline/calls", data);
      if (status === 200 && body.ok) {
        showResult(body.result);
        clearForm(body.next_call_id, body.started_at);
        // The citizen is still on the line: the tracking code must stay in sight while the
        // number field is ready for the next call (saving with the mouse scrolled it away).
        phone.blur();
        phone.focus({ preventScroll: true });
        result.scrollIntoView({ block: "start" });
        refreshCallbacks();
      } else if (status === 422) {
        showProblems(body.problems || { intake: body.error });
      } else {
        showProblems({ intake: body.error || `保存失败（${status}），请重试；内容没有丢失` });
      }
    } catch (error) {
      showProblems({ intake: "网络中断，保存失败；内容没有丢失，请按 Enter 重试" });
    } finally {
      saving = false;
      saveButton.disabled = false;
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    save();
  });
  form.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.isComposing) return;
    const target = event.target;
    if (target.tagName === "TEXTAREA" && (event.shiftKey || event.ctrlKey)) return;
    if (target.tagName === "BUTTON") return;
    event.preventDefault();
    save();
  });
  document.getElementById("new-call").addEventListener("click", () => {
    result.className = "result";
    clearForm(null, null);
  });

  /* Call-back list: reveal (audited), dial-and-log, live countdowns. */
  function span(seconds) {
    const minutes = Math.max(Math.floor(seconds / 60), 0);
    if (minutes < 60) return `${Math.max(minutes, 1)} 分钟`;
    const hours = Math.floor(minutes / 60);
    const rest = minutes % 60;
    if (hours < 24) return `${hours} 小时` + (rest && hours < 3 ? ` ${rest} 分钟` : "");
    const days = Math.floor(hours / 24);
    return `${days} 天` + (hours % 24 ? ` ${hours % 24} 小时` : "");
  }
  function tick() {
    const now = Date.now();
    for (const node of document.querySelectorAll(".callback[data-due]")) {
      const seconds = Math.round((Date.parse(node.dataset.due) - now) / 1000);
      const level = seconds < 0 ? "overdue" : seconds <= 1800 ? "urgent" : seconds <= 7200 ? "soon" : "ok";
      node.className = "callback level-" + level;
      const text = node.querySelector(".countdown");
      if (text) text.textContent = seconds < 0 ? `已超时 ${span(-seconds)}` : `剩余 ${span(seconds)}`;
    }
  }
  setInterval(tick, 30000);

  async function refreshCallbacks() {
    const section = document.getElementById("callbacks");
    try {
      const response = await fetch("/hotline/callbacks", {
        headers: { Accept: "text/html", "X-HCP-Fragment": "1" }, credentials: "same-origin" });
      if (!response.ok) return;
      const fragment = document.createRange().createContextualFragment(await response.text());
      section.replaceChildren(fragment);
      tick();
    } catch (error) { /* the list refreshes with the next page load */ }
  }

  document.getElementById("callbacks").addEventListener("click", async (event) => {
    const button = event.target.closest("button.reveal, button.dial");
    if (!button) return;
    const { status, body } = await post("/hotline/reveal", { ref: button.dataset.ref });
    if (status !== 200 || !body.phone) {
      button.textContent = body.error || "无法显示";
      return;
    }
    const item = button.closest(".callback");
    const masked = item && item.querySelector(".masked");
    if (masked) masked.textContent = body.phone;
    if (button.classList.contains("dial")) {
      clearForm(null, null);
      phone.value = body.phone;
      form.elements.callback_task.value = button.dataset.task;
      typingStarted = true;
      showHint();
      lookup(true);
      phone.focus();
    }
  });

  document.addEventListener("keydown", (event) => {
    if (!event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.code === "KeyF") {
      // Alt+F is the 续报受理编号 field the page labels with F; an empty field takes the caller's
      // latest open case from the history, selected, so typing another code replaces it.
      const follow = document.getElementById("follow_up");
      const latest = historyBox.querySelector("button.follow");
      if (follow) {
        event.preventDefault();
        if (!follow.value && latest) follow.value = latest.dataset.code;
        follow.focus();
        follow.select();
      }
    } else if (event.code === "KeyB") {
      const first = document.querySelector(".callbacks button, .callbacks a");
      if (first) { event.preventDefault(); first.focus(); }
    } else if (event.code === "KeyN") {
      event.preventDefault();
      phone.focus();
    }
  });

  const initial = problems.querySelector("li[data-field]");
  if (initial && form.elements[initial.dataset.field] && form.elements[initial.dataset.field].focus) {
    form.elements[initial.dataset.field].focus();
  }
  if (phone.value) showHint();
})();
