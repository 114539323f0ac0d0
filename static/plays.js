// Play counting, apart from the player: it listens on the document (capture phase, since
// media events do not bubble) to every <audio> that names its track in `data-track-id`, and
// tells the server when a track starts and once 30 s of it (or all of a shorter one) have been
// heard. The server checks both against the track's real length and its own clock, and counts
// one play per listener, track and hour. An <audio> without `data-track-id` is left alone.
"use strict";

(() => {
  const NEEDED_MS = 30000;
  // Per audio element: the track it is playing, its start token, what has been heard of it.
  const listens = new WeakMap();
  let csrfToken = "";

  // Any token of this session will do; keep the last one seen, as pages come and go.
  const csrf = () => {
    const found = document.querySelector("meta[name=csrf-token]")?.content
      || document.querySelector("[data-csrf-token]")?.dataset.csrfToken
      || document.querySelector("input[name=csrf_token]")?.value;
    if (found) csrfToken = found;
    return csrfToken;
  };

  const post = (url, fields) => fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: {
      "Accept": "application/json",
      "Content-Type": "application/x-www-form-urlencoded",
      "X-CSRFToken": csrf(),
    },
    body: new URLSearchParams(fields),
  });

  const trackOf = (target) => {
    if (!(target instanceof HTMLAudioElement)) return null;
    const id = target.dataset.trackId;
    return id && /^[0-9]+$/.test(id) ? id : null;
  };

  const begin = (audio, track) => {
    const listen = { track, token: null, heardMs: 0, lastTime: audio.currentTime, reported: false, needed: NEEDED_MS };
    listens.set(audio, listen);
    post(`/tracks/${track}/play`, {})
      .then((res) => (res.ok ? res.json() : null))
      .then((body) => {
        if (body && listens.get(audio) === listen) {
          listen.token = body.token;
          if (Number.isFinite(body.needed_ms)) listen.needed = body.needed_ms;
          check(audio, listen);
        }
      })
      .catch(() => {});
    return listen;
  };

  const check = (audio, listen) => {
    // A little slack, less than the server's, for the last timeupdate before the end.
    const slack = Math.min(1000, listen.needed / 20);
    if (listen.reported || !listen.token || listen.heardMs < listen.needed - slack) return;
    listen.reported = true;
    post(`/tracks/${listen.track}/heard`, { token: listen.token, heard_ms: String(Math.round(listen.heardMs)) })
      .then((res) => {
        // Too early by the server's clock (a seek, a stall): try again a little later.
        if (res.status === 422) {
          listen.reported = false;
          listen.needed += 2000;
        }
      })
      .catch(() => { listen.reported = false; });
  };

  document.addEventListener("play", (event) => {
    const audio = event.target;
    const track = trackOf(audio);
    if (!track) return;
    const listen = listens.get(audio);
    // A new track in the same element (a persistent player), or the same one from the top.
    if (!listen || listen.track !== track || (listen.reported && audio.currentTime < 1)) {
      begin(audio, track);
    } else {
      listen.lastTime = audio.currentTime;
    }
  }, true);

  // Heard time grows with playback only: a seek forward is not listening.
  document.addEventListener("timeupdate", (event) => {
    const audio = event.target;
    const track = trackOf(audio);
    const listen = track && listens.get(audio);
    if (!listen) return;
    if (listen.track !== track) { begin(audio, track); return; }
    const step = audio.currentTime - listen.lastTime;
    listen.lastTime = audio.currentTime;
    // (The last timeupdate of a track may come once it is already paused at its end.)
    if ((!audio.paused || audio.ended) && !audio.seeking && step > 0 && step < 2) listen.heardMs += step * 1000;
    check(audio, listen);
  }, true);

  document.addEventListener("seeked", (event) => {
    const listen = listens.get(event.target);
    if (listen) listen.lastTime = event.target.currentTime;
  }, true);

  // A short track heard to its end counts, whatever the last timeupdate said.
  document.addEventListener("ended", (event) => {
    const audio = event.target;
    const listen = trackOf(audio) && listens.get(audio);
    if (!listen) return;
    const step = audio.currentTime - listen.lastTime;
    if (step > 0 && step < 2) listen.heardMs += step * 1000;
    listen.lastTime = audio.currentTime;
    check(audio, listen);
  }, true);
})();
