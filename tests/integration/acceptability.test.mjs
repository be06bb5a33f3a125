// Serving with the acceptability model (routing.acceptability, docs/eval.md):
// a model trained by `allot train outcomes` on outcomes where the weak model
// fails the "quantum" questions and gets the "cooking" ones right; allot
// then sends a quantum question of a listed category to the judgment tier
// and a cooking one to labour, says why in x-allot-reason, shows the same in
// POST /v1/route, and leaves unlisted categories and named tiers alone.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as h from './harness.mjs';

const WEAK = 'small-model', STRONG = 'big-model';

function outcomes() {
  const lines = [];
  for (let i = 0; i < 120; i++) {
    const hard = i % 2 === 1;
    const prompt = hard
      ? `Explain the quantum entanglement result number ${i} for a superconducting qubit array.`
      : `How long should I simmer the tomato sauce for pasta recipe number ${i}?`;
    lines.push(JSON.stringify({
      id: `q${i}`, prompt,
      outcomes: { [WEAK]: { correct: !hard }, [STRONG]: { correct: true } },
    }));
  }
  return lines.join('\n') + '\n';
}

describe('routing by the acceptability model', () => {
  let frontier, local, gw, modelPath;
  const ask = (content) => ({ model: 'auto', messages: [{ role: 'user', content }] });
  const post = (body, work) => h.post(`${gw.base}/chat/completions`, body, work ? { 'x-allot-work': work } : {});

  before(async () => {
    const dir = h.tempDir('allot-it-accept-');
    const data = path.join(dir, 'outcomes.jsonl');
    fs.writeFileSync(data, outcomes());
    modelPath = path.join(dir, 'model.accept');
    const r = await h.runAllot(['train', 'outcomes', '--data', data, '--weak', WEAK, '--strong', STRONG,
      '--strong-share', '0.5', '--kfold', '3', '--out', modelPath], { timeoutMs: 120000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /threshold [0-9.]+: 50\.0% of these requests to the strong model/);
    frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    local = await h.startFake({ name: 'local' });
    gw = await h.startAllot(h.baseConfig({ frontier, local }, {
      routing: { acceptability: { model: modelPath, categories: ['answer'] } },
    }), { env: h.ALLOT_ENV });
  });
  after(h.cleanup);

  it('sends a question the weak model is expected to fail to judgment, and says why', h.LIMIT, async () => {
    const res = await post(ask('Explain the quantum entanglement result number 1001 for a superconducting qubit array.'), 'answer');
    await res.text();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-allot-tier'), 'judgment');
    assert.equal(res.headers.get('x-allot-model'), 'judge-a');
    assert.match(res.headers.get('x-allot-reason'), /^answer: acceptability 0\.\d+ < 0\.\d+ \(expected quality: weak [01]\.\d+, strong [01]\.\d+\) -> judgment tier$/);
  });

  it('sends one it is expected to get right to labour', h.LIMIT, async () => {
    const res = await post(ask('How long should I simmer the tomato sauce for pasta recipe number 1002?'), 'answer');
    await res.text();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-allot-tier'), 'labour');
    assert.equal(res.headers.get('x-allot-model'), 'labour-a');
    assert.match(res.headers.get('x-allot-reason'), /acceptability 0\.\d+ >= 0\.\d+ .* -> labour tier$/);
  });

  it('POST /v1/route shows the same decision', h.LIMIT, async () => {
    const res = await h.post(`${gw.base}/route`, ask('Explain the quantum entanglement result number 1003 for a superconducting qubit array.'),
      { 'x-allot-work': 'answer' });
    const d = await res.json();
    assert.equal(res.status, 200);
    assert.equal(d.tier, 'judgment');
    assert.match(d.reason, /acceptability/);
  });

  it('leaves unlisted categories, named tiers and named models alone', h.LIMIT, async () => {
    let res = await post(ask('Explain the quantum entanglement result number 1004 for a superconducting qubit array.'), 'summarize');
    await res.text();
    assert.equal(res.headers.get('x-allot-tier'), 'labour');
    assert.doesNotMatch(res.headers.get('x-allot-reason'), /acceptability/);
    res = await post({ ...ask('Explain the quantum entanglement result number 1005.'), model: 'allot:labour' });
    await res.text();
    assert.equal(res.headers.get('x-allot-tier'), 'labour');
    res = await post({ ...ask('Explain the quantum entanglement result number 1006.'), model: 'labour-b' });
    await res.text();
    assert.equal(res.headers.get('x-allot-model'), 'labour-b');
  });

  it('the ledger keeps the reason', h.LIMIT, async () => {
    const rows = await h.waitRowCount(gw.db, 1, "reason LIKE 'answer: acceptability%'");
    assert.ok(rows);
  });

  it('stops cleanly on SIGTERM', h.LIMIT, async () => {
    await h.assertCleanStop(gw);
  });

  it('a model file that does not load stops allot serve with the reason', h.LIMIT, async () => {
    const dir = h.tempDir('allot-it-accept-bad-');
    const bad = path.join(dir, 'bad.accept');
    fs.writeFileSync(bad, 'not a model');
    const cfg = path.join(dir, 'allot.yaml');
    fs.writeFileSync(cfg, h.toYaml(h.baseConfig({ frontier, local }, {
      routing: { acceptability: { model: bad } },
    })).replace(/^\n/, '') + '\n');
    const r = await h.runAllot(['serve', '--config', cfg, '--listen', '127.0.0.1:0', '--store', path.join(dir, 'l.db')],
      { env: h.ALLOT_ENV });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /model '.*bad\.accept': not an acceptability model/);
    assert.match(r.stderr, /routing\.acceptability\.model/);
  });

  it('a category that does not exist is a config error naming the key', h.LIMIT, async () => {
    const dir = h.tempDir('allot-it-accept-cfg-');
    const cfg = path.join(dir, 'allot.yaml');
    fs.writeFileSync(cfg, h.toYaml(h.baseConfig({ frontier, local }, {
      routing: { acceptability: { model: modelPath, categories: ['answer', 'dance'] } },
    })).replace(/^\n/, '') + '\n');
    const r = await h.runAllot(['config', 'check', '--config', cfg], { env: h.ALLOT_ENV });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /routing\.acceptability\.categories\[1\]': expected a category .* got "dance"/);
  });
});

