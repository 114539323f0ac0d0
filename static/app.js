// Ragtime's own script. The site works without it; it only adds comforts.
"use strict";

document.documentElement.classList.add("js");

document.addEventListener("DOMContentLoaded", () => {
  // Collapsible navigation on narrow screens.
  const toggle = document.querySelector(".nav-toggle");
  const menu = document.getElementById("nav-menu");
  if (toggle && menu) {
    toggle.addEventListener("click", () => {
      const open = toggle.getAttribute("aria-expanded") === "true";
      toggle.setAttribute("aria-expanded", String(!open));
      menu.classList.toggle("open", !open);
    });
  }

  // Times in the reader's own time zone: "3 hours ago", the exact local date on hover. The
  // server writes UTC, so the page reads fine without this script.
  const units = [
    ["year", 31536000], ["month", 2592000], ["week", 604800],
    ["day", 86400], ["hour", 3600], ["minute", 60],
  ];
  const relative = typeof Intl !== "undefined" && Intl.RelativeTimeFormat
    ? new Intl.RelativeTimeFormat(undefined, { numeric: "auto" })
    : null;
  for (const el of document.querySelectorAll("time[data-relative]")) {
    const when = new Date(el.getAttribute("datetime"));
    if (Number.isNaN(when.getTime())) continue;
    el.title = when.toLocaleString();
    if (!relative) continue;
    const seconds = (when.getTime() - Date.now()) / 1000;
    const unit = units.find(([, size]) => Math.abs(seconds) >= size);
    el.textContent = unit
      ? relative.format(Math.round(seconds / unit[1]), unit[0])
      : relative.format(0, "second");
  }
});
