// Small behaviours shared by every page. No build step: plain modern JavaScript.
document.addEventListener("htmx:responseError", (event) => {
  // Keep what the user typed and tell them why the server said no.
  const status = event.detail.xhr.status;
  const message = status === 409
    ? "Someone else changed this meanwhile. Your text is kept; reload to see their change."
    : `The server answered ${status}. Nothing was lost; please try again.`;
  window.alert(message);
});
