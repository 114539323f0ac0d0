// What every browser check shares: a real `ragtime serve` on a free loopback port with a
// temporary SQLite database and media directory (seeded through `ragtime seed`, whose users log
// in with "ragtime-seed"), Debian's Chromium driven by playwright-core (never `playwright
// install`), a log of passed and failed checks, a watchdog that bounds the whole run, and a
// cleanup that ends only what the check started.

import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const bin = process.env.RAGTIME_BIN || join(root, "target/debug/ragtime");
export const PASSWORD = "ragtime-seed";

const started = Date.now();
const elapsed = () => ((Date.now() - started) / 1000).toFixed(1) + " s";
const failures = [];
let server = null;
let browser = null;
let stopping = false;
const tmp = mkdtempSync(join(tmpdir(), "ragtime-browser-"));

export function log(msg) {
  console.log(`[${elapsed()}] ${msg}`);
}

/** Records a check; the run fails at the end if any did. */
export function check(ok, what) {
  if (ok) log(`ok: ${what}`);
  else {
    log(`FAIL: ${what}`);
    failures.push(what);
  }
  return ok;
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

/** `ragtime <args>` against the check's database; throws with its stderr when it fails. */
export function ragtime(env, args) {
  const run = spawnSync(bin, args, { cwd: tmp, env, encoding: "utf8", timeout: 30_000 });
  if (run.status !== 0) {
    throw new Error(`ragtime ${args.join(" ")} failed (${run.status ?? run.signal ?? run.error}): ${run.stderr}`);
  }
  return run.stdout.trim();
}

/** Seeds the database with `seedArgs`, starts `ragtime serve` and waits until it answers. */
export async function startServer(seedArgs, extraEnv = {}) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = {
    ...process.env,
    RAGTIME_CONFIG: "development",
    PORT: String(port),
    DATABASE_URL: `sqlite://${tmp}/t.sqlite?mode=rwc`,
    RAGTIME_MEDIA_URL: `file://${tmp}/media`,
    SECRET_KEY: "browser-check-secret-key-0123456789abcdef",
    RAGTIME_ADMIN: "admin@example.com",
    RUST_LOG: process.env.RUST_LOG || "warn",
    ...extraEnv,
  };
  log(ragtime(env, ["seed", ...seedArgs]));
  // cwd is the temporary directory so no stray .env is read.
  server = spawn(bin, ["serve"], { cwd: tmp, env, stdio: ["ignore", "inherit", "inherit"] });
  server.once("exit", (code, signal) => {
    if (!stopping) log(`FAIL: ragtime serve exited early (${code ?? signal})`);
  });
  const upBy = Date.now() + 15_000;
  for (;;) {
    try {
      const r = await fetch(base + "/", { signal: AbortSignal.timeout(1000) });
      if (r.ok) break;
    } catch {}
    if (Date.now() > upBy || server.exitCode !== null) throw new Error("ragtime serve did not come up within 15 s");
    await sleep(100);
  }
  log(`ragtime serve is up on ${base} (pid ${server.pid})`);
  return { base, env };
}

/** JSON from the API, with HTTP Basic credentials ("email:password") when given. */
export function apiClient(base) {
  return async (path, init = {}, auth) => {
    const headers = { ...(init.headers || {}) };
    if (auth) headers.Authorization = "Basic " + Buffer.from(auth).toString("base64");
    const r = await fetch(base + path, { ...init, headers, signal: AbortSignal.timeout(10_000) });
    const text = await r.text();
    if (!r.ok) throw new Error(`${init.method || "GET"} ${path}: ${r.status} ${text}`);
    return JSON.parse(text);
  };
}

/** Headless Chromium, a fresh profile, no network chatter, autoplay without a gesture. */
export async function launch() {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    timeout: 15_000,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--autoplay-policy=no-user-gesture-required",
    ],
  });
  log(`chromium ${browser.version()} launched`);
  return browser;
}

/**
 * A browser context that reports CSP violations (`window.__csp`) and answers every request
 * outside the site itself: the site must work without the internet, so any such request is a
 * problem (pushed onto `problems`), except an image — an optional third-party avatar — which
 * gets a blank pixel.
 */
export async function newContext(base, problems, options = {}) {
  const context = await browser.newContext(options);
  context.setDefaultTimeout(5000);
  context.setDefaultNavigationTimeout(10_000);
  await context.addInitScript(() => {
    window.__csp = [];
    document.addEventListener("securitypolicyviolation", (e) => {
      window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} (${e.sourceFile}:${e.lineNumber})`);
    });
  });
  const pixel = Buffer.from("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7", "base64");
  await context.route(
    (url) => url.origin !== base,
    (route) => {
      const r = route.request();
      if (r.resourceType() === "image") route.fulfill({ status: 200, contentType: "image/gif", body: pixel });
      else {
        problems.push(`outside request: ${r.resourceType()} ${r.url()}`);
        route.abort();
      }
    },
  );
  return context;
}

/**
 * Console errors, page errors and failed requests of `page`, pushed onto `problems`. With
 * `navigating`, a request cancelled because the page moved on (ERR_ABORTED) is no failure.
 */
export function watch(page, problems, { navigating = false } = {}) {
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console error on ${page.url()}: ${m.text()} (${m.location().url})`);
  });
  page.on("pageerror", (e) => problems.push(`page error on ${page.url()}: ${e.message}`));
  page.on("requestfailed", (r) => {
    if (!(navigating && r.failure()?.errorText === "net::ERR_ABORTED")) problems.push(`request failed: ${r.url()} (${r.failure()?.errorText})`);
  });
}

async function cleanup() {
  stopping = true;
  if (browser) await Promise.race([browser.close().catch(() => {}), sleep(5000)]);
  browser = null;
  if (server && server.exitCode === null && server.signalCode === null) {
    server.kill("SIGTERM"); // only the server this check started, by its pid
    const gone = await Promise.race([
      new Promise((r) => server.once("exit", () => r(true))),
      sleep(5000).then(() => false),
    ]);
    if (!gone) server.kill("SIGKILL");
  }
  server = null;
  rmSync(tmp, { recursive: true, force: true });
}

/** Runs `main` within `seconds`, then exits 0 only if it threw nothing and every check passed. */
export async function run(name, seconds, main) {
  const watchdog = setTimeout(async () => {
    console.error(`[${elapsed()}] FAIL: ${name} took over ${seconds} s; giving up`);
    await Promise.race([cleanup(), sleep(3000)]);
    process.exit(1);
  }, seconds * 1000);
  let code = 0;
  try {
    await main();
    if (failures.length) {
      console.error(`${name}: ${failures.length} failure(s):\n  - ${failures.join("\n  - ")}`);
      code = 1;
    } else log(`${name}: all passed`);
  } catch (e) {
    console.error(`[${elapsed()}] FAIL: ${e.stack || e}`);
    code = 1;
  } finally {
    await cleanup();
    clearTimeout(watchdog);
  }
  process.exit(code);
}
