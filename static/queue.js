// The queue: what plays next. Starting a track queues the list it was started from (a release's
// tracks, then the next cards of the feed, a profile, a tag), and further pages of that list are
// read from its "Next »" link as the queue runs out. "Play next" and "Add to queue" put a track
// after the current one (added tracks keep their order, ahead of the list). The queue and the
// position in it are kept in localStorage, so a reload carries on where it was.
"use strict";

(() => {
  const R = (window.Ragtime = window.Ragtime || {});
  const KEY = "ragtime.queue";
  const MAX = 500; // tracks kept; the oldest already played go first
  const LISTS = ".compositions, .results, .tracklist";

  let saved = {};
  try {
    saved = JSON.parse(localStorage.getItem(KEY)) || {};
  } catch {}
  const q = {
    items: Array.isArray(saved.items) ? saved.items.filter((i) => i && typeof i.src === "string") : [],
    index: Number.isInteger(saved.index) ? saved.index : 0,
    next: typeof saved.next === "string" ? saved.next : null, // the list's next page
    time: Number(saved.time) || 0, // position in the current track, for a reload
  };
  if (q.index >= q.items.length) q.index = Math.max(q.items.length - 1, 0);
  let loading = null;

  const save = () => {
    try {
      localStorage.setItem(KEY, JSON.stringify({ items: q.items, index: q.index, next: q.next, time: q.time }));
    } catch {} // private mode or full: the queue still works for this page's life
  };
  const changed = () => {
    while (q.items.length > MAX && q.index > 0) {
      q.items.shift();
      q.index--;
    }
    save();
    document.dispatchEvent(new CustomEvent("ragtime:queue"));
  };

  // What the player needs of a track, read from its card.
  const itemOf = (track) => {
    const card = track.closest(".composition, .result") || track.ownerDocument;
    const link = card.querySelector(".composition-title a, .result-title a");
    const img = card.querySelector("img.avatar");
    const audio = track.querySelector("audio");
    return {
      src: track.dataset.src || audio?.getAttribute("src") || "",
      // For static/plays.js, which counts plays of an <audio> that names its track.
      id: track.dataset.trackId || audio?.dataset.trackId || "",
      title: track.querySelector(".track-title")?.textContent.trim() || "Untitled",
      artist: card.querySelector(".author")?.textContent.trim() || "",
      release: card.querySelector(".composition-title, .result-title")?.textContent.trim() || "",
      href: link ? new URL(link.getAttribute("href"), location.href).pathname : location.pathname,
      art: img ? img.getAttribute("src").replace(/([?&]s=)\d+/, "$1256") : "",
      ms: Number(track.dataset.durationMs) || 0,
    };
  };
  // The outermost list a track belongs to, and that list's next page (the pagination after it).
  const listOf = (track) => {
    let list = track.closest(".tracklist");
    for (let up = list && list.parentElement?.closest(LISTS); up; up = up.parentElement?.closest(LISTS)) list = up;
    return list;
  };
  const nextPage = (list, base) => {
    for (let el = list.nextElementSibling; el; el = el.nextElementSibling) {
      if (el.matches(".pagination")) {
        const a = el.querySelector("a[rel=next]");
        return a ? new URL(a.getAttribute("href"), base).href : null;
      }
    }
    return null;
  };
  const tracksOf = (list) => Array.from(list.querySelectorAll(".track"), itemOf).filter((i) => i.src);

  // Where "Add to queue" goes: after the current track and the tracks added before it.
  const addPoint = () => {
    let at = q.index + 1;
    while (at < q.items.length && q.items[at].added) at++;
    return at;
  };

  R.queue = {
    get items() { return q.items; },
    get index() { return q.index; },
    get current() { return q.items[q.index] || null; },
    get hasNext() { return q.index + 1 < q.items.length || !!q.next; },
    itemOf,
    /** The queue becomes the list `track` is in, from `track` on. */
    startFrom(track) {
      const list = listOf(track);
      const items = list ? tracksOf(list) : [itemOf(track)];
      const src = itemOf(track).src;
      q.items = items;
      q.index = Math.max(items.findIndex((i) => i.src === src), 0);
      q.next = list ? nextPage(list, location.href) : null;
      q.time = 0;
      changed();
    },
    playNext(track) {
      const item = { ...itemOf(track), added: true };
      if (!q.items.length) q.items = [item];
      else q.items.splice(q.index + 1, 0, item);
      changed();
    },
    add(track) {
      const item = { ...itemOf(track), added: true };
      if (!q.items.length) q.items = [item];
      else q.items.splice(addPoint(), 0, item);
      changed();
    },
    move(i, by) {
      const j = i + by;
      if (i < 0 || j < 0 || i >= q.items.length || j >= q.items.length) return;
      const [item] = q.items.splice(i, 1);
      q.items.splice(j, 0, item);
      if (q.index === i) q.index = j;
      else if (q.index === j) q.index = i;
      changed();
    },
    remove(i) {
      if (i < 0 || i >= q.items.length) return;
      q.items.splice(i, 1);
      if (i < q.index) q.index--;
      if (q.index >= q.items.length) q.index = Math.max(q.items.length - 1, 0);
      changed();
    },
    jump(i) {
      if (i < 0 || i >= q.items.length) return;
      q.index = i;
      q.time = 0;
      changed();
    },
    back() {
      if (q.index === 0) return false;
      q.index--;
      q.time = 0;
      changed();
      return true;
    },
    /** Moves to the next track, reading the list's next page first if need be. */
    async forward() {
      if (q.index + 1 >= q.items.length) await this.more();
      if (q.index + 1 >= q.items.length) return false;
      q.index++;
      q.time = 0;
      changed();
      return true;
    },
    /** Appends the list's next page (skipping pages without tracks, at most three). */
    more() {
      if (!q.next) return Promise.resolve();
      if (!loading) {
        loading = (async () => {
          for (let tries = 0; q.next && tries < 3; tries++) {
            const url = q.next;
            const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
            if (!response.ok) break;
            const doc = new DOMParser().parseFromString(await response.text(), "text/html");
            if (q.next !== url) break; // a new queue was started meanwhile
            const tracks = doc.querySelector("main .tracklist");
            const list = tracks ? listOf(tracks) : doc.querySelector("main .compositions, main .results");
            q.next = list ? nextPage(list, response.url) : null;
            const have = new Set(q.items.map((i) => i.src));
            const fresh = list ? tracksOf(list).filter((i) => !have.has(i.src)) : [];
            q.items.push(...fresh);
            changed();
            if (fresh.length) break;
          }
        })()
          .catch(() => {})
          .finally(() => (loading = null));
      }
      return loading;
    },
    /** The position in the current track, saved for a reload. */
    keepTime(seconds) {
      q.time = seconds;
      save();
    },
    get time() { return q.time; },
  };

  // The panel: the queue, each track with buttons to play it, move it and remove it.
  R.queue.render = (panel) => {
    const list = panel.querySelector("ol");
    list.replaceChildren();
    q.items.forEach((item, i) => {
      const li = document.createElement("li");
      li.className = "queue-item";
      li.dataset.src = item.src;
      if (i === q.index) li.setAttribute("aria-current", "true");
      const name = `${item.title}${item.artist ? " by " + item.artist : ""}`;
      const button = (action, text, label, disabled) => {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "queue-" + action;
        b.dataset.action = action;
        b.textContent = text;
        if (label) b.setAttribute("aria-label", label);
        b.disabled = !!disabled;
        li.append(b);
        return b;
      };
      const play = button("play", "");
      const span = (className, text) => Object.assign(document.createElement("span"), { className, textContent: text });
      play.append(span("visually-hidden", "Play "), span("queue-title", item.title));
      if (item.artist) play.append(span("visually-hidden", " by "), span("queue-artist", item.artist));
      button("up", "↑", `Move ${name} up`, i === 0);
      button("down", "↓", `Move ${name} down`, i === q.items.length - 1);
      button("remove", "✕", `Remove ${name} from the queue`);
      list.append(li);
    });
    panel.querySelector(".queue-empty").hidden = q.items.length > 0;
  };
})();
