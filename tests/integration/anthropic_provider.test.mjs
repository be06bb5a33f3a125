// Providers of kind: anthropic (Anthropic's Messages API, natively): allot
// translates the chat-completions request into a Messages request, sends it
// to BASE_URL/messages with the key as x-api-key, and reads the answer (plain
// or streamed) back as chat completions. A Messages client's request is
// passed through instead, only its model rewritten. The fake upstream's /v1/messages
// plays Anthropic; its /stats shows what arrived.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import * as h from './harness.mjs';

const CLAUDE_KEY = 'sk-ant-it-0123456789';

describe('providers of kind anthropic', () => {
  let frontier, local, claude, allot, client;
  const system = 'You are a careful reviewer.';
  const user = 'Review this pull request for correctness: int add(int a, int b) { return a - b; }';
  const messages = [{ role: 'system', content: system }, { role: 'user', content: user }];

  before(async () => {
    frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    local = await h.startFake({ name: 'local' });
    claude = await h.startFake({ name: 'claude', expectKey: CLAUDE_KEY });
    allot = await h.startAllot(h.baseConfig({ frontier, local }, {
      providers: [{ name: 'anthropic', kind: 'anthropic', base_url: claude.baseUrl, api_key: '${ALLOT_IT_CLAUDE_KEY}',
        connect_timeout_ms: 2000, timeout_ms: 30000, max_tokens: 1234 }],
      models: [
        { name: 'claude-a', provider: 'anthropic', model: 'claude-up', price: { input: 3, output: 15 } },
        { name: 'claude-tool', provider: 'anthropic', model: 'claude-up?tool-call=get_weather', price: { input: 3, output: 15 } },
        { name: 'claude-cut', provider: 'anthropic', model: 'claude-up?cut-after=3', price: { input: 3, output: 15 } },
        { name: 'claude-529', provider: 'anthropic', model: 'claude-up?status=529', price: { input: 3, output: 15 } },
        { name: 'claude-400', provider: 'anthropic', model: 'claude-up?status=400', price: { input: 3, output: 15 } },
      ],
      tiers: { judgment: ['claude-a', 'judge-a'] },
    }), { env: { ...h.ALLOT_ENV, ALLOT_IT_CLAUDE_KEY: CLAUDE_KEY } });
    client = new OpenAI({ baseURL: allot.base, apiKey: 'client-key', maxRetries: 0, timeout: 60000 });
  });
  after(h.cleanup);

  it('a chat completion served by a Messages API upstream: same text and usage, the key as x-api-key', h.LIMIT, async () => {
    const { data, response } = await client.chat.completions.create({ model: 'allot:judgment', messages }).withResponse();
    const stats = await claude.stats();
    const sent = stats.last_request;
    assert.equal(response.headers.get('x-allot-model'), 'claude-a');
    assert.ok(data.choices[0].message.content.startsWith('[claude] answer to: Review this pull request'), data.choices[0].message.content);
    assert.equal(data.choices[0].finish_reason, 'stop');
    const P = h.fakePromptTokens([{ content: user }]);
    assert.equal(data.usage.completion_tokens, 16);
    assert.ok(data.usage.prompt_tokens >= P, `prompt tokens ${data.usage.prompt_tokens}`);
    assert.equal(sent.path, '/v1/messages');
    assert.equal(sent.model, 'claude-up');
    assert.equal(sent.key_ok, true, JSON.stringify(sent));
    assert.equal(sent.body.system, system);
    assert.deepEqual(sent.body.messages, [{ role: 'user', content: user }]);
    assert.equal(sent.body.max_tokens, 1234); // the provider's max_tokens: the request set none
    assert.equal(sent.anthropic_beta, null);
    const row = await h.ledgerRow(allot.db, response.headers.get('x-allot-request-id'));
    assert.equal(row.provider, 'anthropic');
    assert.equal(row.status, 'ok');
    assert.equal(row.completion_tokens, 16);
  });

  it('streamed: the Messages events become chat chunks with the same text, and usage when asked', h.LIMIT, async () => {
    const plain = await client.chat.completions.create({ model: 'allot:judgment', messages, max_tokens: 99 });
    const stream = await client.chat.completions.create({
      model: 'allot:judgment', messages, max_tokens: 99, stream: true, stream_options: { include_usage: true },
    });
    let text = '', finish = null, usage = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    const sent = (await claude.stats()).last_request;
    assert.equal(text, plain.choices[0].message.content);
    assert.equal(finish, 'stop');
    assert.equal(usage.completion_tokens, 16);
    assert.equal(sent.body.stream, true);
    assert.equal(sent.body.max_tokens, 99);
  });

  it('a tool call from the Messages upstream arrives as tool_calls, plain and streamed', h.LIMIT, async () => {
    const req = {
      model: 'claude-tool',
      messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { answer: { type: 'string' } } } } }],
      tool_choice: 'required',
    };
    const plain = await client.chat.completions.create(req);
    const sent = (await claude.stats()).last_request.body;
    assert.deepEqual(sent.tool_choice, { type: 'any' });
    assert.equal(sent.tools[0].name, 'get_weather');
    assert.deepEqual(sent.tools[0].input_schema, req.tools[0].function.parameters);
    const call = plain.choices[0].message.tool_calls[0];
    assert.equal(plain.choices[0].finish_reason, 'tool_calls');
    assert.equal(call.function.name, 'get_weather');
    const args = JSON.parse(call.function.arguments);
    assert.equal(args.ok, true);

    const stream = await client.chat.completions.create({ ...req, stream: true });
    let streamedArgs = '', name = null, finish = null;
    for await (const chunk of stream) {
      const tc = chunk.choices[0]?.delta?.tool_calls?.[0];
      if (tc?.function?.name) name = tc.function.name;
      streamedArgs += tc?.function?.arguments ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(name, 'get_weather');
    assert.deepEqual(JSON.parse(streamedArgs), args);
    assert.equal(finish, 'tool_calls');
  });

  it('the Anthropic SDK through allot to a Messages upstream (passed through)', h.LIMIT, async () => {
    const anthropic = new Anthropic({ baseURL: allot.origin, apiKey: 'client-key', maxRetries: 0 });
    const msg = await anthropic.messages.create({ model: 'claude-a', max_tokens: 50, system, messages: [{ role: 'user', content: user }] });
    assert.ok(msg.content[0].text.startsWith('[claude] answer to: '), msg.content[0].text);
    assert.equal(msg.stop_reason, 'end_turn');
    const sent = (await claude.stats()).last_request.body;
    assert.equal(sent.max_tokens, 50);
    assert.equal(sent.system, system);
  });

  // A Messages client served by a Messages provider: the client's body goes
  // up as it was sent but for the model, and the provider's answer comes
  // back as it sent it, plain or streamed: cache_control, thinking and
  // metadata reach the provider (the chat-completions form has no place
  // for them), and the answer keeps the provider's own id.
  const passReq = {
    model: 'claude-a',
    max_tokens: 64,
    system: [{ type: 'text', text: system, cache_control: { type: 'ephemeral' } }],
    messages: [
      { role: 'user', content: [{ type: 'text', text: user, cache_control: { type: 'ephemeral', ttl: '1h' } }] },
      { role: 'assistant', content: [{ type: 'thinking', thinking: 'Subtraction, not addition.', signature: 'c2lnbmF0dXJl' }, { type: 'text', text: 'It subtracts.' }] },
      { role: 'user', content: 'So what is the fix?' },
    ],
    thinking: { type: 'enabled', budget_tokens: 1024 },
    metadata: { user_id: 'u-42' },
    top_k: 5,
  };

  // a second allot whose judgment tier is an overloaded Messages model (529), then judge-a
  const startOverloaded = () => h.startAllot(h.baseConfig({ frontier, local }, {
    providers: [{ name: 'anthropic', kind: 'anthropic', base_url: claude.baseUrl, api_key: '${ALLOT_IT_CLAUDE_KEY}' }],
    models: [{ name: 'claude-529', provider: 'anthropic', model: 'claude-up?status=529', price: { input: 3, output: 15 } }],
    tiers: { judgment: ['claude-529', 'judge-a'] },
  }), { env: { ...h.ALLOT_ENV, ALLOT_IT_CLAUDE_KEY: CLAUDE_KEY } });

  // POST /v1/messages with a JSON body, as an Anthropic client would (more headers may be given)
  const postMessages = (origin, body, headers = {}) => fetch(`${origin}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...headers },
    body: JSON.stringify(body),
  });

  it('a Messages client and a Messages provider: the body goes up as sent but for the model, the answer comes back as sent', h.LIMIT, async () => {
    const beta = 'interleaved-thinking-2025-05-14,context-management-2025-06-27';
    const res = await postMessages(allot.origin, passReq, { 'x-api-key': 'client-key', 'anthropic-beta': beta });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    assert.equal(res.headers.get('x-allot-model'), 'claude-a');
    const sent = (await claude.stats()).last_request;
    assert.equal(sent.path, '/v1/messages');
    assert.equal(sent.key_ok, true);
    assert.equal(sent.anthropic_beta, beta); // the betas the body may rely on
    assert.equal(sent.anthropic_version, '2023-06-01');
    assert.deepEqual(sent.body, { ...passReq, model: 'claude-up' });
    const msg = JSON.parse(text);
    assert.match(msg.id, /^msg_fake_\d+$/, text); // the provider's own id: nothing was translated
    assert.equal(msg.model, 'claude-up');
    assert.ok(msg.content[0].text.startsWith('[claude] answer to: '), text);
    const row = await h.ledgerRow(allot.db, res.headers.get('x-allot-request-id'));
    assert.equal(row.provider, 'anthropic');
    assert.equal(row.endpoint, '/v1/messages');
    assert.equal(row.status, 'ok');
    assert.equal(row.completion_tokens, msg.usage.output_tokens);
    assert.equal(row.prompt_tokens, msg.usage.input_tokens);
  });

  it('passthrough streamed: the provider\'s events reach the Anthropic SDK as sent; the ledger has the usage', h.LIMIT, async () => {
    const anthropic = new Anthropic({ baseURL: allot.origin, apiKey: 'client-key', maxRetries: 0 });
    const plain = await anthropic.messages.create(passReq);
    const { data: stream, response } = await anthropic.messages.stream(passReq).withResponse();
    const events = [];
    stream.on('streamEvent', (e) => events.push(e.type));
    const final = await stream.finalMessage();
    const sent = (await claude.stats()).last_request.body;
    assert.deepEqual(sent, { ...passReq, model: 'claude-up', stream: true });
    assert.match(final.id, /^msg_fake_\d+$/);
    assert.notEqual(final.id, plain.id);
    assert.equal(final.content[0].text, plain.content[0].text);
    assert.equal(final.usage.output_tokens, plain.usage.output_tokens);
    assert.equal(events[0], 'message_start');
    assert.equal(events.at(-1), 'message_stop');
    const row = await h.ledgerRow(allot.db, response.headers.get('x-allot-request-id'));
    assert.equal(row.status, 'ok');
    assert.equal(row.completion_tokens, final.usage.output_tokens);
  });

  it('passthrough: a 400 from the provider reaches a Messages client as the provider wrote it; a cut stream ends in an error event', h.LIMIT, async () => {
    const res = await postMessages(allot.origin, { ...passReq, model: 'claude-400' });
    const body = await res.json();
    assert.equal(res.status, 400);
    assert.equal(body.type, 'error');
    assert.equal(typeof body.error.message, 'string');
    const anthropic = new Anthropic({ baseURL: allot.origin, apiKey: 'client-key', maxRetries: 0 });
    let text = '';
    await assert.rejects(async () => {
      const stream = anthropic.messages.stream({ ...passReq, model: 'claude-cut' });
      stream.on('text', (t) => { text += t; });
      await stream.finalMessage();
    });
    assert.ok(text.startsWith('[claude] answer to: '), text);
  });

  it('server tools and their blocks in the history: served by a Messages provider as sent, refused (400) where none would serve', h.LIMIT, async () => {
    const req = {
      ...passReq,
      tools: [
        { type: 'web_search_20250305', name: 'web_search', max_uses: 3 },
        { name: 'get_weather', description: 'Weather.', input_schema: { type: 'object', properties: { city: { type: 'string' } } } },
      ],
      messages: [
        { role: 'user', content: 'What changed in the news today?' },
        { role: 'assistant', content: [
          { type: 'server_tool_use', id: 'srvtoolu_01', name: 'web_search', input: { query: 'news today' } },
          { type: 'web_search_tool_result', tool_use_id: 'srvtoolu_01', content: [{ type: 'web_search_result', title: 'T', url: 'https://example.com/', encrypted_content: 'ZW5j' }] },
          { type: 'text', text: 'Here is what changed.' },
        ] },
        { role: 'user', content: [{ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0xLjQK' } }, { type: 'text', text: 'And summarise this PDF.' }] },
      ],
    };
    const send = (model) => postMessages(allot.origin, { ...req, model });
    const res = await send('allot:judgment'); // claude-a first: a Messages provider
    const text = await res.text();
    assert.equal(res.status, 200, text);
    assert.equal(res.headers.get('x-allot-model'), 'claude-a');
    assert.deepEqual((await claude.stats()).last_request.body, { ...req, model: 'claude-up' });
    // judge-a alone (chat completions): nothing can take the server tool
    const refused = await send('judge-a');
    const body = await refused.json();
    assert.equal(refused.status, 400, JSON.stringify(body));
    assert.equal(body.type, 'error');
    assert.match(body.error.message, /^messages\.1\.content\.0\.type: content block type 'server_tool_use' is not supported by allot \(a model of a kind: anthropic provider takes it/);
    // the server tool alone, in a plain conversation: the same refusal, naming it
    const alone = await postMessages(allot.origin, { model: 'judge-a', max_tokens: 10, tools: req.tools, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(alone.status, 400);
    assert.match((await alone.json()).error.message, /^tools\.0: server tool type 'web_search_20250305' is not supported by allot/);
  });

  it('a resting Messages provider that alone could serve a server-tool request is tried anyway, not passed over for one that cannot', h.LIMIT, async () => {
    const deadPort = await h.closedPort();
    const allot2 = await h.startAllot(h.baseConfig({ frontier, local }, {
      providers: [{ name: 'anthropic-down', kind: 'anthropic', base_url: `http://127.0.0.1:${deadPort}/v1`, connect_timeout_ms: 2000 }],
      models: [{ name: 'claude-down', provider: 'anthropic-down', model: 'claude-up', price: { input: 3, output: 15 } }],
      tiers: { judgment: ['claude-down', 'judge-a'] },
      limits: { cooldown_after: 1, cooldown_ms: 60000 },
    }), { env: h.ALLOT_ENV });
    const send = () => postMessages(allot2.origin, { model: 'allot:judgment', max_tokens: 10, tools: [{ type: 'web_search_20250305', name: 'web_search' }], messages: [{ role: 'user', content: 'hi' }] });
    const first = await send(); // refused: claude-down now rests; judge-a cannot take the tool
    assert.ok(first.status >= 500, String(first.status));
    const row1 = await h.ledgerRow(allot2.db, first.headers.get('x-allot-request-id'));
    assert.match(row1.attempt_log, /^claude-down:[a-z]/);
    assert.match(row1.attempt_log, /judge-a:anthropic-only$/);
    const second = await send();
    assert.ok(second.status >= 500, String(second.status));
    assert.equal(second.headers.get('x-allot-attempts'), '1'); // tried, though resting
    const row2 = await h.ledgerRow(allot2.db, second.headers.get('x-allot-request-id'));
    assert.doesNotMatch(row2.attempt_log, /claude-down:resting/);
    // a request judge-a can serve still skips the resting model
    const chat = await h.chat(allot2.base, { model: 'allot:judgment', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(chat.status, 200, chat.text);
    assert.equal(chat.headers.get('x-allot-model'), 'judge-a');
    const row3 = await h.ledgerRow(allot2.db, chat.headers.get('x-allot-request-id'));
    assert.equal(row3.attempt_log, 'claude-down:resting,judge-a:ok');
    await h.assertCleanStop(allot2, 'second allot');
  });

  it('passthrough through libcurl (http_client: curl) too: the anthropic-beta header goes with its own request only', h.LIMIT, async () => {
    const allot2 = await h.startAllot(h.baseConfig({ frontier, local }, {
      providers: [{ name: 'anthropic', kind: 'anthropic', base_url: claude.baseUrl, api_key: '${ALLOT_IT_CLAUDE_KEY}', http_client: 'curl' }],
      models: [{ name: 'claude-a', provider: 'anthropic', model: 'claude-up', price: { input: 3, output: 15 } }],
      tiers: { judgment: ['claude-a', 'judge-a'] },
    }), { env: { ...h.ALLOT_ENV, ALLOT_IT_CLAUDE_KEY: CLAUDE_KEY } });
    const send = (headers) => postMessages(allot2.origin, passReq, headers);
    for (const beta of ['token-efficient-tools-2025-02-19', null, 'context-1m-2025-08-07', null]) {
      const res = await send(beta ? { 'anthropic-beta': beta } : {});
      assert.equal(res.status, 200, await res.text());
      const sent = (await claude.stats()).last_request;
      assert.equal(sent.anthropic_beta, beta);
      assert.equal(sent.key_ok, true); // the provider's own headers kept alongside
      assert.deepEqual(sent.body, { ...passReq, model: 'claude-up' });
    }
    await h.assertCleanStop(allot2, 'second allot');
  });

  it('passthrough falls back to a chat-completions model (translated) when the Messages provider is overloaded', h.LIMIT, async () => {
    const allot2 = await startOverloaded();
    const anthropic = new Anthropic({ baseURL: allot2.origin, apiKey: 'client-key', maxRetries: 0 });
    const { data: msg, response } = await anthropic.messages.create({ ...passReq, model: 'allot:judgment' }).withResponse();
    assert.equal(response.headers.get('x-allot-model'), 'judge-a');
    assert.equal(response.headers.get('x-allot-attempts'), '2');
    assert.equal(msg.type, 'message');
    assert.ok(msg.content[0].text.length > 0);
    assert.doesNotMatch(msg.id, /^msg_fake_/);
    await h.assertCleanStop(allot2, 'second allot');
  });

  // Every model of kind anthropic: a Messages request is only ever passed
  // through, so allot reads it for routing without writing its
  // chat-completions translation. The decision must be the one made on the
  // translation (the first allot, whose judgment tier mixes in judge-a).
  it('every model a Messages model: routed on the request alone, as on its translation, and passed through', h.LIMIT, async () => {
    const only = await h.startAllot({
      providers: [{ name: 'anthropic', kind: 'anthropic', base_url: claude.baseUrl, api_key: '${ALLOT_IT_CLAUDE_KEY}' }],
      models: [
        { name: 'claude-j', provider: 'anthropic', model: 'claude-up', price: { input: 3, output: 15 } },
        { name: 'claude-l', provider: 'anthropic', model: 'claude-small', price: { input: 0.8, output: 4 } },
      ],
      tiers: { judgment: ['claude-j'], labour: ['claude-l'], code: ['claude-j'] },
      routing: { default_tier: 'judgment', confidence_threshold: 0.5, aliases: ['auto'] },
    }, { env: { ...h.ALLOT_ENV, ALLOT_IT_CLAUDE_KEY: CLAUDE_KEY } });
    const tool = { name: 'read_file', description: 'Reads a file', input_schema: { type: 'object', properties: { path: { type: 'string' } } } };
    const bodies = [
      { ...passReq, model: 'auto' },
      { model: 'auto', max_tokens: 64, system: 'You are a coding agent.', tools: [tool], messages: [
        { role: 'user', content: 'Summarise the README in three bullet points.' },
        { role: 'assistant', content: [{ type: 'text', text: 'Reading it.' }, { type: 'tool_use', id: 'tu_1', name: 'read_file', input: { path: 'README.md' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'tu_1', content: [{ type: 'text', text: '# allot\nAn allocation system for LLM work.' }] }] },
      ] },
    ];
    for (const body of bodies) {
      for (const stream of [false, true]) {
        const req = { ...body, stream };
        const res = await postMessages(only.origin, req, { 'x-api-key': 'client-key' });
        const text = await res.text();
        assert.equal(res.status, 200, text);
        const sent = (await claude.stats()).last_request;
        const up = res.headers.get('x-allot-model') === 'claude-j' ? 'claude-up' : 'claude-small';
        assert.deepEqual(sent.body, { ...req, model: up }); // passed through
        if (stream) assert.match(text, /^event: message_start\n/);
        else assert.match(JSON.parse(text).id, /^msg_fake_\d+$/);
        // the same decision as on the translation
        const ref = await postMessages(allot.origin, req, { 'x-api-key': 'client-key' });
        await ref.text();
        for (const hd of ['x-allot-category', 'x-allot-tier', 'x-allot-confidence', 'x-allot-reason', 'x-allot-source'])
          assert.equal(res.headers.get(hd), ref.headers.get(hd), `${hd} (stream ${stream})`);
        const row = await h.ledgerRow(only.db, res.headers.get('x-allot-request-id'));
        assert.equal(row.status, 'ok');
        assert.equal(row.provider, 'anthropic');
        assert.ok(row.prompt_tokens > 0, JSON.stringify(row));
      }
    }
    await h.assertCleanStop(only, 'all-Messages allot');
  });

  it('the Responses API through allot to a Messages upstream (both translations), plain and streamed', h.LIMIT, async () => {
    const req = { model: 'claude-tool', instructions: system, input: user, tools: [{ type: 'function', name: 'get_weather', parameters: { type: 'object' } }] };
    const plain = await client.responses.create(req);
    const sent = (await claude.stats()).last_request;
    assert.equal(sent.path, '/v1/messages');
    assert.equal(sent.body.system, system);
    assert.deepEqual(sent.body.tools.map((t) => t.name), ['get_weather']);
    assert.equal(plain.status, 'completed');
    const call = plain.output.find((o) => o.type === 'function_call');
    assert.ok(call, JSON.stringify(plain.output));
    assert.equal(call.name, 'get_weather');
    assert.ok(JSON.parse(call.arguments).answer.startsWith('[claude] answer to: Review this pull request'), call.arguments);
    assert.ok(plain.usage.output_tokens > 0, JSON.stringify(plain.usage));

    const final = await client.responses.stream(req).finalResponse();
    const scall = final.output.find((o) => o.type === 'function_call');
    assert.equal(final.status, 'completed');
    assert.deepEqual(JSON.parse(scall.arguments), JSON.parse(call.arguments));
    assert.equal(final.usage.output_tokens, plain.usage.output_tokens);
  });

  it('529 overloaded from the Messages upstream falls back to the next model', h.LIMIT, async () => {
    const allot2 = await startOverloaded();
    const r = await h.chat(allot2.base, { model: 'allot:judgment', messages });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-allot-model'), 'judge-a');
    assert.equal(r.headers.get('x-allot-attempts'), '2');
    await h.assertCleanStop(allot2, 'second allot');
  });

  it('a 400 from the Messages upstream reaches the client with its message; a cut stream is an error', h.LIMIT, async () => {
    const r = await h.chat(allot.base, { model: 'claude-400', messages });
    assert.equal(r.status, 400, r.text);
    assert.ok(r.json.error.message.length > 0);
    const stream = await client.chat.completions.create({ model: 'claude-cut', messages, stream: true });
    let text = '';
    await assert.rejects(async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    }, OpenAI.APIError);
    assert.ok(text.startsWith('[claude] answer to: '), text);
  });

  it('stops cleanly on SIGTERM', h.LIMIT, async () => {
    await h.assertCleanStop(allot);
  });
});
