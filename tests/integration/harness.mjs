// harness.mjs: start the real binaries, talk to them, read the ledger.
//
// Every test file starts its own fake upstreams and its own `allot serve`
// on port 0 (the binaries print the port they got), with a config written
// to a fresh temp dir and a fresh SQLite ledger. Each child process is
// registered here; a file's `after(cleanup)` kills whatever is still
// running, even when a test failed half-way, and removes the temp dir.
//
// Waits are conditions, not sleeps: `waitFor` polls until a predicate holds
// or a generous deadline passes (the suite runs on loaded 2-core CI
// machines, under ASan). The ledger is read with the sqlite3 CLI, as an
// operator would.
//
// Environment: ALLOT_BIN and FAKE_BIN (default: build/asan/ in the tree);
// ALLOT_IT_HTTP_CLIENT=curl writes `http_client: curl` into every provider
// of every config startAllot writes (one that sets http_client itself
// keeps its own), so the same tests drive the libcurl path instead of the
// native HTTP/1.1 client (scripts/test.sh runs a subset that way).

import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const ALLOT_BIN = process.env.ALLOT_BIN || path.join(ROOT, 'build/asan/allot');
export const FAKE_BIN = process.env.FAKE_BIN || path.join(ROOT, 'build/asan/fake_upstream');

// Sanitizer settings as scripts/test.sh sets them, when run on their own:
// a sanitizer report makes the process exit non-zero, which tests check.
const CHILD_ENV = {
  ...process.env,
  ASAN_OPTIONS: process.env.ASAN_OPTIONS || 'detect_leaks=1:abort_on_error=1:halt_on_error=1',
  UBSAN_OPTIONS: process.env.UBSAN_OPTIONS || 'print_stacktrace=1:halt_on_error=1',
};

const STARTUP_TIMEOUT_MS = 20000; // ASan start-up on a busy machine
const STOP_TIMEOUT_MS = 20000;
const MAX_LOG = 256 * 1024;

const children = new Set();
const tempDirs = new Set();

// ---------------------------------------------------------------------------
// small utilities

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Poll fn (sync or async) until it returns a truthy value; return it.
 *  Throws with `what` in the message after timeoutMs. */
export async function waitFor(fn, { timeoutMs = 10000, intervalMs = 25, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last, lastErr;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > deadline) {
      const detail = lastErr ? `; last error: ${lastErr.message}` : `; last value: ${JSON.stringify(last)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await sleep(intervalMs);
  }
}

/** A fresh temp dir, removed by cleanup(). */
export function tempDir(prefix = 'allot-it-') {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(d);
  return d;
}

/** A TCP port that nobody listens on right now (for "connection refused"). */
export function closedPort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Relative closeness for money: |a-b| <= 1e-9 + 1e-9*|b|. */
export function near(a, b, eps = 1e-9) {
  return Math.abs(a - b) <= eps + eps * Math.abs(b);
}

// ---------------------------------------------------------------------------
// YAML (block style; enough for allot.yaml)

const PLAIN_OK = /^[A-Za-z_/.$][A-Za-z0-9_./:${}@+-]*$/;
const YAML_WORDS = /^(true|false|yes|no|on|off|null|~|y|n)$/i;

function scalar(v) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const s = String(v);
  if (PLAIN_OK.test(s) && !YAML_WORDS.test(s) && !s.includes(': ') && !s.includes(' #')) return s;
  return JSON.stringify(s);
}

/** Serialise plain objects/arrays/scalars as block YAML. */
export function toYaml(v, indent = 0) {
  const pad = ' '.repeat(indent);
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    if (v.every((x) => x === null || typeof x !== 'object')) return `[${v.map(scalar).join(', ')}]`;
    return '\n' + v.map((x) => {
      if (x !== null && typeof x === 'object' && !Array.isArray(x)) {
        const body = toYaml(x, indent + 2).replace(/^\n/, '');
        return `${pad}- ${body.slice(indent + 2)}`;
      }
      return `${pad}- ${toYaml(x, indent + 2).trimStart()}`;
    }).join('\n');
  }
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v);
    if (keys.length === 0) return '{}';
    return '\n' + keys.map((k) => {
      const val = v[k];
      const sub = toYaml(val, indent + 2);
      return sub.startsWith('\n') ? `${pad}${k}:${sub}` : `${pad}${k}: ${sub}`;
    }).join('\n');
  }
  return scalar(v);
}

// ---------------------------------------------------------------------------
// child processes

/** Throw a clear error when a binary is missing (not built yet). */
function needBinary(bin, envName) {
  try {
    fs.accessSync(bin, fs.constants.X_OK);
  } catch {
    throw new Error(`${bin} is not an executable: build it with \`make asan\` or set ${envName}`);
  }
}

