// Folded descriptions on the cards of a feed. The stylesheet folds a long description to three
// lines and the server puts a "Show more" link under it, to the whole text on the composition's
// page: that is how it works without this script. With it, "Show more" becomes a button that
// unfolds the text in place (and "Show less" folds it again), and a description that fits in
// its three lines after all (on a wide screen) is not folded.
"use strict";

(() => {
  const label = (button, open) => {
    button.firstChild.textContent = open ? "Show less" : "Show more";
    button.setAttribute("aria-expanded", String(open));
  };

  const enhance = (root) => {
    for (const link of root.querySelectorAll("a.show-more[data-fold]")) {
      const prose = document.getElementById(link.dataset.fold);
      if (!prose) continue;
      const line = link.closest(".show-more-line") || link;
      if (prose.scrollHeight <= prose.clientHeight + 1) {
        prose.classList.remove("folded");
        line.remove();
        continue;
      }
      const button = document.createElement("button");
      button.type = "button";
      button.className = "show-more link-like";
      button.dataset.fold = link.dataset.fold;
      button.setAttribute("aria-controls", link.dataset.fold);
      button.append(...link.childNodes);
      label(button, false);
      link.replaceWith(button);
    }
  };

  document.addEventListener("click", (event) => {
    const button = event.target.closest?.("button.show-more[data-fold]");
    if (!button) return;
    const prose = document.getElementById(button.dataset.fold);
    if (!prose) return;
    const open = prose.classList.toggle("folded") === false;
    label(button, open);
    // Folded again: keep the card in sight rather than the text below it.
    if (!open && prose.getBoundingClientRect().top < 0) prose.scrollIntoView({ block: "nearest" });
  });

  const start = () => {
    enhance(document);
    // Pages whose content is replaced in place (the player's navigation) get the same.
    new MutationObserver((changes) => {
      for (const change of changes) {
        for (const node of change.addedNodes) if (node.nodeType === 1) enhance(node.parentNode || node);
      }
    }).observe(document.body, { childList: true, subtree: true });
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
