// Prompt-cache pricing: the usage an upstream reports for cached prompt
// tokens (OpenAI's prompt_tokens_details.cached_tokens, Anthropic's
// cache_read_input_tokens and cache_creation_input_tokens) lands in the
// ledger's cached_tokens and cache_write_tokens columns, and cost_usd and
// counterfactual_usd price those tokens at the models' price.cached_input
// and price.cache_write (docs/config.md, docs/ledger.md). The fake upstream
// reports cached tokens with its cached-tokens and cache-write-tokens knobs.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './harness.mjs';

const CLAUDE_KEY = 'sk-ant-it-0123456789';

// The judgment tier's first model, for the counterfactual: its own cache prices.
const JUDGE = { input: 5, cached_input: 1.25, cache_write: 6.25, output: 20 };
const GPT = { input: 2, cached_input: 0.5, output: 8 }; // cache_write unset: = input
const CLAUDE = { input: 3, cached_input: 0.3, cache_write: 3.75, output: 15 };

/** USD for tokens at prices p, cache prices defaulting to input. */
function usd(p, { prompt, cached = 0, write = 0, completion }) {
  const ci = p.cached_input ?? p.input, cw = p.cache_write ?? p.input;
  return ((prompt - cached - write) * p.input + cached * ci + write * cw + completion * p.output) / 1e6;
}

/** The JSON chunks of an SSE text (h.chat's text for a stream). */
function chunks(text) {
  return text.split('\n\n').map((e) => e.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join(''))
    .filter((d) => d && d !== '[DONE]').map((d) => JSON.parse(d));
}

