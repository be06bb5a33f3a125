// A provider's retry hint (retry-after-ms, Retry-After in seconds or as an
// HTTP-date) on a 429 or 503: the model rests at once for that long,
// whatever its count of failures in a row (capped at 16 x
// limits.cooldown_ms, and also with counted rests off), then is tried
// again; when every model of the request failed, the last one with a hint,
// the client gets Retry-After and retry-after-ms, and the official SDKs
// wait that long before their retry. scripts/test.sh runs this file with
// both upstream clients (ALLOT_IT_HTTP_CLIENT=curl the second time).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import * as h from './harness.mjs';

const ask = (model) => ({ model, messages: [{ role: 'user', content: 'Which of these three libraries should we adopt?' }] });
const price = { input: 5, output: 20 };

describe('a provider\'s retry hint rests the model and reaches the client', () => {
  let frontier, local;
  const gw = {};

  before(async () => {
    frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    local = await h.startFake({ name: 'local' });
    const cfg = (tiers, limits) => h.baseConfig({ frontier, local }, {
      models: [
        // only retry-after-ms: the fake's default Retry-After: 1 is turned off
        { name: 'hinted', provider: 'frontier', model: 'sim?status=429&retry-after-ms=2000&retry-after=none', price },
        { name: 'rl-a', provider: 'frontier', model: 'rla?status=429&retry-after-ms=1500.5&retry-after=none', price },
        { name: 'rl-b', provider: 'frontier', model: 'rlb?status=429&retry-after-ms=2500', price },
        { name: 'busy', provider: 'frontier', model: 'busy?status=503&retry-after=2', price },
        { name: 'plain500', provider: 'frontier', model: 'p5?status=500', price },
        { name: 'dated', provider: 'frontier', model: 'dated?status=503&retry-after=date+3', price },
        { name: 'past', provider: 'frontier', model: 'past?status=503&retry-after=date-10', price },
        { name: 'garbage', provider: 'frontier', model: 'junk?status=429&retry-after=soon&retry-after-ms=abc', price },
        { name: 'capped', provider: 'frontier', model: 'cap?status=503&retry-after=3600', price },
        { name: 'backup', provider: 'local', model: 'backup-up', price: { input: 0.5, output: 1.5 } },
      ],
      tiers,
      limits,
    });
    // a: counted rests need 3 failures and would last 10 s: a hint is none of that
    gw.a = await h.startAllot(cfg({ judgment: ['hinted', 'backup'], labour: ['rl-a', 'rl-b'], code: ['busy', 'plain500'] },
      { cooldown_after: 3, cooldown_ms: 10000 }), { env: h.ALLOT_ENV });
    gw.b = await h.startAllot(cfg({ judgment: ['dated', 'backup'], labour: ['past', 'backup'], code: ['garbage', 'backup'] },
      { cooldown_after: 3, cooldown_ms: 10000 }), { env: h.ALLOT_ENV });
    // c: counted rests off, the longest rest 16 x 100 ms
    gw.c = await h.startAllot(cfg({ judgment: ['capped', 'backup'], labour: ['plain500', 'backup'] },
      { cooldown_after: 0, cooldown_ms: 100 }), { env: h.ALLOT_ENV });
  });
  after(h.cleanup);

  // A request that the backup answers: its attempt log and attempts.
  const served = async (allot, tier) => {
    const res = await h.post(`${allot.base}/chat/completions`, ask(`allot:${tier}`));
    const text = await res.text();
    assert.equal(res.status, 200, text);
    assert.equal(res.headers.get('x-allot-model'), 'backup');
    assert.equal(res.headers.get('retry-after'), null, 'an answer carries no Retry-After');
    const row = await h.ledgerRow(allot.db, res.headers.get('x-allot-request-id'));
    return { attempts: Number(res.headers.get('x-allot-attempts')), log: row.attempt_log };
  };
  const calls = async (model) => (await frontier.stats()).by_model?.[model] ?? 0;
  const metric = async (allot, name, model) =>
    h.metricSum(h.parseMetrics(await (await fetch(`${allot.origin}/metrics`)).text()), name, { model });
  const logLine = (allot, from, re) => h.waitFor(() => allot.logs().slice(from).split('\n').find((l) => re.test(l)),
    { what: `a log line matching ${re}` });

  it('a 429 with retry-after-ms rests the model at once for that long, then it is tried again', h.LIMIT, async () => {
    const id = 'sim?status=429&retry-after-ms=2000&retry-after=none';
    const logFrom = gw.a.logs().length;
    const t0 = performance.now();
    const first = await served(gw.a, 'judgment');
    assert.equal(first.attempts, 2);
    assert.equal(first.log, 'hinted:429(retry-after=2000ms),backup:ok');
    const line = await logLine(gw.a, logFrom, /model 'hinted' rests/);
    assert.match(line, /warn: upstream: model 'hinted' rests for 2\.0 s: its provider answered 429 with a retry hint of 2\.000 s;/);
    assert.equal(await metric(gw.a, 'allot_model_hinted_rests_total', 'hinted'), 1);
    assert.equal(await metric(gw.a, 'allot_model_rests_total', 'hinted'), 1);
    const left = await metric(gw.a, 'allot_model_resting_seconds', 'hinted');
    assert.ok(left > 0 && left <= 2, `resting ${left} s`);

    // resting: skipped, nothing sent to it
    const before = await calls(id);
    assert.equal(before, 1);
    const skipped = await served(gw.a, 'judgment');
    assert.equal(skipped.attempts, 1);
    assert.equal(skipped.log, 'hinted:resting,backup:ok');
    assert.equal(await calls(id), before, 'a resting model gets no request');

    // tried again once the 2 s are over (not the 10 s of a counted rest)
    let again;
    while (!again) {
      const r = await served(gw.a, 'judgment');
      if (r.log !== 'hinted:resting,backup:ok') again = r;
      else await h.sleep(50);
    }
    const elapsed = performance.now() - t0;
    assert.equal(again.log, 'hinted:429(retry-after=2000ms),backup:ok');
    assert.equal(await calls(id), before + 1);
    assert.ok(elapsed >= 1990, `tried again after ${elapsed.toFixed(0)} ms, before the 2000 ms hint`);
    assert.ok(elapsed < 6000, `tried again only after ${elapsed.toFixed(0)} ms: the 2000 ms hint was not used`);
    assert.equal(await metric(gw.a, 'allot_model_hinted_rests_total', 'hinted'), 2);
  });

  it('the whole tier rate-limited: 429 with Retry-After and retry-after-ms, on chat completions, messages and responses', h.LIMIT, async () => {
    const res = await h.post(`${gw.a.base}/chat/completions`, ask('allot:labour'));
    const text = await res.text();
    assert.equal(res.status, 429, text);
    assert.ok(h.openaiError(JSON.parse(text)), text);
    // the shortest hint of the models tried (1500.5 ms), rounded up
    assert.equal(res.headers.get('retry-after'), '2');
    assert.equal(res.headers.get('retry-after-ms'), '1501');
    const row = await h.ledgerRow(gw.a.db, res.headers.get('x-allot-request-id'));
    assert.equal(row.http_status, 429);
    assert.equal(row.attempt_log, 'rl-a:429(retry-after=1501ms),rl-b:429(retry-after=2500ms)');

    // both rest now, so both are tried anyway; the Messages API says the same
    const m = await h.post(`${gw.a.origin}/v1/messages`,
      { model: 'allot:labour', max_tokens: 16, messages: [{ role: 'user', content: 'hello' }] },
      { 'anthropic-version': '2023-06-01' });
    const mtext = await m.text();
    assert.equal(m.status, 429, mtext);
    const mj = JSON.parse(mtext);
    assert.equal(mj.type, 'error');
    assert.equal(mj.error.type, 'rate_limit_error');
    assert.equal(m.headers.get('retry-after'), '2');
    assert.equal(m.headers.get('retry-after-ms'), '1501');

    // and the Responses API
    const r = await h.post(`${gw.a.base}/responses`, { model: 'allot:labour', input: 'hello' });
    assert.equal(r.status, 429, await r.text());
    assert.equal(r.headers.get('retry-after'), '2');
    assert.equal(r.headers.get('retry-after-ms'), '1501');
  });

  it('the official SDKs wait the relayed time before their retry', h.LIMIT, async () => {
    const openai = new OpenAI({ baseURL: gw.a.base, apiKey: 'unused', maxRetries: 1 });
    let t0 = performance.now();
    await assert.rejects(openai.chat.completions.create(ask('allot:labour')),
      (e) => e instanceof OpenAI.RateLimitError && e.headers.get('retry-after-ms') === '1501');
    let elapsed = performance.now() - t0;
    // the SDK's own back-off before a first retry is under 1 s
    assert.ok(elapsed >= 1450, `openai retried after ${elapsed.toFixed(0)} ms, not the 1501 ms asked`);

    const anthropic = new Anthropic({ baseURL: gw.a.origin, apiKey: 'unused', maxRetries: 1 });
    t0 = performance.now();
    await assert.rejects(anthropic.messages.create({ model: 'allot:labour', max_tokens: 16, messages: [{ role: 'user', content: 'hello' }] }),
      (e) => e instanceof Anthropic.RateLimitError);
    elapsed = performance.now() - t0;
    assert.ok(elapsed >= 1450, `anthropic retried after ${elapsed.toFixed(0)} ms, not the 1501 ms asked`);
  });

  it('a last 503 with Retry-After: the 502 carries it; without a hint, none', h.LIMIT, async () => {
    // code: busy (503, Retry-After: 2) then plain500: the last has no hint
    let res = await h.post(`${gw.a.base}/chat/completions`, ask('allot:code'));
    assert.equal(res.status, 502, await res.text());
    assert.equal(res.headers.get('retry-after'), null);
    assert.equal(res.headers.get('retry-after-ms'), null);
    let row = await h.ledgerRow(gw.a.db, res.headers.get('x-allot-request-id'));
    assert.equal(row.attempt_log, 'busy:503(retry-after=2000ms),plain500:500');
    // busy alone (named): its hint goes to the client
    res = await h.post(`${gw.a.base}/chat/completions`, ask('busy'));
    assert.equal(res.status, 502, await res.text());
    assert.equal(res.headers.get('retry-after'), '2');
    assert.equal(res.headers.get('retry-after-ms'), '2000');
    row = await h.ledgerRow(gw.a.db, res.headers.get('x-allot-request-id'));
    assert.equal(row.attempt_log, 'busy:503(retry-after=2000ms)', 'a resting model is still tried when it is the only one');
  });

  it('Retry-After as an HTTP-date: a future one rests the model until then, a past one not at all', h.LIMIT, async () => {
    const r = await served(gw.b, 'judgment');
    const m = r.log.match(/^dated:503\(retry-after=(\d+)ms\),backup:ok$/);
    assert.ok(m, r.log);
    // three seconds ahead, at one second's resolution
    assert.ok(Number(m[1]) > 1000 && Number(m[1]) <= 3000, `hint ${m[1]} ms`);
    assert.equal((await served(gw.b, 'judgment')).log, 'dated:resting,backup:ok');

    // a date in the past: come back at once, so no rest
    assert.equal((await served(gw.b, 'labour')).log, 'past:503(retry-after=0ms),backup:ok');
    assert.equal((await served(gw.b, 'labour')).log, 'past:503(retry-after=0ms),backup:ok');
    assert.equal(await metric(gw.b, 'allot_model_rests_total', 'past'), 0);
  });

  it('garbage retry hints are ignored', h.LIMIT, async () => {
    for (let i = 0; i < 2; i++) {
      const r = await served(gw.b, 'code');
      assert.equal(r.attempts, 2);
      assert.equal(r.log, 'garbage:429,backup:ok');
    }
    assert.equal(await metric(gw.b, 'allot_model_hinted_rests_total', 'garbage'), 0);
  });

  it('with counted rests off (cooldown_after 0) a hint still rests the model, capped at 16 x cooldown_ms', h.LIMIT, async () => {
    const logFrom = gw.c.logs().length;
    assert.equal((await served(gw.c, 'judgment')).log, 'capped:503(retry-after=3600000ms),backup:ok');
    assert.equal((await served(gw.c, 'judgment')).log, 'capped:resting,backup:ok');
    const line = await logLine(gw.c, logFrom, /model 'capped' rests/);
    assert.match(line, /rests for 1\.6 s: its provider answered 503 with a retry hint of 3600\.000 s \(capped at 16 x cooldown_ms\)/);
    const left = await metric(gw.c, 'allot_model_resting_seconds', 'capped');
    assert.ok(left > 0 && left <= 1.6, `resting ${left} s`);
    // failures without a hint never rest a model here
    for (let i = 0; i < 3; i++) assert.equal((await served(gw.c, 'labour')).log, 'plain500:500,backup:ok');
    // the capped rest ends: tried again
    await h.waitFor(async () => (await metric(gw.c, 'allot_model_resting_seconds', 'capped')) === 0,
      { timeoutMs: 10000, what: 'the capped rest to end' });
    assert.equal((await served(gw.c, 'judgment')).log, 'capped:503(retry-after=3600000ms),backup:ok');
  });

  it('stops cleanly on SIGTERM', h.LIMIT, async () => {
    for (const k of ['a', 'b', 'c']) await h.assertCleanStop(gw[k], `allot ${k}`);
  });
});
