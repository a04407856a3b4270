// Small behaviours shared by every page. No build step: plain modern JavaScript.
// Loaded with `defer`, so the document is parsed when this runs.

// A form may name the field that should have the cursor, e.g. the password after a failed
// log-in (the username is kept, the password is what needs typing again). Without
// JavaScript the field's own autofocus still applies.
for (const form of document.querySelectorAll("form[data-focus]")) {
  const field = document.getElementById(form.dataset.focus);
  if (field) field.focus();
}

document.addEventListener("htmx:responseError", (event) => {
  // Keep what the user typed and tell them why the server said no.
  const status = event.detail.xhr.status;
  const message = status === 409
    ? "Someone else changed this meanwhile. Your text is kept; reload to see their change."
    : `The server answered ${status}. Nothing was lost; please try again.`;
  window.alert(message);
});