describe('prompt-cache pricing', () => {
  let frontier, local, claude, allot;
  // ~1000 prompt tokens as the fake counts them (bytes / 4)
  const user = 'Review this design for the cache layer and list every risk you see. '.repeat(58);
  const messages = [{ role: 'user', content: user }];
  const P = h.fakePromptTokens(messages);

  before(async () => {
    frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    local = await h.startFake({ name: 'local' });
    claude = await h.startFake({ name: 'claude', expectKey: CLAUDE_KEY });
    allot = await h.startAllot(h.baseConfig({ frontier, local }, {
      providers: [{ name: 'anthropic', kind: 'anthropic', base_url: claude.baseUrl, api_key: '${ALLOT_IT_CLAUDE_KEY}',
        connect_timeout_ms: 2000, timeout_ms: 30000 }],
      models: [
        { name: 'judge-c', provider: 'frontier', model: 'judge-c-up', price: JUDGE },
        { name: 'gpt-cached', provider: 'frontier', model: 'gpt-up?cached-tokens=600', price: GPT },
        // the same answers, no cache prices: cached tokens cost input, as before
        { name: 'gpt-list', provider: 'frontier', model: 'gpt-up?cached-tokens=600', price: { input: 2, output: 8 } },
        // more cached than the prompt holds: capped at the prompt
        { name: 'gpt-all', provider: 'frontier', model: 'gpt-up?cached-tokens=99999', price: GPT },
        { name: 'claude-c', provider: 'anthropic', model: 'claude-up?cached-tokens=500&cache-write-tokens=200', price: CLAUDE },
      ],
      tiers: { judgment: ['judge-c', 'judge-a'] },
    }), { env: { ...h.ALLOT_ENV, ALLOT_IT_CLAUDE_KEY: CLAUDE_KEY } });
    assert.ok(P > 900, `prompt tokens ${P}`);
  });
  after(h.cleanup);

  it('a plain OpenAI-style answer with cached tokens: cached_tokens, cost and counterfactual at the cache prices', h.LIMIT, async () => {
    const r = await h.chat(allot.base, { model: 'gpt-cached', messages });
    assert.equal(r.status, 200, r.text);
    // the client's usage passes through unchanged
    assert.equal(r.json.usage.prompt_tokens, P);
    assert.equal(r.json.usage.prompt_tokens_details.cached_tokens, 600);
    const t = { prompt: P, cached: 600, completion: 16 };
    const cost = usd(GPT, t);
    assert.ok(h.near(cost, ((P - 600) * 2 + 600 * 0.5 + 16 * 8) / 1e6, 1e-15));
    assert.ok(h.near(Number(r.headers.get('x-allot-cost-usd')), cost, 1e-8), r.headers.get('x-allot-cost-usd'));
    const row = await h.ledgerRow(allot.db, r.headers.get('x-allot-request-id'));
    assert.equal(row.prompt_tokens, P);
    assert.equal(row.cached_tokens, 600);
    assert.equal(row.cache_write_tokens, 0);
    assert.equal(row.completion_tokens, 16);
    assert.ok(h.near(row.cost_usd, cost, 1e-15), `cost_usd ${row.cost_usd} != ${cost}`);
    assert.ok(h.near(row.counterfactual_usd, usd(JUDGE, t), 1e-15), `counterfactual ${row.counterfactual_usd}`);
  });

  it('a streamed OpenAI-style answer: cached tokens read from the usage chunk', h.LIMIT, async () => {
    const r = await h.chat(allot.base, { model: 'gpt-cached', messages, stream: true });
    assert.equal(r.status, 200, r.text);
    // the client did not ask for usage: it gets none, allot read it anyway
    assert.ok(chunks(r.text).every((c) => !c.usage), r.text);
    const row = await h.ledgerRow(allot.db, r.headers.get('x-allot-request-id'));
    assert.equal(row.stream, 1);
    assert.equal(row.prompt_tokens, P);
    assert.equal(row.cached_tokens, 600);
    assert.equal(row.tokens_estimated, 0);
    const t = { prompt: P, cached: 600, completion: 16 };
    assert.ok(h.near(row.cost_usd, usd(GPT, t), 1e-15), `cost_usd ${row.cost_usd}`);
    assert.ok(h.near(row.counterfactual_usd, usd(JUDGE, t), 1e-15));

    // asked for: the usage chunk as the upstream sent it
    const asked = await h.chat(allot.base, { model: 'gpt-cached', messages, stream: true, stream_options: { include_usage: true } });
    const usage = chunks(asked.text).find((c) => c.usage).usage;
    assert.equal(usage.prompt_tokens_details.cached_tokens, 600);
  });

  it('a model without cache prices costs what it did before; cached tokens are still recorded', h.LIMIT, async () => {
    const r = await h.chat(allot.base, { model: 'gpt-list', messages });
    assert.equal(r.status, 200, r.text);
    const row = await h.ledgerRow(allot.db, r.headers.get('x-allot-request-id'));
    assert.equal(row.cached_tokens, 600);
    const before = (P * 2 + 16 * 8) / 1e6;
    assert.ok(h.near(row.cost_usd, before, 1e-15), `cost_usd ${row.cost_usd} != ${before}`);
    // no cached tokens at all: the same
    const plain = await h.chat(allot.base, { model: 'judge-a', messages });
    const prow = await h.ledgerRow(allot.db, plain.headers.get('x-allot-request-id'));
    assert.equal(prow.cached_tokens, 0);
    assert.equal(prow.cache_write_tokens, 0);
    assert.ok(h.near(prow.cost_usd, (P * 3 + 16 * 15) / 1e6, 1e-15), `cost_usd ${prow.cost_usd}`);
  });

  it('cached tokens past the prompt are capped at it', h.LIMIT, async () => {
    const r = await h.chat(allot.base, { model: 'gpt-all', messages });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.usage.prompt_tokens_details.cached_tokens, P); // the fake caps too
    const row = await h.ledgerRow(allot.db, r.headers.get('x-allot-request-id'));
    assert.equal(row.cached_tokens, P);
    assert.ok(h.near(row.cost_usd, (P * 0.5 + 16 * 8) / 1e6, 1e-15), `cost_usd ${row.cost_usd}`);
  });

  it('a kind: anthropic provider: cache reads and writes, plain and streamed', h.LIMIT, async () => {
    const t = { prompt: P, cached: 500, write: 200, completion: 16 };
    const cost = usd(CLAUDE, t);
    assert.ok(h.near(cost, ((P - 700) * 3 + 500 * 0.3 + 200 * 3.75 + 16 * 15) / 1e6, 1e-15));
    const r = await h.chat(allot.base, { model: 'claude-c', messages });
    assert.equal(r.status, 200, r.text);
    // prompt_tokens is the whole prompt; the cache counts are parts of it
    assert.equal(r.json.usage.prompt_tokens, P);
    assert.deepEqual(r.json.usage.prompt_tokens_details, { cached_tokens: 500, cache_write_tokens: 200 });
    assert.ok(h.near(Number(r.headers.get('x-allot-cost-usd')), cost, 1e-8), r.headers.get('x-allot-cost-usd'));
    const s = await h.chat(allot.base, { model: 'claude-c', messages, stream: true, stream_options: { include_usage: true } });
    assert.equal(s.status, 200, s.text);
    const usage = chunks(s.text).find((c) => c.usage).usage;
    assert.equal(usage.prompt_tokens, P);
    assert.deepEqual(usage.prompt_tokens_details, { cached_tokens: 500, cache_write_tokens: 200 });
    for (const x of [r, s]) {
      const row = await h.ledgerRow(allot.db, x.headers.get('x-allot-request-id'));
      assert.equal(row.provider, 'anthropic');
      assert.equal(row.prompt_tokens, P);
      assert.equal(row.cached_tokens, 500);
      assert.equal(row.cache_write_tokens, 200);
      assert.equal(row.completion_tokens, 16);
      assert.ok(h.near(row.cost_usd, cost, 1e-15), `cost_usd ${row.cost_usd} != ${cost}`);
      assert.ok(h.near(row.counterfactual_usd, usd(JUDGE, t), 1e-15), `counterfactual ${row.counterfactual_usd}`);
    }
  });

  it('clients of the Messages and Responses APIs see cached tokens in their own fields', h.LIMIT, async () => {
    const m = await h.post(`${allot.base}/messages`, { model: 'claude-c', max_tokens: 100, messages });
    assert.equal(m.status, 200);
    const mj = await m.json();
    assert.deepEqual(mj.usage, { input_tokens: P - 700, cache_creation_input_tokens: 200, cache_read_input_tokens: 500, output_tokens: 16 });
    const ms = await h.post(`${allot.base}/messages`, { model: 'gpt-cached', max_tokens: 100, messages, stream: true });
    const delta = chunks(await ms.text()).find((c) => c.type === 'message_delta');
    assert.deepEqual(delta.usage, { input_tokens: P - 600, cache_creation_input_tokens: 0, cache_read_input_tokens: 600, output_tokens: 16 });
    const rs = await h.post(`${allot.base}/responses`, { model: 'gpt-cached', input: user });
    assert.equal(rs.status, 200);
    const rj = await rs.json();
    assert.equal(rj.usage.input_tokens, P);
    assert.equal(rj.usage.input_tokens_details.cached_tokens, 600);
  });

  it('/metrics counts cached prompt tokens by model, as the ledger does', h.LIMIT, async () => {
    const m = h.parseMetrics(await (await fetch(`${allot.origin}/metrics`)).text());
    // every request the metrics counted has its row committed
    await h.waitRowCount(allot.db, h.metricSum(m, 'allot_requests_total'));
    const rows = await h.sql(allot.db,
      'select model, sum(cached_tokens) r, sum(cache_write_tokens) w from requests group by model');
    let some = 0;
    for (const r of rows.filter((x) => x.model)) {
      assert.equal(h.metricSum(m, 'allot_cached_prompt_tokens_total', { model: r.model, kind: 'read' }), r.r, `read of ${r.model}`);
      assert.equal(h.metricSum(m, 'allot_cached_prompt_tokens_total', { model: r.model, kind: 'write' }), r.w, `write of ${r.model}`);
      some += r.r + r.w;
    }
    assert.ok(some > 0, 'no cached tokens counted');
    assert.equal(h.metricSum(m, 'allot_cached_prompt_tokens_total', { model: 'claude-c', kind: 'write' }) % 200, 0);
  });
});
