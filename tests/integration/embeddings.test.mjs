// Embeddings (POST /v1/embeddings): the official openai client's
// embeddings.create() works through allot unchanged (its default base64
// encoding included); "auto" goes to the `embeddings` list, first model
// first, with fallbacks; a configured model can be named; every request is
// ledgered with its tokens and cost (and no saving claimed); unknown names
// and models of kind anthropic providers are refused in OpenAI's format;
// client keys apply as everywhere.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import * as h from './harness.mjs';

const KEY = 'sk-it-embeddings-client-0123456789';

describe('POST /v1/embeddings', () => {
  let frontier, local, allot, client;

  before(async () => {
    frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    local = await h.startFake({ name: 'local' });
    const cfg = h.baseConfig({ frontier, local }, {
      providers: [{ name: 'claude', kind: 'anthropic', base_url: frontier.baseUrl, api_key: '${ALLOT_IT_FRONTIER_KEY}' }],
      models: [
        { name: 'embed-down', provider: 'local', model: 'sim?status=503', price: { input: 0.1, output: 0 } },
        { name: 'text-embedding-3-small', provider: 'frontier', model: 'emb-small-up', price: { input: 0.02, output: 0 } },
        { name: 'claude-x', provider: 'claude', model: 'claude-x-up', price: { input: 3, output: 15 } },
      ],
    });
    cfg.embeddings = ['embed-down', 'text-embedding-3-small'];
    cfg.limits.cooldown_after = 0; // every request meets the failing first model
    cfg.auth = { keys: [{ name: 'rag', key: KEY }] };
    allot = await h.startAllot(cfg, { env: h.ALLOT_ENV });
    client = new OpenAI({ baseURL: allot.base, apiKey: KEY, maxRetries: 0, timeout: 60000 });
  });
  after(h.cleanup);

  it('embeddings.create with "auto": vectors for every input, a fallback past a 503, ledgered with cost', h.LIMIT, async () => {
    const input = ['The library reopened on Monday.', 'Four hundred people queued outside.'];
    const { data: r, response } = await client.embeddings.create({ model: 'auto', input }).withResponse();
    assert.equal(r.object, 'list');
    assert.equal(r.data.length, 2);
    assert.equal(r.data[1].index, 1);
    // the SDK asked for base64 and decoded it: the fake's exact numbers
    assert.equal(r.data[0].embedding.length, 8);
    assert.deepEqual(Array.from(r.data[0].embedding), [-0.4375, -0.375, -0.3125, -0.25, -0.1875, -0.125, -0.0625, 0]);
    assert.equal(r.model, 'emb-small-up');
    const promptTokens = Math.ceil((input[0].length + input[1].length) / 4);
    assert.equal(r.usage.prompt_tokens, promptTokens);
    assert.equal(response.headers.get('x-allot-model'), 'text-embedding-3-small');
    assert.equal(response.headers.get('x-allot-attempts'), '2');
    const row = await h.ledgerRow(allot.db, response.headers.get('x-allot-request-id'));
    assert.equal(row.endpoint, '/v1/embeddings');
    assert.equal(row.requested_model, 'auto');
    assert.equal(row.model, 'text-embedding-3-small');
    assert.equal(row.attempt_log, 'embed-down:503,text-embedding-3-small:ok');
    assert.equal(row.status, 'ok');
    assert.equal(row.client, 'rag');
    assert.equal(row.prompt_tokens, promptTokens);
    assert.equal(row.completion_tokens, 0);
    assert.ok(h.near(row.cost_usd, promptTokens * 0.02 / 1e6, 1e-12), `cost ${row.cost_usd}`);
    assert.equal(row.counterfactual_usd, row.cost_usd, 'no saving is claimed for embeddings');
    assert.equal((await frontier.stats()).last_request.key_ok, true, 'the provider key went upstream');
  });

  it('a configured model by name, floats when asked; errors in OpenAI\'s format', h.LIMIT, async () => {
    const r = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'one', encoding_format: 'float' });
    assert.deepEqual(r.data[0].embedding, [-0.4375, -0.375, -0.3125, -0.25, -0.1875, -0.125, -0.0625, 0]);
    await assert.rejects(client.embeddings.create({ model: 'text-embedding-ada-002', input: 'x' }), (e) => {
      assert.ok(e instanceof OpenAI.NotFoundError, e.constructor.name);
      assert.equal(e.code, 'model_not_found');
      assert.match(e.message, /model 'text-embedding-ada-002' does not exist: use "auto", "allot:embeddings" or a configured model/);
      return true;
    });
    await assert.rejects(client.embeddings.create({ model: 'claude-x', input: 'x' }), (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError, e.constructor.name);
      assert.match(e.message, /provider 'claude' of kind anthropic, which has no embeddings API/);
      return true;
    });
    const bad = await h.post(`${allot.base}/embeddings`, { model: 'auto', input: 42 }, { authorization: `Bearer ${KEY}` });
    assert.equal(bad.status, 400);
    assert.match(h.openaiError(await bad.json()).message, /'input' is required: a string or a non-empty array/);
    const nokey = await h.post(`${allot.base}/embeddings`, { model: 'auto', input: 'x' });
    assert.equal(nokey.status, 401);
  });

  it('allot config check counts the embeddings models, and refuses one of a kind anthropic provider', h.LIMIT, async () => {
    const ok = await h.runAllot(['config', 'check', '--config', allot.configPath], { env: h.ALLOT_ENV });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /: ok \(.*, code: 2, embeddings: 2\)/);
    const yaml = h.toYaml(h.baseConfig({ frontier, local }, {
      providers: [{ name: 'claude', kind: 'anthropic', base_url: frontier.baseUrl }],
      models: [{ name: 'claude-x', provider: 'claude', model: 'claude-x-up' }],
    })).replace(/^\n/, '') + '\nembeddings: [labour-a, claude-x, nope]\n';
    const dir = h.tempDir();
    const file = `${dir}/allot.yaml`;
    (await import('node:fs')).writeFileSync(file, yaml);
    const r = await h.runAllot(['config', 'check', '--config', file], { env: h.ALLOT_ENV });
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /key 'embeddings\[1\]': model 'claude-x' is served by provider 'claude' of kind anthropic/);
    assert.match(r.stderr, /key 'embeddings\[2\]': unknown model 'nope'/);
  });
});
