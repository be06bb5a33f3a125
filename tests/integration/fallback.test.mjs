// Fallback: before the first byte reaches the client, an upstream 500, 429,
// refused connection or timeout moves the request to the next model of the
// tier; the client sees a normal answer from that model and the ledger
// shows both attempts. When every model fails the client gets an
// OpenAI-style error: 502, or 504 when the last failure was a timeout.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './harness.mjs';

const ask = (model, extra = {}) => ({ model, messages: [{ role: 'user', content: 'Which of these three libraries should we adopt?' }], ...extra });

describe('fallback to the next model of the tier', () => {
  let frontier, local, deadPort;
  const gw = {};

  before(async () => {
    frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    local = await h.startFake({ name: 'local' });
    deadPort = await h.closedPort();
    const extra = (tiers) => h.baseConfig({ frontier, local }, {
      providers: [
        { name: 'dead', base_url: `http://127.0.0.1:${deadPort}/v1`, connect_timeout_ms: 2000, timeout_ms: 5000 },
        { name: 'impatient', base_url: frontier.baseUrl, api_key: '${ALLOT_IT_FRONTIER_KEY}', connect_timeout_ms: 2000, timeout_ms: 300 },
      ],
      models: [
        { name: 'err500', provider: 'frontier', model: 'sim-fail500', price: { input: 5, output: 20 } },
        { name: 'err503', provider: 'frontier', model: 'sim-fail503', price: { input: 5, output: 20 } },
        { name: 'err429', provider: 'frontier', model: 'sim-fail429', price: { input: 5, output: 20 } },
        { name: 'refused', provider: 'dead', model: 'anything', price: { input: 5, output: 20 } },
        { name: 'refused2', provider: 'dead', model: 'anything-else', price: { input: 5, output: 20 } },
        { name: 'slow', provider: 'impatient', model: 'sim-latency2000', price: { input: 5, output: 20 } },
        { name: 'slow2', provider: 'impatient', model: 'other-latency2000', price: { input: 5, output: 20 } },
        { name: 'garbled', provider: 'frontier', model: 'sim-malformed', price: { input: 5, output: 20 } },
        { name: 'backup', provider: 'local', model: 'backup-up', price: { input: 0.5, output: 1.5 } },
      ],
      tiers,
    });
    // Three gateways, one tier per scenario.
    gw.a = await h.startAllot(extra({ judgment: ['err500', 'backup'], labour: ['err429', 'backup'], code: ['refused', 'backup'] }), { env: h.ALLOT_ENV });
    gw.b = await h.startAllot(extra({ judgment: ['slow', 'backup'], labour: ['err500', 'err503'], code: ['slow', 'slow2'] }), { env: h.ALLOT_ENV });
    gw.c = await h.startAllot(extra({ judgment: ['refused', 'refused2'], labour: ['garbled', 'backup'] }), { env: h.ALLOT_ENV });
  });
  after(h.cleanup);

  async function assertFellBack(allot, tier, failing, failWhat, { stream = false } = {}) {
    const t0 = performance.now();
    const messages = ask(`allot:${tier}`).messages;
    const res = await h.post(`${allot.base}/chat/completions`, ask(`allot:${tier}`, stream ? { stream: true } : {}));
    const body = stream ? await h.readSSE(res) : await res.text();
    const elapsed = performance.now() - t0;
    assert.equal(res.status, 200, stream ? body.raw : body);
    assert.equal(res.headers.get('x-allot-model'), 'backup');
    assert.equal(res.headers.get('x-allot-attempts'), '2');
    assert.equal(res.headers.get('x-allot-tier'), tier);
    if (stream) {
      const ev = h.eventJson(body);
      assert.equal(ev[0].model, 'backup-up');
      assert.ok(ev.map((e) => e.choices?.[0]?.delta?.content ?? '').join('').startsWith('[local] answer to: '));
      assert.equal(body.events.at(-1).data, '[DONE]');
    } else {
      const j = JSON.parse(body);
      assert.equal(j.model, 'backup-up');
      assert.ok(j.choices[0].message.content.startsWith('[local] answer to: '));
    }
    const row = await h.ledgerRow(allot.db, res.headers.get('x-allot-request-id'));
    assert.equal(row.status, 'ok');
    assert.equal(row.http_status, 200);
    assert.equal(row.model, 'backup');
    assert.equal(row.provider, 'local');
    assert.equal(row.attempts, 2);
    const log = row.attempt_log.split(',');
    assert.equal(log.length, 2, `attempt_log ${row.attempt_log}`);
    assert.ok(log[0].startsWith(`${failing}:`), `attempt_log ${row.attempt_log} does not start with ${failing}`);
    if (failWhat) assert.match(log[0], failWhat, `attempt_log ${row.attempt_log}`);
    assert.equal(log[1], 'backup:ok');
    // Tokens and cost are the answering model's.
    const P = h.fakePromptTokens(messages);
    assert.equal(row.prompt_tokens, P);
    assert.equal(row.completion_tokens, 16);
    assert.ok(h.near(row.cost_usd, (P * 0.5 + 16 * 1.5) / 1e6), `cost ${row.cost_usd}`);
    return { row, elapsed };
  }

  it('falls back when the first model answers 500', h.LIMIT, async () => {
    await assertFellBack(gw.a, 'judgment', 'err500', /500/);
  });

  it('falls back when the first model answers 500, on a stream request', h.LIMIT, async () => {
    await assertFellBack(gw.a, 'judgment', 'err500', /500/, { stream: true });
  });

  it('falls back when the first model answers 429', h.LIMIT, async () => {
    await assertFellBack(gw.a, 'labour', 'err429', /429/);
  });

  it('falls back when the first provider refuses the connection', h.LIMIT, async () => {
    await assertFellBack(gw.a, 'code', 'refused');
  });

  it('falls back when the first model does not answer within the provider timeout_ms', h.LIMIT, async () => {
    const { elapsed } = await assertFellBack(gw.b, 'judgment', 'slow', /timeout/);
    assert.ok(elapsed < 1900, `took ${elapsed.toFixed(0)} ms: the 300 ms timeout did not cut the 2000 ms upstream`);
  });

  it('falls back when the first model answers 200 with a body that is not JSON', h.LIMIT, async () => {
    await assertFellBack(gw.c, 'labour', 'garbled');
  });

  async function assertAllFailed(allot, tier, wantStatus, models) {
    const res = await h.post(`${allot.base}/chat/completions`, ask(`allot:${tier}`));
    const text = await res.text();
    assert.equal(res.status, wantStatus, `status ${res.status}: ${text}`);
    let json;
    assert.doesNotThrow(() => { json = JSON.parse(text); }, `error body is not JSON: ${text}`);
    assert.ok(h.openaiError(json), `not an OpenAI-style error body: ${text}`);
    const id = res.headers.get('x-allot-request-id');
    assert.ok(id, 'x-allot-request-id on an error response');
    const row = await h.ledgerRow(allot.db, id);
    assert.equal(row.status, 'failed');
    assert.equal(row.http_status, wantStatus);
    assert.equal(row.attempts, models.length);
    assert.deepEqual(row.attempt_log.split(',').map((x) => x.split(':')[0]), models);
    assert.notEqual(row.error, '');
  }

  it('answers 502 when every model of the tier answers 5xx', h.LIMIT, async () => {
    await assertAllFailed(gw.b, 'labour', 502, ['err500', 'err503']);
  });

  it('answers 502 when every provider of the tier refuses the connection', h.LIMIT, async () => {
    await assertAllFailed(gw.c, 'judgment', 502, ['refused', 'refused2']);
  });

  it('answers 504 when every model of the tier times out', h.LIMIT, async () => {
    await assertAllFailed(gw.b, 'code', 504, ['slow', 'slow2']);
  });

  it('stops cleanly on SIGTERM', h.LIMIT, async () => {
    for (const k of ['a', 'b', 'c']) await h.assertCleanStop(gw[k], `allot ${k}`);
  });
});

