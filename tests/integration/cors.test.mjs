// CORS (cors.allow_origins, docs/config.md): a web page of a listed origin
// calls allot from a real browser (Debian's Chromium, headless) and reads
// the answer and its x-allot-* headers; a page of another origin is refused
// by the browser at the preflight, before any request reaches a model.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import * as h from './harness.mjs';

const KEY = 'sk-it-cors-page-0123456789';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

// The page: its script calls TARGET (from the query string) the way a chat
// UI would, with a client key (so the browser sends a preflight first),
// and writes what it got into <pre id="out">.
const PAGE = `<!doctype html><html><body><pre id="out">pending</pre><script>
(async () => {
  const out = document.getElementById('out');
  const target = new URLSearchParams(location.search).get('target');
  try {
    const r = await fetch(target + '/v1/chat/completions', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ${KEY}' },
      body: JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: 'Summarise this in one line: the build is green.' }] }),
    });
    const j = await r.json();
    out.textContent = 'status=' + r.status + ' tier=' + r.headers.get('x-allot-tier') +
      ' id=' + r.headers.get('x-allot-request-id') + ' model=' + j.model;
  } catch (e) {
    out.textContent = 'error=' + e.message;
  }
})();
</script></body></html>`;

/** A server for PAGE on 127.0.0.1: {origin, close()}. */
async function pageServer() {
  const srv = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(PAGE);
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return { origin: `http://127.0.0.1:${srv.address().port}`, close: () => new Promise((r) => srv.close(r)) };
}

/** What <pre id="out"> says once Chromium has run the page at url. */
function browse(url) {
  const profile = h.tempDir('allot-it-chromium-');
  return new Promise((resolve, reject) => {
    execFile(CHROMIUM, ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
      `--user-data-dir=${profile}`, '--virtual-time-budget=20000', '--dump-dom', url],
    { timeout: 90000 }, (err, stdout, stderr) => {
      fs.rmSync(profile, { recursive: true, force: true });
      if (err) return reject(new Error(`chromium: ${err.message}\n${stderr.slice(-2000)}`));
      const m = /<pre id="out">([^<]*)<\/pre>/.exec(stdout);
      return m ? resolve(m[1]) : reject(new Error(`chromium: no result in the page:\n${stdout.slice(-2000)}`));
    });
  });
}

describe('CORS: cors.allow_origins', () => {
  let frontier, local, allot, listed, other;

  before(async () => {
    frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    local = await h.startFake({ name: 'local' });
    listed = await pageServer();
    other = await pageServer();
    const cfg = h.baseConfig({ frontier, local });
    cfg.cors = { allow_origins: ['https://app.example.com', listed.origin] };
    cfg.auth = { keys: [{ name: 'page', key: KEY }] };
    allot = await h.startAllot(cfg, { env: h.ALLOT_ENV });
  });
  after(async () => {
    await listed?.close();
    await other?.close();
    await h.cleanup();
  });

  it('answers a listed origin\'s preflight without a key, and refuses another origin\'s', h.LIMIT, async () => {
    const pre = await fetch(`${allot.base}/chat/completions`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, x-stainless-lang' },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'https://app.example.com');
    assert.equal(pre.headers.get('access-control-allow-methods'), 'GET, POST, OPTIONS');
    assert.equal(pre.headers.get('access-control-allow-headers'), 'authorization, content-type, x-stainless-lang');
    assert.equal(pre.headers.get('access-control-max-age'), '600');
    assert.equal(pre.headers.get('vary'), 'Origin');

    const no = await fetch(`${allot.base}/chat/completions`, {
      method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(no.status, 403);
    assert.equal(no.headers.get('access-control-allow-origin'), null);
    const body = await no.json();
    assert.equal(body.error.code, 'cors_origin_not_allowed');
    assert.match(body.error.message, /origin 'https:\/\/evil\.example' .* cors\.allow_origins/);
    // an OPTIONS that is no preflight (no Origin) is an ordinary request: a key is needed
    assert.equal((await fetch(`${allot.base}/models`, { method: 'OPTIONS' })).status, 401);
  });

  it('answers and errors carry the CORS headers for a listed origin only', h.LIMIT, async () => {
    const messages = [{ role: 'user', content: 'Summarise: ok' }];
    const ok = await h.chat(allot.base, { model: 'auto', messages },
      { origin: 'https://app.example.com', authorization: `Bearer ${KEY}` });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.headers.get('access-control-allow-origin'), 'https://app.example.com');
    assert.equal(ok.headers.get('access-control-expose-headers'), '*');
    assert.equal(ok.headers.get('vary'), 'Origin');
    // a refusal too (here before the body is read), so the page can read why
    const denied = await h.chat(allot.base, { model: 'auto', messages }, { origin: 'https://app.example.com' });
    assert.equal(denied.status, 401);
    assert.equal(denied.headers.get('access-control-allow-origin'), 'https://app.example.com');
    const stranger = await h.chat(allot.base, { model: 'auto', messages },
      { origin: 'https://evil.example', authorization: `Bearer ${KEY}` });
    assert.equal(stranger.status, 200); // not a browser: CORS binds browsers only
    assert.equal(stranger.headers.get('access-control-allow-origin'), null);
    const plain = await h.chat(allot.base, { model: 'auto', messages }, { authorization: `Bearer ${KEY}` });
    assert.equal(plain.headers.get('access-control-allow-origin'), null);
  });

  it('Chromium: a page of a listed origin reads the answer, one of another origin is refused', h.LIMIT, async () => {
    const got = await browse(`${listed.origin}/?target=${encodeURIComponent(allot.origin)}`);
    const m = /^status=200 tier=labour id=(req_\S+) model=labour-a-up$/.exec(got);
    assert.ok(m, `the listed page saw: ${got}`);
    const row = await h.ledgerRow(allot.db, m[1]);
    assert.equal(row.client, 'page');

    const upstream = (await local.stats()).requests + (await frontier.stats()).requests;
    const refused = await browse(`${other.origin}/?target=${encodeURIComponent(allot.origin)}`);
    assert.match(refused, /^error=Failed to fetch/, `the other page saw: ${refused}`);
    assert.equal((await local.stats()).requests + (await frontier.stats()).requests, upstream,
      'the refused page\'s request reached a model');
  });

  it('stops cleanly on SIGTERM', h.LIMIT, async () => {
    await h.assertCleanStop(allot);
  });
});

describe('CORS off (no cors in the config)', () => {
  let frontier, local, allot;

  before(async () => {
    frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    local = await h.startFake({ name: 'local' });
    allot = await h.startAllot(h.baseConfig({ frontier, local }), { env: h.ALLOT_ENV });
  });
  after(h.cleanup);

  it('sends no CORS header, and a preflight is an ordinary OPTIONS (405)', h.LIMIT, async () => {
    const pre = await fetch(`${allot.base}/chat/completions`, {
      method: 'OPTIONS', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' },
    });
    assert.equal(pre.status, 405);
    assert.equal(pre.headers.get('access-control-allow-origin'), null);
    const r = await h.chat(allot.base, { model: 'auto', messages: [{ role: 'user', content: 'hi' }] },
      { origin: 'https://app.example.com' });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('access-control-allow-origin'), null);
    await h.assertCleanStop(allot);
  });
});