function track(proc, label) {
  const entry = { proc, label, out: '', err: '', exited: null, spawnError: null };
  entry.exited = new Promise((resolve) => {
    proc.once('exit', (code, signal) => {
      children.delete(entry);
      resolve({ code, signal });
    });
    // A process that could not be started emits 'error' and never 'exit'.
    proc.once('error', (e) => {
      entry.spawnError = e;
      entry.err += `\n[${label}: ${e.message}]`;
      if (proc.exitCode === null && proc.pid === undefined) {
        children.delete(entry);
        resolve({ code: null, signal: null, error: e });
      }
    });
  });
  proc.stdout?.on('data', (d) => { if (entry.out.length < MAX_LOG) entry.out += d; });
  proc.stderr?.on('data', (d) => { if (entry.err.length < MAX_LOG) entry.err += d; });
  children.add(entry);
  return entry;
}

/** Wait for a line matching re on the child's stdout; reject if it exits. */
function waitForLine(entry, re, timeoutMs) {
  return new Promise((resolve, reject) => {
    let done = false;
    const check = () => {
      const m = entry.out.match(re);
      if (m && !done) {
        done = true;
        cleanup();
        resolve(m);
      }
    };
    const onExit = (code, signal) => {
      if (done) return;
      done = true;
      cleanup();
      reject(new Error(`${entry.label} exited (code ${code}, signal ${signal}) before it was ready\n` +
        `stdout: ${entry.out}\nstderr: ${entry.err}`));
    };
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      cleanup();
      reject(new Error(`${entry.label} not ready after ${timeoutMs} ms\nstdout: ${entry.out}\nstderr: ${entry.err}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      entry.proc.stdout.off('data', check);
      entry.proc.off('exit', onExit);
    };
    entry.proc.stdout.on('data', check);
    entry.proc.on('exit', onExit);
    entry.exited.then((r) => { if (r.error) onExit(null, null); });
    check();
  });
}

/** Send sig, wait for exit (SIGKILL after a deadline). Returns {code, signal}. */
async function stopEntry(entry, sig = 'SIGTERM', timeoutMs = STOP_TIMEOUT_MS) {
  if (entry.proc.exitCode !== null || entry.proc.signalCode !== null) return entry.exited;
  entry.proc.kill(sig);
  const timer = setTimeout(() => entry.proc.kill('SIGKILL'), timeoutMs);
  const r = await entry.exited;
  clearTimeout(timer);
  return r;
}

/** Kill every child still running and remove temp dirs. For after(). */
export async function cleanup() {
  const waits = [];
  for (const entry of children) {
    entry.proc.kill('SIGKILL');
    waits.push(entry.exited);
  }
  await Promise.all(waits);
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
}

function killAllNow() {
  for (const entry of children) {
    try { entry.proc.kill('SIGKILL'); } catch { /* already gone */ }
  }
  for (const d of tempDirs) {
    try { fs.rmSync(d, { recursive: true, force: true }); } catch { /* best effort */ }
  }
}
process.on('exit', killAllNow);
// The test runner stops a file's process with a signal (timeout, Ctrl-C);
// without these handlers the servers it started would outlive it.
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.once(sig, () => {
    killAllNow();
    process.kill(process.pid, sig);
  });
}

/** A sanitizer report or crash in a child's stderr, or null. */
export function sanitizerReport(stderr) {
  const m = stderr.match(/(==\d+==ERROR: \w+Sanitizer.*|runtime error:.*|SUMMARY: \w+Sanitizer.*)/);
  return m ? m[0] : null;
}

/** SIGTERM a server started here and assert it stopped cleanly: exit 0,
 *  no sanitizer report (ASan leak check included) on stderr. */
export async function assertCleanStop(server, what = 'allot') {
  const r = await server.stop('SIGTERM');
  const report = sanitizerReport(server.logs());
  assert.equal(report, null, `${what} sanitizer report:\n${server.logs().slice(-8000)}`);
  assert.deepEqual(r, { code: 0, signal: null }, `${what} exit status; stderr:\n${server.logs().slice(-8000)}`);
}

// ---------------------------------------------------------------------------
// fake upstream

/**
 * Start fake_upstream on a free port.
 * opts: name, expectKey, args (extra flags, e.g. ['--tokens', '8']).
 * Returns {name, port, baseUrl ('http://127.0.0.1:PORT/v1'), stats(),
 * reset(), stop(), logs()}.
 */
export async function startFake({ name = 'fake', expectKey, args = [] } = {}) {
  needBinary(FAKE_BIN, 'FAKE_BIN');
  const argv = ['--listen', '127.0.0.1:0', '--name', name, '--quiet', ...args];
  if (expectKey) argv.push('--expect-key', expectKey);
  const proc = spawn(FAKE_BIN, argv, { env: CHILD_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  const entry = track(proc, `fake_upstream ${name}`);
  const m = await waitForLine(entry, /fake_upstream \S+ listening on 127\.0\.0\.1:(\d+)/, STARTUP_TIMEOUT_MS);
  const port = Number(m[1]);
  const origin = `http://127.0.0.1:${port}`;
  return {
    name,
    port,
    origin,
    baseUrl: `${origin}/v1`,
    async stats() {
      const r = await fetch(`${origin}/stats`);
      if (r.status !== 200) throw new Error(`fake ${name} /stats: ${r.status}`);
      return r.json();
    },
    async reset() {
      const r = await fetch(`${origin}/stats/reset`, { method: 'POST' });
      if (r.status !== 200) throw new Error(`fake ${name} /stats/reset: ${r.status}`);
      await r.arrayBuffer();
    },
    stop: (sig) => stopEntry(entry, sig),
    logs: () => entry.err,
    entry,
  };
}

// ---------------------------------------------------------------------------
// allot

/**
 * Write config (an object, serialised to YAML, or a YAML string) to a temp
 * dir and start `allot serve` on 127.0.0.1:0 with a fresh ledger.
 * opts: workers, env (extra environment), args (extra flags), store (the
 * --store argument; default a fresh SQLite file, null: none, so the
 * config's store is used).
 * Returns {port, origin, base ('.../v1'), db, configPath, dir, proc,
 * stop(sig) -> {code, signal}, exited, logs()}.
 */
export async function startAllot(config, { workers, env = {}, args = [], store } = {}) {
  needBinary(ALLOT_BIN, 'ALLOT_BIN');
  const dir = tempDir();
  const configPath = path.join(dir, 'allot.yaml');
  const db = store === undefined ? path.join(dir, 'ledger.db') : store;
  const cfg = forceHttpClient(config);
  fs.writeFileSync(configPath, typeof cfg === 'string' ? cfg : toYaml(cfg).replace(/^\n/, '') + '\n');
  const argv = ['serve', '--config', configPath, '--listen', '127.0.0.1:0',
    ...(db === null ? [] : ['--store', db]), '--quiet', ...args];
  if (workers) argv.push('--workers', String(workers));
  const proc = spawn(ALLOT_BIN, argv, {
    env: { ...CHILD_ENV, ...env },
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const entry = track(proc, 'allot serve');
  const m = await waitForLine(entry, /allot listening on 127\.0\.0\.1:(\d+)/, STARTUP_TIMEOUT_MS);
  const port = Number(m[1]);
  const origin = `http://127.0.0.1:${port}`;
  return {
    port,
    origin,
    base: `${origin}/v1`,
    db,
    dir,
    configPath,
    proc,
    exited: entry.exited,
    stop: (sig) => stopEntry(entry, sig),
    logs: () => entry.err,
    stdout: () => entry.out,
  };
}

/** The HTTP client every provider is forced to (ALLOT_IT_HTTP_CLIENT), or null. */
export const FORCED_HTTP_CLIENT = process.env.ALLOT_IT_HTTP_CLIENT || null;

/** config with `http_client: FORCED_HTTP_CLIENT` in each provider. An
 *  object config: every provider without http_client of its own. A YAML
 *  string: a line after each base_url, at its indentation, unless the text
 *  sets http_client anywhere (then it is left as written). */
function forceHttpClient(config) {
  if (!FORCED_HTTP_CLIENT) return config;
  if (typeof config !== 'string') {
    const providers = (config.providers || []).map((p) => ('http_client' in p ? p : { ...p, http_client: FORCED_HTTP_CLIENT }));
    return { ...config, providers };
  }
  if (/^\s*(- )?http_client:/m.test(config)) return config;
  return config.replace(/^(\s*)(- )?(base_url:.*)$/gm,
    (line, sp, dash) => `${line}\n${' '.repeat(sp.length + (dash ? 2 : 0))}http_client: ${FORCED_HTTP_CLIENT}`);
}

let cliDir = null;

/** Run `allot ARGS...` to completion: {code, signal, stdout, stderr}. It
 *  runs in an empty temp dir, so no stray ./allot.yaml is picked up. */
export function runAllot(args, { env = {}, cwd, timeoutMs = 30000, input } = {}) {
  needBinary(ALLOT_BIN, 'ALLOT_BIN');
  if (!cwd && !(cliDir && fs.existsSync(cliDir))) cliDir = tempDir('allot-it-cli-');
  return new Promise((resolve, reject) => {
    const proc = execFile(ALLOT_BIN, args, {
      env: { ...CHILD_ENV, ...env },
      cwd: cwd || cliDir,
      timeout: timeoutMs,
      maxBuffer: 16 << 20,
    }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number' && !err.signal && err.code !== null) return reject(err);
      resolve({ code: proc.exitCode, signal: proc.signalCode, stdout, stderr });
    });
    track(proc, `allot ${args[0] ?? ''}`);
    if (input !== undefined) proc.stdin.end(input);
    else proc.stdin.end();
  });
}

// ---------------------------------------------------------------------------
// configs

/**
 * The standard test deployment: two providers on two fakes and a model per
 * role. Prices differ per model so a cost computed with the wrong model's
 * price shows. `extra` entries are merged in (providers/models appended,
 * tiers/routing/limits overridden key by key).
 */
export function baseConfig({ frontier, local }, extra = {}) {
  const cfg = {
    providers: [
      { name: 'frontier', kind: 'openai', base_url: frontier.baseUrl, api_key: '${ALLOT_IT_FRONTIER_KEY}',
        connect_timeout_ms: 2000, timeout_ms: 30000 },
      { name: 'local', kind: 'openai', base_url: local.baseUrl, connect_timeout_ms: 2000, timeout_ms: 30000 },
    ],
    models: [
      { name: 'judge-a', provider: 'frontier', model: 'judge-a-up', price: { input: 3.0, output: 15.0 }, context_window: 128000 },
      { name: 'judge-b', provider: 'frontier', model: 'judge-b-up', price: { input: 2.0, output: 8.0 }, context_window: 128000 },
      { name: 'labour-a', provider: 'local', model: 'labour-a-up', price: { input: 0.2, output: 0.6 }, context_window: 32000 },
      { name: 'labour-b', provider: 'frontier', model: 'labour-b-up', price: { input: 0.15, output: 0.6 }, context_window: 128000 },
      { name: 'coder-a', provider: 'frontier', model: 'coder-a-up', price: { input: 1.25, output: 10.0 }, context_window: 200000 },
    ],
    tiers: { judgment: ['judge-a', 'judge-b'], labour: ['labour-a', 'labour-b'], code: ['coder-a', 'judge-a'] },
    routing: { default_tier: 'judgment', confidence_threshold: 0.5, aliases: ['auto'] },
    limits: { max_attempts: 3, drain_timeout_ms: 10000 },
  };
  cfg.providers.push(...(extra.providers || []));
  cfg.models.push(...(extra.models || []));
  Object.assign(cfg.tiers, extra.tiers || {});
  Object.assign(cfg.routing, extra.routing || {});
  Object.assign(cfg.limits, extra.limits || {});
  return cfg;
}

export const FRONTIER_KEY = 'sk-it-frontier-0123456789abcdef';
export const ALLOT_ENV = { ALLOT_IT_FRONTIER_KEY: FRONTIER_KEY };

// ---------------------------------------------------------------------------
// the ledger

/** Run one SQL statement with the sqlite3 CLI; rows as objects. */
export function sql(db, statement) {
  return new Promise((resolve, reject) => {
    execFile('sqlite3', ['-json', '-cmd', '.timeout 5000', db, statement], { maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`sqlite3 ${db}: ${stderr || err.message}`));
        const t = stdout.trim();
        resolve(t ? JSON.parse(t) : []);
      });
  });
}

const ID_RE = /^[A-Za-z0-9_.:-]+$/;

/** The ledger row of request id (x-allot-request-id), once committed. */
export async function ledgerRow(db, id, { timeoutMs = 10000 } = {}) {
  if (!id || !ID_RE.test(id)) throw new Error(`bad request id ${JSON.stringify(id)}`);
  const rows = await waitFor(async () => {
    if (!fs.existsSync(db)) return null;
    const r = await sql(db, `select * from requests where id = '${id}'`);
    return r.length ? r : null;
  }, { timeoutMs, what: `ledger row ${id}` });
  if (rows.length !== 1) throw new Error(`ledger has ${rows.length} rows with id ${id}`);
  return rows[0];
}

/** Wait until `select count(*) from requests [where ...]` reaches n. */
export async function waitRowCount(db, n, where = '1', { timeoutMs = 10000 } = {}) {
  return waitFor(async () => {
    if (!fs.existsSync(db)) return null;
    const [{ n: c }] = await sql(db, `select count(*) as n from requests where ${where}`);
    return c >= n ? c : null;
  }, { timeoutMs, what: `${n} ledger rows where ${where}` });
}

// ---------------------------------------------------------------------------
// HTTP

/** POST JSON (or a raw string body) with fetch. Returns the Response. */
export function post(url, body, headers = {}) {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Chat completion via fetch; resolves to {res, status, headers, json, text}. */
export async function chat(base, body, headers = {}) {
  const res = await post(`${base}/chat/completions`, body, headers);
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { res, status: res.status, headers: res.headers, json, text };
}

/**
 * Read an SSE response body (fetch Response) to its end, recording when each
 * event arrived. Returns {raw (all bytes as text), events: [{data, raw, t}],
 * t0, ended (true when the body ended cleanly), error}.
 * t is ms since `t0` (pass the time the request was sent).
 */
export async function readSSE(res, t0 = performance.now(), { onEvent } = {}) {
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = '', raw = '';
  const events = [];
  const out = { raw: '', events, t0, ended: false, error: null };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const now = performance.now() - t0;
      const s = dec.decode(value, { stream: true });
      raw += s;
      buf += s;
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const ev = buf.slice(0, i + 2);
        buf = buf.slice(i + 2);
        const data = ev.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n');
        const e = { raw: ev, data, t: now };
        events.push(e);
        if (onEvent && (await onEvent(e, reader)) === false) {
          out.raw = raw;
          return out;
        }
      }
    }
    out.ended = true;
  } catch (e) {
    out.error = e;
  }
  out.raw = raw;
  out.rest = buf;
  return out;
}

/** The JSON of each data event but [DONE]. */
export function eventJson(sse) {
  return sse.events.filter((e) => e.data && e.data !== '[DONE]').map((e) => JSON.parse(e.data));
}

/** Make two streams comparable: the fake's ids and timestamps differ per request. */
export function normaliseIds(s) {
  return s.replace(/"id":"chatcmpl-[^"]*"/g, '"id":"ID"').replace(/"created":\d+/g, '"created":0');
}

/** Assert two SSE captures carry the same bytes (ids and timestamps
 *  normalised), naming the first event that differs. */
export function assertSameEvents(actual, expected, what = 'stream') {
  const split = (raw) => normaliseIds(raw).split(/(?<=\n\n)/);
  const a = split(actual.raw), e = split(expected.raw);
  for (let i = 0; i < Math.max(a.length, e.length); i++) {
    if (a[i] !== e[i]) {
      assert.fail(`${what}: event ${i + 1} of ${e.length} differs from the upstream's\n` +
        `  got:      ${JSON.stringify(a[i])}\n  upstream: ${JSON.stringify(e[i])}`);
    }
  }
}

/** An http.request as a promise: {status, headers, body, socketReused, localPort}. */
export function httpRequest(url, { method = 'GET', headers = {}, body, agent } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({
        status: res.statusCode,
        headers: res.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        socketReused: req.reusedSocket,
        localPort: req.socket?.localPort,
      }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

/** Assert-friendly view of an OpenAI error body; null when not that shape. */
export function openaiError(json) {
  if (!json || typeof json !== 'object' || !json.error || typeof json.error !== 'object') return null;
  const e = json.error;
  const keys = ['message', 'type', 'param', 'code'];
  if (!keys.every((k) => k in e)) return null;
  if (typeof e.message !== 'string' || !e.message || typeof e.type !== 'string') return null;
  return e;
}

/** Prompt tokens as the fake counts them: bytes of all contents / 4, up. */
export function fakePromptTokens(messages) {
  const bytes = messages.reduce((n, m) => n + Buffer.byteLength(typeof m.content === 'string' ? m.content : ''), 0);
  return Math.ceil(bytes / 4);
}

/** Parse Prometheus text: [{name, labels:{}, value}]. */
export function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/);
    if (!m) throw new Error(`not a Prometheus sample line: ${JSON.stringify(line)}`);
    const labels = {};
    if (m[2]) {
      for (const lm of m[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[lm[1]] = lm[2];
    }
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** Sum the samples of name whose labels include `match`. */
export function metricSum(samples, name, match = {}) {
  return samples
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}

/** Per-test options: a test that hangs fails after this instead of
 *  stalling the suite (the after hooks still kill its servers). */
export const LIMIT = { timeout: 120000 };
/** allot runs under valgrind (tests/integration/valgrind.sh): a test that
 *  bounds allot's own time skips itself ({...LIMIT, skip: UNDER_VALGRIND}). */
export const UNDER_VALGRIND = process.env.ALLOT_IT_VALGRIND === '1'
  ? 'times are not measured under valgrind' : false;
