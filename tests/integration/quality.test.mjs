// The quality floor: checks on labour answers, escalation of failing ones
// to the judgment tier (plain and streamed), audits of passing answers by
// the judgment tier, and the adaptive floor that promotes a category whose
// labour answers keep failing and demotes it when probes pass.
//
// The fake upstream makes the bad answers on demand through the upstream
// model id (docs/fake_upstream.md, "Bad answers"): `sim?bad=refusal` always
// refuses, `X?bad-every=2&bad=refusal` refuses every 2nd request it gets
// for that exact id. The floor tests steer which request gets a bad turn by
// reading the fake's per-id count from /stats and, when the next turn is
// not the wanted one, spending it on a filler request (`allot:labour`: a
// checked labour request that has no category, so it feeds no floor).
//
// Token counts the fake reports: prompt = bytes of the messages / 4, up;
// completion = words of the content: 16 for a normal answer, and for the
// bad ones refusal 9, json 3, schema 2, empty 0, cut 16.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import * as h from './harness.mjs';

const JUDGE_PRICE = { input: 3.0, output: 15.0 }; // judge-a in baseConfig
const CHEAP_PRICE = { input: 0.2, output: 0.6 };
const usd = (price, p, c) => (p * price.input + c * price.output) / 1e6;

const REFUSAL = "I'm sorry, but I can't help with that request.";
const BAD_TOKENS = { empty: 0, refusal: 9, cut: 16, json: 3, schema: 2 };
const ANSWER_WORDS = 16;

const user = (content) => [{ role: 'user', content }];
const ask = (model, content = 'Summarise the attached meeting notes in three bullet points.', extra = {}) =>
  ({ model, messages: user(content), ...extra });
const work = (kind) => ({ 'X-Allot-Work': kind });

// A cheap model on the `local` fake whose upstream id carries fake knobs.
const cheap = (name, model) => ({ name, provider: 'local', model, price: CHEAP_PRICE, context_window: 32000 });

/** A gateway whose labour tier is `labour` (one model), with `quality`. */
function gatewayConfig(fakes, { labour, judgment, tiers = {}, models = [], quality = {} }) {
  const cfg = h.baseConfig(fakes, { models, tiers: { labour: [labour], ...(judgment ? { judgment } : {}), ...tiers } });
  cfg.quality = quality;
  return cfg;
}

const content = (r) => r.json?.choices?.[0]?.message?.content;
const streamText = (sse) => h.eventJson(sse).map((j) => j.choices?.[0]?.delta?.content ?? '').join('');

async function metrics(gw) {
  const r = await fetch(`${gw.origin}/metrics`);
  assert.equal(r.status, 200);
  return h.parseMetrics(await r.text());
}

/** The events table, once it holds at least n rows (they commit with the
 *  ledger's next batch, shortly after the verdict that caused them). */
async function events(gw, n = 1) {
  const q = () => h.sql(gw.db, 'select kind, subject, detail from events order by id');
  await h.waitFor(async () => (await q()).length >= n, { what: `${n} rows in table events` });
  return q();
}

/** Assert the response is the judgment tier's answer to an escalated
 *  labour request, and its ledger row says so. Returns the row. */
async function assertEscalated(gw, r, { check, labour, badTokens, category, stream = false, detail }) {
  const P = h.fakePromptTokens(r.messages);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('x-allot-escalated'), check);
  assert.equal(r.headers.get('x-allot-tier'), 'judgment');
  assert.equal(r.headers.get('x-allot-model'), 'judge-a');
  assert.equal(r.headers.get('x-allot-attempts'), '2');
  assert.equal(r.headers.get('x-allot-check-failed'), null, 'an escalated answer is not a failed one');
  if (category !== undefined) assert.equal(r.headers.get('x-allot-category'), category);
  if (!stream) {
    assert.equal(r.json.object, 'chat.completion');
    assert.equal(r.json.model, 'judge-a-up');
    assert.ok(content(r).startsWith('[frontier] answer to: '), `content ${JSON.stringify(content(r))}`);
    assert.deepEqual(r.json.usage, { prompt_tokens: P, completion_tokens: ANSWER_WORDS, total_tokens: P + ANSWER_WORDS });
  }
  const row = await h.ledgerRow(gw.db, r.headers.get('x-allot-request-id'));
  assert.equal(row.status, 'ok');
  assert.equal(row.http_status, 200);
  assert.equal(row.stream, stream ? 1 : 0);
  assert.equal(row.tier, 'judgment', 'tier is the tier that finally served');
  assert.equal(row.model, 'judge-a');
  assert.equal(row.provider, 'frontier');
  assert.equal(row.attempts, 2);
  assert.equal(row.attempt_log, `${labour}:${check},judge-a:ok`);
  assert.equal(row.escalated, check);
  assert.equal(row.check, '', 'the judgment answer is not checked (no judgment checks configured)');
  assert.match(row.check_detail, detail ?? new RegExp(`^${check}: `));
  assert.equal(row.escalation_prompt_tokens, P);
  assert.equal(row.escalation_completion_tokens, badTokens);
  const esc = usd(CHEAP_PRICE, P, badTokens);
  assert.ok(esc > 0, 'the discarded answer has a price');
  assert.ok(h.near(row.escalation_usd, esc), `escalation_usd ${row.escalation_usd} != ${esc}`);
  assert.equal(row.prompt_tokens, P);
  assert.equal(row.completion_tokens, ANSWER_WORDS);
  const total = esc + usd(JUDGE_PRICE, P, ANSWER_WORDS);
  assert.ok(h.near(row.cost_usd, total), `cost_usd ${row.cost_usd} != escalation ${esc} + judgment answer = ${total}`);
  assert.ok(h.near(row.counterfactual_usd, usd(JUDGE_PRICE, P, ANSWER_WORDS)), `counterfactual ${row.counterfactual_usd}`);
  assert.equal(row.floor, '');
  assert.equal(row.grade, -1);
  assert.equal(row.audit_of, '');
  if (category !== undefined) assert.equal(row.category, category);
  return row;
}

/** chat() that remembers the messages, for the token arithmetic. */
async function send(gw, body, headers) {
  const r = await h.chat(gw.base, body, headers);
  r.messages = body.messages;
  return r;
}

// ---------------------------------------------------------------------------

