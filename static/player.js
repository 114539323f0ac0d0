// The player. Without this script every track plays through the browser's own controls; with
// it, one player bar at the bottom of the window owns the page's only <audio> element (nav.js
// keeps it across pages), each track gets a play button, "Play next", "Add to queue" and its
// waveform as the one seek control, the queue (queue.js) plays on, and the Media Session API
// gives lock screens, headsets and media keys the same controls.
"use strict";

(() => {
  const R = (window.Ragtime = window.Ragtime || {});
  const queue = R.queue;
  const STEP = 5; // seconds an arrow key moves the waveform slider

  const clock = (seconds) => {
    if (!Number.isFinite(seconds) || seconds < 0) seconds = 0;
    const s = Math.floor(seconds);
    const mm = String(Math.floor(s / 60) % 60).padStart(s >= 3600 ? 2 : 1, "0");
    const ss = String(s % 60).padStart(2, "0");
    return (s >= 3600 ? Math.floor(s / 3600) + ":" : "") + mm + ":" + ss;
  };
  const el = (tag, props = {}, ...children) => {
    const e = Object.assign(document.createElement(tag), props);
    e.append(...children);
    return e;
  };
  const icon = (d) => {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", d);
    svg.append(path);
    return svg;
  };
  const PLAY = "M8 5v14l11-7z";
  const PAUSE = "M6 5h4v14H6zm8 0h4v14h-4z";

  // The bar, built once and kept by nav.js across pages (data-persist).
  const audio = el("audio", { preload: "none" });
  const main = el("button", { type: "button", className: "bar-main" });
  const prev = el("button", { type: "button", className: "bar-prev" }, icon("M6 5h2v14H6zm3.5 7L19 5v14z"));
  prev.setAttribute("aria-label", "Previous track");
  const next = el("button", { type: "button", className: "bar-next" }, icon("M16 5h2v14h-2zM5 5l9.5 7L5 19z"));
  next.setAttribute("aria-label", "Next track");
  const title = el("a", { className: "bar-title" });
  const artist = el("span", { className: "bar-artist" });
  const status = el("p", { className: "bar-status" });
  status.setAttribute("role", "status");
  const notice = el("p", { className: "visually-hidden" }); // what the queue buttons did
  notice.setAttribute("role", "status");
  const clockText = el("span", { className: "bar-clock" });
  const done = el("div", { className: "bar-done" });
  const progress = el("div", { className: "bar-progress" }, done);
  progress.setAttribute("aria-hidden", "true");
  const count = el("span", { className: "bar-count" });
  const queueToggle = el("button", { type: "button", className: "bar-queue" }, "Queue ", count);
  queueToggle.setAttribute("aria-expanded", "false");
  queueToggle.setAttribute("aria-controls", "queue-panel");
  const keysButton = el("button", { type: "button", className: "bar-keys", textContent: "?" });
  keysButton.setAttribute("aria-label", "Keyboard shortcuts");
  const panel = el(
    "div",
    { id: "queue-panel", className: "queue-panel", hidden: true },
    el("h2", { className: "queue-heading", textContent: "Queue" }),
    el("p", { className: "queue-empty muted", textContent: "Nothing queued. Play a track, or add one with “Add to queue”." }),
    el("ol", { className: "queue-list" }),
  );
  const bar = el(
    "section",
    { id: "player", className: "player-bar", hidden: true },
    panel,
    progress,
    el(
      "div",
      { className: "bar-inner" },
      el("div", { className: "bar-buttons" }, prev, main, next),
      el("p", { className: "bar-now" }, title, artist),
      status,
      clockText,
      queueToggle,
      keysButton,
    ),
    notice,
    audio,
  );
  bar.setAttribute("aria-label", "Player");
  bar.dataset.persist = "";

  let loaded = null; // the src in the <audio>, as the page wrote it ("/audio/…")
  let restoreTo = 0; // a saved position to seek to once the track's metadata is in
  let startAt; // where a track started from its waveform begins
  let intent = false; // play what the queue moves to
  let failed = null; // the message for a track that cannot be played
  let loadingState = false;
  let savedAt = 0;

  const item = () => queue.current;
  const length = () => (Number.isFinite(audio.duration) ? audio.duration : (item()?.ms || 0) / 1000);
  const playing = () => !audio.paused && !audio.ended;
  // Before a restored track has loaded, its saved position.
  const now = () => (audio.readyState === 0 && restoreTo > 0 ? restoreTo : audio.currentTime);

  function load(it) {
    loaded = it ? it.src : null;
    failed = null;
    setLoading(false);
    restoreTo = it ? (startAt ?? queue.time) : 0;
    startAt = undefined;
    // The track's id goes with its audio, for static/plays.js (a queue saved before ids has none).
    if (it && it.id) audio.dataset.trackId = it.id;
    else delete audio.dataset.trackId;
    if (it) audio.src = it.src;
    else {
      audio.removeAttribute("src");
      audio.load(); // stops what was playing
    }
    metadata();
  }
  function play() {
    if (!item()) return;
    if (loaded !== item().src) load(item());
    failed = null;
    audio.play().catch(() => {});
  }
  const pause = () => audio.pause();
  const toggle = () => (playing() ? pause() : play());
  const seekTo = (seconds) => {
    const total = length();
    if (!(total > 0)) return;
    const to = Math.min(Math.max(seconds, 0), total);
    // Not loaded yet (a restored queue): seek once the metadata is in.
    if (audio.readyState === 0) restoreTo = to;
    else audio.currentTime = to;
    queue.keepTime(to);
    show();
  };
  const seekBy = (seconds) => seekTo(now() + seconds);
  const goNext = async () => {
    intent = playing() || audio.ended || intent;
    if (!(await queue.forward())) intent = false;
  };
  // Previous: the start of this track if it has played a while, else the track before (which
  // plays if this one was playing: see the queue's change below).
  const goPrev = () => {
    if (now() > 3 || !queue.back()) seekTo(0);
  };
  R.player = { audio, toggle, play, pause, seekBy, next: goNext, prev: goPrev };

  function setLoading(on) {
    loadingState = on;
    show();
  }

  // Everything on screen that shows the player's state: the bar and every card of the current track.
  function show() {
    const it = item();
    bar.hidden = !it;
    document.body.classList.toggle("has-player", !!it);
    const on = playing();
    if (main.dataset.on !== String(on)) main.replaceChildren(icon(on ? PAUSE : PLAY));
    main.dataset.on = String(on);
    main.setAttribute("aria-label", on ? "Pause" : "Play");
    prev.disabled = !it;
    next.disabled = !queue.hasNext;
    const total = length();
    if (it) {
      title.textContent = it.title;
      title.href = it.href;
      artist.textContent = it.artist;
      clockText.textContent = clock(now()) + " / " + clock(total);
      done.style.width = total > 0 ? (100 * now()) / total + "%" : "0";
    }
    count.textContent = `(${queue.items.length})`;
    bar.classList.toggle("loading", loadingState && !failed);
    const message = failed || (loadingState ? "Loading…" : "");
    if (status.textContent !== message) status.textContent = message;
    bar.classList.toggle("failed", !!failed);
    for (const track of document.querySelectorAll(".track[data-src]")) showTrack(track, !!it && track.dataset.src === it.src);
  }
  function showTrack(track, current) {
    const name = track.querySelector(".track-title")?.textContent.trim() || "track";
    const on = current && playing();
    const button = track.querySelector(".player-toggle");
    if (button.dataset.on !== String(on)) button.replaceChildren(icon(on ? PAUSE : PLAY));
    button.dataset.on = String(on);
    button.setAttribute("aria-label", (on ? "Pause " : "Play ") + name);
    button.setAttribute("aria-pressed", String(on));
    track.classList.toggle("playing", on);
    track.classList.toggle("current", !!current);
    track.classList.toggle("loading", !!current && loadingState && !failed);
    const total = current ? length() : Number(track.dataset.durationMs) / 1000;
    const at = current ? now() : 0;
    const slider = track.querySelector(".waveform-box");
    slider.setAttribute("aria-valuemax", String(Math.round(total)));
    slider.setAttribute("aria-valuenow", String(Math.round(at)));
    slider.setAttribute("aria-valuetext", clock(at) + " of " + clock(total));
    slider.querySelector(".waveform-played").style.width = total > 0 ? (100 * at) / total + "%" : "0";
    track.querySelector(".player-time").textContent = clock(at) + " / " + clock(total);
  }

  // A track of the page: start it (its list becomes the queue), or seek in it.
  function start(track, at) {
    const it = queue.itemOf(track);
    if (item()?.src === it.src) {
      if (at === undefined) return toggle();
      seekTo(at);
      return play();
    }
    intent = true;
    startAt = at;
    queue.startFrom(track); // the queue's change loads and plays it
  }

  // Per track: the <audio> goes (the bar has the only one); a toggle, the queue buttons, and
  // the waveform as a slider take its place.
  function enhance() {
    for (const track of document.querySelectorAll(".track:not([data-src])")) {
      const own = track.querySelector("audio");
      if (!own) continue;
      track.dataset.src = own.getAttribute("src");
      if (own.dataset.trackId) track.dataset.trackId = own.dataset.trackId;
      own.remove();
      const name = track.querySelector(".track-title")?.textContent.trim() || "track";
      const toggleButton = el("button", { type: "button", className: "player-toggle" });
      track.querySelector(".track-head")?.prepend(toggleButton);
      let wave = track.querySelector(".waveform-box");
      if (!wave) {
        wave = el("div", { className: "waveform-box waveform-none" }, el("div", { className: "waveform-played" }));
        track.querySelector(".track-head").after(wave);
      }
      wave.setAttribute("role", "slider");
      wave.tabIndex = 0;
      wave.setAttribute("aria-label", "Position in " + name);
      wave.setAttribute("aria-valuemin", "0");
      const later = el("button", { type: "button", className: "track-later", textContent: "Play next" });
      later.setAttribute("aria-label", `Play next: ${name}`);
      const add = el("button", { type: "button", className: "track-add", textContent: "Add to queue" });
      add.setAttribute("aria-label", `Add to queue: ${name}`);
      wave.after(el("div", { className: "track-controls" }, el("span", { className: "player-time" }), later, add));

      toggleButton.addEventListener("click", () => start(track));
      later.addEventListener("click", () => { queue.playNext(track); announce(`${name} plays next`); });
      add.addEventListener("click", () => { queue.add(track); announce(`${name} added to the queue`); });
      const total = () => Number(wave.getAttribute("aria-valuemax")) || 0;
      wave.addEventListener("click", (event) => {
        const box = wave.getBoundingClientRect();
        if (box.width > 0) start(track, ((event.clientX - box.left) / box.width) * total());
      });
      wave.addEventListener("keydown", (event) => {
        const now = Number(wave.getAttribute("aria-valuenow")) || 0;
        const to = {
          ArrowLeft: now - STEP, ArrowDown: now - STEP, ArrowRight: now + STEP, ArrowUp: now + STEP,
          PageDown: now - 30, PageUp: now + 30, Home: 0, End: Math.max(total() - 1, 0),
        }[event.key];
        if (to === undefined || event.altKey || event.ctrlKey || event.metaKey) return;
        event.preventDefault();
        if (item()?.src === track.dataset.src) seekTo(to);
        else start(track, Math.max(to, 0));
      });
    }
    show();
  }
  const announce = (text) => {
    notice.textContent = text;
    setTimeout(() => { if (notice.textContent === text) notice.textContent = ""; }, 3000);
  };

  // Media Session: lock screens, headsets and media keys.
  const session = navigator.mediaSession;
  function metadata() {
    const it = item();
    if (!session || !window.MediaMetadata) return;
    session.metadata = it
      ? new MediaMetadata({
          title: it.title,
          artist: it.artist,
          album: it.release,
          artwork: it.art ? [{ src: new URL(it.art, location.href).href, sizes: "256x256" }] : [],
        })
      : null;
  }
  if (session) {
    const actions = {
      play, pause,
      previoustrack: goPrev,
      nexttrack: goNext,
      seekbackward: (d) => seekBy(-(d.seekOffset || 10)),
      seekforward: (d) => seekBy(d.seekOffset || 10),
      seekto: (d) => seekTo(d.seekTime),
    };
    for (const [name, handler] of Object.entries(actions)) {
      try { session.setActionHandler(name, handler); } catch {} // an action this browser lacks
    }
  }
  const position = () => {
    const total = length();
    if (session?.setPositionState && Number.isFinite(audio.duration) && total > 0) {
      try {
        session.setPositionState({ duration: total, position: Math.min(audio.currentTime, total), playbackRate: audio.playbackRate });
      } catch {}
    }
  };

  // The audio's own events: loading, errors, the end of a track.
  audio.addEventListener("loadedmetadata", () => {
    if (restoreTo > 0 && restoreTo < audio.duration) audio.currentTime = restoreTo;
    restoreTo = 0;
    position();
    show();
  });
  for (const name of ["waiting", "stalled"]) {
    audio.addEventListener(name, () => { if (!audio.paused && audio.readyState < 3) setLoading(true); });
  }
  audio.addEventListener("play", () => {
    if (audio.readyState < 3) setLoading(true);
    if (session) session.playbackState = "playing";
    if (!(queue.index + 1 < queue.items.length)) queue.more(); // the list's next page, ahead of time
    show();
  });
  for (const name of ["playing", "canplay"]) audio.addEventListener(name, () => setLoading(false));
  audio.addEventListener("pause", () => {
    if (session) session.playbackState = "paused";
    queue.keepTime(audio.currentTime);
    show();
  });
  audio.addEventListener("timeupdate", () => {
    if (Date.now() - savedAt > 2000) {
      savedAt = Date.now();
      queue.keepTime(audio.currentTime);
      position();
    }
    show();
  });
  audio.addEventListener("error", () => {
    if (!audio.getAttribute("src")) return;
    const why = {
      2: "the network failed while loading it",
      3: "its file is damaged",
      4: "this browser cannot play its format, or the file is missing",
    }[audio.error?.code] || "it could not be loaded";
    failed = `Cannot play “${item()?.title || "this track"}”: ${why}.`;
    setLoading(false);
  });
  audio.addEventListener("ended", () => {
    queue.keepTime(0);
    goNext();
  });
  // The queue changed (a new list, a jump, a removal): load what is current now.
  document.addEventListener("ragtime:queue", () => {
    const it = item();
    if ((it?.src || null) !== loaded) {
      const was = playing() || intent;
      load(it);
      if (it && was) play();
      intent = false;
    }
    if (!panel.hidden) queue.render(panel);
    show();
  });

  main.addEventListener("click", toggle);
  prev.addEventListener("click", goPrev);
  next.addEventListener("click", goNext);
  queueToggle.addEventListener("click", () => {
    const open = panel.hidden;
    panel.hidden = !open;
    queueToggle.setAttribute("aria-expanded", String(open));
    if (open) queue.render(panel);
  });
  panel.addEventListener("click", (event) => {
    const b = event.target.closest("button[data-action]");
    if (!b) return;
    const i = Array.prototype.indexOf.call(panel.querySelector("ol").children, b.closest("li"));
    const action = b.dataset.action;
    if (action === "play") {
      if (i === queue.index) return play();
      intent = true;
      queue.jump(i);
    } else if (action === "up") queue.move(i, -1);
    else if (action === "down") queue.move(i, 1);
    else queue.remove(i);
    // The focus follows the track it acted on (or, once removed, the one now in its place).
    const rows = panel.querySelector("ol").children;
    const row = rows[action === "up" ? i - 1 : action === "down" ? i + 1 : Math.min(i, rows.length - 1)];
    const again = row?.querySelector(`[data-action=${action}]:not(:disabled)`) ||
      row?.querySelector(`[data-action=${action === "up" ? "down" : "up"}]:not(:disabled)`) || row?.querySelector("[data-action=play]");
    (again || queueToggle).focus();
  });
  keysButton.addEventListener("click", () => R.keys?.open());
  window.addEventListener("pagehide", () => { if (loaded) queue.keepTime(audio.currentTime); });

  const boot = () => {
    if (!bar.isConnected) document.body.append(bar);
    if (item() && loaded === null) load(item()); // a reload: the queue is back, paused
    enhance();
  };
  document.addEventListener("DOMContentLoaded", boot);
  document.addEventListener("ragtime:page", enhance);
})();
