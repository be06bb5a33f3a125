// The official openai npm client against allot, as an application would use
// it: only the base URL changes. Answers must equal what the same client
// gets from the upstream directly, and the client's API key must never
// reach the upstream (allot sends the provider's key from its config).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import * as h from './harness.mjs';

const CLIENT_KEY = 'client-key'; // a different length from FRONTIER_KEY, so the fake's redacted length tells them apart

describe('openai SDK', () => {
  let frontier, local, allot, client, direct;
  const messages = [
    { role: 'system', content: 'You are a careful reviewer.' },
    { role: 'user', content: 'Review this pull request for correctness: int add(int a, int b) { return a - b; }' },
  ];

  before(async () => {
    frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    local = await h.startFake({ name: 'local' });
    allot = await h.startAllot(h.baseConfig({ frontier, local }, {
      models: [{ name: 'cut', provider: 'frontier', model: 'sim-cut4', price: { input: 1, output: 2 } }],
    }), { env: h.ALLOT_ENV });
    client = new OpenAI({ baseURL: allot.base, apiKey: CLIENT_KEY, maxRetries: 0, timeout: 60000 });
    direct = new OpenAI({ baseURL: frontier.baseUrl, apiKey: h.FRONTIER_KEY, maxRetries: 0, timeout: 60000 });
  });
  after(h.cleanup);

  it('chat.completions.create: same answer as the upstream, the provider key upstream, not the client key', h.LIMIT, async () => {
    const { data, response } = await client.chat.completions.create({ model: 'allot:judgment', messages }).withResponse();
    const stats = await frontier.stats();
    const want = await direct.chat.completions.create({ model: 'judge-a-up', messages });

    assert.equal(response.headers.get('x-allot-model'), 'judge-a');
    assert.equal(data.model, 'judge-a-up');
    assert.equal(data.choices[0].message.content, want.choices[0].message.content);
    assert.deepEqual(data.usage, want.usage);

    assert.equal(stats.last_request.model, 'judge-a-up');
    assert.equal(stats.last_request.key_ok, true, `upstream saw ${stats.last_request.authorization_value}`);
    assert.match(stats.last_request.authorization_value, new RegExp(`redacted:${h.FRONTIER_KEY.length} chars`));
  });

  it('the client key is not sent to a provider that has no api_key', h.LIMIT, async () => {
    const r = await client.chat.completions.create({ model: 'allot:labour', messages });
    assert.ok(r.choices[0].message.content.startsWith('[local] '));
    const stats = await local.stats();
    assert.equal(stats.last_request.authorization, 'absent', JSON.stringify(stats.last_request));
  });

  it('stream: true: the chunks assemble to the same text as the upstream stream', h.LIMIT, async () => {
    const collect = async (c, model) => {
      const stream = await c.chat.completions.create({ model, messages, stream: true });
      let text = '', models = new Set(), finish = null;
      for await (const chunk of stream) {
        models.add(chunk.model);
        text += chunk.choices[0]?.delta?.content ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
      return { text, models, finish };
    };
    const got = await collect(client, 'allot:judgment');
    const stats = await frontier.stats();
    const want = await collect(direct, 'judge-a-up');
    const plain = await direct.chat.completions.create({ model: 'judge-a-up', messages });
    assert.equal(got.text, want.text);
    assert.equal(got.text, plain.choices[0].message.content);
    assert.deepEqual([...got.models], ['judge-a-up']);
    assert.equal(got.finish, 'stop');
    assert.equal(stats.last_request.stream, true);
    assert.equal(stats.last_request.key_ok, true);
  });

  it('stream with stream_options.include_usage: the last chunk carries the usage', h.LIMIT, async () => {
    const stream = await client.chat.completions.create({
      model: 'allot:judgment', messages, stream: true, stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const P = h.fakePromptTokens(messages);
    assert.deepEqual(chunks.at(-1).choices, []);
    assert.deepEqual(chunks.at(-1).usage, { prompt_tokens: P, completion_tokens: 16, total_tokens: P + 16 });
  });

  it('a stream the upstream cuts raises an error in the client instead of ending quietly', h.LIMIT, async () => {
    const stream = await client.chat.completions.create({ model: 'cut', messages, stream: true });
    let text = '';
    await assert.rejects(async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    }, OpenAI.APIError);
    assert.ok(text.startsWith('[frontier] answer to: '), `text before the cut: ${text}`);
  });

  it('an unknown model raises NotFoundError with code model_not_found', h.LIMIT, async () => {
    await assert.rejects(client.chat.completions.create({ model: 'gpt-nope', messages }), (e) => {
      assert.ok(e instanceof OpenAI.NotFoundError, `${e}`);
      assert.equal(e.status, 404);
      assert.equal(e.code, 'model_not_found');
      assert.equal(e.type, 'invalid_request_error');
      return true;
    });
  });

  it('models.list() lists the routing names and the configured models', h.LIMIT, async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    for (const want of ['auto', 'allot:judgment', 'allot:labour', 'allot:code', 'judge-a', 'labour-a', 'coder-a']) {
      assert.ok(ids.includes(want), `models.list() lacks ${want}: ${ids}`);
    }
  });

  it('models.retrieve(): the listing\'s entry for a routing name or a model, 404 for any other name', h.LIMIT, async () => {
    const auto = await client.models.retrieve('auto');
    assert.deepEqual(auto, { id: 'auto', object: 'model', created: 0, owned_by: 'allot' });
    assert.equal((await client.models.retrieve('AUTO')).id, 'AUTO'); // requests may say it in any case
    const tier = await client.models.retrieve('allot:labour');
    assert.equal(tier.id, 'allot:labour');
    const judge = await client.models.retrieve('judge-a');
    assert.deepEqual(judge, { id: 'judge-a', object: 'model', created: 0, owned_by: 'frontier' });
    // the SDK percent-encodes what it puts in the path; a raw ':' works too
    const raw = await (await fetch(`${allot.base}/models/allot:code`)).json();
    assert.equal(raw.id, 'allot:code');
    assert.equal((await client.models.retrieve('allot:labor')).id, 'allot:labor'); // as requests may name it
    for (const missing of ['nope', 'allot:nope', 'judge-a-up']) { // judge-a-up is an upstream id, not a name
      await assert.rejects(client.models.retrieve(missing), (e) => {
        assert.ok(e instanceof OpenAI.NotFoundError, `${missing}: ${e}`);
        assert.equal(e.code, 'model_not_found');
        assert.match(e.message, new RegExp(`'${missing}' does not exist`));
        return true;
      });
    }
    const bad = await fetch(`${allot.base}/models/%zz`);
    assert.equal(bad.status, 404);
    assert.equal((await bad.json()).error.code, 'model_not_found');
    const post = await fetch(`${allot.base}/models/auto`, { method: 'POST', body: '{}' });
    assert.equal(post.status, 405);
  });

  it('stops cleanly on SIGTERM', h.LIMIT, async () => {
    await h.assertCleanStop(allot);
  });
});