// A model that keeps failing rests (limits.cooldown_after failures in a
// row, for limits.cooldown_ms): requests skip it for the next model while
// it rests, so an outage costs a few requests their detour, not all of
// them; after the rest it is tried again, and failing again it rests twice
// as long. A rest never refuses a request by itself.
describe('a failing model rests (limits.cooldown_after, cooldown_ms)', () => {
  let frontier, local, allot;

  before(async () => {
    frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    local = await h.startFake({ name: 'local' });
    const cfg = h.baseConfig({ frontier, local }, {
      models: [
        { name: 'flaky', provider: 'frontier', model: 'sim-fail503', price: { input: 5, output: 20 } },
        { name: 'backup', provider: 'local', model: 'backup-up', price: { input: 0.5, output: 1.5 } },
      ],
      tiers: { judgment: ['flaky', 'backup'] },
      limits: { cooldown_after: 2, cooldown_ms: 3000 }, // long enough for valgrind's pace
    });
    allot = await h.startAllot(cfg, { env: h.ALLOT_ENV });
  });
  after(h.cleanup);

  const judged = async () => {
    const res = await h.post(`${allot.base}/chat/completions`, ask('allot:judgment'));
    const text = await res.text();
    assert.equal(res.status, 200, text);
    assert.equal(res.headers.get('x-allot-model'), 'backup');
    const row = await h.ledgerRow(allot.db, res.headers.get('x-allot-request-id'));
    return { attempts: Number(res.headers.get('x-allot-attempts')), log: row.attempt_log, row };
  };
  const flakyCalls = async () => (await frontier.stats()).requests;
  const metric = async (name) => h.metricSum(h.parseMetrics(await (await fetch(`${allot.origin}/metrics`)).text()), name, { model: 'flaky' });

  it('skips the model while it rests, tries it again after, and rests longer when it fails again', h.LIMIT, async () => {
    const logFrom = allot.logs().length;
    // two failures in a row: each request still falls back, the second starts the rest
    for (let i = 0; i < 2; i++) {
      const r = await judged();
      assert.equal(r.attempts, 2);
      assert.equal(r.log, 'flaky:503,backup:ok');
    }
    const rested = await h.waitFor(() => allot.logs().slice(logFrom).split('\n').find((l) => l.includes('rests for')),
      { what: 'the rest in the log' });
    assert.match(rested, /warn: upstream: model 'flaky' rests for 3\.0 s after 2 or more failures in a row \(last: 503\)/);
    assert.ok(await metric('allot_model_resting_seconds') > 0);
    assert.equal(await metric('allot_model_rests_total'), 1);

    // while it rests: skipped, nothing sent to it, one attempt
    const before = await flakyCalls();
    const t0 = performance.now();
    for (let i = 0; i < 3; i++) {
      const r = await judged();
      assert.equal(r.attempts, 1);
      assert.equal(r.log, 'flaky:resting,backup:ok');
      assert.equal(r.row.status, 'ok');
    }
    assert.equal(await flakyCalls(), before, 'a resting model gets no request');
    assert.ok(performance.now() - t0 < 3000, 'the rest outlasted the check: make cooldown_ms longer');

    // every model it could use is resting: tried anyway, never refused by the rest
    const only = await h.post(`${allot.base}/chat/completions`, ask('flaky'));
    assert.equal(only.status, 502, await only.text());
    assert.equal(await flakyCalls(), before + 1);

    // after the rest: tried again; failing again, it rests twice as long
    await h.waitFor(async () => (await metric('allot_model_resting_seconds')) === 0, { timeoutMs: 10000, what: 'the rest to end' });
    const again = await judged();
    assert.equal(again.log, 'flaky:503,backup:ok');
    await h.waitFor(() => /rests for 6\.0 s/.test(allot.logs().slice(logFrom)), { what: 'the second, doubled rest' });
    assert.equal((await judged()).log, 'flaky:resting,backup:ok');
    assert.equal(await metric('allot_model_rests_total'), 2);
  });
});
