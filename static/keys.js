// Keyboard shortcuts for the player, and "?" to list them. They never act while you type in a
// field, and Space is left to whatever control has the focus (a button, a link, a slider).
"use strict";

(() => {
  const R = (window.Ragtime = window.Ragtime || {});
  const SHORTCUTS = [
    ["Space or k", "Play or pause"],
    ["j", "Back 10 seconds"],
    ["l", "Forward 10 seconds"],
    ["Shift + N", "Next track"],
    ["Shift + P", "Previous track"],
    ["?", "Show these shortcuts"],
  ];
  let dialog = null;

  function open() {
    if (!dialog) {
      dialog = document.createElement("dialog");
      dialog.className = "keys-dialog";
      dialog.setAttribute("aria-labelledby", "keys-title");
      const heading = Object.assign(document.createElement("h2"), { id: "keys-title", textContent: "Keyboard shortcuts" });
      const list = document.createElement("dl");
      for (const [keys, what] of SHORTCUTS) {
        list.append(Object.assign(document.createElement("dt"), { textContent: keys }), Object.assign(document.createElement("dd"), { textContent: what }));
      }
      const close = Object.assign(document.createElement("button"), { type: "button", className: "button", textContent: "Close" });
      close.addEventListener("click", () => dialog.close());
      dialog.append(heading, list, close);
      dialog.dataset.persist = ""; // nav.js keeps it across pages
      document.body.append(dialog);
    }
    if (!dialog.open) dialog.showModal();
  }
  R.keys = { open };

  const typing = (target) =>
    target instanceof Element && (target.closest("input, textarea, select, [contenteditable]") || target.isContentEditable);
  const hasOwnSpace = (target) =>
    target instanceof Element && target.closest("button, a[href], summary, [role=slider], [role=button], [tabindex]:not([tabindex='-1'])");

  document.addEventListener("keydown", (event) => {
    const player = R.player;
    if (!player || event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (dialog?.open && event.key !== "?") return;
    const actions = {
      k: player.toggle,
      " ": hasOwnSpace(event.target) ? null : player.toggle,
      j: () => player.seekBy(-10),
      l: () => player.seekBy(10),
      N: event.shiftKey ? player.next : null,
      P: event.shiftKey ? player.prev : null,
      "?": open,
    };
    const action = actions[event.key];
    if (!action) return;
    event.preventDefault();
    action();
  });
})();
