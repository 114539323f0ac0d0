// Ragtime's own script. The site works without it; it only adds comforts.
"use strict";

document.documentElement.classList.add("js");

// Run on the first page and again on each page nav.js shows without a reload.
function eachPage() {
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

  // Uploads: large files take a while, so show how far along they are. Without this script
  // the form posts as usual.
  for (const form of document.querySelectorAll("form[data-upload]")) {
    const bar = form.querySelector("progress");
    form.addEventListener("submit", (event) => {
      const files = form.querySelector("input[type=file]");
      if (!files || files.files.length === 0 || typeof XMLHttpRequest === "undefined") return;
      event.preventDefault();
      const request = new XMLHttpRequest();
      request.open("POST", form.action);
      if (bar) {
        bar.hidden = false;
        bar.value = 0;
        request.upload.addEventListener("progress", (e) => {
          if (e.lengthComputable) bar.value = e.loaded / e.total;
        });
      }
      for (const b of form.querySelectorAll("button")) b.disabled = true;
      request.addEventListener("load", () => {
        // Success redirects and the request followed it; a refusal (4xx) came back as a page
        // saying why. Either way, show the page that came back: loading the redirect's target
        // again would lose its one-time message ("Your composition has been published.").
        // nav.js shows it in place, so the music goes on; else it replaces the document.
        const landed = request.status < 400 && request.responseURL;
        if (window.Ragtime?.showHtml?.(request.responseText, landed || form.action)) return;
        document.open();
        document.write(request.responseText);
        document.close();
        if (landed) window.history.replaceState(null, "", request.responseURL);
      });
      request.addEventListener("error", () => {
        for (const b of form.querySelectorAll("button")) b.disabled = false;
        if (bar) bar.hidden = true;
        window.alert("The upload failed; please try again.");
      });
      request.send(new FormData(form));
    });
  }
}

document.addEventListener("DOMContentLoaded", eachPage);
document.addEventListener("ragtime:page", eachPage);
