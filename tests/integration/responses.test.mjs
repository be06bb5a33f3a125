// The official openai client's Responses API (client.responses) against
// allot's POST /v1/responses, as an application, the Agents SDK or a coding
// tool uses it: only the base URL changes. allot translates the request for
// its chat-completions upstreams and the answer back; these tests check
// both directions on the wire (the fake upstream records the body it got)
// and in the client, whose stream helper rebuilds the Response from the
// events and rejects a sequence it cannot follow.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import * as h from './harness.mjs';

const CLIENT_KEY = 'sk-responses-client-key';

describe('openai client.responses against /v1/responses', () => {
  let frontier, local, allot, client;
  const instructions = 'You are a careful reviewer.';
  const user = 'Review this pull request for correctness: int add(int a, int b) { return a - b; }';

  before(async () => {
    frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    local = await h.startFake({ name: 'local' });
    allot = await h.startAllot(h.baseConfig({ frontier, local }, {
      models: [
        { name: 'cut', provider: 'frontier', model: 'sim-cut4', price: { input: 1, output: 2 } },
        // the fake answers with a call of get_weather (docs/fake_upstream.md)
        { name: 'tooler', provider: 'frontier', model: 'tool-up?tool-call=get_weather', price: { input: 1, output: 2 } },
        { name: 'patcher', provider: 'frontier', model: 'tool-up?tool-call=apply_patch', price: { input: 1, output: 2 } },
      ],
      limits: { max_body_bytes: 65536 },
    }), { env: h.ALLOT_ENV });
    client = new OpenAI({ baseURL: allot.base, apiKey: CLIENT_KEY, maxRetries: 0, timeout: 60000 });
  });
  after(h.cleanup);

  it('responses.create: a Response with the upstream answer, usage and status', h.LIMIT, async () => {
    const { data, response } = await client.responses.create({
      model: 'allot:judgment', instructions, input: user, max_output_tokens: 256,
    }).withResponse();
    const stats = await frontier.stats();
    const P = h.fakePromptTokens([{ content: instructions }, { content: user }]);

    assert.equal(data.object, 'response');
    assert.match(data.id, /^resp_/);
    assert.equal(data.status, 'completed');
    assert.equal(data.model, 'judge-a-up');
    assert.equal(data.output.length, 1);
    assert.equal(data.output[0].type, 'message');
    assert.equal(data.output[0].role, 'assistant');
    assert.equal(data.output[0].content[0].type, 'output_text');
    assert.ok(data.output_text.startsWith('[frontier] answer to: Review this pull request'), data.output_text);
    assert.deepEqual({ i: data.usage.input_tokens, o: data.usage.output_tokens, t: data.usage.total_tokens },
      { i: P, o: 16, t: P + 16 });
    assert.equal(response.headers.get('x-allot-model'), 'judge-a');
    assert.equal(response.headers.get('x-allot-tier'), 'judgment');

    // what the upstream got: a chat-completions body, the provider's key
    const sent = stats.last_request;
    assert.equal(sent.path, '/v1/chat/completions');
    assert.equal(sent.model, 'judge-a-up');
    assert.equal(sent.key_ok, true, `upstream saw ${sent.authorization_value}`);
    assert.deepEqual(sent.body.messages, [{ role: 'system', content: instructions }, { role: 'user', content: user }]);
    assert.equal(sent.body.max_tokens, 256);
    assert.equal(JSON.stringify(sent.body).includes(CLIENT_KEY), false);
  });

  it('the same text streamed: responses.stream() rebuilds the same Response from the events', h.LIMIT, async () => {
    const req = { model: 'allot:judgment', instructions, input: [{ role: 'user', content: user }] };
    const plain = await client.responses.create(req);
    const stream = client.responses.stream(req);
    const types = [];
    let deltas = '';
    stream.on('event', (e) => types.push(e.type));
    stream.on('response.output_text.delta', (e) => { deltas += e.delta; });
    const final = await stream.finalResponse();
    const stats = await frontier.stats();

    // the stream helper's Response has no output_text convenience field: the text is in output
    const text = final.output.filter((o) => o.type === 'message').flatMap((o) => o.content).map((c) => c.text).join('');
    assert.equal(final.status, 'completed');
    assert.equal(text, plain.output_text);
    assert.equal(deltas, plain.output_text);
    assert.equal(final.usage.output_tokens, 16);
    assert.deepEqual(types.slice(0, 4), ['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
    assert.ok(types.filter((t) => t === 'response.output_text.delta').length >= 2, types.join(','));
    assert.deepEqual(types.slice(-4), ['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed']);
    // allot asked the upstream for a stream with usage
    assert.equal(stats.last_request.stream, true);
    assert.deepEqual(stats.last_request.stream_options, { include_usage: true });
  });

  it('model auto: the request is classified, routed and ledgered under /v1/responses', h.LIMIT, async () => {
    const { data, response } = await client.responses.create({
      model: 'auto',
      input: 'Summarise this article in five bullet points:\n\nThe city council met on Tuesday to discuss the new bus routes. Residents raised concerns about the schedule.',
    }).withResponse();
    assert.equal(response.headers.get('x-allot-category'), 'summarize');
    assert.equal(response.headers.get('x-allot-tier'), 'labour');
    assert.ok(data.output_text.startsWith('[local] '), data.output_text);
    const row = await h.ledgerRow(allot.db, response.headers.get('x-allot-request-id'));
    assert.equal(row.endpoint, '/v1/responses');
    assert.equal(row.status, 'ok');
    assert.equal(row.category, 'summarize');
    assert.equal(row.completion_tokens, 16);
    assert.ok(row.cost_usd > 0);
  });

  it('function tools, tool_choice, function_call and function_call_output become their chat-completions forms upstream', h.LIMIT, async () => {
    await client.responses.create({
      model: 'allot:judgment',
      tools: [{ type: 'function', name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }, strict: true }],
      tool_choice: 'required',
      parallel_tool_calls: false,
      input: [
        { role: 'user', content: 'What is the weather in Paris? Decide which tool to call.' },
        { type: 'reasoning', id: 'rs_1', summary: [] },
        { type: 'function_call', call_id: 'call_01', name: 'get_weather', arguments: '{"city":"Paris"}' },
        { type: 'function_call_output', call_id: 'call_01', output: '18 C, cloudy' },
        { role: 'user', content: [{ type: 'input_text', text: 'And should I take an umbrella?' }] },
      ],
    });
    const body = (await frontier.stats()).last_request.body;
    assert.deepEqual(body.tools, [{ type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }, strict: true } }]);
    assert.equal(body.tool_choice, 'required');
    assert.equal(body.parallel_tool_calls, false);
    assert.deepEqual(body.messages.map((m) => m.role), ['user', 'assistant', 'tool', 'user']);
    const asst = body.messages[1];
    assert.equal(asst.tool_calls.length, 1);
    assert.equal(asst.tool_calls[0].id, 'call_01');
    assert.equal(asst.tool_calls[0].function.name, 'get_weather');
    assert.deepEqual(JSON.parse(asst.tool_calls[0].function.arguments), { city: 'Paris' });
    assert.deepEqual(body.messages[2], { role: 'tool', tool_call_id: 'call_01', content: '18 C, cloudy' });
    assert.equal(body.messages[3].content, 'And should I take an umbrella?');
  });

  it('text.format json_schema becomes response_format upstream', h.LIMIT, async () => {
    const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false };
    await client.responses.create({
      model: 'allot:judgment', input: 'Which city is the capital of France? Answer as JSON.',
      text: { format: { type: 'json_schema', name: 'city', schema, strict: true } },
    });
    const body = (await frontier.stats()).last_request.body;
    assert.deepEqual(body.response_format, { type: 'json_schema', json_schema: { name: 'city', schema, strict: true } });
  });

  it('a tool call in the answer is a function_call item, plain and streamed', h.LIMIT, async () => {
    const req = {
      model: 'tooler',
      tools: [{ type: 'function', name: 'get_weather', parameters: { type: 'object', properties: { answer: { type: 'string' } } } }],
      input: 'What is the weather in Paris?',
    };
    const plain = await client.responses.create(req);
    assert.equal(plain.status, 'completed');
    const calls = plain.output.filter((o) => o.type === 'function_call');
    assert.equal(calls.length, 1, JSON.stringify(plain.output));
    const call = calls[0];
    assert.equal(call.name, 'get_weather');
    assert.match(call.call_id, /^call_fake_/);
    const args = JSON.parse(call.arguments);
    assert.equal(args.ok, true);
    assert.ok(args.answer.startsWith('[frontier] answer to: What is the weather'), call.arguments);

    const stream = client.responses.stream(req);
    let partial = '';
    stream.on('response.function_call_arguments.delta', (e) => { partial += e.delta; });
    const final = await stream.finalResponse();
    const fcalls = final.output.filter((o) => o.type === 'function_call');
    assert.equal(fcalls.length, 1);
    assert.equal(fcalls[0].name, 'get_weather');
    assert.deepEqual(JSON.parse(fcalls[0].arguments), args);
    assert.deepEqual(JSON.parse(partial), args);
  });

  it('custom tools (Codex\'s apply_patch): a function with one string argument upstream, custom_tool_call items both ways', h.LIMIT, async () => {
    const patch = '*** Begin Patch\n*** Update File: src/a.c\n@@\n-int x = "old";\n+int x = "new"; // \\ done\n*** End Patch';
    const tools = [{ type: 'custom', name: 'apply_patch', description: 'Apply a patch to files.', format: { type: 'grammar', syntax: 'lark', definition: 'start: begin_patch hunk+ end_patch' } }];
    const req = {
      model: 'patcher', tools, tool_choice: { type: 'custom', name: 'apply_patch' },
      input: [
        { role: 'user', content: 'Rename the variable in src/a.c.' },
        { type: 'custom_tool_call', call_id: 'call_p1', name: 'apply_patch', input: patch },
        { type: 'custom_tool_call_output', call_id: 'call_p1', output: 'Success. Updated src/a.c' },
        { role: 'user', content: 'Now do the same in src/b.c.' },
      ],
    };
    const plain = await client.responses.create(req);
    const body = (await frontier.stats()).last_request.body;
    assert.equal(body.tools.length, 1);
    assert.equal(body.tools[0].type, 'function');
    assert.equal(body.tools[0].function.name, 'apply_patch');
    assert.deepEqual(body.tools[0].function.parameters.required, ['input']);
    assert.match(body.tools[0].function.description, /start: begin_patch hunk\+ end_patch/);
    assert.deepEqual(body.tool_choice, { type: 'function', function: { name: 'apply_patch' } });
    assert.deepEqual(body.messages.map((m) => m.role), ['user', 'assistant', 'tool', 'user']);
    assert.deepEqual(JSON.parse(body.messages[1].tool_calls[0].function.arguments), { input: patch });
    assert.deepEqual(body.messages[2], { role: 'tool', tool_call_id: 'call_p1', content: 'Success. Updated src/a.c' });

    // the fake's call of apply_patch carries {"ok":true,"answer":...}, not {"input":...}:
    // the arguments reach the client whole, as the custom call's input
    const call = plain.output.find((o) => o.type === 'custom_tool_call');
    assert.ok(call, JSON.stringify(plain.output));
    assert.equal(call.name, 'apply_patch');
    assert.match(call.call_id, /^call_fake_/);
    assert.equal(JSON.parse(call.input).ok, true);
    assert.equal(plain.output.some((o) => o.type === 'function_call'), false);

    const stream = client.responses.stream(req);
    const types = [];
    stream.on('event', (e) => types.push(e.type));
    const final = await stream.finalResponse();
    const scall = final.output.find((o) => o.type === 'custom_tool_call');
    assert.ok(scall, JSON.stringify(final.output));
    assert.equal(scall.input, call.input);
    assert.ok(types.includes('response.custom_tool_call_input.done'), types.join(','));
  });

  it('a stream the upstream cuts raises an error in the client instead of ending quietly', h.LIMIT, async () => {
    const stream = client.responses.stream({ model: 'cut', input: user });
    let text = '';
    stream.on('response.output_text.delta', (e) => { text += e.delta; });
    await assert.rejects(stream.finalResponse());
    assert.ok(text.startsWith('[frontier] answer to: '), `text before the cut: ${text}`);
    // the raw stream ends with an error event, never response.completed
    const res = await h.post(`${allot.base}/responses`, { model: 'cut', input: user, stream: true });
    const raw = await res.text();
    assert.match(raw, /event: error\ndata: \{"type":"error"/);
    assert.equal(raw.includes('response.completed'), false);
  });

  it('errors come in OpenAI\'s format, and what needs stored state is refused with a reason', h.LIMIT, async () => {
    await assert.rejects(client.responses.create({ model: 'gpt-nope', input: 'hi' }), (e) => {
      assert.ok(e instanceof OpenAI.NotFoundError, `${e}`);
      assert.equal(e.status, 404);
      assert.equal(e.code, 'model_not_found');
      return true;
    });
    await assert.rejects(client.responses.create({ model: 'auto', input: 'hi again', previous_response_id: 'resp_123' }), (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError, `${e}`);
      assert.match(e.message, /previous_response_id: allot stores no responses/);
      return true;
    });
    const url = `${allot.base}/responses`;
    const cases = [
      [JSON.stringify({ input: 'hi' }), 400, /model/],
      ['{"model": "auto", "input": [', 400, /JSON/i],
      [JSON.stringify({ model: 'auto', input: 'hi', tools: [{ type: 'web_search' }] }), 400, /tools\[0\]\.type: tool type 'web_search' is not supported by allot/],
      [JSON.stringify({ model: 'auto', input: 'x'.repeat(70000) }), 413, /limit/],
    ];
    for (const [body, status, message] of cases) {
      const res = await h.post(url, body);
      const json = await res.json();
      assert.equal(res.status, status, JSON.stringify(json));
      assert.equal(typeof json.error.type, 'string');
      assert.match(json.error.message, message);
    }
    // nothing is stored: retrieving a response says so
    const res = await fetch(`${url}/resp_123`);
    const json = await res.json();
    assert.equal(res.status, 404);
    assert.match(json.error.message, /stores no responses/);
  });

  it('the chat-completions API is unchanged beside it', h.LIMIT, async () => {
    const r = await h.chat(allot.base, { model: 'allot:judgment', messages: [{ role: 'user', content: user }] });
    assert.equal(r.status, 200);
    assert.equal(r.json.object, 'chat.completion');
  });

  it('stops cleanly on SIGTERM', h.LIMIT, async () => {
    await h.assertCleanStop(allot);
  });
});
