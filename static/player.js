// The audio player. Without this script every track still plays through the browser's own
// controls; with it, each track gets a play button, its time, a seek slider and a clickable
// waveform, only one track plays at a time across the page, and a track list plays on to the
// next track when one ends.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const clock = (seconds) => {
    if (!Number.isFinite(seconds) || seconds < 0) seconds = 0;
    const s = Math.floor(seconds);
    const mm = String(Math.floor(s / 60) % 60).padStart(s >= 3600 ? 2 : 1, "0");
    const ss = String(s % 60).padStart(2, "0");
    return (s >= 3600 ? Math.floor(s / 3600) + ":" : "") + mm + ":" + ss;
  };
  const everyAudio = Array.from(document.querySelectorAll(".track audio"));

  for (const audio of everyAudio) {
    const track = audio.closest(".track");
    const title = track.querySelector(".track-title")?.textContent.trim() || "track";
    const known = Number(track.dataset.durationMs) / 1000;
    const length = () => (Number.isFinite(audio.duration) ? audio.duration : known);

    const controls = document.createElement("div");
    controls.className = "player";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "player-toggle";
    const seek = document.createElement("input");
    seek.type = "range";
    seek.min = "0";
    seek.max = "1000";
    seek.step = "1";
    seek.value = "0";
    seek.className = "player-seek";
    seek.setAttribute("aria-label", "Position in " + title);
    const time = document.createElement("span");
    time.className = "player-time";
    controls.append(button, seek, time);
    audio.after(controls);
    audio.controls = false;

    const show = () => {
      const playing = !audio.paused && !audio.ended;
      button.textContent = playing ? "❚❚" : "▶";
      button.setAttribute("aria-label", (playing ? "Pause " : "Play ") + title);
      button.setAttribute("aria-pressed", String(playing));
      const total = length();
      if (document.activeElement !== seek && total > 0) {
        seek.value = String(Math.round((audio.currentTime / total) * 1000));
      }
      seek.setAttribute("aria-valuetext", clock(audio.currentTime) + " of " + clock(total));
      time.textContent = clock(audio.currentTime) + " / " + clock(total);
      const played = track.querySelector(".waveform-played");
      if (played && total > 0) played.style.width = (100 * audio.currentTime / total) + "%";
      track.classList.toggle("playing", playing);
    };
    const jump = (fraction) => {
      const total = length();
      if (total > 0) audio.currentTime = Math.min(Math.max(fraction, 0), 1) * total;
      show();
    };

    button.addEventListener("click", () => {
      if (audio.paused) audio.play().catch(() => {}); else audio.pause();
    });
    seek.addEventListener("input", () => jump(Number(seek.value) / 1000));
    const wave = track.querySelector(".waveform");
    if (wave) {
      wave.addEventListener("click", (event) => {
        const box = wave.getBoundingClientRect();
        if (box.width > 0) jump((event.clientX - box.left) / box.width);
      });
    }
    for (const name of ["play", "pause", "timeupdate", "loadedmetadata", "ended", "seeked"]) {
      audio.addEventListener(name, show);
    }
    // One track at a time, across the whole page.
    audio.addEventListener("play", () => {
      for (const other of everyAudio) if (other !== audio && !other.paused) other.pause();
    });
    // A track list plays on: the next track of the same list starts when one ends.
    audio.addEventListener("ended", () => {
      const list = track.closest(".tracklist");
      const next = track.nextElementSibling?.querySelector("audio");
      if (list && next) next.play().catch(() => {});
    });
    show();
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
        const landed = request.status < 400 && request.responseURL;
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
});