describe('allot train outcomes --from-ledger', () => {
  let frontier, local;
  before(async () => {
    frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    local = await h.startFake({ name: 'local' });
  });
  after(h.cleanup);

  it('learns from the checked labour requests whose prompts the ledger kept', h.LIMIT, async () => {
    const cfg = h.baseConfig({ frontier, local }, {
      models: [{ name: 'flaky', provider: 'local', model: 'flaky?bad-every=3&bad=refusal', price: { input: 0.1, output: 0.2 } }],
      tiers: { labour: ['flaky'] },
    });
    cfg.store = { keep_prompts: true };
    const gw = await h.startAllot(cfg, { env: h.ALLOT_ENV });
    for (let i = 0; i < 12; i++) {
      const res = await h.post(`${gw.base}/chat/completions`,
        { model: 'auto', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: `Summarise meeting note ${i}: the budget moved to May.` }] },
        { 'x-allot-work': 'summarize' });
      assert.equal(res.status, 200, await res.text());
    }
    await h.assertCleanStop(gw);
    const [{ kept, escalated }] = await h.sql(gw.db,
      "select sum(prompt <> '') as kept, sum(escalated <> '') as escalated from requests");
    assert.equal(kept, 12);
    assert.equal(escalated, 4); // every third labour answer was a refusal
    const [{ prompt }] = await h.sql(gw.db, "select prompt from requests order by ts_ms limit 1");
    assert.equal(prompt, 'Be brief.\n\nSummarise meeting note 0: the budget moved to May.');
    const out = path.join(gw.dir, 'mine.accept');
    const r = await h.runAllot(['train', 'outcomes', '--from-ledger', gw.db, '--kfold', '3', '--out', out], { timeoutMs: 120000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /from the ledger .*: 12 checked labour requests/);
    assert.match(r.stdout, /weak 'labour', strong 'judgment'/);
    assert.ok(fs.statSync(out).size > 1000);
  });

  it('without store.keep_prompts nothing is kept, and --from-ledger says why it has nothing', h.LIMIT, async () => {
    const gw = await h.startAllot(h.baseConfig({ frontier, local }), { env: h.ALLOT_ENV });
    const res = await h.post(`${gw.base}/chat/completions`,
      { model: 'auto', messages: [{ role: 'user', content: 'Summarise: the budget moved to May.' }] },
      { 'x-allot-work': 'summarize' });
    assert.equal(res.status, 200, await res.text());
    await h.assertCleanStop(gw);
    const [{ kept }] = await h.sql(gw.db, "select count(*) as kept from requests where prompt <> ''");
    assert.equal(kept, 0);
    const r = await h.runAllot(['train', 'outcomes', '--from-ledger', gw.db, '--out', path.join(gw.dir, 'x.accept')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no checked labour request with its prompt kept \(store\.keep_prompts: true keeps them\)/);
  });
});

