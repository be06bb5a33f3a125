// Client keys (auth.keys): with keys configured, only callers holding one
// get through, in every API's own error format when they do not; each
// request is ledgered, counted and reported under its key's name; the key
// a client sends never reaches an upstream, a log or a response.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import * as h from './harness.mjs';

const TEAM_KEY = 'sk-it-team-a-client-key-0123456789'; // given as ${ALLOT_IT_TEAM_KEY}
const CI_KEY = 'sk-it-ci-client-key-abcdefghijklmnop'; // given as its SHA-256 only
const sha256 = (s) => crypto.createHash('sha256').update(s).digest('hex');
const messages = [{ role: 'user', content: 'Summarise this article in three bullet points: the council met on Tuesday and approved the budget.' }];

describe('auth.keys: client keys', () => {
  let frontier, local, allot;

  before(async () => {
    frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    local = await h.startFake({ name: 'local' });
    const cfg = h.baseConfig({ frontier, local });
    cfg.auth = { keys: [
      { name: 'team-a', key: '${ALLOT_IT_TEAM_KEY}' },
      { name: 'ci', key_sha256: sha256(CI_KEY) },
    ] };
    allot = await h.startAllot(cfg, { env: { ...h.ALLOT_ENV, ALLOT_IT_TEAM_KEY: TEAM_KEY } });
  });
  after(h.cleanup);

  it('openai SDK with a listed key: served, ledgered under its name, the provider key upstream', h.LIMIT, async () => {
    const client = new OpenAI({ baseURL: allot.base, apiKey: TEAM_KEY, maxRetries: 0, timeout: 60000 });
    const { data, response } = await client.chat.completions.create({ model: 'allot:judgment', messages }).withResponse();
    assert.ok(data.choices[0].message.content.length > 0);
    const stats = await frontier.stats();
    assert.equal(stats.last_request.key_ok, true, 'the upstream got the provider key');
    assert.doesNotMatch(JSON.stringify(stats.last_request), new RegExp(TEAM_KEY));
    const row = await h.ledgerRow(allot.db, response.headers.get('x-allot-request-id'));
    assert.equal(row.client, 'team-a');
    assert.equal(row.status, 'ok');

    // streamed, and through the Responses API: the same key works everywhere
    const stream = await client.chat.completions.create({ model: 'allot:labour', messages, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    assert.ok(text.startsWith('[local] '), text);
    const r = await client.responses.create({ model: 'allot:labour', input: 'Fix the grammar: he go to school.' });
    assert.equal(r.status, 'completed');
  });

  it('anthropic SDK (x-api-key) with a key given by its SHA-256 only: served as "ci"', h.LIMIT, async () => {
    const client = new Anthropic({ baseURL: allot.origin, apiKey: CI_KEY, maxRetries: 0, timeout: 60000 });
    const { data, response } = await client.messages.create({
      model: 'allot:labour', max_tokens: 100, messages,
    }).withResponse();
    assert.equal(data.type, 'message');
    const row = await h.ledgerRow(allot.db, response.headers.get('x-allot-request-id'));
    assert.equal(row.client, 'ci');
    assert.equal(row.endpoint, '/v1/messages');
  });

  it('a wrong key: 401 in each API\'s own format, the SDKs raise AuthenticationError, nothing ledgered', h.LIMIT, async () => {
    // the rows of the earlier tests' requests first (all that /metrics counted)
    const counted = h.metricSum(h.parseMetrics(await (await fetch(`${allot.origin}/metrics`,
      { headers: { authorization: `Bearer ${TEAM_KEY}` } })).text()), 'allot_client_requests_total');
    await h.waitRowCount(allot.db, counted);
    const [{ n: before }] = await h.sql(allot.db, 'select count(*) as n from requests');
    assert.equal(before, counted);
    const WRONG = 'sk-it-wrong-key-ZZZZ-9999-never-echoed';
    const oa = new OpenAI({ baseURL: allot.base, apiKey: WRONG, maxRetries: 0, timeout: 60000 });
    await assert.rejects(oa.chat.completions.create({ model: 'auto', messages }), (e) => {
      assert.ok(e instanceof OpenAI.AuthenticationError, e.constructor.name);
      assert.equal(e.status, 401);
      assert.equal(e.code, 'invalid_api_key');
      assert.doesNotMatch(e.message, /ZZZZ/);
      return true;
    });
    await assert.rejects(oa.responses.create({ model: 'auto', input: 'hi' }), OpenAI.AuthenticationError);
    const an = new Anthropic({ baseURL: allot.origin, apiKey: WRONG, maxRetries: 0, timeout: 60000 });
    await assert.rejects(an.messages.create({ model: 'auto', max_tokens: 10, messages }), (e) => {
      assert.ok(e instanceof Anthropic.AuthenticationError, e.constructor.name);
      assert.equal(e.status, 401);
      assert.equal(e.error.type, 'error');
      assert.equal(e.error.error.type, 'authentication_error');
      return true;
    });
    // a key that is a listed key's SHA-256 (what the file holds) is no key
    const res = await h.post(`${allot.base}/chat/completions`, { model: 'auto', messages },
      { authorization: `Bearer ${sha256(CI_KEY)}` });
    assert.equal(res.status, 401);
    await h.sleep(300); // past the ledger's commit window
    const [{ n: after }] = await h.sql(allot.db, 'select count(*) as n from requests');
    assert.equal(after, before, 'refused requests are not ledgered');
  });

  it('no key: 401 missing_api_key with WWW-Authenticate on every route but /healthz', h.LIMIT, async () => {
    const routes = [
      ['POST', '/v1/chat/completions', JSON.stringify({ model: 'auto', messages })],
      ['POST', '/v1/responses', JSON.stringify({ model: 'auto', input: 'hi' })],
      ['POST', '/v1/route', JSON.stringify({ model: 'auto', messages })],
      ['GET', '/v1/models'],
      ['GET', '/v1/models/auto'],
      ['GET', '/metrics'],
      ['GET', '/v1/no-such-route'],
      ['DELETE', '/v1/chat/completions'],
    ];
    for (const [method, p, body] of routes) {
      const res = await fetch(allot.origin + p, { method, body, headers: body ? { 'content-type': 'application/json' } : {} });
      const json = await res.json();
      assert.equal(res.status, 401, `${method} ${p}`);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="allot"');
      const e = h.openaiError(json);
      assert.ok(e, JSON.stringify(json));
      assert.equal(e.code, 'missing_api_key', `${method} ${p}`);
      assert.match(e.message, /Authorization: Bearer KEY/);
    }
    const m = await fetch(`${allot.origin}/v1/messages`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    assert.equal(m.status, 401);
    assert.equal((await m.json()).error.type, 'authentication_error');
    // a scheme other than Bearer carries no key
    const basic = await fetch(`${allot.base}/models`, { headers: { authorization: `Basic ${Buffer.from(`x:${TEAM_KEY}`).toString('base64')}` } });
    assert.equal(basic.status, 401);

    const health = await fetch(`${allot.origin}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    const models = await fetch(`${allot.base}/models`, { headers: { authorization: `Bearer ${TEAM_KEY}` } });
    assert.equal(models.status, 200);
    const route = await h.post(`${allot.base}/route`, { model: 'auto', messages }, { 'x-api-key': CI_KEY });
    assert.equal(route.status, 200);
    assert.equal((await route.json()).tier, 'labour');
  });

  it('a request without a key is refused on its head: its body is never waited for or read', h.LIMIT, async () => {
    // A head announcing a 3 MB body (under limits.max_body_bytes), and no body:
    // the 401 must come at once, not after the body (which never comes).
    const net = await import('node:net');
    const sock = net.connect(allot.port, '127.0.0.1');
    await new Promise((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject); });
    let got = '';
    sock.on('data', (d) => { got += d.toString('latin1'); });
    const closed = new Promise((resolve) => sock.once('close', resolve));
    sock.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
      'Content-Length: 3000000\r\n\r\n{"model":"auto",');
    await Promise.race([closed, h.sleep(5000)]);
    sock.destroy();
    assert.match(got, /^HTTP\/1\.1 401 /, JSON.stringify(got.slice(0, 200)));
    assert.match(got, /\r\nWWW-Authenticate: Bearer realm="allot"\r\n/i);
    assert.match(got, /"code":"missing_api_key"/);
  });

  it('/metrics counts requests, tokens and spend per client, and the refusals; the report has them by client', h.LIMIT, async () => {
    const client = new OpenAI({ baseURL: allot.base, apiKey: CI_KEY, maxRetries: 0, timeout: 60000 });
    for (let i = 0; i < 3; i++) await client.chat.completions.create({ model: 'allot:labour', messages });
    const metricsOf = async () => h.parseMetrics(await (await fetch(`${allot.origin}/metrics`, { headers: { authorization: `Bearer ${TEAM_KEY}` } })).text());
    // every request /metrics counted (refusals are neither counted per client
    // nor ledgered) must first be committed to the ledger
    const m = await metricsOf();
    await h.waitRowCount(allot.db, h.metricSum(m, 'allot_client_requests_total'));
    const byClient = Object.fromEntries((await h.sql(allot.db,
      "select client, count(*) as n, sum(cost_usd) as cost, sum(prompt_tokens) as pt from requests group by client")).map((r) => [r.client, r]));
    assert.deepEqual(Object.keys(byClient).sort(), ['ci', 'team-a']);
    for (const name of ['ci', 'team-a']) {
      assert.equal(h.metricSum(m, 'allot_client_requests_total', { client: name }), byClient[name].n, name);
      assert.equal(h.metricSum(m, 'allot_client_tokens_total', { client: name, direction: 'prompt' }), byClient[name].pt, name);
      assert.ok(h.near(h.metricSum(m, 'allot_client_cost_usd_total', { client: name }), byClient[name].cost, 1e-8), name);
    }
    assert.ok(h.metricSum(m, 'allot_auth_failures_total', { reason: 'invalid' }) >= 4);
    assert.ok(h.metricSum(m, 'allot_auth_failures_total', { reason: 'missing' }) >= 8);

    const rep = await h.runAllot(['report', '--store', allot.db, '--json']);
    assert.equal(rep.code, 0, rep.stderr);
    const by = Object.fromEntries(JSON.parse(rep.stdout).by_client.map((g) => [g.client, g]));
    for (const name of ['ci', 'team-a']) {
      assert.equal(by[name].requests, byClient[name].n);
      assert.ok(h.near(by[name].cost_usd, byClient[name].cost, 1e-9));
    }
    const one = await h.runAllot(['report', '--store', allot.db, '--json', '--client', 'ci']);
    assert.equal(one.code, 0, one.stderr);
    const bill = JSON.parse(one.stdout);
    assert.equal(bill.client, 'ci');
    assert.equal(bill.totals.requests, byClient.ci.n);
    assert.ok(h.near(bill.totals.cost_usd, byClient.ci.cost, 1e-9));
    const table = await h.runAllot(['report', '--store', allot.db]);
    assert.match(table.stdout, /\nby client +requests/);
    assert.match(table.stdout, /\nci +\d+ /);
  });

  it('the keys appear in no log, no error and no config output', h.LIMIT, async () => {
    const check = await h.runAllot(['config', 'check', '--config', allot.configPath], { env: { ALLOT_IT_TEAM_KEY: TEAM_KEY, ...h.ALLOT_ENV } });
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /2 client keys/);
    for (const text of [allot.logs(), allot.stdout(), check.stdout, check.stderr]) {
      assert.doesNotMatch(text, /sk-it-team-a|sk-it-ci-client|sk-it-wrong/);
    }
    // a short key is refused at load, without being shown
    const bad = await h.runAllot(['config', 'check', '--config', allot.configPath], { env: { ALLOT_IT_TEAM_KEY: 'short-SECRET', ...h.ALLOT_ENV } });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /key 'auth\.keys\[0\]\.key': expected a key of at least 16 characters, got 12 \(value not shown\)/);
    assert.doesNotMatch(bad.stderr, /short-SECRET/);
  });
});

describe('auth.keys[].daily_budget_usd', () => {
  after(h.cleanup);
  const KEY = 'sk-it-budget-client-key-0123456789';
  let frontier, local, cfg;

  before(async () => {
    frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    local = await h.startFake({ name: 'local' });
    cfg = h.baseConfig({ frontier, local });
    // one labour answer costs about $0.00002: the first fits, then it is spent
    cfg.auth = { keys: [{ name: 'capped', key: KEY, daily_budget_usd: 0.00001 }, { name: 'free', key: TEAM_KEY }] };
  });

  it('serves until the day\'s spend reaches the budget, then 429 budget_exceeded, also after a restart', h.LIMIT, async () => {
    const allot = await h.startAllot(cfg, { env: h.ALLOT_ENV });
    const client = new OpenAI({ baseURL: allot.base, apiKey: KEY, maxRetries: 0, timeout: 60000 });
    const { response } = await client.chat.completions.create({ model: 'allot:labour', messages }).withResponse();
    assert.equal(response.headers.get('x-allot-budget-remaining-usd'), '0.000010');
    const first = await h.ledgerRow(allot.db, response.headers.get('x-allot-request-id'));
    assert.ok(first.cost_usd > 0.00001, `cost ${first.cost_usd}`);

    const refused = async (base) => {
      await assert.rejects(new OpenAI({ baseURL: base, apiKey: KEY, maxRetries: 0 }).chat.completions.create({ model: 'allot:labour', messages }), (e) => {
        assert.ok(e instanceof OpenAI.RateLimitError, e.constructor.name);
        assert.equal(e.status, 429);
        assert.equal(e.code, 'budget_exceeded');
        assert.match(e.message, /client 'capped' has spent \$0\.0000\d\d of its daily budget of \$0\.000010 .*00:00 UTC/);
        return true;
      });
    };
    const upstreamBefore = (await local.stats()).requests;
    await refused(allot.base);
    assert.equal((await local.stats()).requests, upstreamBefore, 'a refused request reaches no upstream');
    // Anthropic's clients get their own format
    const an = new Anthropic({ baseURL: allot.origin, apiKey: KEY, maxRetries: 0 });
    await assert.rejects(an.messages.create({ model: 'allot:labour', max_tokens: 10, messages }), (e) => e.status === 429 && e instanceof Anthropic.RateLimitError);
    // the other key is not affected, and has no budget header
    const other = await h.chat(allot.base, { model: 'allot:labour', messages }, { authorization: `Bearer ${TEAM_KEY}` });
    assert.equal(other.status, 200);
    assert.equal(other.headers.get('x-allot-budget-remaining-usd'), null);
    const rows = await h.waitRowCount(allot.db, 2, "client = 'capped' AND status = 'rejected' AND http_status = 429");
    assert.equal(rows, 2);
    const m = h.parseMetrics(await (await fetch(`${allot.origin}/metrics`, { headers: { authorization: `Bearer ${TEAM_KEY}` } })).text());
    assert.equal(h.metricSum(m, 'allot_client_budget_usd', { client: 'capped' }), 0.00001);
    assert.ok(h.near(h.metricSum(m, 'allot_client_budget_spent_usd', { client: 'capped' }), first.cost_usd, 1e-9));
    assert.equal(m.filter((x) => x.name === 'allot_client_budget_usd' && x.labels.client === 'free').length, 0);

    // a restart counts today's spend from the ledger: still refused
    await allot.stop('SIGTERM');
    const again = await h.startAllot(cfg, { env: h.ALLOT_ENV, args: ['--store', allot.db] });
    await refused(again.base);
  });
});

describe('auth.keys[].requests_per_minute', () => {
  after(h.cleanup);
  const KEY = 'sk-it-paced-client-key-0123456789';

  it('that many requests at once, then 429 rate_limit_exceeded with Retry-After, before any upstream call', h.LIMIT, async () => {
    const frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    const local = await h.startFake({ name: 'local' });
    const cfg = h.baseConfig({ frontier, local });
    cfg.auth = { keys: [{ name: 'paced', key: KEY, requests_per_minute: 2 }, { name: 'free', key: TEAM_KEY }] };
    const allot = await h.startAllot(cfg, { env: h.ALLOT_ENV });
    const client = new OpenAI({ baseURL: allot.base, apiKey: KEY, maxRetries: 0, timeout: 60000 });
    for (const left of ['1', '0']) {
      const { response } = await client.chat.completions.create({ model: 'allot:labour', messages }).withResponse();
      assert.equal(response.headers.get('x-ratelimit-limit-requests'), '2');
      assert.equal(response.headers.get('x-ratelimit-remaining-requests'), left);
    }
    const upstreamBefore = (await local.stats()).requests;
    await assert.rejects(client.chat.completions.create({ model: 'allot:labour', messages }), (e) => {
      assert.ok(e instanceof OpenAI.RateLimitError, e.constructor.name);
      assert.equal(e.code, 'rate_limit_exceeded');
      const wait = Number(e.headers.get('retry-after'));
      assert.ok(wait >= 1 && wait <= 30, `Retry-After ${wait}`);
      const waitMs = Number(e.headers.get('retry-after-ms'));
      assert.ok(waitMs > (wait - 1) * 1000 && waitMs <= wait * 1000, `retry-after-ms ${waitMs} for Retry-After ${wait}`);
      assert.match(e.message, /client 'paced' is over its 2 requests per minute .*retry in \d+ s/);
      return true;
    });
    assert.equal((await local.stats()).requests, upstreamBefore, 'a refused request reaches no upstream');
    const other = await h.chat(allot.base, { model: 'allot:labour', messages }, { authorization: `Bearer ${TEAM_KEY}` });
    assert.equal(other.status, 200);
    assert.equal(other.headers.get('x-ratelimit-limit-requests'), null);
    assert.equal(await h.waitRowCount(allot.db, 1, "client = 'paced' AND status = 'rejected' AND http_status = 429"), 1);
  });
});

describe('auth.keys reloaded on SIGHUP', () => {
  after(h.cleanup);
  const ALICE = 'sk-it-reload-alice-0123456789';
  const BOB = 'sk-it-reload-bob-00123456789';
  const CAROL = 'sk-it-reload-carol-0123456789'; // added live: by its SHA-256, no env needed

  it('a revoked key is refused at once, an added one admitted, limits changed, a stream in flight finishes; a bad file changes nothing', h.LIMIT, async () => {
    const frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    const local = await h.startFake({ name: 'local' });
    const cfg = h.baseConfig({ frontier, local }, {
      models: [{ name: 'slow', provider: 'local', model: 'sim?tokens-per-sec=10&tokens=12', price: { input: 0.2, output: 0.6 } }],
    });
    cfg.auth = { keys: [{ name: 'alice', key: ALICE }, { name: 'bob', key: '${ALLOT_IT_BOB_KEY}' }] };
    const allot = await h.startAllot(cfg, { env: { ...h.ALLOT_ENV, ALLOT_IT_BOB_KEY: BOB } });
    const as = (key) => new OpenAI({ baseURL: allot.base, apiKey: key, maxRetries: 0, timeout: 60000 });
    const reloaded = async (what) => {
      const from = allot.logs().length;
      allot.proc.kill('SIGHUP');
      return h.waitFor(() => allot.logs().slice(from).split('\n').find((l) => l.includes('SIGHUP: ')),
        { what: `the SIGHUP log line (${what})` });
    };
    await as(BOB).chat.completions.create({ model: 'allot:labour', messages });

    // bob starts a slow stream (about 1.2 s), then loses his key mid-way
    const stream = await as(BOB).chat.completions.create({ model: 'slow', messages, stream: true });
    const it = stream[Symbol.asyncIterator]();
    const first = await it.next();
    assert.equal(first.done, false);
    cfg.auth = { keys: [
      { name: 'alice', key: ALICE, requests_per_minute: 1 },
      { name: 'carol', key_sha256: sha256(CAROL), daily_budget_usd: 5 },
    ] };
    fs.writeFileSync(allot.configPath, h.toYaml(cfg).replace(/^\n/, '') + '\n');
    const line = await reloaded('keys changed');
    assert.match(line, /auth\.keys reloaded from .*allot\.yaml: 2 listed \(1 added, 1 removed, 1 changed\)/);
    let text = first.value.choices[0]?.delta?.content ?? '', finish = null;
    for (let r = await it.next(); !r.done; r = await it.next()) {
      text += r.value.choices[0]?.delta?.content ?? '';
      finish = r.value.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(finish, 'stop', `the stream in flight finished: ${text}`);
    assert.match(text, /^\[local\] answer to: /);

    await assert.rejects(as(BOB).chat.completions.create({ model: 'allot:labour', messages }), OpenAI.AuthenticationError);
    const { response } = await as(CAROL).chat.completions.create({ model: 'allot:labour', messages }).withResponse();
    assert.ok(response.headers.get('x-allot-budget-remaining-usd'), 'carol has her budget');
    const row = await h.ledgerRow(allot.db, response.headers.get('x-allot-request-id'));
    assert.equal(row.client, 'carol');
    // alice's new rate: one a minute
    await as(ALICE).chat.completions.create({ model: 'allot:labour', messages });
    await assert.rejects(as(ALICE).chat.completions.create({ model: 'allot:labour', messages }), OpenAI.RateLimitError);
    // bob's figures stay in /metrics, his stream ledgered under his name
    const m = h.parseMetrics(await (await fetch(`${allot.origin}/metrics`, { headers: { authorization: `Bearer ${CAROL}` } })).text());
    assert.equal(h.metricSum(m, 'allot_client_requests_total', { client: 'bob', status: 'ok' }), 2);
    assert.equal(await h.waitRowCount(allot.db, 2, "client = 'bob' AND status = 'ok'"), 2);

    // a file that does not load: logged, and the keys in use stay
    fs.writeFileSync(allot.configPath, fs.readFileSync(allot.configPath, 'utf8') + 'no_such_key: 1\n');
    const bad = await reloaded('a bad file');
    assert.match(bad, /error: SIGHUP: .*allot\.yaml:\d+: .*no_such_key.*; auth\.keys unchanged$/);
    const ok = await h.chat(allot.base, { model: 'allot:labour', messages }, { authorization: `Bearer ${CAROL}` });
    assert.equal(ok.status, 200);
    assert.doesNotMatch(allot.logs(), new RegExp(`${ALICE}|${BOB}|${CAROL}`), 'no key in the log');

    // every key removed: the gateway admits everyone again, and says so
    delete cfg.auth;
    fs.writeFileSync(allot.configPath, h.toYaml(cfg).replace(/^\n/, '') + '\n');
    assert.match(await reloaded('no keys'), /0 listed \(0 added, 2 removed, 0 changed\); no keys: every request is admitted/);
    assert.equal((await h.chat(allot.base, { model: 'allot:labour', messages })).status, 200);
    assert.equal(allot.proc.exitCode, null);
  });
});

describe('auth.keys[].tiers', () => {
  after(h.cleanup);
  const BATCH = 'sk-it-tiers-batch-0123456789'; // tiers: [labour]
  const FULL = 'sk-it-tiers-full-00123456789';  // every tier
  const JUDGE = 'Should we migrate the billing system to the new provider this quarter? Weigh the risks and decide.';

  it('routed work stays on the listed tiers, a tier or model outside them is 403, no escalation beyond them', h.LIMIT, async () => {
    const frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    const local = await h.startFake({ name: 'local' });
    const cfg = h.baseConfig({ frontier, local }, {
      models: [{ name: 'cheap-empty', provider: 'local', model: 'sim?bad=empty', price: { input: 0.1, output: 0.1 } }],
    });
    cfg.auth = { keys: [{ name: 'batch', key: BATCH, tiers: ['labour'] }, { name: 'full', key: FULL }] };
    const allot = await h.startAllot(cfg, { env: h.ALLOT_ENV });
    const batch = new OpenAI({ baseURL: allot.base, apiKey: BATCH, maxRetries: 0, timeout: 60000 });
    const full = new OpenAI({ baseURL: allot.base, apiKey: FULL, maxRetries: 0, timeout: 60000 });
    const judged = [{ role: 'user', content: JUDGE }];

    // the same judgment work: judgment for "full", labour for "batch", and the reason says why
    const f = await full.chat.completions.create({ model: 'auto', messages: judged }).withResponse();
    assert.equal(f.response.headers.get('x-allot-tier'), 'judgment');
    const b = await batch.chat.completions.create({ model: 'auto', messages: judged }).withResponse();
    assert.equal(b.response.headers.get('x-allot-tier'), 'labour');
    assert.equal(b.data.model, 'labour-a-up');
    assert.match(b.response.headers.get('x-allot-reason'), /^client 'batch' is limited to labour, not judgment: /);
    const row = await h.ledgerRow(allot.db, b.response.headers.get('x-allot-request-id'));
    assert.equal(row.tier, 'labour');
    assert.match(row.reason, /limited to labour/);
    // X-Allot-Work names a tier of work, not a choice of model: capped too
    const hdr = await h.chat(allot.base, { model: 'auto', messages }, { authorization: `Bearer ${BATCH}`, 'x-allot-work': 'judgment' });
    assert.equal(hdr.status, 200);
    assert.equal(hdr.headers.get('x-allot-tier'), 'labour');

    // choosing what is not listed: 403 in each API's format, before any upstream call
    const upstream = (await frontier.stats()).requests;
    for (const model of ['allot:judgment', 'judge-a', 'coder-a']) {
      await assert.rejects(batch.chat.completions.create({ model, messages }), (e) => {
        assert.ok(e instanceof OpenAI.PermissionDeniedError, e.constructor.name);
        assert.equal(e.status, 403);
        assert.equal(e.code, 'model_not_allowed');
        assert.match(e.message, /client 'batch' may not use (the tier 'judgment'|model '(judge-a|coder-a)').*labour/);
        return true;
      });
    }
    const an = new Anthropic({ baseURL: allot.origin, apiKey: BATCH, maxRetries: 0 });
    await assert.rejects(an.messages.create({ model: 'allot:judgment', max_tokens: 10, messages }),
      (e) => e instanceof Anthropic.PermissionDeniedError && e.error.error.type === 'permission_error');
    assert.equal((await frontier.stats()).requests, upstream, 'refused requests reach no upstream');
    assert.equal(await h.waitRowCount(allot.db, 4, "client = 'batch' AND status = 'rejected' AND http_status = 403"), 4);
    // GET /v1/models lists what the key may use
    const ids = async (key, headers = {}) => (await (await fetch(`${allot.base}/models`, { headers: { authorization: `Bearer ${key}`, ...headers } })).json()).data.map((m) => m.id);
    const mine = await ids(BATCH);
    assert.deepEqual(mine.filter((id) => id.startsWith('allot:')), ['allot:labour']);
    assert.ok(mine.includes('auto') && mine.includes('labour-a') && mine.includes('labour-b'), mine.join());
    assert.ok(!mine.includes('judge-a') && !mine.includes('coder-a'), mine.join());
    assert.ok((await ids(FULL)).includes('judge-a'));
    assert.ok(!(await ids(BATCH, { 'anthropic-version': '2023-06-01' })).includes('allot:judgment'));
    // GET /v1/models/{id} agrees with the listing: what the key may not use is not found
    const get = async (key, id) => (await fetch(`${allot.base}/models/${id}`, { headers: { authorization: `Bearer ${key}` } })).status;
    assert.equal(await get(BATCH, 'labour-a'), 200);
    assert.equal(await get(BATCH, 'allot:labour'), 200);
    assert.equal(await get(BATCH, 'judge-a'), 404);
    assert.equal(await get(BATCH, 'allot:judgment'), 404);
    assert.equal(await get(FULL, 'judge-a'), 200);
    // a labour model by name is fine; POST /v1/route shows the capped decision
    assert.equal((await batch.chat.completions.create({ model: 'labour-b', messages })).model, 'labour-b-up');
    const route = await h.post(`${allot.base}/route`, { model: 'auto', messages: judged }, { authorization: `Bearer ${BATCH}` });
    assert.equal(route.status, 200);
    assert.equal((await route.json()).tier, 'labour');

    // a failed check escalates to judgment, except for a client kept off it
    cfg.tiers.labour = ['cheap-empty'];
    cfg.quality = { checks: { labour: { not_empty: true, escalate: true } } };
    const q = await h.startAllot(cfg, { env: h.ALLOT_ENV });
    const fq = await h.chat(q.base, { model: 'allot:labour', messages }, { authorization: `Bearer ${FULL}` });
    assert.equal(fq.headers.get('x-allot-escalated'), 'empty');
    assert.equal(fq.headers.get('x-allot-tier'), 'judgment');
    const bq = await h.chat(q.base, { model: 'allot:labour', messages }, { authorization: `Bearer ${BATCH}` });
    assert.equal(bq.status, 200);
    assert.equal(bq.headers.get('x-allot-escalated'), null);
    assert.equal(bq.headers.get('x-allot-tier'), 'labour');
    const brow = await h.ledgerRow(q.db, bq.headers.get('x-allot-request-id'));
    assert.equal(brow.check, 'empty', 'the failed check is recorded, the answer served as it is');
    assert.equal(brow.escalated, '');
  });

  it('config errors: an unknown or repeated tier, an empty list', h.LIMIT, async () => {
    const frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    const local = await h.startFake({ name: 'local' });
    const base = h.toYaml(h.baseConfig({ frontier, local })).replace(/^\n/, '');
    const check = async (tiers, msg) => {
      const dir = h.tempDir();
      const file = `${dir}/allot.yaml`;
      fs.writeFileSync(file, `${base}\nauth:\n  keys:\n    - {name: a, key: sk-it-tiers-cfg-0123456789, tiers: ${tiers}}\n`);
      const r = await h.runAllot(['config', 'check', '--config', file]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, msg);
    };
    await check('[labour, premium]', /auth\.keys\[0\]\.tiers\[1\]': expected a tier \(judgment, labour, code\), got "premium"/);
    await check('[labour, labour]', /auth\.keys\[0\]\.tiers\[1\]': tier 'labour' is listed twice/);
    await check('[]', /auth\.keys\[0\]\.tiers': expected a list of tiers/);
  });
});

describe('allot config new-key', () => {
  after(h.cleanup);

  it('prints a fresh 256-bit key and the auth.keys entry (its SHA-256) that admits it', h.LIMIT, async () => {
    const a = await h.runAllot(['config', 'new-key', 'agent-7']);
    const b = await h.runAllot(['config', 'new-key', 'agent-7']);
    assert.equal(a.code, 0, a.stderr);
    const key = a.stdout.match(/^(sk-allot-[A-Za-z0-9_-]{43})$/m)?.[1];
    assert.ok(key, a.stdout);
    assert.notEqual(b.stdout.match(/^(sk-allot-\S+)$/m)[1], key, 'a new key each time');
    assert.match(a.stdout, /^ {4}- name: agent-7$/m);
    const sha = a.stdout.match(/^ {6}key_sha256: ([0-9a-f]{64})$/m)?.[1];
    assert.equal(sha, sha256(key));

    // the printed entry, pasted into a config, admits the printed key
    const frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    const local = await h.startFake({ name: 'local' });
    const entry = a.stdout.split('\n').filter((l) => /^ {4}- name:| {6}key_sha256:/.test(l)).join('\n');
    const yaml = h.toYaml(h.baseConfig({ frontier, local })).replace(/^\n/, '') + `\nauth:\n  keys:\n${entry}\n`;
    const allot = await h.startAllot(yaml, { env: h.ALLOT_ENV });
    const ok = await h.chat(allot.base, { model: 'allot:labour', messages }, { authorization: `Bearer ${key}` });
    assert.equal(ok.status, 200, ok.text);
    const no = await h.chat(allot.base, { model: 'allot:labour', messages }, { authorization: `Bearer ${key}x` });
    assert.equal(no.status, 401);

    const bad = await h.runAllot(['config', 'new-key', 'has space']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /NAME cannot have spaces/);
  });
});
