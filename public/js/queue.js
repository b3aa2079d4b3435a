// The queue's keyboard, as progressive enhancement (every action also has
// a link, a button or a form): j/k move between reports, o or Enter opens
// one, a assigns it to me, x selects it, / searches, ? lists the shortcuts.
document.addEventListener("DOMContentLoaded", () => {
  const dialog = document.getElementById("shortcuts");
  const opener = document.getElementById("shortcuts-open");
  const search = document.getElementById("queue-search");
  const rows = [...document.querySelectorAll("table.queue-table tr.queue-row")];
  const bulk = document.getElementById("bulk");
  let current = -1;

  const showShortcuts = () => {
    if (dialog && !dialog.open) dialog.showModal();
  };
  if (opener && dialog && typeof dialog.showModal === "function") {
    opener.hidden = false;
    opener.addEventListener("click", showShortcuts);
  }

  const linkOf = (row) => row.querySelector('a[href^="/reports/"]');

  const move = (to) => {
    if (rows.length === 0) return;
    current = Math.max(0, Math.min(rows.length - 1, to));
    rows.forEach((row, i) => {
      row.classList.toggle("current", i === current);
      if (i === current) row.setAttribute("aria-current", "true");
      else row.removeAttribute("aria-current");
    });
    const row = rows[current];
    row.scrollIntoView({ block: "nearest" });
    // The row's link takes the focus: screen readers follow, Enter opens it.
    linkOf(row)?.focus({ preventScroll: true });
  };

  const open = () => {
    const link = current >= 0 && linkOf(rows[current]);
    if (link) window.location.assign(link.href);
  };

  // The same POST as the report page's "Assign to me" button.
  const assignToMe = async () => {
    const link = current >= 0 && linkOf(rows[current]);
    const token = bulk?.querySelector('input[name="_csrf"]')?.value;
    if (!link || !token) return;
    const body = new URLSearchParams({ _csrf: token, assignee: "me" });
    await fetch(`${new URL(link.href).pathname}/assign`, {
      method: "POST",
      body,
      credentials: "same-origin",
      // The flash is for the queue, not for the report page it redirects to.
      redirect: "manual",
    });
    window.location.reload();
  };

  const typing = (target) =>
    target instanceof HTMLElement &&
    (target.isContentEditable ||
      ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target) || dialog?.open) return;
    switch (event.key) {
      case "j":
        move(current + 1);
        break;
      case "k":
        move(current < 0 ? 0 : current - 1);
        break;
      case "o":
        open();
        break;
      case "Enter":
        // On a link or button Enter does its own job.
        if (
          event.target instanceof HTMLElement &&
          event.target.closest("a, button, summary")
        )
          return;
        if (current < 0) return;
        open();
        break;
      case "a":
        if (current < 0) return;
        void assignToMe();
        break;
      case "x": {
        const box =
          current >= 0 && rows[current].querySelector('input[name="ids"]');
        if (box) box.checked = !box.checked;
        break;
      }
      case "/":
        if (!search) return;
        search.focus();
        break;
      case "?":
        showShortcuts();
        break;
      default:
        return;
    }
    event.preventDefault();
  });
});
