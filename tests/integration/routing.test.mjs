// Routing: which tier and model serve a request, by the order documented
// in docs/routing.md: a configured model name, then allot:<tier>, then for
// "auto" (and aliases) the X-Allot-Work header, then the classifier, and
// the default tier when the classifier is unsure. POST /v1/route and
// `allot route` give the same decision without calling an upstream.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import * as h from './harness.mjs';

const LABOUR_PROMPT = 'Summarise this article in five bullet points: The city council voted on Tuesday to extend ' +
  'the tram line to the airport, citing rising passenger numbers and lower emissions.';
const JUDGMENT_PROMPT = 'What could go wrong if we ship this on Friday?';
const COMPOSE_PROMPT = 'Write a polite email declining the invitation.';
// only material, no instruction: the classifier is overridden to unsure
const UNSURE_PROMPT = '```\nx = 1\ny = 2\n```';

const user = (content) => [{ role: 'user', content }];

describe('routing', () => {
  let frontier, local, allot;

  before(async () => {
    frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    local = await h.startFake({ name: 'local' });
    allot = await h.startAllot(h.baseConfig({ frontier, local }, {
      routing: { default_tier: 'code', aliases: ['auto', 'smart'], categories: { compose: 'judgment' } },
    }), { env: h.ALLOT_ENV });
  });
  after(h.cleanup);

  async function routed(body, headers, want) {
    const r = await h.chat(allot.base, body, headers);
    assert.equal(r.status, 200, r.text);
    for (const name of ['tier', 'model', 'category', 'confidence', 'reason', 'request-id', 'source', 'attempts', 'cost-usd']) {
      assert.ok(r.headers.has(`x-allot-${name}`), `no x-allot-${name} header`);
    }
    const got = {
      tier: r.headers.get('x-allot-tier'),
      model: r.headers.get('x-allot-model'),
      source: r.headers.get('x-allot-source'),
    };
    if ('category' in want) got.category = r.headers.get('x-allot-category');
    assert.deepEqual(got, want, `decision headers; reason: ${r.headers.get('x-allot-reason')}`);
    const row = await h.ledgerRow(allot.db, r.headers.get('x-allot-request-id'));
    assert.equal(row.tier, want.tier);
    assert.equal(row.model, want.model);
    assert.equal(row.source, want.source);
    assert.equal(row.requested_model, body.model);
    return r;
  }

  it('model auto: a clearly labour instruction goes to the labour tier', h.LIMIT, async () => {
    const r = await routed({ model: 'auto', messages: user(LABOUR_PROMPT) }, {},
      { tier: 'labour', model: 'labour-a', source: 'classifier', category: 'summarize' });
    assert.ok(r.json.choices[0].message.content.startsWith('[local] answer to: Summarise'));
    assert.ok(Number(r.headers.get('x-allot-confidence')) >= 0.5);
  });

  it('model auto: a clearly judgment instruction goes to the judgment tier', h.LIMIT, async () => {
    const r = await routed({ model: 'auto', messages: user(JUDGMENT_PROMPT) }, {},
      { tier: 'judgment', model: 'judge-a', source: 'classifier', category: 'risk' });
    assert.equal(r.json.model, 'judge-a-up');
  });

  it('a routing alias routes like auto', h.LIMIT, async () => {
    await routed({ model: 'smart', messages: user(LABOUR_PROMPT) }, {},
      { tier: 'labour', model: 'labour-a', source: 'classifier', category: 'summarize' });
  });

  it('routing.categories overrides the tier of a category', h.LIMIT, async () => {
    await routed({ model: 'auto', messages: user(COMPOSE_PROMPT) }, {},
      { tier: 'judgment', model: 'judge-a', source: 'classifier', category: 'compose' });
  });

  it('an unsure classifier hands the request to routing.default_tier', h.LIMIT, async () => {
    await routed({ model: 'auto', messages: user(UNSURE_PROMPT) }, {},
      { tier: 'code', model: 'coder-a', source: 'default' });
  });

  it('X-Allot-Work: a category overrides the classifier', h.LIMIT, async () => {
    await routed({ model: 'auto', messages: user(JUDGMENT_PROMPT) }, { 'X-Allot-Work': 'summarize' },
      { tier: 'labour', model: 'labour-a', source: 'header', category: 'summarize' });
  });

  it('X-Allot-Work: a tier overrides the classifier', h.LIMIT, async () => {
    await routed({ model: 'auto', messages: user(LABOUR_PROMPT) }, { 'X-Allot-Work': 'judgment' },
      { tier: 'judgment', model: 'judge-a', source: 'header' });
  });

  it('model allot:labour picks the labour tier, whatever the instruction', h.LIMIT, async () => {
    const r = await routed({ model: 'allot:labour', messages: user(JUDGMENT_PROMPT) }, {},
      { tier: 'labour', model: 'labour-a', source: 'tier' });
    assert.equal(r.json.model, 'labour-a-up');
  });

  it('a configured model name picks that model, even one that is not first in its tier', h.LIMIT, async () => {
    const r = await routed({ model: 'labour-b', messages: user(JUDGMENT_PROMPT) }, {},
      { tier: 'labour', model: 'labour-b', source: 'model' });
    assert.equal(r.json.model, 'labour-b-up');
    assert.ok(r.json.choices[0].message.content.startsWith('[frontier] '));
    const r2 = await routed({ model: 'coder-a', messages: user(LABOUR_PROMPT) }, { 'X-Allot-Work': 'summarize' },
      { tier: 'code', model: 'coder-a', source: 'model' });
    assert.equal(r2.json.model, 'coder-a-up');
  });

  it('POST /v1/route gives the decision without calling an upstream', h.LIMIT, async () => {
    const before = (await frontier.stats()).requests + (await local.stats()).requests;
    const cases = [
      [{ model: 'auto', messages: user(LABOUR_PROMPT) }, {},
        { category: 'summarize', tier: 'labour', model: 'labour-a', models: ['labour-a', 'labour-b'], source: 'classifier' }],
      [{ model: 'auto', messages: user(JUDGMENT_PROMPT) }, {},
        { category: 'risk', tier: 'judgment', model: 'judge-a', models: ['judge-a', 'judge-b'], source: 'classifier' }],
      [{ model: 'auto', messages: user(JUDGMENT_PROMPT) }, { 'X-Allot-Work': 'implement' },
        { category: 'implement', tier: 'code', model: 'coder-a', models: ['coder-a', 'judge-a'], source: 'header' }],
      [{ model: 'allot:labour', messages: user(JUDGMENT_PROMPT) }, {},
        { category: null, tier: 'labour', model: 'labour-a', models: ['labour-a', 'labour-b'], source: 'tier' }],
    ];
    for (const [body, headers, want] of cases) {
      const res = await h.post(`${allot.base}/route`, body, headers);
      const j = await res.json();
      assert.equal(res.status, 200, JSON.stringify(j));
      const { confidence, tier_confidence, reason, classifier, ...rest } = j;
      assert.deepEqual(rest, want);
      assert.equal(typeof confidence, 'number');
      assert.ok(confidence >= 0 && confidence <= 1);
      assert.ok(tier_confidence >= confidence && tier_confidence <= 1);
      assert.ok(typeof reason === 'string' && reason.length > 0);
      if (want.source === 'classifier') {
        // the explanation: the category, the runner-up, features for and against
        assert.equal(classifier.category, want.category);
        assert.notEqual(classifier.runner_up, want.category);
        assert.ok(classifier.for.length > 0 && classifier.for[0].weight > 0);
        assert.ok(classifier.against.every((f) => f.weight < 0));
      } else {
        assert.equal(classifier, null);
      }
    }
    const res = await h.post(`${allot.base}/route`, { model: 'nope', messages: user('hi') });
    assert.equal(res.status, 404);
    assert.equal((await res.json()).error.code, 'model_not_found');
    const after = (await frontier.stats()).requests + (await local.stats()).requests;
    assert.equal(after, before, 'POST /v1/route called an upstream');
  });

  it('`allot route` on the command line agrees with POST /v1/route', h.LIMIT, async () => {
    for (const [text, work] of [[LABOUR_PROMPT], [JUDGMENT_PROMPT], [COMPOSE_PROMPT], [JUDGMENT_PROMPT, 'reformat']]) {
      const args = ['route', '--json', '--config', allot.configPath];
      const headers = {};
      if (work) {
        args.push('--work', work);
        headers['X-Allot-Work'] = work;
      }
      args.push(text);
      const cli = await h.runAllot(args, { env: h.ALLOT_ENV });
      assert.equal(cli.code, 0, cli.stderr);
      const res = await h.post(`${allot.base}/route`, { model: 'auto', messages: user(text) }, headers);
      assert.deepEqual(JSON.parse(cli.stdout), await res.json());
    }
  });

  it('POST /v1/route and `allot route --file` route a Responses body and a Messages body as their translations', h.LIMIT, async () => {
    const chat = await (await h.post(`${allot.base}/route`, { model: 'auto', messages: [{ role: 'system', content: 'You are careful.' }, { role: 'user', content: JUDGMENT_PROMPT }] })).json();
    const bodies = [
      [{ model: 'auto', instructions: 'You are careful.', input: JUDGMENT_PROMPT }, {}, []],
      [{ model: 'auto', max_tokens: 100, system: 'You are careful.', messages: [{ role: 'user', content: JUDGMENT_PROMPT }] },
        { 'anthropic-version': '2023-06-01' }, ['--api', 'messages']],
    ];
    const dir = h.tempDir();
    for (const [i, [body, headers, apiArgs]] of bodies.entries()) {
      const res = await h.post(`${allot.base}/route`, body, headers);
      const j = await res.json();
      assert.equal(res.status, 200, JSON.stringify(j));
      assert.deepEqual(j, chat); // the same decision, explanation included, as the chat body's
      const file = `${dir}/req${i}.json`;
      fs.writeFileSync(file, JSON.stringify(body));
      const cli = await h.runAllot(['route', '--json', '--config', allot.configPath, ...apiArgs, '--file', file], { env: h.ALLOT_ENV });
      assert.equal(cli.code, 0, cli.stderr);
      assert.deepEqual(JSON.parse(cli.stdout), chat);
    }
    // what the translation refuses is a 400 with its reason
    const bad = await h.post(`${allot.base}/route`, { model: 'auto', input: 'hi', previous_response_id: 'resp_1' });
    assert.equal(bad.status, 400);
    assert.match((await bad.json()).error.message, /previous_response_id/);
  });

  it('stops cleanly on SIGTERM', h.LIMIT, async () => {
    await h.assertCleanStop(allot);
  });
});
