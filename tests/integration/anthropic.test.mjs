// The official @anthropic-ai/sdk client against allot's Messages API
// (POST /v1/messages), as an application would use it: only the base URL
// changes. allot translates the request for its OpenAI-compatible
// upstreams and the answer back; these tests check both directions on the
// wire (the fake upstream records the body it got) and in the client.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import * as h from './harness.mjs';

const CLIENT_KEY = 'anthropic-client-key';

describe('@anthropic-ai/sdk against /v1/messages', () => {
  let frontier, local, allot, client;
  const system = 'You are a careful reviewer.';
  const user = 'Review this pull request for correctness: int add(int a, int b) { return a - b; }';

  before(async () => {
    frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    local = await h.startFake({ name: 'local' });
    allot = await h.startAllot(h.baseConfig({ frontier, local }, {
      models: [
        { name: 'cut', provider: 'frontier', model: 'sim-cut4', price: { input: 1, output: 2 } },
        // the fake answers with a call of get_weather (docs/fake_upstream.md)
        { name: 'tooler', provider: 'frontier', model: 'tool-up?tool-call=get_weather', price: { input: 1, output: 2 } },
      ],
      limits: { max_body_bytes: 65536 },
      routing: { aliases: ['auto', 'claude-*'] },
    }), { env: h.ALLOT_ENV });
    // the SDK appends /v1/messages to the base URL
    client = new Anthropic({ baseURL: allot.origin, apiKey: CLIENT_KEY, maxRetries: 0, timeout: 60000 });
  });
  after(h.cleanup);

  it('messages.create: an Anthropic message with the upstream answer, usage and stop_reason', h.LIMIT, async () => {
    const { data, response } = await client.messages.create({
      model: 'allot:judgment', max_tokens: 256, system, messages: [{ role: 'user', content: user }],
    }).withResponse();
    const stats = await frontier.stats();
    const P = h.fakePromptTokens([{ content: system }, { content: user }]);

    assert.equal(data.type, 'message');
    assert.equal(data.role, 'assistant');
    assert.match(data.id, /^msg_/);
    assert.equal(data.model, 'judge-a-up');
    assert.equal(data.content.length, 1);
    assert.equal(data.content[0].type, 'text');
    assert.ok(data.content[0].text.startsWith('[frontier] answer to: Review this pull request'), data.content[0].text);
    assert.equal(data.stop_reason, 'end_turn');
    assert.deepEqual(data.usage && { i: data.usage.input_tokens, o: data.usage.output_tokens }, { i: P, o: 16 });
    assert.equal(response.headers.get('x-allot-model'), 'judge-a');
    assert.equal(response.headers.get('x-allot-tier'), 'judgment');

    // what the upstream got: a chat-completions body, the provider's key
    const sent = stats.last_request;
    assert.equal(sent.path, '/v1/chat/completions');
    assert.equal(sent.model, 'judge-a-up');
    assert.equal(sent.key_ok, true, `upstream saw ${sent.authorization_value}`);
    assert.deepEqual(sent.body.messages, [{ role: 'system', content: system }, { role: 'user', content: user }]);
    assert.equal(sent.body.max_tokens, 256);
    assert.equal(JSON.stringify(sent.body).includes(CLIENT_KEY), false);
  });

  it('the same text streamed: messages.stream() assembles the same message', h.LIMIT, async () => {
    const plain = await client.messages.create({
      model: 'allot:judgment', max_tokens: 256, system, messages: [{ role: 'user', content: user }],
    });
    const stream = client.messages.stream({
      model: 'allot:judgment', max_tokens: 256, system, messages: [{ role: 'user', content: user }],
    });
    const types = [];
    stream.on('streamEvent', (e) => types.push(e.type));
    const final = await stream.finalMessage();
    const stats = await frontier.stats();

    assert.equal(final.content.length, 1);
    assert.equal(final.content[0].text, plain.content[0].text);
    assert.equal(final.stop_reason, 'end_turn');
    assert.equal(final.usage.output_tokens, 16);
    assert.equal(types[0], 'message_start');
    assert.equal(types[1], 'content_block_start');
    assert.ok(types.filter((t) => t === 'content_block_delta').length >= 2, types.join(','));
    assert.deepEqual(types.slice(-3), ['content_block_stop', 'message_delta', 'message_stop']);
    // allot asked the upstream for a stream with usage
    assert.equal(stats.last_request.stream, true);
    assert.deepEqual(stats.last_request.stream_options, { include_usage: true });
  });

  it('model auto: the request is classified and routed like a chat completion', h.LIMIT, async () => {
    const { data, response } = await client.messages.create({
      model: 'auto', max_tokens: 200,
      messages: [{ role: 'user', content: 'Summarise this article in five bullet points:\n\nThe city council met on Tuesday to discuss the new bus routes. Residents raised concerns about the schedule.' }],
    }).withResponse();
    assert.equal(response.headers.get('x-allot-category'), 'summarize');
    assert.equal(response.headers.get('x-allot-tier'), 'labour');
    assert.ok(data.content[0].text.startsWith('[local] '), data.content[0].text);
    const row = await h.ledgerRow(allot.db, response.headers.get('x-allot-request-id'));
    assert.equal(row.endpoint, '/v1/messages');
    assert.equal(row.status, 'ok');
    assert.equal(row.category, 'summarize');
    assert.equal(row.completion_tokens, 16);
    assert.ok(row.cost_usd > 0);
  });

  it('a prefix alias (claude-*) routes the model names a coding tool sends by itself', h.LIMIT, async () => {
    const { response } = await client.messages.create({
      model: 'claude-sonnet-4-5-20250929', max_tokens: 100,
      messages: [{ role: 'user', content: 'Summarise this article in five bullet points:\n\nThe city council met on Tuesday to discuss the new bus routes.' }],
    }).withResponse();
    assert.equal(response.headers.get('x-allot-category'), 'summarize');
    assert.equal(response.headers.get('x-allot-tier'), 'labour');
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    assert.ok(!ids.includes('claude-*'), `a pattern is listed as a model: ${ids}`);
  });

  it('tools, tool_choice, tool_use and tool_result become their chat-completions forms upstream', h.LIMIT, async () => {
    await client.messages.create({
      model: 'allot:judgment', max_tokens: 300,
      tools: [{ name: 'get_weather', description: 'Weather for a city', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }],
      tool_choice: { type: 'any', disable_parallel_tool_use: true },
      messages: [
        { role: 'user', content: 'What is the weather in Paris? Decide which tool to call.' },
        { role: 'assistant', content: [{ type: 'text', text: 'Let me check.' }, { type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: { city: 'Paris' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01', content: '18 C, cloudy' }, { type: 'text', text: 'And should I take an umbrella?' }] },
      ],
    });
    const body = (await frontier.stats()).last_request.body;
    assert.deepEqual(body.tools, [{ type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }]);
    assert.equal(body.tool_choice, 'required');
    assert.equal(body.parallel_tool_calls, false);
    assert.deepEqual(body.messages.map((m) => m.role), ['user', 'assistant', 'tool', 'user']);
    const asst = body.messages[1];
    assert.equal(asst.content, 'Let me check.');
    assert.equal(asst.tool_calls[0].id, 'toolu_01');
    assert.equal(asst.tool_calls[0].function.name, 'get_weather');
    assert.deepEqual(JSON.parse(asst.tool_calls[0].function.arguments), { city: 'Paris' });
    assert.deepEqual(body.messages[2], { role: 'tool', tool_call_id: 'toolu_01', content: '18 C, cloudy' });
    assert.equal(body.messages[3].content, 'And should I take an umbrella?');
  });

  it('a tool call in the answer is a tool_use block, plain and streamed', h.LIMIT, async () => {
    const req = {
      model: 'tooler', max_tokens: 300,
      tools: [{ name: 'get_weather', input_schema: { type: 'object', properties: { answer: { type: 'string' } } } }],
      messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
    };
    const plain = await client.messages.create(req);
    assert.equal(plain.stop_reason, 'tool_use');
    assert.equal(plain.content.length, 1);
    const call = plain.content[0];
    assert.equal(call.type, 'tool_use');
    assert.equal(call.name, 'get_weather');
    assert.match(call.id, /^call_fake_/);
    assert.equal(call.input.ok, true);
    assert.ok(call.input.answer.startsWith('[frontier] answer to: What is the weather'), JSON.stringify(call.input));

    const stream = client.messages.stream(req);
    let partial = '';
    stream.on('inputJson', (delta) => { partial += delta; });
    const final = await stream.finalMessage();
    assert.equal(final.stop_reason, 'tool_use');
    assert.equal(final.content.length, 1);
    assert.equal(final.content[0].type, 'tool_use');
    assert.equal(final.content[0].name, 'get_weather');
    assert.deepEqual(final.content[0].input, call.input);
    assert.deepEqual(JSON.parse(partial), call.input);
  });

  it('a stream the upstream cuts raises an error in the client instead of ending quietly', h.LIMIT, async () => {
    const stream = client.messages.stream({ model: 'cut', max_tokens: 100, messages: [{ role: 'user', content: user }] });
    let text = '';
    stream.on('text', (t) => { text += t; });
    await assert.rejects(stream.finalMessage(), (e) => e instanceof Error);
    assert.ok(text.startsWith('[frontier] answer to: '), `text before the cut: ${text}`);
  });

  it('errors come in Anthropic\'s format with its types', h.LIMIT, async () => {
    await assert.rejects(client.messages.create({ model: 'gpt-nope', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }), (e) => {
      assert.ok(e instanceof Anthropic.NotFoundError, `${e}`);
      assert.equal(e.status, 404);
      assert.equal(e.error?.type, 'error');
      assert.equal(e.error?.error?.type, 'not_found_error');
      assert.match(e.error?.error?.message, /gpt-nope/);
      return true;
    });
    const url = `${allot.base}/messages`;
    const cases = [
      [JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: 'hi' }] }), 400, 'invalid_request_error', /max_tokens/],
      ['{"model": "auto", "max_tokens": 5, "messages": [', 400, 'invalid_request_error', /JSON/i],
      [JSON.stringify({ model: 'auto', max_tokens: 5, messages: [{ role: 'robot', content: 'hi' }] }), 400, 'invalid_request_error', /messages\.0\.role/],
      [JSON.stringify({ model: 'auto', max_tokens: 5, messages: [{ role: 'user', content: 'x'.repeat(70000) }] }), 413, 'request_too_large', /limit/],
    ];
    for (const [body, status, type, message] of cases) {
      const res = await h.post(url, body);
      const json = await res.json();
      assert.equal(res.status, status, JSON.stringify(json));
      assert.equal(json.type, 'error');
      assert.equal(json.error.type, type);
      assert.match(json.error.message, message);
    }
  });

  it('messages.countTokens: the request checked, its input tokens estimated from its text', h.LIMIT, async () => {
    const { data, response } = await client.messages.countTokens({
      model: 'auto', system: 'Be brief.', messages: [{ role: 'user', content: 'hello world' }],
    }).withResponse();
    assert.deepEqual(data, { input_tokens: 5 }); // ceil((9 + 11 bytes of text) / 4)
    assert.equal(response.headers.get('x-allot-estimate'), 'bytes/4');
    const res = await h.post(`${allot.base}/messages/count_tokens`, { model: 'auto', messages: [{ role: 'robot', content: 'hi' }] });
    const json = await res.json();
    assert.equal(res.status, 400);
    assert.equal(json.error.type, 'invalid_request_error');
    assert.match(json.error.message, /messages\.0\.role/);
    // an image's base64 bytes are not text
    const img = await client.messages.countTokens({
      model: 'auto',
      messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'A'.repeat(4000) } }, { type: 'text', text: 'what is this?' }] }],
    });
    assert.equal(img.input_tokens, 6); // 'what is this?' and 'image/png': ceil(22 / 4)
  });

  it('models.list(): Anthropic\'s list format for Anthropic clients, OpenAI\'s for others', h.LIMIT, async () => {
    const ids = [];
    for await (const m of client.models.list()) {
      assert.equal(m.type, 'model');
      assert.equal(typeof m.display_name, 'string');
      ids.push(m.id);
    }
    for (const want of ['auto', 'allot:judgment', 'allot:labour', 'allot:code', 'judge-a', 'labour-a', 'cut', 'tooler']) {
      assert.ok(ids.includes(want), `models.list() lacks ${want}: ${ids}`);
    }
    const openai = await (await fetch(`${allot.base}/models`)).json();
    assert.equal(openai.object, 'list');
    assert.equal(openai.data[0].object, 'model');
  });

  it('models.retrieve(): Anthropic\'s form, and its not_found_error for an unknown name', h.LIMIT, async () => {
    const m = await client.models.retrieve('labour-a');
    assert.equal(m.type, 'model');
    assert.equal(m.id, 'labour-a');
    assert.equal(m.display_name, 'labour-a');
    assert.equal(typeof m.created_at, 'string');
    await assert.rejects(client.models.retrieve('gpt-nope') /* claude-* would match */, (e) => {
      assert.ok(e instanceof Anthropic.NotFoundError, String(e));
      assert.equal(e.error.type, 'error');
      assert.equal(e.error.error.type, 'not_found_error');
      return true;
    });
    // a name the prefix alias claude-* routes is found, as a request could use it
    const claude = await client.models.retrieve('claude-sonnet-4-5');
    assert.equal(claude.id, 'claude-sonnet-4-5');
    const openai = await (await fetch(`${allot.base}/models/labour-a`)).json();
    assert.equal(openai.object, 'model');
  });

  it('the chat-completions API is unchanged beside it', h.LIMIT, async () => {
    const r = await h.chat(allot.base, { model: 'nope', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(r.status, 404);
    assert.equal(r.json.error.code, 'model_not_found');
  });

  it('stops cleanly on SIGTERM', h.LIMIT, async () => {
    await h.assertCleanStop(allot);
  });
});
