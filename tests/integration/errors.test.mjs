// Bad requests get OpenAI-style errors with the right status, never reach
// an upstream, and leave allot serving.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import * as h from './harness.mjs';

const LIMIT = 8192;

describe('bad requests', () => {
  let frontier, local, allot, requestsBefore;

  before(async () => {
    frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    local = await h.startFake({ name: 'local' });
    allot = await h.startAllot(h.baseConfig({ frontier, local }, {
      limits: { max_body_bytes: LIMIT, max_header_bytes: 4096 },
    }), { env: h.ALLOT_ENV });
    requestsBefore = (await frontier.stats()).requests + (await local.stats()).requests;
  });
  after(h.cleanup);

  async function expectError(res, status, { type, code } = {}) {
    const text = await res.text();
    assert.equal(res.status, status, `status ${res.status}: ${text}`);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    let json;
    assert.doesNotThrow(() => { json = JSON.parse(text); }, `error body is not JSON: ${text}`);
    const e = h.openaiError(json);
    assert.ok(e, `not an OpenAI-style error {"error":{"message","type","param","code"}}: ${text}`);
    if (type) assert.equal(e.type, type, text);
    if (code) assert.equal(e.code, code, text);
    return e;
  }

  it('malformed JSON: 400 invalid_request_error, ledgered as rejected', h.LIMIT, async () => {
    const res = await h.post(`${allot.base}/chat/completions`, '{"model": "auto", "messages": [{"role": "user", ');
    await expectError(res, 400, { type: 'invalid_request_error' });
    const id = res.headers.get('x-allot-request-id');
    assert.ok(id, 'x-allot-request-id on a 400');
    const row = await h.ledgerRow(allot.db, id);
    assert.equal(row.status, 'rejected');
    assert.equal(row.http_status, 400);
    assert.equal(row.attempts, 0);
  });

  it('a body that is not a chat request: 400 invalid_request_error', h.LIMIT, async () => {
    for (const body of ['"just a string"', '{"model": "auto"}', '{"model": "auto", "messages": []}', '{"messages": [{"role": "user", "content": "hi"}]}']) {
      const res = await h.post(`${allot.base}/chat/completions`, body);
      await expectError(res, 400, { type: 'invalid_request_error' });
    }
  });

  it('a body over limits.max_body_bytes: 413, and a body just under it is served', h.LIMIT, async () => {
    const big = JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: 'x'.repeat(LIMIT) }] });
    assert.ok(Buffer.byteLength(big) > LIMIT);
    await expectError(await h.post(`${allot.base}/chat/completions`, big), 413);

    const ok = JSON.stringify({ model: 'allot:labour', messages: [{ role: 'user', content: 'y'.repeat(LIMIT - 200) }] });
    assert.ok(Buffer.byteLength(ok) <= LIMIT);
    const r = await h.chat(allot.base, ok);
    assert.equal(r.status, 200, r.text);
  });

  it('a chunked body that grows over the limit: 413', h.LIMIT, async () => {
    const r = await new Promise((resolve, reject) => {
      const req = http.request(`${allot.base}/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      }, (res) => {
        let body = '';
        res.on('data', (d) => { body += d; });
        res.on('end', () => resolve({ status: res.statusCode, body }));
      });
      req.on('error', reject);
      req.write('{"model":"auto","messages":[{"role":"user","content":"');
      for (let i = 0; i < 4; i++) req.write('z'.repeat(LIMIT / 2));
      req.end('"}]}');
    });
    assert.equal(r.status, 413, r.body);
    assert.ok(h.openaiError(JSON.parse(r.body)), r.body);
  });

  it('a request head over limits.max_header_bytes: 431', h.LIMIT, async () => {
    const res = await h.post(`${allot.base}/chat/completions`, { model: 'auto', messages: [{ role: 'user', content: 'hi' }] },
      { 'x-padding': 'p'.repeat(6000) });
    assert.equal(res.status, 431);
    await res.arrayBuffer();
  });

  it('unknown model: 404 model_not_found naming the model', h.LIMIT, async () => {
    const res = await h.post(`${allot.base}/chat/completions`, { model: 'gpt-9-ultra', messages: [{ role: 'user', content: 'hi' }] });
    const e = await expectError(res, 404, { type: 'invalid_request_error', code: 'model_not_found' });
    assert.match(e.message, /gpt-9-ultra/);
    const res2 = await h.post(`${allot.base}/chat/completions`, { model: 'allot:management', messages: [{ role: 'user', content: 'hi' }] });
    await expectError(res2, 404, { code: 'model_not_found' });
  });

  it('an X-Allot-Work that is neither a category nor a tier: 400', h.LIMIT, async () => {
    const res = await h.post(`${allot.base}/chat/completions`, { model: 'auto', messages: [{ role: 'user', content: 'hi' }] },
      { 'x-allot-work': 'gardening' });
    const e = await expectError(res, 400, { type: 'invalid_request_error' });
    assert.match(e.message, /gardening/);
  });

  it('wrong method: 405', h.LIMIT, async () => {
    await expectError(await fetch(`${allot.base}/chat/completions`), 405);
    await expectError(await fetch(`${allot.base}/models`, { method: 'DELETE' }), 405);
    await expectError(await fetch(`${allot.base}/route`), 405);
  });

  it('unknown path: 404', h.LIMIT, async () => {
    await expectError(await fetch(`${allot.base}/audio/speech`, { method: 'POST', body: '{}' }), 404);
    // /v1/embeddings exists (embeddings.test.mjs): an empty body is a bad request there
    await expectError(await fetch(`${allot.base}/embeddings`, { method: 'POST', body: '{}' }), 400);
    await expectError(await fetch(`${allot.origin}/nope`), 404);
  });

  it('none of these reached an upstream, and allot still serves', h.LIMIT, async () => {
    const after = (await frontier.stats()).requests + (await local.stats()).requests;
    // one request (the body just under the limit) went to the labour tier
    assert.equal(after - requestsBefore, 1);
    const r = await h.chat(allot.base, { model: 'allot:judgment', messages: [{ role: 'user', content: 'still there?' }] });
    assert.equal(r.status, 200, r.text);
  });

  it('stops cleanly on SIGTERM', h.LIMIT, async () => {
    await h.assertCleanStop(allot);
  });
});
