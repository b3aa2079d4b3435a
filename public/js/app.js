// Progressive enhancement only: every page works without this file.
document.addEventListener("DOMContentLoaded", () => {
  // Move focus to the error summary so screen readers announce the problems.
  const summary = document.getElementById("error-summary");
  if (summary) summary.focus();
  // Ask before actions marked as needing confirmation (withdraw, close, disable).
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.getAttribute("data-confirm")))
        event.preventDefault();
    });
  }
});
