// Streamed chat completions through allot: events relayed as they arrive
// and unchanged, usage ledgered whether or not the client asked for it, a
// cut upstream stream reaching the client as an error event, and a client
// that goes away cancelling the upstream.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './harness.mjs';

const contentEvents = (sse) => h.eventJson(sse).filter((j) => j.choices?.[0]?.delta?.content);
const usageChunks = (sse) => h.eventJson(sse).filter((j) => Array.isArray(j.choices) && j.choices.length === 0 && j.usage);

describe('streamed chat completion', () => {
  let frontier, local, allot;

  before(async () => {
    frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    local = await h.startFake({ name: 'local' });
    allot = await h.startAllot(h.baseConfig({ frontier, local }, {
      models: [
        // fake knobs in the upstream model id (docs/fake_upstream.md)
        { name: 'paced', provider: 'frontier', model: 'sim-tps10-tokens20', price: { input: 1, output: 2 } },
        { name: 'cut', provider: 'frontier', model: 'sim-cut3', price: { input: 1, output: 2 } },
        { name: 'endless', provider: 'frontier', model: 'sim-tps10-tokens600', price: { input: 1, output: 2 } },
        { name: 'hanging', provider: 'frontier', model: 'sim-hang', price: { input: 1, output: 2 } },
      ],
    }), { env: h.ALLOT_ENV });
  });
  after(h.cleanup);

  /** Stream `body` through allot and, separately, straight from the fake. */
  async function both(body, upstreamModel) {
    const res = await h.post(`${allot.base}/chat/completions`, body);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/event-stream/);
    const via = await h.readSSE(res);
    const dres = await h.post(`${frontier.baseUrl}/chat/completions`, { ...body, model: upstreamModel });
    assert.equal(dres.status, 200);
    const direct = await h.readSSE(dres);
    return { res, via, direct };
  }

  it('relays events as the upstream sends them, without buffering', h.LIMIT, async () => {
    const t0 = performance.now();
    const res = await h.post(`${allot.base}/chat/completions`,
      { model: 'paced', stream: true, messages: [{ role: 'user', content: 'Count slowly.' }] });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-allot-model'), 'paced');
    const sse = await h.readSSE(res, t0);
    const times = sse.events.filter((e) => {
      try { return JSON.parse(e.data).choices?.[0]?.delta?.content; } catch { return false; }
    }).map((e) => e.t);
    assert.equal(times.length, 20, 'content events');
    // 20 tokens at 10/s: the first leaves at once, the last ~1.9 s later.
    assert.ok(times[0] < 1000, `first content event after ${times[0].toFixed(0)} ms`);
    assert.ok(times[19] - times[0] >= 1000,
      `events arrived within ${(times[19] - times[0]).toFixed(0)} ms of each other: buffered`);
    assert.equal(sse.events.at(-1).data, '[DONE]');
  });

  it('with include_usage: the client gets the upstream events byte for byte, usage chunk included', h.LIMIT, async () => {
    const messages = [{ role: 'user', content: 'List every date in this invoice.' }];
    const body = { model: 'judge-a', stream: true, stream_options: { include_usage: true }, messages };
    const { res, via, direct } = await both(body, 'judge-a-up');
    h.assertSameEvents(via, direct);
    const P = h.fakePromptTokens(messages);
    const usage = usageChunks(via);
    assert.equal(usage.length, 1, 'one usage chunk');
    assert.deepEqual(usage[0].usage, { prompt_tokens: P, completion_tokens: 16, total_tokens: P + 16 });
    assert.equal(via.events.at(-1).data, '[DONE]');
    const row = await h.ledgerRow(allot.db, res.headers.get('x-allot-request-id'));
    assert.equal(row.stream, 1);
    assert.equal(row.status, 'ok');
    assert.equal(row.prompt_tokens, P);
    assert.equal(row.completion_tokens, 16);
  });

  it('without include_usage: no usage chunk reaches the client, but the usage is ledgered exactly', h.LIMIT, async () => {
    const messages = [{ role: 'user', content: 'Fix the grammar and turn this into a numbered list: eggs milk bread' }];
    const res = await h.post(`${allot.base}/chat/completions`, { model: 'judge-a', stream: true, messages });
    assert.equal(res.status, 200);
    const sse = await h.readSSE(res);
    assert.equal(usageChunks(sse).length, 0, 'a usage chunk the client did not ask for was relayed');
    assert.equal(contentEvents(sse).length, 16);
    assert.equal(sse.events.at(-1).data, '[DONE]');
    const P = h.fakePromptTokens(messages);
    const row = await h.ledgerRow(allot.db, res.headers.get('x-allot-request-id'));
    assert.equal(row.stream, 1);
    assert.equal(row.status, 'ok');
    assert.equal(row.http_status, 200);
    assert.equal(row.prompt_tokens, P);
    assert.equal(row.completion_tokens, 16);
    assert.equal(row.tokens_estimated, 0, 'usage was estimated although the upstream reported it');
    assert.ok(h.near(row.cost_usd, (P * 3 + 16 * 15) / 1e6), `cost ${row.cost_usd}`);
    assert.ok(row.ttft_ms >= 0 && row.ttft_ms <= row.latency_ms);
  });

  it('without include_usage: the client gets the events the upstream gives such a request, byte for byte', h.LIMIT, async () => {
    const body = { model: 'judge-a', stream: true, messages: [{ role: 'user', content: 'Summarise: the cat sat.' }] };
    const { via, direct } = await both(body, 'judge-a-up');
    h.assertSameEvents(via, direct);
  });

  it('an upstream stream cut mid-way reaches the client as an error event with no [DONE]; row failed', h.LIMIT, async () => {
    const res = await h.post(`${allot.base}/chat/completions`,
      { model: 'cut', stream: true, messages: [{ role: 'user', content: 'Tell me a story.' }] });
    assert.equal(res.status, 200);
    const sse = await h.readSSE(res);
    assert.equal(contentEvents(sse).length, 3, 'content events before the cut');
    assert.ok(!sse.events.some((e) => e.data === '[DONE]'), 'a cut stream must not end with [DONE]');
    const last = JSON.parse(sse.events.at(-1).data);
    assert.ok(h.openaiError(last), `last event is not an error: ${sse.events.at(-1).data}`);
    const row = await h.ledgerRow(allot.db, res.headers.get('x-allot-request-id'));
    assert.equal(row.status, 'failed');
    assert.equal(row.stream, 1);
    assert.equal(row.model, 'cut');
    assert.notEqual(row.error, '');
  });

  it('a client that disconnects mid-stream cancels the upstream request; row client_closed', h.LIMIT, async () => {
    const before = (await frontier.stats()).cancelled;
    const ac = new AbortController();
    const res = await fetch(`${allot.base}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'endless', stream: true, messages: [{ role: 'user', content: 'Go on forever.' }] }),
      signal: ac.signal,
    });
    assert.equal(res.status, 200);
    const id = res.headers.get('x-allot-request-id');
    let seen = 0;
    await h.readSSE(res, performance.now(), {
      onEvent: (e) => {
        if (e.data && e.data !== '[DONE]' && JSON.parse(e.data).choices?.[0]?.delta?.content) seen++;
        if (seen >= 2) {
          ac.abort();
          return false;
        }
        return true;
      },
    });
    assert.equal(seen, 2);
    await h.waitFor(async () => (await frontier.stats()).cancelled > before,
      { timeoutMs: 10000, what: 'the fake to see the upstream request cancelled' });
    const row = await h.ledgerRow(allot.db, id);
    assert.equal(row.status, 'client_closed');
    assert.equal(row.model, 'endless');
    // 600 tokens at 10/s would take a minute: the row must come well before.
    assert.ok(row.latency_ms < 20000, `latency_ms ${row.latency_ms}`);
  });

  it('a client that gives up while the upstream has not answered cancels it; row client_closed', h.LIMIT, async () => {
    const before = await frontier.stats();
    const ac = new AbortController();
    const p = fetch(`${allot.base}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'hanging', messages: [{ role: 'user', content: 'Are you there?' }] }),
      signal: ac.signal,
    });
    // Give up once the request is known to be waiting on the upstream.
    await h.waitFor(async () => (await frontier.stats()).requests > before.requests,
      { what: 'the request to reach the fake' });
    ac.abort();
    await assert.rejects(p, { name: 'AbortError' });
    await h.waitFor(async () => (await frontier.stats()).cancelled > before.cancelled,
      { timeoutMs: 10000, what: 'the fake to see the hanging request cancelled' });
    const rows = await h.waitFor(async () => {
      const r = await h.sql(allot.db, "select * from requests where model = 'hanging'");
      return r.length ? r : null;
    }, { what: 'the ledger row of the abandoned request' });
    assert.equal(rows.length, 1);
    assert.equal(rows[0].status, 'client_closed');
  });

  it('stops cleanly on SIGTERM', h.LIMIT, async () => {
    await h.assertCleanStop(allot);
  });
});
