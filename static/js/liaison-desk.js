// The bridge on the agents' pages: the answer card's "Insert answer" (with the promise it
// records), and htmx niceties for the bulletins and "ask the project". Plain JavaScript,
// no build step. Loaded with `defer` by the fragments that need it, maybe twice: the
// guard keeps one set of listeners.
(() => {
  if (window.bridgedeskDesk) return;
  window.bridgedeskDesk = true;

  const replyForm = () => document.getElementById("reply");

  function showPromise(label) {
    const form = replyForm();
    if (!form) return;
    const note = form.querySelector("[data-promise-note]");
    const field = form.querySelector("[data-promise-field]");
    if (!note || !field) return;
    note.hidden = !field.value;
    note.querySelector("[data-promise-text]").textContent = field.value
      ? `Sending this public reply records a promise: ${label || "the date from the answer card"}.`
      : "";
  }

  // "Insert answer": the answer at the cursor of the reply box, the reply set to public,
  // and the signed promise (milestone and date) put in the form's hidden field.
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-insert-answer]");
    if (button) {
      const form = replyForm();
      if (!form) return;
      const body = form.querySelector("textarea[name=body]");
      const publicChoice = form.querySelector("input[name=public][value='1']");
      if (publicChoice) {
        publicChoice.checked = true;
        publicChoice.dispatchEvent(new Event("change", { bubbles: true }));
      }
      const answer = button.dataset.answer || "";
      const { selectionStart: start, selectionEnd: end, value } = body;
      const before = value.slice(0, start);
      const glue = before && !before.endsWith("\n") ? "\n\n" : "";
      body.value = before + glue + answer + value.slice(end);
      body.focus();
      body.selectionStart = body.selectionEnd = before.length + glue.length + answer.length;
      body.dispatchEvent(new Event("input", { bubbles: true }));
      const field = form.querySelector("[data-promise-field]");
      if (field && button.dataset.promise) {
        field.value = button.dataset.promise;
        showPromise(button.dataset.promiseLabel);
      }
      return;
    }
    if (event.target.closest("[data-promise-clear]")) {
      const field = replyForm()?.querySelector("[data-promise-field]");
      if (field) field.value = "";
      showPromise("");
    }
  });

  // A reply form back from the server with a promise still in it says so.
  const kept = replyForm()?.querySelector("[data-promise-field]");
  if (kept && kept.value) {
    const source = document.querySelector(`[data-insert-answer][data-promise="${CSS.escape(kept.value)}"]`);
    showPromise(source ? source.dataset.promiseLabel : "");
  }

  // "Ask the project" answered 400: show the form with its errors in place (and what was
  // typed) instead of the generic alert.
  document.addEventListener("htmx:beforeSwap", (event) => {
    const target = event.detail.target;
    if (event.detail.xhr.status === 400 && target && target.matches("[data-desk-swap-errors]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
    // Bulletins redrawn after a change keep the "what to tell callers" the agent opened.
    if (target && target.id === "bulletins") {
      window.bridgedeskOpenBulletins = [...target.querySelectorAll("details[open][data-key]")].map(
        (details) => details.dataset.key,
      );
    }
  });
  document.addEventListener("htmx:afterSettle", (event) => {
    const opened = window.bridgedeskOpenBulletins;
    const bulletins = document.getElementById("bulletins");
    if (!opened || !bulletins) return;
    for (const details of bulletins.querySelectorAll("details[data-key]")) {
      if (opened.includes(details.dataset.key)) details.open = true;
    }
    window.bridgedeskOpenBulletins = null;
  });
})();
