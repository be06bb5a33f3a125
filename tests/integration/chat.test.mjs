// Plain chat completions through allot: the answer, the x-allot-* headers,
// the ledger row with exact tokens and cost, and keep-alive connections.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import * as h from './harness.mjs';

describe('plain chat completion', () => {
  let frontier, local, allot, firstOwn;

  const start = () => h.startAllot(h.baseConfig({ frontier, local }, {
    models: [
      { name: 'mute', provider: 'frontier', model: 'sim-nousage', price: { input: 1, output: 2 } },
      { name: 'slow', provider: 'local', model: 'sim?latency-ms=400', price: { input: 0.1, output: 0.2 } },
      { name: 'slow-stream', provider: 'local', model: 'sim?latency-ms=200&ttft-ms=200', price: { input: 0.1, output: 0.2 } },
    ],
  }), { env: h.ALLOT_ENV });
  const firstMessages = [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'What could go wrong if we ship this on Friday?' },
  ];
  // allot's own time (its ledger row's overhead_ms) on one routed request
  const ownMs = async (a, messages) => {
    const r = await h.chat(a.base, { model: 'auto', messages });
    assert.equal(r.status, 200, r.text);
    return (await h.ledgerRow(a.db, r.headers.get('x-allot-request-id'))).overhead_ms;
  };
  // ... on each of an allot's next four
  const laterOwn = async (a) => {
    const later = [];
    for (let i = 0; i < 4; i++) later.push(await ownMs(a, [{ role: 'user', content: `What could go wrong with plan ${i}?` }]));
    return later;
  };
  // the first request's bound, against the slowest of four later ones
  const firstWithin = (first, later) => first <= 3 * Math.max(...later) + 3;

  before(async () => {
    frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    local = await h.startFake({ name: 'local' });
    allot = await start();
  });
  after(h.cleanup);

  it('answers a routed request with the upstream body, decision headers and an exact ledger row', h.LIMIT, async () => {
    const messages = firstMessages;
    const before = Date.now();
    const r = await h.chat(allot.base, { model: 'auto', messages });
    const after = Date.now();
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get('content-type'), /^application\/json/);

    // The decision, in headers.
    assert.equal(r.headers.get('x-allot-tier'), 'judgment');
    assert.equal(r.headers.get('x-allot-model'), 'judge-a');
    assert.equal(r.headers.get('x-allot-category'), 'risk');
    assert.equal(r.headers.get('x-allot-source'), 'classifier');
    assert.equal(r.headers.get('x-allot-attempts'), '1');
    const conf = Number(r.headers.get('x-allot-confidence'));
    assert.ok(conf >= 0.5 && conf <= 1, `confidence ${conf}`);
    assert.ok(r.headers.get('x-allot-reason')?.length > 0, 'x-allot-reason is empty');
    const id = r.headers.get('x-allot-request-id');
    assert.match(id ?? '', /^req_[A-Za-z0-9_]+$/);

    // The body is the upstream's, with its real model id.
    const b = r.json;
    assert.equal(b.object, 'chat.completion');
    assert.equal(b.model, 'judge-a-up');
    assert.equal(b.choices.length, 1);
    assert.equal(b.choices[0].message.role, 'assistant');
    assert.ok(b.choices[0].message.content.startsWith('[frontier] answer to: What could go wrong'),
      b.choices[0].message.content);
    assert.equal(b.choices[0].finish_reason, 'stop');
    const P = h.fakePromptTokens(messages);
    assert.deepEqual(b.usage, { prompt_tokens: P, completion_tokens: 16, total_tokens: P + 16 });

    // Cost: judge-a costs $3 / $15 per million tokens.
    const cost = (P * 3.0 + 16 * 15.0) / 1e6;
    assert.ok(h.near(Number(r.headers.get('x-allot-cost-usd')), cost, 1e-8),
      `x-allot-cost-usd ${r.headers.get('x-allot-cost-usd')} != ${cost}`);

    const tAnswer = performance.now();
    const row = await h.ledgerRow(allot.db, id);
    const commitWait = performance.now() - tAnswer;
    // store.commit_ms defaults to 20 ms; allow for a slow machine.
    assert.ok(commitWait < 2000, `ledger row visible only ${commitWait.toFixed(0)} ms after the answer`);
    assert.equal(row.endpoint, '/v1/chat/completions');
    assert.equal(row.requested_model, 'auto');
    assert.equal(row.category, 'risk');
    assert.equal(row.tier, 'judgment');
    assert.equal(row.model, 'judge-a');
    assert.equal(row.provider, 'frontier');
    assert.equal(row.source, 'classifier');
    assert.equal(row.attempts, 1);
    assert.equal(row.attempt_log, 'judge-a:ok');
    assert.equal(row.status, 'ok');
    assert.equal(row.http_status, 200);
    assert.equal(row.error, '');
    assert.equal(row.stream, 0);
    assert.equal(row.prompt_tokens, P);
    assert.equal(row.completion_tokens, 16);
    assert.equal(row.tokens_estimated, 0);
    assert.ok(h.near(row.cost_usd, cost), `cost_usd ${row.cost_usd} != ${cost}`);
    assert.ok(h.near(row.counterfactual_usd, cost), `counterfactual ${row.counterfactual_usd} != ${cost}`);
    assert.ok(row.confidence >= 0.5 && row.confidence <= 1);
    assert.equal(row.reason, r.headers.get('x-allot-reason'));
    assert.ok(row.ts_ms >= before - 1000 && row.ts_ms <= after + 1000, `ts_ms ${row.ts_ms} not in [${before}, ${after}]`);
    assert.ok(row.latency_ms > 0 && row.latency_ms < after - before + 1000, `latency_ms ${row.latency_ms}`);
    assert.ok(row.ttft_ms >= 0 && row.ttft_ms <= row.latency_ms, `ttft_ms ${row.ttft_ms}`);
    // allot's own time: in the header as far as the head, all of it in the row
    const own = Number(r.headers.get('x-allot-overhead-ms'));
    assert.ok(own > 0 && own <= row.overhead_ms, `x-allot-overhead-ms ${own}, row ${row.overhead_ms}`);
    firstOwn = row.overhead_ms; // this allot's first request
    assert.ok(row.overhead_ms < row.latency_ms, `overhead_ms ${row.overhead_ms} of ${row.latency_ms}`);
  });

  it('overhead_ms is allot\'s own time, not the time the upstream took, plain or streamed', { ...h.LIMIT, skip: h.UNDER_VALGRIND }, async () => {
    const messages = [{ role: 'user', content: 'Summarise this in one line: the build is green.' }];
    const plain = await h.chat(allot.base, { model: 'slow', messages });
    assert.equal(plain.status, 200, plain.text);
    const streamed = await h.chat(allot.base, { model: 'slow-stream', messages, stream: true });
    assert.equal(streamed.status, 200, streamed.text);
    for (const r of [plain, streamed]) {
      const row = await h.ledgerRow(allot.db, r.headers.get('x-allot-request-id'));
      assert.ok(row.latency_ms >= 395, `latency_ms ${row.latency_ms}`);
      // ASan builds are slow, yet nowhere near the 400 ms the upstream took
      assert.ok(row.overhead_ms > 0 && row.overhead_ms < 150, `overhead_ms ${row.overhead_ms} of ${row.latency_ms}`);
      assert.ok(Number(r.headers.get('x-allot-overhead-ms')) <= row.overhead_ms);
    }
    // The first request does not pay for readying the classifier's model
    // (decoded at start, not by the first classification on a loop thread:
    // that took 14 ms under ASan, against about 1 ms for a first request and
    // 0.5 ms for a later one). A one-time cost shows in the first request of
    // every allot; a machine that takes the CPU away for a few ms (CI's run
    // twice saw 5-6 ms for it, against 1 ms in 60 runs here) does not do so
    // every time: so when this allot's first request is over the bound, two
    // fresh allots have their first request measured, and one must be within.
    const seen = [];
    let later = await laterOwn(allot);
    let first = firstOwn;
    for (let trial = 0; ; trial++) {
      seen.push(`first ${first} ms, later ${later}`);
      if (firstWithin(first, later) || trial === 2) break;
      const fresh = await start();
      first = await ownMs(fresh, firstMessages);
      later = await laterOwn(fresh);
      await fresh.stop();
    }
    assert.ok(firstWithin(first, later), `allot's own time, each allot's first request and four later ones: ${seen.join('; ')}`);
  });

  it('prices a labour answer at the labour model and the counterfactual at the first judgment model', h.LIMIT, async () => {
    const messages = [{ role: 'user', content: 'Convert this YAML config to TOML: a: 1' }];
    const r = await h.chat(allot.base, { model: 'allot:labour', messages });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-allot-tier'), 'labour');
    assert.equal(r.headers.get('x-allot-model'), 'labour-a');
    assert.equal(r.json.model, 'labour-a-up');
    assert.ok(r.json.choices[0].message.content.startsWith('[local] answer to: '));
    const P = h.fakePromptTokens(messages);
    const row = await h.ledgerRow(allot.db, r.headers.get('x-allot-request-id'));
    assert.equal(row.provider, 'local');
    assert.equal(row.prompt_tokens, P);
    assert.equal(row.completion_tokens, 16);
    assert.ok(h.near(row.cost_usd, (P * 0.2 + 16 * 0.6) / 1e6), `cost ${row.cost_usd}`);
    assert.ok(h.near(row.counterfactual_usd, (P * 3.0 + 16 * 15.0) / 1e6), `counterfactual ${row.counterfactual_usd}`);
    assert.ok(row.counterfactual_usd > row.cost_usd);
  });

  it('estimates and flags the tokens when the upstream reports no usage', h.LIMIT, async () => {
    const messages = [{ role: 'user', content: 'Answer in sixteen words or so, please.' }];
    const r = await h.chat(allot.base, { model: 'mute', messages });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.usage, undefined, 'precondition: the fake sent no usage');
    const row = await h.ledgerRow(allot.db, r.headers.get('x-allot-request-id'));
    assert.equal(row.status, 'ok');
    assert.equal(row.tokens_estimated, 1);
    assert.ok(row.prompt_tokens > 0 && row.completion_tokens > 0, `estimated ${row.prompt_tokens}/${row.completion_tokens}`);
    assert.ok(h.near(row.cost_usd, (row.prompt_tokens * 1 + row.completion_tokens * 2) / 1e6), `cost ${row.cost_usd}`);
  });

  it('serves several requests over one keep-alive connection', h.LIMIT, async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const json = { 'content-type': 'application/json' };
      const msg = (text) => JSON.stringify({ model: 'allot:labour', messages: [{ role: 'user', content: text }] });
      const results = [];
      results.push(await h.httpRequest(`${allot.base}/chat/completions`, { method: 'POST', headers: json, body: msg('one'), agent }));
      results.push(await h.httpRequest(`${allot.base}/chat/completions`, {
        method: 'POST', headers: json, agent,
        body: JSON.stringify({ model: 'allot:labour', stream: true, messages: [{ role: 'user', content: 'two' }] }),
      }));
      results.push(await h.httpRequest(`${allot.base}/models`, { agent }));
      results.push(await h.httpRequest(`${allot.base}/chat/completions`, {
        method: 'POST', headers: json, agent, body: JSON.stringify({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }),
      }));
      results.push(await h.httpRequest(`${allot.origin}/healthz`, { agent }));
      results.push(await h.httpRequest(`${allot.base}/chat/completions`, { method: 'POST', headers: json, body: msg('six'), agent }));

      assert.deepEqual(results.map((x) => x.status), [200, 200, 200, 404, 200, 200]);
      assert.ok(JSON.parse(results[0].body).choices[0].message.content.includes('answer to: one'));
      assert.ok(results[1].body.endsWith('data: [DONE]\n\n'), `stream did not end with [DONE]: ${results[1].body.slice(-200)}`);
      assert.ok(JSON.parse(results[5].body).choices[0].message.content.includes('answer to: six'));
      assert.deepEqual(results.map((x) => x.socketReused), [false, true, true, true, true, true],
        'every request after the first must reuse the connection');
      assert.equal(new Set(results.map((x) => x.localPort)).size, 1, 'all requests on one TCP connection');
    } finally {
      agent.destroy();
    }
  });

  it('stops cleanly on SIGTERM', h.LIMIT, async () => {
    await h.assertCleanStop(allot);
    await h.assertCleanStop(frontier, 'fake_upstream frontier');
    await h.assertCleanStop(local, 'fake_upstream local');
  });
});
