// Small behaviours shared by every page. No build step: plain modern JavaScript.
// Loaded with `defer`, so the document is parsed when this runs.

// Styles may hide what only no-JS visitors need (e.g. an Apply button beside filters
// that apply themselves).
document.documentElement.classList.add("js");

// A form may name the field that should have the cursor, e.g. the password after a failed
// log-in (the username is kept, the password is what needs typing again). Without
// JavaScript the field's own autofocus still applies.
for (const form of document.querySelectorAll("form[data-focus]")) {
  const field = document.getElementById(form.dataset.focus);
  if (field) field.focus();
}

// Once the user logs out, the page they are leaving must not act on an answer still on
// its way: a banner poll that reaches the server after the session ended answers "log in
// again and come back here", which would override the log-out's own redirect.
let loggingOut = false;
document.addEventListener("submit", (event) => {
  if (event.target.matches("form[data-logout]")) loggingOut = true;
});
document.addEventListener("htmx:beforeOnLoad", (event) => {
  if (loggingOut) event.preventDefault();
});

document.addEventListener("htmx:responseError", (event) => {
  // Keep what the user typed and tell them why the server said no.
  const status = event.detail.xhr.status;
  const message = status === 409
    ? "Someone else changed this meanwhile. Your text is kept; reload to see their change."
    : `The server answered ${status}. Nothing was lost; please try again.`;
  window.alert(message);
});

// ---- Triage: keyboard shortcuts, selection, filters that apply themselves ----
const isTyping = (target) =>
  target.closest("input, textarea, select, [contenteditable]") !== null;

function postForm(url, fields = {}) {
  // A real form post (not fetch), so the server's redirect and messages work as usual.
  const form = document.createElement("form");
  form.method = "post";
  form.action = url;
  const token = document.querySelector("[name=csrfmiddlewaretoken]");
  fields.csrfmiddlewaretoken = token ? token.value : "";
  for (const [name, value] of Object.entries(fields)) {
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    form.append(input);
  }
  document.body.append(form);
  form.submit();
}

const table = document.getElementById("ticket-table");
if (table) {
  const rows = () => [...table.querySelectorAll("tbody tr[data-ticket-url]")];
  let current = -1;
  const select = (index) => {
    const all = rows();
    if (!all.length) return;
    current = Math.max(0, Math.min(index, all.length - 1));
    all.forEach((row, i) => row.classList.toggle("is-current", i === current));
    all[current].querySelector(".ref a").focus({ preventScroll: true });
    all[current].scrollIntoView({ block: "nearest" });
  };
  const currentRow = () => rows()[current];
  const updateCount = () => {
    const count = table.querySelectorAll("tbody input[name=ticket]:checked").length;
    document.getElementById("bulk-count").textContent = count;
    document.getElementById("bulk").classList.toggle("has-selection", count > 0);
  };
  table.addEventListener("change", (event) => {
    if (event.target.matches("[data-select-all]")) {
      for (const box of table.querySelectorAll("tbody input[name=ticket]")) {
        box.checked = event.target.checked;
      }
    }
    updateCount();
  });
  table.addEventListener("focusin", (event) => {
    const row = event.target.closest("tbody tr");
    if (row) {
      current = rows().indexOf(row);
      rows().forEach((r) => r.classList.toggle("is-current", r === row));
    }
  });
  const dialog = document.getElementById("shortcuts");
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) return;
    const row = currentRow();
    switch (event.key) {
      case "j": select(current + 1); break;
      case "k": select(current - 1); break;
      case "Enter": if (row) window.location.href = row.dataset.ticketUrl; else return; break;
      case "x": if (row) { const box = row.querySelector("input[name=ticket]"); box.checked = !box.checked; updateCount(); } break;
      case "a": if (row) postForm(row.dataset.assignUrl, { next: window.location.pathname + window.location.search }); break;
      case "n": document.querySelector(".next-ticket").requestSubmit(); break;
      case "/": document.getElementById("search").focus(); break;
      case "?": dialog.showModal(); break;
      default: return;
    }
    event.preventDefault();
  });
  // Filters apply on change; the Apply button stays for keyboard users and no-JS.
  const filters = document.getElementById("filters");
  filters.addEventListener("change", (event) => {
    if (event.target.matches("select, input[type=checkbox]")) filters.requestSubmit();
  });
  updateCount();
}

// ---- Ticket page: canned responses, and telling others that we are typing ----
window.bridgedesk = window.bridgedesk || {};
const replyBody = document.querySelector("#reply textarea[name=body]");
let lastKeystroke = 0;
if (replyBody) {
  replyBody.addEventListener("input", () => { lastKeystroke = Date.now(); });
  const cannedData = document.getElementById("canned-responses");
  const cannedPicker = document.querySelector("[data-canned]");
  if (cannedData && cannedPicker) {
    const responses = JSON.parse(cannedData.textContent);
    cannedPicker.addEventListener("change", () => {
      const response = responses[Number(cannedPicker.value)];
      if (!response) return;
      // Insert at the cursor, keeping whatever the agent already wrote.
      const { selectionStart: start, selectionEnd: end, value } = replyBody;
      replyBody.value = value.slice(0, start) + response.body + value.slice(end);
      replyBody.focus();
      replyBody.selectionStart = replyBody.selectionEnd = start + response.body.length;
      cannedPicker.value = "";
      lastKeystroke = Date.now();
    });
  }
  document.addEventListener("keydown", (event) => {
    if (event.key === "r" && !isTyping(event.target) && !event.ctrlKey && !event.metaKey) {
      replyBody.focus();
      event.preventDefault();
    }
  });
}
window.bridgedesk.typing = () => (Date.now() - lastKeystroke < 8000 ? "1" : "0");