describe('quality floor: checks and escalation of non-streamed answers', () => {
  let frontier, local;
  const gw = {};

  before(async () => {
    frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    local = await h.startFake({ name: 'local' });
    const fakes = { frontier, local };
    const models = [
      cheap('cheap-empty', 'sim?bad=empty'),
      cheap('cheap-refusal', 'sim?bad=refusal'),
      cheap('cheap-cut', 'sim?bad=cut'),
      cheap('cheap-json', 'sim?bad=json'),
      cheap('cheap-schema', 'sim?bad=schema'),
      cheap('cheap-jsonok', 'sim?content-json=1'),
      cheap('cheap-custom', `sim?content=${encodeURIComponent('We will not do this, sorry.')}`),
    ];
    const start = (labour, quality, tiers) => h.startAllot(gatewayConfig(fakes, { labour, tiers, models, quality }), { env: h.ALLOT_ENV });
    [gw.empty, gw.refusal, gw.cut, gw.json, gw.schema, gw.jsonok, gw.good, gw.custom, gw.code] = await Promise.all([
      start('cheap-empty'),
      start('cheap-refusal', {
        checks: {
          summarize: { escalate: false }, // a category's key over its tier's
          scan: { not_refusal: false },
        },
      }),
      start('cheap-cut'),
      start('cheap-json'),
      start('cheap-schema'),
      start('cheap-jsonok'),
      start('labour-a', {
        checks: {
          summarize: { must_match: '^\\[frontier\\]' }, // only the judgment model's answers match
          collect: { must_not_match: '^\\[local\\]' },
          extract: { max_chars: 40, escalate: false },
          reformat: { min_chars: 1000, escalate: false },
          answer: { max_chars: 4000, min_chars: 10, must_match: 'answer to:' },
        },
        refusals: ['we will not do this'],
      }),
      start('cheap-custom', { refusals: ['we will not do this'] }),
      // the code tier: checked when configured, escalated to judgment
      start('labour-a', { checks: { code: { not_refusal: true, escalate: true } } }, { code: ['cheap-refusal', 'coder-a'] }),
    ]);
  });
  after(h.cleanup);

  it('an empty labour answer is replaced by the judgment answer', h.LIMIT, async () => {
    const r = await send(gw.empty, ask('auto'), work('extract'));
    const row = await assertEscalated(gw.empty, r, { check: 'empty', labour: 'cheap-empty', badTokens: BAD_TOKENS.empty, category: 'extract' });
    assert.equal(row.source, 'header');
    assert.equal(row.check_detail, 'empty: the answer has no content');
  });

  it('a refusal is replaced by the judgment answer', h.LIMIT, async () => {
    const r = await send(gw.refusal, ask('auto'), work('extract'));
    const row = await assertEscalated(gw.refusal, r, { check: 'refusal', labour: 'cheap-refusal', badTokens: BAD_TOKENS.refusal, category: 'extract' });
    assert.match(row.check_detail, /^refusal: the answer opens with 'I.m sorry, but I can.t help/);
  });

  it('a truncated answer (finish_reason "length") is replaced by the judgment answer', h.LIMIT, async () => {
    const r = await send(gw.cut, ask('auto'), work('summarize'));
    const row = await assertEscalated(gw.cut, r, { check: 'truncated', labour: 'cheap-cut', badTokens: BAD_TOKENS.cut, category: 'summarize' });
    assert.match(row.check_detail, /finish_reason 'length'/);
    assert.equal(r.json.choices[0].finish_reason, 'stop');
  });

  it('invalid JSON for a json_object request is replaced by the judgment answer', h.LIMIT, async () => {
    const r = await send(gw.json, ask('auto', 'Extract the name and age as JSON: Ada, 36.', { response_format: { type: 'json_object' } }), work('extract'));
    const row = await assertEscalated(gw.json, r, { check: 'json', labour: 'cheap-json', badTokens: BAD_TOKENS.json, category: 'extract' });
    assert.match(row.check_detail, /^json: the answer is not JSON/);
  });

  it('model auto routed by the classifier (no header) is checked and escalated', h.LIMIT, async () => {
    const text = 'Extract every date and amount from this invoice: Invoice 42, issued 2024-03-01, due 2024-03-31, total 1200 EUR.';
    const r = await send(gw.refusal, ask('auto', text));
    const row = await assertEscalated(gw.refusal, r, { check: 'refusal', labour: 'cheap-refusal', badTokens: BAD_TOKENS.refusal, category: 'extract' });
    assert.equal(row.source, 'classifier');
  });

  it('a request for tier labour by name (allot:labour) is checked and escalated too', h.LIMIT, async () => {
    const r = await send(gw.json, ask('allot:labour', 'Give the answer as JSON.', { response_format: { type: 'json_object' } }));
    const row = await assertEscalated(gw.json, r, { check: 'json', labour: 'cheap-json', badTokens: BAD_TOKENS.json, category: '' });
    assert.equal(row.source, 'tier');
  });

  it('JSON that violates the json_schema of the request is replaced by the judgment answer', h.LIMIT, async () => {
    const response_format = {
      type: 'json_schema',
      json_schema: {
        name: 'person',
        strict: true,
        schema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'], additionalProperties: false },
      },
    };
    const r = await send(gw.schema, ask('auto', 'Extract the person as JSON: Ada Lovelace.', { response_format }), work('extract'));
    const row = await assertEscalated(gw.schema, r, { check: 'schema', labour: 'cheap-schema', badTokens: BAD_TOKENS.schema, category: 'extract' });
    assert.match(row.check_detail, /^schema: /);
  });

  it('schema-valid JSON passes the schema check', h.LIMIT, async () => {
    // content-json gives {"answer": "...", "ok": true}
    const response_format = {
      type: 'json_schema',
      json_schema: { name: 'a', schema: { type: 'object', properties: { answer: { type: 'string' }, ok: { type: 'boolean' } }, required: ['answer', 'ok'] } },
    };
    const r = await send(gw.jsonok, ask('auto', 'Answer as JSON.', { response_format }), work('extract'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-allot-check'), 'pass');
    assert.equal(r.headers.get('x-allot-tier'), 'labour');
    assert.equal(JSON.parse(content(r)).ok, true);
  });

  it('a good labour answer passes: x-allot-check: pass, one attempt, check = pass', h.LIMIT, async () => {
    const r = await send(gw.good, ask('auto'), work('compose'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-allot-check'), 'pass');
    assert.equal(r.headers.get('x-allot-escalated'), null);
    assert.equal(r.headers.get('x-allot-check-failed'), null);
    assert.equal(r.headers.get('x-allot-tier'), 'labour');
    assert.equal(r.headers.get('x-allot-model'), 'labour-a');
    assert.equal(r.headers.get('x-allot-attempts'), '1');
    assert.ok(content(r).startsWith('[local] answer to: '));
    const P = h.fakePromptTokens(r.messages);
    assert.ok(h.near(Number(r.headers.get('x-allot-cost-usd')), usd(CHEAP_PRICE, P, ANSWER_WORDS), 1e-8));
    const row = await h.ledgerRow(gw.good.db, r.headers.get('x-allot-request-id'));
    assert.equal(row.check, 'pass');
    assert.equal(row.check_detail, '');
    assert.equal(row.escalated, '');
    assert.equal(row.escalation_usd, 0);
    assert.equal(row.escalation_prompt_tokens, 0);
    assert.equal(row.escalation_completion_tokens, 0);
    assert.equal(row.attempts, 1);
    assert.equal(row.attempt_log, 'labour-a:ok');
    assert.equal(row.tier, 'labour');
    assert.equal(row.category, 'compose');
    assert.ok(h.near(row.cost_usd, usd(CHEAP_PRICE, P, ANSWER_WORDS)));
    assert.equal(row.grade, -1);
    assert.equal(row.floor, '');
  });

  it('a good JSON answer to a json_object request passes', h.LIMIT, async () => {
    const r = await send(gw.jsonok, ask('auto', 'Extract the name and age as JSON: Ada, 36.', { response_format: { type: 'json_object' } }), work('extract'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-allot-check'), 'pass');
    assert.equal(r.headers.get('x-allot-model'), 'cheap-jsonok');
    assert.equal(r.headers.get('x-allot-attempts'), '1');
    const j = JSON.parse(content(r));
    assert.equal(j.ok, true);
    assert.ok(j.answer.startsWith('[local] answer to: Extract the name'));
    const row = await h.ledgerRow(gw.jsonok.db, r.headers.get('x-allot-request-id'));
    assert.equal(row.check, 'pass');
    assert.equal(row.attempt_log, 'cheap-jsonok:ok');
  });

  it('the json check applies only when JSON was asked for', h.LIMIT, async () => {
    // {"name": "Ada", "age": is a fine answer to a request that asked for text
    const r = await send(gw.json, ask('auto'), work('extract'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-allot-check'), 'pass');
    assert.equal(content(r), '{"name": "Ada", "age":');
  });

  it('escalate: false on a category returns the failing answer with x-allot-check-failed', h.LIMIT, async () => {
    const r = await send(gw.refusal, ask('auto'), work('summarize'));
    assert.equal(r.status, 200, r.text);
    assert.equal(content(r), REFUSAL);
    assert.equal(r.headers.get('x-allot-check-failed'), 'refusal');
    assert.equal(r.headers.get('x-allot-escalated'), null);
    assert.equal(r.headers.get('x-allot-tier'), 'labour');
    assert.equal(r.headers.get('x-allot-model'), 'cheap-refusal');
    assert.equal(r.headers.get('x-allot-attempts'), '1');
    const P = h.fakePromptTokens(r.messages);
    const row = await h.ledgerRow(gw.refusal.db, r.headers.get('x-allot-request-id'));
    assert.equal(row.check, 'refusal');
    assert.match(row.check_detail, /^refusal: /);
    assert.equal(row.escalated, '');
    assert.equal(row.escalation_usd, 0);
    assert.equal(row.tier, 'labour');
    assert.equal(row.attempt_log, 'cheap-refusal:ok');
    assert.ok(h.near(row.cost_usd, usd(CHEAP_PRICE, P, BAD_TOKENS.refusal)));
  });

  it("a category's keys override its tier's: not_refusal: false lets the refusal through as a pass", h.LIMIT, async () => {
    const r = await send(gw.refusal, ask('auto'), work('scan'));
    assert.equal(r.status, 200, r.text);
    assert.equal(content(r), REFUSAL);
    assert.equal(r.headers.get('x-allot-check'), 'pass');
    assert.equal(r.headers.get('x-allot-tier'), 'labour');
    const row = await h.ledgerRow(gw.refusal.db, r.headers.get('x-allot-request-id'));
    assert.equal(row.check, 'pass');
  });

  it('must_match: an answer that does not match goes to the judgment tier, whose answer matches', h.LIMIT, async () => {
    const r = await send(gw.good, ask('auto'), work('summarize'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-allot-escalated'), 'must_match');
    assert.equal(r.headers.get('x-allot-model'), 'judge-a');
    // the category's checks apply to whichever tier serves it
    assert.equal(r.headers.get('x-allot-check'), 'pass');
    const row = await h.ledgerRow(gw.good.db, r.headers.get('x-allot-request-id'));
    assert.equal(row.escalated, 'must_match');
    assert.equal(row.check, 'pass');
    assert.equal(row.check_detail, 'must_match: the pattern does not match');
    assert.equal(row.attempt_log, 'labour-a:must_match,judge-a:ok');
    assert.equal(row.tier, 'judgment');
  });

  it('must_not_match: a matching answer goes to the judgment tier', h.LIMIT, async () => {
    const r = await send(gw.good, ask('auto'), work('collect'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-allot-escalated'), 'must_not_match');
    assert.ok(content(r).startsWith('[frontier] '));
    const row = await h.ledgerRow(gw.good.db, r.headers.get('x-allot-request-id'));
    assert.equal(row.escalated, 'must_not_match');
    assert.match(row.check_detail, /^must_not_match: matched at byte 0: ' ?\[local\] answer to/);
  });

  it('max_chars: a long answer fails too_long (returned, escalate: false)', h.LIMIT, async () => {
    const r = await send(gw.good, ask('auto'), work('extract'));
    assert.equal(r.status, 200, r.text);
    const len = Buffer.byteLength(content(r));
    assert.ok(len > 40);
    assert.equal(r.headers.get('x-allot-check-failed'), 'too_long');
    assert.equal(r.headers.get('x-allot-tier'), 'labour');
    const row = await h.ledgerRow(gw.good.db, r.headers.get('x-allot-request-id'));
    assert.equal(row.check, 'too_long');
    assert.equal(row.check_detail, `too_long: ${len} bytes, at most 40 wanted`);
    assert.equal(row.escalated, '');
  });

  it('min_chars: a short answer fails too_short (returned, escalate: false)', h.LIMIT, async () => {
    const r = await send(gw.good, ask('auto'), work('reformat'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-allot-check-failed'), 'too_short');
    const row = await h.ledgerRow(gw.good.db, r.headers.get('x-allot-request-id'));
    assert.equal(row.check, 'too_short');
    assert.equal(row.check_detail, `too_short: ${Buffer.byteLength(content(r))} bytes, at least 1000 wanted`);
  });

  it('an answer within min_chars/max_chars that matches must_match passes', h.LIMIT, async () => {
    const r = await send(gw.good, ask('auto'), work('answer'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-allot-check'), 'pass');
    assert.equal(r.headers.get('x-allot-tier'), 'labour');
  });

  it('quality.refusals: a configured phrase at the start of the answer is a refusal', h.LIMIT, async () => {
    const r = await send(gw.custom, ask('auto'), work('extract'));
    const row = await assertEscalated(gw.custom, r, { check: 'refusal', labour: 'cheap-custom', badTokens: 6, category: 'extract' });
    assert.match(row.check_detail, /^refusal: the answer opens with 'We will not do this/);
  });

  it('quality.refusals: the phrase later in the answer is not a refusal ("matched at the start of the answer")', h.LIMIT, async () => {
    // labour-a answers "[local] answer to: <the start of the message> lorem ..."
    const r = await send(gw.good, ask('auto', 'Note: we will not do this again, promise.'), work('compose'));
    assert.equal(r.status, 200, r.text);
    const row = await h.ledgerRow(gw.good.db, r.headers.get('x-allot-request-id'));
    assert.equal(r.headers.get('x-allot-escalated'), null,
      `escalated as ${r.headers.get('x-allot-escalated')} (${row.check_detail}): the phrase is at byte 25 of "[local] answer to: Note: we will not do this...", not at the start`);
    assert.equal(r.headers.get('x-allot-check'), 'pass');
    assert.ok(content(r).startsWith('[local] answer to: Note: we will not do this'));
  });

  it('code tier: with checks configured, a failing code answer escalates to judgment', h.LIMIT, async () => {
    const r = await send(gw.code, ask('auto', 'Implement a function that parses ISO dates.'), work('implement'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-allot-escalated'), 'refusal');
    assert.equal(r.headers.get('x-allot-tier'), 'judgment');
    const row = await h.ledgerRow(gw.code.db, r.headers.get('x-allot-request-id'));
    assert.equal(row.attempt_log, 'cheap-refusal:refusal,judge-a:ok');
    assert.equal(row.category, 'implement');
    assert.equal(row.tier, 'judgment');
    // labour is not checked by the code tier's keys, and still has its defaults
    const l = await send(gw.code, ask('auto'), work('extract'));
    assert.equal(l.headers.get('x-allot-check'), 'pass');
  });

  it('a request naming the labour model directly is not checked', h.LIMIT, async () => {
    const r = await send(gw.refusal, ask('cheap-refusal'));
    assert.equal(r.status, 200, r.text);
    assert.equal(content(r), REFUSAL);
    for (const name of ['check', 'check-failed', 'escalated']) assert.equal(r.headers.get(`x-allot-${name}`), null, `x-allot-${name}`);
    assert.equal(r.headers.get('x-allot-model'), 'cheap-refusal');
    const row = await h.ledgerRow(gw.refusal.db, r.headers.get('x-allot-request-id'));
    assert.equal(row.source, 'model');
    assert.equal(row.check, '');
    assert.equal(row.check_detail, '');
    assert.equal(row.escalated, '');
    assert.equal(row.attempts, 1);
  });

  it('judgment-tier work is not checked by default', h.LIMIT, async () => {
    const r = await send(gw.refusal, ask('auto', 'Which of these two designs should we adopt?'), work('decide'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-allot-tier'), 'judgment');
    assert.equal(r.headers.get('x-allot-check'), null);
    const row = await h.ledgerRow(gw.refusal.db, r.headers.get('x-allot-request-id'));
    assert.equal(row.check, '');
  });

  it('metrics count checks, escalations and check_failed attempts', h.LIMIT, async () => {
    const before = await metrics(gw.cut);
    const b = {
      checks: h.metricSum(before, 'allot_checks_total', { tier: 'labour', verdict: 'truncated' }),
      esc: h.metricSum(before, 'allot_escalations_total', { category: 'summarize' }),
      att: h.metricSum(before, 'allot_upstream_attempts_total', { model: 'cheap-cut', result: 'check_failed' }),
    };
    const r = await send(gw.cut, ask('auto'), work('summarize'));
    assert.equal(r.headers.get('x-allot-escalated'), 'truncated');
    const m = await metrics(gw.cut);
    assert.equal(h.metricSum(m, 'allot_checks_total', { tier: 'labour', verdict: 'truncated' }), b.checks + 1);
    assert.equal(h.metricSum(m, 'allot_escalations_total', { category: 'summarize' }), b.esc + 1);
    assert.equal(h.metricSum(m, 'allot_upstream_attempts_total', { model: 'cheap-cut', result: 'check_failed' }), b.att + 1);
    const pass = await metrics(gw.good);
    assert.ok(h.metricSum(pass, 'allot_checks_total', { tier: 'labour', verdict: 'pass' }) >= 1);
  });

  it('/metrics spend by model agrees with the ledger: the discarded answer is the labour model\'s spend', h.LIMIT, async () => {
    const m = await metrics(gw.empty);
    const rows = await h.sql(gw.empty.db, 'select model, cost_usd, escalation_usd from requests');
    assert.ok(rows.length >= 1);
    const escalation = rows.reduce((a, r) => a + r.escalation_usd, 0);
    const judge = rows.filter((r) => r.model === 'judge-a').reduce((a, r) => a + r.cost_usd - r.escalation_usd, 0);
    assert.ok(escalation > 0);
    const got = { cheap: h.metricSum(m, 'allot_cost_usd_total', { model: 'cheap-empty' }), judge: h.metricSum(m, 'allot_cost_usd_total', { model: 'judge-a' }) };
    assert.ok(h.near(got.cheap, escalation, 1e-8) && h.near(got.judge, judge, 1e-8),
      `allot_cost_usd_total: cheap-empty ${got.cheap} (ledger: ${escalation}), judge-a ${got.judge} (ledger: ${judge})`);
  });

  it('stops cleanly on SIGTERM', h.LIMIT, async () => {
    for (const [k, g] of Object.entries(gw)) await h.assertCleanStop(g, `allot ${k}`);
  });
});

// ---------------------------------------------------------------------------

describe('quality floor: streamed answers', () => {
  let frontier, local, bad, good;

  before(async () => {
    frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    local = await h.startFake({ name: 'local' });
    const fakes = { frontier, local };
    const models = [cheap('cheap-refusal', 'sim?bad=refusal')];
    [bad, good] = await Promise.all([
      h.startAllot(gatewayConfig(fakes, {
        labour: 'cheap-refusal', models,
        quality: { checks: { extract: { stream: 'buffer' }, summarize: { stream: 'after' } } },
      }), { env: h.ALLOT_ENV }),
      h.startAllot(gatewayConfig(fakes, {
        labour: 'labour-a', models,
        quality: { checks: { labour: { stream: 'buffer' } } },
      }), { env: h.ALLOT_ENV }),
    ]);
  });
  after(h.cleanup);

  async function stream(gw, body, headers) {
    const res = await h.post(`${gw.base}/chat/completions`, { ...body, stream: true }, headers);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/event-stream/);
    const sse = await h.readSSE(res);
    return { res, headers: res.headers, sse, messages: body.messages };
  }

  async function direct(fake, body) {
    const res = await h.post(`${fake.baseUrl}/chat/completions`, { ...body, stream: true });
    assert.equal(res.status, 200);
    return h.readSSE(res);
  }

  it('buffer: a failing labour stream is never seen; the client gets the judgment stream', h.LIMIT, async () => {
    const body = ask('auto');
    const r = await stream(bad, body, work('extract'));
    assert.ok(r.sse.ended);
    assert.ok(!r.sse.raw.includes('sorry'), 'the refusal leaked to the client');
    assert.equal(r.sse.events.at(-1).data, '[DONE]');
    const ev = h.eventJson(r.sse);
    assert.ok(ev.every((j) => j.model === 'judge-a-up'), 'every event from the judgment model');
    assert.ok(streamText(r.sse).startsWith('[frontier] answer to: '));
    h.assertSameEvents(r.sse, await direct(frontier, { ...body, model: 'judge-a-up' }), 'escalated stream');
    await assertEscalated(bad, { status: 200, headers: r.headers, messages: r.messages, text: '' },
      { check: 'refusal', labour: 'cheap-refusal', badTokens: BAD_TOKENS.refusal, category: 'extract', stream: true });
  });

  it('buffer: a passing labour stream is replayed byte for byte, with x-allot-check: pass', h.LIMIT, async () => {
    const body = ask('auto');
    const r = await stream(good, body, work('extract'));
    assert.equal(r.headers.get('x-allot-check'), 'pass');
    assert.equal(r.headers.get('x-allot-tier'), 'labour');
    assert.equal(r.headers.get('x-allot-attempts'), '1');
    assert.equal(r.sse.events.at(-1).data, '[DONE]');
    h.assertSameEvents(r.sse, await direct(local, { ...body, model: 'labour-a-up' }), 'replayed stream');
    const row = await h.ledgerRow(good.db, r.headers.get('x-allot-request-id'));
    assert.equal(row.check, 'pass');
    assert.equal(row.stream, 1);
    assert.equal(row.completion_tokens, ANSWER_WORDS);
    assert.equal(row.tokens_estimated, 0);
  });

  it('buffer with include_usage: the replay includes the usage chunk, as the upstream sent it', h.LIMIT, async () => {
    const body = ask('auto', 'List the action items.', { stream_options: { include_usage: true } });
    const r = await stream(good, body, work('collect'));
    assert.equal(r.headers.get('x-allot-check'), 'pass');
    h.assertSameEvents(r.sse, await direct(local, { ...body, model: 'labour-a-up' }), 'replayed stream');
    const usage = h.eventJson(r.sse).filter((j) => j.usage);
    assert.equal(usage.length, 1);
  });

  it('after: a failing labour stream reaches the client; the verdict is in the ledger, no escalation', h.LIMIT, async () => {
    const r = await stream(bad, ask('auto'), work('summarize'));
    assert.equal(r.sse.events.at(-1).data, '[DONE]');
    assert.equal(streamText(r.sse), REFUSAL);
    assert.equal(r.headers.get('x-allot-check'), null, 'headers went out before the verdict');
    assert.equal(r.headers.get('x-allot-escalated'), null);
    assert.equal(r.headers.get('x-allot-tier'), 'labour');
    const row = await h.ledgerRow(bad.db, r.headers.get('x-allot-request-id'));
    assert.equal(row.status, 'ok');
    assert.equal(row.check, 'refusal');
    assert.match(row.check_detail, /^refusal: /);
    assert.equal(row.escalated, '');
    assert.equal(row.escalation_usd, 0);
    assert.equal(row.tier, 'labour');
    assert.equal(row.model, 'cheap-refusal');
    assert.equal(row.attempts, 1);
    assert.equal(row.completion_tokens, BAD_TOKENS.refusal);
  });

  it('after is the default for streams', h.LIMIT, async () => {
    const r = await stream(bad, ask('auto'), work('scan'));
    assert.equal(streamText(r.sse), REFUSAL);
    const row = await h.ledgerRow(bad.db, r.headers.get('x-allot-request-id'));
    assert.equal(row.check, 'refusal');
    assert.equal(row.escalated, '');
  });

  it('the openai SDK streams the escalated answer like any other', h.LIMIT, async () => {
    const client = new OpenAI({ baseURL: bad.base, apiKey: 'client-key', maxRetries: 0, timeout: 60000 });
    const s = await client.chat.completions.create({ ...ask('auto'), stream: true }, { headers: work('extract') });
    let text = '', finish = null;
    for await (const chunk of s) {
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.ok(text.startsWith('[frontier] answer to: '), text);
    assert.equal(finish, 'stop');
  });

  it('stops cleanly on SIGTERM', h.LIMIT, async () => {
    await h.assertCleanStop(bad, 'allot bad');
    await h.assertCleanStop(good, 'allot good');
  });
});

// ---------------------------------------------------------------------------

describe('quality floor: the openai SDK', () => {
  let frontier, local, allot, client;

  before(async () => {
    frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    local = await h.startFake({ name: 'local' });
    allot = await h.startAllot(gatewayConfig({ frontier, local }, {
      labour: 'cheap-refusal', models: [cheap('cheap-refusal', 'sim?bad=refusal')],
    }), { env: h.ALLOT_ENV });
    client = new OpenAI({ baseURL: allot.base, apiKey: 'client-key', maxRetries: 0, timeout: 60000 });
  });
  after(h.cleanup);

  it('gets the escalated answer as a normal ChatCompletion', h.LIMIT, async () => {
    const messages = user('Summarise this thread for the changelog.');
    const { data, response } = await client.chat.completions.create({ model: 'auto', messages }, { headers: work('summarize') }).withResponse();
    assert.equal(data.object, 'chat.completion');
    assert.equal(data.model, 'judge-a-up');
    assert.equal(data.choices.length, 1);
    assert.equal(data.choices[0].message.role, 'assistant');
    assert.ok(data.choices[0].message.content.startsWith('[frontier] answer to: Summarise this thread'));
    assert.equal(data.choices[0].finish_reason, 'stop');
    const P = h.fakePromptTokens(messages);
    assert.deepEqual(data.usage, { prompt_tokens: P, completion_tokens: ANSWER_WORDS, total_tokens: P + ANSWER_WORDS });
    assert.equal(response.headers.get('x-allot-escalated'), 'refusal');
    assert.equal(response.headers.get('x-allot-tier'), 'judgment');
  });

  it('stops cleanly on SIGTERM', h.LIMIT, async () => {
    await h.assertCleanStop(allot);
  });
});

// ---------------------------------------------------------------------------

describe('quality floor: audits', () => {
  let frontier, local;
  const gw = {};
  const grader = (name, text) => ({ name, provider: 'frontier', model: `sim?content=${encodeURIComponent(text)}`, price: JUDGE_PRICE, context_window: 128000 });

  before(async () => {
    frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    local = await h.startFake({ name: 'local' });
    const fakes = { frontier, local };
    const models = [
      grader('grader-pass', 'VERDICT: PASS looks right'),
      grader('grader-fail', 'VERDICT: FAIL the summary invents a date'),
      grader('grader-mute', 'Looks fine to me.'),
      cheap('cheap-refusal', 'sim?bad=refusal'),
    ];
    const start = (judge, labour, quality) => h.startAllot(gatewayConfig(fakes, { labour, judgment: [judge], models, quality }), { env: h.ALLOT_ENV });
    [gw.pass, gw.fail, gw.mute, gw.none, gw.refusal] = await Promise.all([
      start('grader-pass', 'labour-a', { audit: { sample: 1 }, checks: { extract: { max_chars: 40, escalate: false } } }),
      start('grader-fail', 'labour-a', { audit: { sample: 1 } }),
      start('grader-mute', 'labour-a', { audit: { sample: 1 } }),
      start('grader-pass', 'labour-a', { audit: { sample: 0 } }),
      start('grader-pass', 'cheap-refusal', { audit: { sample: 1 } }),
    ]);
  });
  after(h.cleanup);

  const auditRows = (gw, of) => h.sql(gw.db, `select * from requests where endpoint = 'audit'${of ? ` and audit_of = '${of}'` : ''}`);

  async function auditOf(gw, id) {
    await h.waitRowCount(gw.db, 1, `audit_of = '${id}'`);
    const rows = await auditRows(gw, id);
    assert.equal(rows.length, 1, `audit rows of ${id}`);
    return rows[0];
  }

  it('sample 1 with a PASS grader: one audit row per passing labour answer, grade 1', h.LIMIT, async () => {
    const r = await send(gw.pass, ask('auto'), work('summarize'));
    assert.equal(r.headers.get('x-allot-check'), 'pass');
    const id = r.headers.get('x-allot-request-id');
    const a = await auditOf(gw.pass, id);
    assert.notEqual(a.id, id);
    assert.equal(a.endpoint, 'audit');
    assert.equal(a.source, 'audit');
    assert.equal(a.audit_of, id);
    assert.equal(a.grade, 1);
    assert.equal(a.check, 'pass');
    assert.equal(a.check_detail, 'looks right');
    assert.equal(a.category, 'summarize');
    assert.equal(a.tier, 'judgment');
    assert.equal(a.model, 'grader-pass');
    assert.equal(a.status, 'ok');
    assert.equal(a.attempt_log, 'grader-pass:ok');
    assert.equal(a.tier_confidence, -1, 'an audit is no routing decision');
    assert.equal(a.completion_tokens, 4);
    assert.ok(a.prompt_tokens > h.fakePromptTokens(r.messages), 'the grader sees the request and the answer');
    assert.equal(a.tokens_estimated, 0);
    assert.ok(a.cost_usd > 0);
    assert.ok(h.near(a.cost_usd, usd(JUDGE_PRICE, a.prompt_tokens, a.completion_tokens)), `audit cost ${a.cost_usd}`);
    // the answer's own row is not changed by its audit
    const row = await h.ledgerRow(gw.pass.db, id);
    assert.equal(row.grade, -1);
    assert.equal(row.check, 'pass');
    // and the grader saw the labour answer
    const stats = await frontier.stats();
    const graded = JSON.stringify(stats.last_request.body.messages);
    assert.match(graded, /\[local\] answer to: Summarise the attached/);
    assert.match(graded, /VERDICT: PASS/);
  });

  it('sample 1 with a FAIL grader: grade 0, check fail, the reason in check_detail', h.LIMIT, async () => {
    const r = await send(gw.fail, ask('auto'), work('summarize'));
    assert.equal(r.status, 200);
    const a = await auditOf(gw.fail, r.headers.get('x-allot-request-id'));
    assert.equal(a.grade, 0);
    assert.equal(a.check, 'fail');
    assert.equal(a.check_detail, 'the summary invents a date');
    assert.equal(a.model, 'grader-fail');
  });

  it('a grader answer without a VERDICT line: grade -1', h.LIMIT, async () => {
    const r = await send(gw.mute, ask('auto'), work('summarize'));
    const a = await auditOf(gw.mute, r.headers.get('x-allot-request-id'));
    assert.equal(a.grade, -1);
    assert.equal(a.check, '');
    assert.equal(a.check_detail, 'the grader gave no VERDICT line');
  });

  it('a streamed labour answer is audited too, on the content the client got', h.LIMIT, async () => {
    const res = await h.post(`${gw.pass.base}/chat/completions`, ask('auto', 'Summarise the streamed notes.', { stream: true }), work('summarize'));
    const sse = await h.readSSE(res);
    assert.equal(sse.events.at(-1).data, '[DONE]');
    const a = await auditOf(gw.pass, res.headers.get('x-allot-request-id'));
    assert.equal(a.grade, 1);
    const stats = await frontier.stats();
    assert.match(JSON.stringify(stats.last_request.body.messages), /\[local\] answer to: Summarise the streamed notes/);
  });

  it('metrics count audits by category and grade; audit spend is in the ledger', h.LIMIT, async () => {
    await h.waitRowCount(gw.pass.db, 2, "endpoint = 'audit'");
    await h.waitRowCount(gw.fail.db, 1, "endpoint = 'audit'");
    await h.waitRowCount(gw.mute.db, 1, "endpoint = 'audit'");
    assert.equal(h.metricSum(await metrics(gw.pass), 'allot_audits_total', { category: 'summarize', grade: 'pass' }), 2);
    assert.equal(h.metricSum(await metrics(gw.fail), 'allot_audits_total', { category: 'summarize', grade: 'fail' }), 1);
    assert.equal(h.metricSum(await metrics(gw.mute), 'allot_audits_total', { category: 'summarize', grade: 'none' }), 1);
    const [{ audits, total }] = await h.sql(gw.pass.db,
      "select sum(case when endpoint = 'audit' then cost_usd else 0 end) as audits, sum(cost_usd) as total from requests");
    assert.ok(audits > 0 && total > audits);
    // allot report: the audits are not requests; their spend is reported with
    // the quality figures and taken off the saving
    const rep = await h.runAllot(['report', '--store', gw.pass.db, '--json']);
    assert.equal(rep.code, 0, rep.stderr);
    const report = JSON.parse(rep.stdout);
    assert.ok(h.near(report.totals.cost_usd + report.quality.totals.audit_usd, total, 1e-9),
      `report cost ${report.totals.cost_usd} + audits ${report.quality.totals.audit_usd}, ledger ${total}`);
    assert.ok(h.near(report.quality.totals.audit_usd, audits, 1e-9));
    const [{ n }] = await h.sql(gw.pass.db, "select count(*) as n from requests where endpoint <> 'audit'");
    assert.equal(report.totals.requests, n);
    assert.ok(h.near(report.quality.net_saving_usd,
      report.totals.counterfactual_usd - report.totals.cost_usd - report.quality.totals.audit_usd, 1e-9));
  });

  it('/metrics spend includes the audits (the grader is a paid call)', h.LIMIT, async () => {
    await h.waitRowCount(gw.fail.db, 1, "endpoint = 'audit'");
    const [{ spend }] = await h.sql(gw.fail.db, "select sum(cost_usd) as spend from requests where model = 'grader-fail'");
    const m = h.metricSum(await metrics(gw.fail), 'allot_cost_usd_total', { model: 'grader-fail' });
    assert.ok(h.near(m, spend, 1e-8), `allot_cost_usd_total{model="grader-fail"} ${m}, ledger ${spend}`);
  });

  it('no audits: sample 0, judgment-tier answers, escalated answers, failed answers', h.LIMIT, async () => {
    const ids = [];
    const push = (r) => { assert.equal(r.status, 200, r.text); ids.push(r.headers.get('x-allot-request-id')); };
    push(await send(gw.none, ask('auto'), work('summarize')));            // sample 0
    push(await send(gw.pass, ask('auto', 'Which option should we choose?'), work('decide'))); // judgment tier
    push(await send(gw.pass, ask('allot:judgment')));
    push(await send(gw.pass, ask('auto'), work('extract')));              // failed max_chars, returned
    push(await send(gw.refusal, ask('auto'), work('summarize')));         // escalated
    // A graceful stop waits for the audits in flight and flushes the ledger:
    // after it, the ledger holds every audit there will be.
    for (const k of ['none', 'pass', 'refusal']) await h.assertCleanStop(gw[k], `allot ${k}`);
    for (const k of ['none', 'pass', 'refusal']) {
      const rows = await h.sql(gw[k].db, `select audit_of from requests where endpoint = 'audit' and audit_of in (${ids.map((i) => `'${i}'`).join(',')})`);
      assert.deepEqual(rows, [], `allot ${k} audited ${JSON.stringify(rows)}`);
    }
    assert.equal((await h.sql(gw.none.db, "select count(*) as n from requests where endpoint = 'audit'"))[0].n, 0);
  });

  it('stops cleanly on SIGTERM', h.LIMIT, async () => {
    for (const k of ['fail', 'mute']) await h.assertCleanStop(gw[k], `allot ${k}`);
  });
});

// ---------------------------------------------------------------------------

describe('quality floor: promotion and demotion', () => {
  let frontier, local;
  const gw = {};
  // Every 2nd request to each of these ids gets a refusal (per id, in the fake).
  const ID = {
    a: 'floorA?bad-every=2&bad=refusal',
    b: 'floorB?bad-every=2&bad=refusal',
    c: 'floorC?bad-every=2&bad=refusal',
  };
  // min_samples 5: the first verdicts that can promote. 3/5 passed has a
  // Wilson upper bound of 0.882 < 0.9 (promote); 4/5 has 0.964 (stay).
  // probe_samples 3 at min_pass 0.9 needs all 3 probes to pass.
  const FLOOR = { min_pass: 0.9, window: 10, min_samples: 5, probe_samples: 3 };

  before(async () => {
    frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    local = await h.startFake({ name: 'local' });
    const fakes = { frontier, local };
    const models = Object.entries(ID).map(([k, id]) => cheap(`cheap-${k}`, id));
    const start = (k, floor, audit) => h.startAllot(gatewayConfig(fakes, {
      labour: `cheap-${k}`, models, quality: { floor: { ...FLOOR, ...floor }, ...(audit ? { audit } : {}) },
    }), { env: h.ALLOT_ENV });
    [gw.a, gw.b, gw.c, gw.audit] = await Promise.all([
      start('a', { cooldown_s: 3600, probe_share: 1 }),
      start('b', { cooldown_s: 0, probe_share: 1 }),
      start('c', { cooldown_s: 1, probe_share: 1 }),
      h.startAllot(gatewayConfig(fakes, {
        labour: 'labour-a', judgment: ['grader-fail'],
        models: [{ name: 'grader-fail', provider: 'frontier', model: 'sim?content=VERDICT%3A%20FAIL%20wrong', price: JUDGE_PRICE }],
        quality: { audit: { sample: 1 }, floor: { ...FLOOR, cooldown_s: 3600, probe_share: 0 } },
      }), { env: h.ALLOT_ENV }),
    ]);
  });
  after(h.cleanup);

  /** The number of requests the fake has seen for id. */
  const turns = async (id) => (await local.stats()).bad_every?.[id]?.requests ?? 0;

  /** Make the next request to id bad (or good): spend a turn on a filler. */
  async function steer(g, id, bad) {
    const next = (await turns(id)) + 1;
    if ((next % 2 === 0) === bad) return;
    const f = await send(g, ask('allot:labour', 'Filler.'));
    assert.equal(f.status, 200, f.text);
    assert.equal(await turns(id), next, 'the filler took one turn');
  }

  /** A summarize request whose labour answer (if labour serves it) is bad or good. */
  async function summarize(g, id, bad) {
    await steer(g, id, bad);
    const r = await send(g, ask('auto'), work('summarize'));
    assert.equal(r.status, 200, r.text);
    const row = await h.ledgerRow(g.db, r.headers.get('x-allot-request-id'));
    return { r, row };
  }

  const promotedGauge = async (g) => {
    const s = (await metrics(g)).filter((x) => x.name === 'allot_floor_promoted' && x.labels.category === 'summarize');
    assert.equal(s.length, 1, 'allot_floor_promoted{category="summarize"}');
    return s[0].value;
  };

  it('a category whose labour answers fail is promoted: its requests go to judgment', h.LIMIT, async () => {
    const g = gw.a;
    assert.equal(await promotedGauge(g), 0);
    // P F P F P: 3/5 after the fifth verdict
    const seq = [];
    for (const bad of [false, true, false, true, false]) seq.push(await summarize(g, ID.a, bad));
    seq.forEach(({ row }, i) => {
      assert.equal(row.floor, '', `request ${i + 1}`);
      assert.equal(row.escalated, i % 2 ? 'refusal' : '', `request ${i + 1}`);
    });
    const ev = await events(g);
    assert.deepEqual(ev, [{ kind: 'promote', subject: 'summarize', detail: 'summarize: 3/5 passed, Wilson upper bound 0.882 < floor 0.9; to judgment, probes in 3600 s' }]);
    assert.equal(await promotedGauge(g), 1);
    const m = await metrics(g);
    assert.equal(h.metricSum(m, 'allot_floor_changes_total', { category: 'summarize', change: 'promote' }), 1);
    assert.equal(h.metricSum(m, 'allot_floor_changes_total', { category: 'summarize', change: 'demote' }), 0);

    const seen = await turns(ID.a);
    const r = await send(g, ask('auto'), work('summarize'));
    const row = await h.ledgerRow(g.db, r.headers.get('x-allot-request-id'));
    assert.equal(r.headers.get('x-allot-tier'), 'judgment');
    assert.equal(r.headers.get('x-allot-model'), 'judge-a');
    assert.equal(r.headers.get('x-allot-attempts'), '1');
    assert.equal(r.headers.get('x-allot-escalated'), null);
    assert.match(r.headers.get('x-allot-reason'), /^summarize promoted to judgment: 3\/5 passed, Wilson upper bound 0\.882 < floor 0\.9; probes in \d+/);
    assert.ok(content(r).startsWith('[frontier] '));
    assert.equal(await turns(ID.a), seen, 'the labour model was not asked');
    assert.equal(row.floor, 'promoted');
    assert.equal(row.tier, 'judgment');
    assert.equal(row.category, 'summarize');
    assert.equal(row.attempt_log, 'judge-a:ok');
    assert.equal(row.escalated, '');
    assert.equal(row.escalation_usd, 0);
  });

  it('a promotion moves only that category, and not requests that name the tier', h.LIMIT, async () => {
    const g = gw.a;
    await steer(g, ID.a, false);
    const other = await send(g, ask('auto'), work('extract'));
    assert.equal(other.headers.get('x-allot-tier'), 'labour');
    assert.equal((await h.ledgerRow(g.db, other.headers.get('x-allot-request-id'))).floor, '');
    await steer(g, ID.a, false);
    const named = await send(g, ask('allot:labour'));
    assert.equal(named.headers.get('x-allot-tier'), 'labour');
    assert.equal((await h.ledgerRow(g.db, named.headers.get('x-allot-request-id'))).floor, '');
  });

  it('probes after the cool-down: a failing round repromotes, a passing round demotes', h.LIMIT, async () => {
    const g = gw.b;
    const plan = [
      // verdicts on labour: P P P F F -> 3/5, promoted after the 5th
      [false, ''], [false, ''], [false, ''], [true, ''], [true, ''],
      // cool-down 0, probe_share 1: every request is a probe. P F: repromoted
      [false, 'probe'], [true, 'probe'],
      // P P P: demoted on the third
      [false, 'probe'], [false, 'probe'], [false, 'probe'],
      // back on labour
      [false, ''], [true, ''],
    ];
    const rows = [];
    for (const [bad, floor] of plan) {
      const { r, row } = await summarize(g, ID.b, bad);
      const i = rows.length + 1;
      assert.equal(row.floor, floor, `request ${i}: floor`);
      assert.equal(row.category, 'summarize');
      // a probe is served by labour; a failing one still escalates
      assert.equal(row.tier, bad ? 'judgment' : 'labour', `request ${i}: tier`);
      assert.equal(row.escalated, bad ? 'refusal' : '', `request ${i}: escalated`);
      assert.equal(row.check, bad ? '' : 'pass', `request ${i}: check`);
      if (floor === 'probe') assert.match(r.headers.get('x-allot-reason'), /^probe for summarize: promoted, probe round \d\/3/);
      rows.push(row);
      if (i === 10) assert.equal(await promotedGauge(g), 0, 'demoted after the third passing probe');
      if (i === 6) assert.equal(await promotedGauge(g), 1);
    }
    const ev = await events(g, 3);
    assert.deepEqual(ev.map((e) => e.kind), ['promote', 'repromote', 'demote']);
    assert.ok(ev.every((e) => e.subject === 'summarize'));
    assert.equal(ev[0].detail, 'summarize: 3/5 passed, Wilson upper bound 0.882 < floor 0.9; to judgment, probes in 0 s');
    assert.equal(ev[1].detail, 'summarize: probes 1/2 passed, 3 of 3 can no longer pass (floor 0.9); stays on judgment, probes again in 0 s');
    assert.equal(ev[2].detail, 'summarize: probes 3/3 passed, at least 3 of 3 >= floor 0.9; back to labour');
    const m = await metrics(g);
    assert.equal(h.metricSum(m, 'allot_floor_changes_total', { category: 'summarize', change: 'demote' }), 1);
    assert.ok(h.metricSum(m, 'allot_floor_changes_total', { category: 'summarize', change: 'promote' }) >= 1);
    const fromLedger = await h.sql(g.db, "select floor, count(*) as n from requests where category = 'summarize' group by floor order by floor");
    assert.deepEqual(fromLedger, [{ floor: '', n: 7 }, { floor: 'probe', n: 5 }]);
  });

  it('a failed probe round doubles the cool-down (cooldown_s 1 -> probes again in 2 s)', h.LIMIT, async () => {
    const g = gw.c;
    for (const bad of [false, true, false, true, false]) await summarize(g, ID.c, bad);
    assert.deepEqual((await events(g)).map((e) => e.kind), ['promote']);
    // Promoted requests go to judgment without touching the labour model:
    // ask until the cool-down is over and a request is a probe.
    await steer(g, ID.c, true);
    const probe = await h.waitFor(async () => {
      const r = await send(g, ask('auto'), work('summarize'));
      assert.equal(r.status, 200);
      return r.headers.get('x-allot-reason').startsWith('probe for summarize') ? r : null;
    }, { timeoutMs: 30000, intervalMs: 100, what: 'a probe after the 1 s cool-down' });
    assert.equal(probe.headers.get('x-allot-escalated'), 'refusal');
    const ev = await events(g, 2);
    assert.deepEqual(ev.map((e) => e.kind), ['promote', 'repromote']);
    assert.equal(ev[0].detail, 'summarize: 3/5 passed, Wilson upper bound 0.882 < floor 0.9; to judgment, probes in 1 s');
    assert.equal(ev[1].detail, 'summarize: probes 0/1 passed, 3 of 3 can no longer pass (floor 0.9); stays on judgment, probes again in 2 s');
  });

  it('audit verdicts feed the floor: a FAIL grader promotes a category whose checks pass', h.LIMIT, async () => {
    const g = gw.audit;
    // each request: its check passes, then its audit fails: P F P F P -> 3/5
    for (let i = 0; i < 3; i++) {
      const r = await send(g, ask('auto'), work('summarize'));
      assert.equal(r.headers.get('x-allot-tier'), 'labour', `request ${i + 1}`);
      assert.equal(r.headers.get('x-allot-check'), 'pass');
      await h.waitRowCount(g.db, 1, `audit_of = '${r.headers.get('x-allot-request-id')}'`);
    }
    const ev = await events(g);
    assert.deepEqual(ev, [{ kind: 'promote', subject: 'summarize', detail: 'summarize: 3/5 passed, Wilson upper bound 0.882 < floor 0.9; to judgment, no probes (probe_share 0)' }]);
    const r = await send(g, ask('auto'), work('summarize'));
    assert.equal(r.headers.get('x-allot-tier'), 'judgment');
    assert.match(r.headers.get('x-allot-reason'), /promoted to judgment: .*; no probes$/);
    const row = await h.ledgerRow(g.db, r.headers.get('x-allot-request-id'));
    assert.equal(row.floor, 'promoted');
    assert.equal(row.model, 'grader-fail');
  });

  it('stops cleanly on SIGTERM', h.LIMIT, async () => {
    for (const [k, g] of Object.entries(gw)) await h.assertCleanStop(g, `allot ${k}`);
  });
});
