// What an operator looks at: GET /v1/models, /healthz, /metrics after some
// traffic, and `allot report` over the ledger that traffic wrote.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import * as h from './harness.mjs';

const MODEL_NAMES = ['judge-a', 'judge-b', 'labour-a', 'labour-b', 'coder-a'];

describe('operations: models, health, metrics, report', () => {
  let frontier, local, allot;
  const ids = [];

  before(async () => {
    frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    local = await h.startFake({ name: 'local' });
    allot = await h.startAllot(h.baseConfig({ frontier, local }, {
      models: [{ name: 'broken', provider: 'frontier', model: 'sim-fail500', price: { input: 1, output: 1 } }],
    }), { env: h.ALLOT_ENV });
  });
  after(h.cleanup);

  it('GET /v1/models lists auto, the tiers and every configured model', h.LIMIT, async () => {
    const res = await fetch(`${allot.base}/models`);
    assert.equal(res.status, 200);
    const j = await res.json();
    assert.equal(j.object, 'list');
    const got = j.data.map((m) => m.id);
    for (const want of ['auto', 'allot:judgment', 'allot:labour', 'allot:code', ...MODEL_NAMES, 'broken']) {
      assert.ok(got.includes(want), `/v1/models lacks ${want}: ${got}`);
    }
    for (const m of j.data) assert.equal(m.object, 'model');
    assert.equal(new Set(got).size, got.length, `duplicate ids: ${got}`);
  });

  it('GET /healthz answers 200', h.LIMIT, async () => {
    const res = await fetch(`${allot.origin}/healthz`);
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  });

  it('after traffic, /metrics counts requests, durations, tokens and cost as the ledger does', h.LIMIT, async () => {
    const send = async (body) => {
      const res = await h.post(`${allot.base}/chat/completions`, body);
      if (body.stream) await h.readSSE(res); else await res.text();
      ids.push(res.headers.get('x-allot-request-id'));
      return res.status;
    };
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push(await send({ model: 'allot:judgment', messages: [{ role: 'user', content: `judgment question ${i}` }] }));
    for (let i = 0; i < 2; i++) statuses.push(await send({ model: 'allot:labour', messages: [{ role: 'user', content: `labour job number ${i}` }] }));
    statuses.push(await send({ model: 'allot:labour', stream: true, messages: [{ role: 'user', content: 'streamed labour' }] }));
    statuses.push(await send({ model: 'broken', messages: [{ role: 'user', content: 'this fails' }] }));
    assert.deepEqual(statuses.slice(0, 6), [200, 200, 200, 200, 200, 200]);
    assert.ok(statuses[6] >= 500, `the failing model answered ${statuses[6]}`);
    await h.waitRowCount(allot.db, ids.length);

    const res = await fetch(`${allot.origin}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/plain/);
    const text = await res.text();
    for (const name of ['allot_requests_total', 'allot_request_duration_seconds', 'allot_tokens_total', 'allot_cost_usd_total']) {
      assert.match(text, new RegExp(`^# TYPE ${name} (counter|histogram)$`, 'm'), `no TYPE line for ${name}`);
    }
    const m = h.parseMetrics(text);

    assert.equal(h.metricSum(m, 'allot_requests_total', { model: 'judge-a', status: 'ok' }), 3);
    assert.equal(h.metricSum(m, 'allot_requests_total', { model: 'labour-a', status: 'ok' }), 3);
    assert.equal(h.metricSum(m, 'allot_requests_total', { model: 'broken', status: 'ok' }), 0);
    assert.equal(h.metricSum(m, 'allot_requests_total', { model: 'broken' }), 1);
    assert.equal(h.metricSum(m, 'allot_requests_total'), ids.length);

    // The histogram: per series, cumulative buckets ending in +Inf = count.
    const counts = m.filter((s) => s.name === 'allot_request_duration_seconds_count');
    assert.equal(counts.reduce((a, s) => a + s.value, 0), ids.length);
    for (const c of counts) {
      const key = JSON.stringify(c.labels);
      const buckets = m.filter((s) => s.name === 'allot_request_duration_seconds_bucket' &&
        JSON.stringify({ ...s.labels, le: undefined }) === JSON.stringify({ ...c.labels, le: undefined }));
      assert.ok(buckets.length > 1, `no buckets for ${key}`);
      for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i].value >= buckets[i - 1].value, `buckets not cumulative for ${key}`);
      assert.equal(buckets.at(-1).labels.le, '+Inf');
      assert.equal(buckets.at(-1).value, c.value);
      const sum = m.find((s) => s.name === 'allot_request_duration_seconds_sum' && JSON.stringify(s.labels) === key);
      assert.ok(sum && sum.value > 0, `no positive _sum for ${key}`);
    }
    assert.equal(h.metricSum(m, 'allot_request_duration_seconds_count', { tier: 'labour', stream: 'true' }), 1);
    // allot's own time per request: one histogram per tier, every request in it
    assert.match(text, /^# TYPE allot_overhead_seconds histogram$/m);
    assert.equal(h.metricSum(m, 'allot_overhead_seconds_count'), ids.length);
    if (!h.UNDER_VALGRIND) {
      const fast = m.filter((s) => s.name === 'allot_overhead_seconds_bucket' && s.labels.le === '0.1');
      assert.equal(fast.reduce((a, s) => a + s.value, 0), ids.length, 'a request spent over 100 ms in allot itself');
    }
    // The ledger's counters: rows committed, and of them those committed in
    // idle CPU time (docs/ledger.md, "The writer in idle time").
    assert.match(text, /^# TYPE allot_ledger_rows_written_idle_total counter$/m);
    const written = h.metricSum(m, 'allot_ledger_rows_written_total');
    const idle = h.metricSum(m, 'allot_ledger_rows_written_idle_total');
    assert.ok(written >= 1 && idle >= 0 && idle <= written, `ledger rows: ${written} written, ${idle} in idle time`);
    const own = await h.sql(allot.db, 'select sum(overhead_ms) s, min(overhead_ms) lo from requests');
    assert.ok(own[0].lo > 0, `overhead_ms ${own[0].lo}`);
    assert.ok(Math.abs(h.metricSum(m, 'allot_overhead_seconds_sum') - own[0].s / 1000) < 1e-3 * ids.length,
      `metrics ${h.metricSum(m, 'allot_overhead_seconds_sum')} s, ledger ${own[0].s} ms`);

    // Tokens and cost per model match the ledger.
    const rows = await h.sql(allot.db, 'select model, sum(prompt_tokens) p, sum(completion_tokens) c, sum(cost_usd) cost from requests group by model');
    for (const r of rows.filter((x) => ['judge-a', 'labour-a'].includes(x.model))) {
      assert.equal(h.metricSum(m, 'allot_tokens_total', { model: r.model, direction: 'prompt' }), r.p, `prompt tokens of ${r.model}`);
      assert.equal(h.metricSum(m, 'allot_tokens_total', { model: r.model, direction: 'completion' }), r.c, `completion tokens of ${r.model}`);
      assert.ok(Math.abs(h.metricSum(m, 'allot_cost_usd_total', { model: r.model }) - r.cost) < 1e-8,
        `cost of ${r.model}: metrics ${h.metricSum(m, 'allot_cost_usd_total', { model: r.model })}, ledger ${r.cost}`);
    }
  });

  it('`allot report --json` totals match the ledger, and saving = counterfactual - cost', h.LIMIT, async () => {
    const [t] = await h.sql(allot.db, `select count(*) n, sum(status = 'ok') ok, sum(status = 'failed') failed,
      sum(prompt_tokens) p, sum(completion_tokens) c, sum(cost_usd) cost, sum(counterfactual_usd) cf from requests`);
    assert.equal(t.n, ids.length);
    const r = await h.runAllot(['report', '--store', allot.db, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    const T = j.totals;
    assert.equal(T.requests, t.n);
    assert.equal(T.ok, t.ok);
    assert.equal(T.failed, t.failed);
    assert.equal(T.prompt_tokens, t.p);
    assert.equal(T.completion_tokens, t.c);
    assert.ok(h.near(T.cost_usd, t.cost, 1e-7), `cost ${T.cost_usd} vs ledger ${t.cost}`);
    assert.ok(h.near(T.counterfactual_usd, t.cf, 1e-7), `counterfactual ${T.counterfactual_usd} vs ledger ${t.cf}`);
    assert.ok(h.near(T.saving_usd, T.counterfactual_usd - T.cost_usd, 1e-7), `saving ${T.saving_usd}`);
    assert.ok(T.saving_usd > 0, 'labour traffic must save money against the judgment tier');

    // The per-tier breakdown adds up to the totals.
    const tiers = j.by_tier;
    assert.ok(Array.isArray(tiers), `by_tier: ${JSON.stringify(j).slice(0, 300)}`);
    assert.equal(tiers.reduce((a, g) => a + g.requests, 0), T.requests);
    assert.ok(h.near(tiers.reduce((a, g) => a + g.cost_usd, 0), T.cost_usd, 1e-7));
    const labour = tiers.find((g) => g.tier === 'labour');
    assert.equal(labour?.requests, 3);

    const since = await h.runAllot(['report', '--store', allot.db, '--json', '--since', '24h']);
    assert.equal(since.code, 0, since.stderr);
    assert.equal(JSON.parse(since.stdout).totals.requests, T.requests);
  });

  it('`allot report` prints a readable table; a missing ledger is an error naming it', h.LIMIT, async () => {
    const r = await h.runAllot(['report', '--store', allot.db]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /judgment/);
    assert.match(r.stdout, /labour/);
    const missing = `${allot.dir}/no-such.db`;
    const m = await h.runAllot(['report', '--store', missing]);
    assert.notEqual(m.code, 0);
    assert.ok(m.stderr.includes(missing), m.stderr);
  });

  it('stops cleanly on SIGTERM', h.LIMIT, async () => {
    await h.assertCleanStop(allot);
  });
});

// allot reads the proxy variables once at start; when they name a proxy,
// upstream requests go through it as with curl, and no_proxy exempts hosts.
describe('a proxy named in the environment', () => {
  let frontier, local, proxy;
  const seen = [];

  before(async () => {
    frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    local = await h.startFake({ name: 'local' });
    // a forward HTTP proxy: absolute-form request line in, the same request out
    proxy = http.createServer(async (req, res) => {
      seen.push(req.url);
      const chunks = [];
      for await (const c of req) chunks.push(c);
      const headers = { 'content-type': req.headers['content-type'] || 'application/json' };
      if (req.headers.authorization) headers.authorization = req.headers.authorization;
      const r = await fetch(req.url, { method: req.method, headers, body: Buffer.concat(chunks) });
      res.writeHead(r.status, { 'content-type': r.headers.get('content-type') || 'application/json' });
      res.end(Buffer.from(await r.arrayBuffer()));
    });
    await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    await h.cleanup();
    await new Promise((resolve) => proxy.close(resolve));
  });

  it('upstream requests go through http_proxy, and no_proxy exempts a host', h.LIMIT, async () => {
    const proxyUrl = `http://127.0.0.1:${proxy.address().port}`;
    const via = await h.startAllot(h.baseConfig({ frontier, local }), { env: { ...h.ALLOT_ENV, http_proxy: proxyUrl, no_proxy: '', NO_PROXY: '' } });
    const r = await h.chat(via.base, { model: 'allot:judgment', messages: [{ role: 'user', content: 'Review this plan.' }] });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(seen.length, 1, `the proxy saw ${JSON.stringify(seen)}`);
    assert.match(seen[0], /^http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions$/);
    await h.assertCleanStop(via);

    const direct = await h.startAllot(h.baseConfig({ frontier, local }),
      { env: { ...h.ALLOT_ENV, http_proxy: proxyUrl, no_proxy: '127.0.0.1' } });
    const r2 = await h.chat(direct.base, { model: 'allot:judgment', messages: [{ role: 'user', content: 'Review this plan.' }] });
    assert.equal(r2.status, 200, JSON.stringify(r2.json));
    assert.equal(seen.length, 1, 'no_proxy did not exempt the host');
    await h.assertCleanStop(direct);
  });
});
