// The learned kind-of-work classifier from the outside: `allot train kinds`
// writes a model file from labelled JSON Lines (deterministically for a
// seed), routing.classifier_model makes `allot route` / `allot serve` use
// it, a missing or broken file is an error naming it, `allot serve` reloads
// it on SIGHUP (keeping the model in use when the new file does not load),
// and the ledger's `explain` column holds the classifier's explanation.
//
// The models here are trained on a tiny data set (8 phrasings each of
// summarize, risk and implement; 10 epochs), so training under ASan takes
// a fraction of a second and the model only knows those three categories.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as h from './harness.mjs';

const FIXED_PROMPT = 'Summarise this report in three bullets.';
const RISK_PROMPT = 'What could go wrong if we ship this on Friday?';
const CODE_PROMPT = 'Write a Python function to reverse a list.';

const PHRASINGS = {
  summarize: [
    FIXED_PROMPT,
    'Summarize the meeting notes in one paragraph.',
    'Give me a short summary of this article.',
    'TL;DR of the following email thread, please.',
    'Condense these release notes into five lines.',
    'Sum up the main points of this chapter.',
    'Write a brief abstract of the paper below.',
    'Recap the discussion above in two sentences.',
  ],
  risk: [
    RISK_PROMPT,
    'What are the risks of migrating the database tonight?',
    'Which failure modes should we worry about with this rollout?',
    'What might break if we upgrade the kernel?',
    'Is there any danger in letting interns deploy to production?',
    'What are the downsides of storing passwords this way?',
    'Where could this plan fail?',
    'What security risks does this design carry?',
  ],
  implement: [
    'Write a Python function that parses a CSV file.',
    'Implement a binary search in C.',
    'Add a unit test for the login handler.',
    'Fix the bug in this JavaScript loop.',
    'Write a SQL query that returns the top ten customers.',
    'Create a REST endpoint in Go for user signup.',
    'Refactor this class to use dependency injection.',
    'Write a bash script that renames all jpg files.',
  ],
};
const TRAINED = Object.keys(PHRASINGS);
// model file version 2 at 2^17 buckets: header, f32 scale and 16 int8 weights a bucket, CRC
const MODEL_BYTES = 352 + (4 + 16) * (1 << 17) + 4;

/** JSONL of the examples; `relabel` maps a category to another one. */
function jsonl(relabel = {}) {
  const lines = [];
  for (const [category, prompts] of Object.entries(PHRASINGS)) {
    for (const prompt of prompts) lines.push(JSON.stringify({ category: relabel[category] || category, prompt }));
  }
  return lines.join('\n') + '\n';
}

const dir = h.tempDir('allot-it-classifier-');
const file = (name) => path.join(dir, name);
const write = (name, text) => {
  fs.writeFileSync(file(name), text);
  return file(name);
};
const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `allot train kinds --data data --out out --epochs 10 ...extra`. */
const train = (data, out, extra = []) => h.runAllot(['train', 'kinds', '--data', data, '--out', out, '--epochs', '10', ...extra]);

async function trainOk(data, out, extra) {
  const r = await train(data, out, extra);
  assert.equal(r.code, 0, `train ${out}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

/** A config whose providers are never called (`allot route`, `config check`). */
const offlineConfig = (model) => `providers:
  - name: p
    base_url: http://127.0.0.1:9/v1
models:
  - name: m
    provider: p
    price: {input: 1, output: 2}
tiers:
  judgment: [m]
  labour: [m]
  code: [m]
routing:
  classifier_model: ${JSON.stringify(model)}
`;

const user = (content) => [{ role: 'user', content }];

async function routeJson(base, content, headers = {}) {
  const res = await h.post(`${base}/route`, { model: 'auto', messages: user(content) }, headers);
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return JSON.parse(text);
}

after(h.cleanup);

describe('allot train kinds', () => {
  let data;
  before(() => {
    data = write('train.jsonl', jsonl());
  });

  it('trains a model file from labelled JSON Lines', h.LIMIT, async () => {
    const out = file('a.model');
    const r = await trainOk(data, out);
    assert.match(r.stdout, new RegExp(`^trained ${esc(out)} on 24 examples in .*10 epochs`, 'm'));
    assert.match(r.stdout, /\brisk 8\b/);
    assert.match(r.stdout, /\bsummarize 8\b/);
    assert.match(r.stdout, /\bimplement 8\b/);
    const bytes = fs.readFileSync(out);
    assert.equal(bytes.subarray(0, 8).toString('latin1'), 'ALLOTKND');
    assert.equal(bytes.length, MODEL_BYTES);
    assert.equal(bytes.readUInt32LE(20), 24, 'training examples in the header');
    // saved atomically: no temp file left beside it
    assert.deepEqual(fs.readdirSync(dir).filter((n) => n.includes('.tmp')), []);
  });

  it('the same data and seed give a byte-identical file; another seed a different one', h.LIMIT, async () => {
    await trainOk(data, file('det1.model'));
    await trainOk(data, file('det2.model'));
    await trainOk(data, file('seed2.model'), ['--seed', '2']);
    const one = fs.readFileSync(file('det1.model'));
    assert.ok(one.equals(fs.readFileSync(file('det2.model'))), 'two runs with the same seed differ');
    const two = fs.readFileSync(file('seed2.model'));
    assert.equal(two.length, one.length);
    assert.ok(!one.equals(two), '--seed 2 gave the same file as seed 1');
  });

  it('a bad line is named FILE:LINE and no model is written', h.LIMIT, async () => {
    const lines = jsonl().split('\n');
    lines[2] = JSON.stringify({ category: 'gardening', prompt: 'Prune the roses.' });
    const bad = write('bad.jsonl', lines.join('\n'));
    const out = file('bad.model');
    const r = await train(bad, out);
    assert.notEqual(r.code, 0, `exit 0 on a bad line; stdout ${r.stdout}`);
    assert.ok(r.stderr.includes(`${bad}:3:`), `stderr does not name ${bad}:3:\n${r.stderr}`);
    assert.match(r.stderr, /category/);
    assert.doesNotMatch(r.stdout, /trained/);
    assert.equal(fs.existsSync(out), false, 'a model was written from bad data');
    assert.deepEqual(h.sanitizerReport(r.stderr), null);
  });

  it('missing --out (or --data) is a usage error: exit 2', h.LIMIT, async () => {
    const noOut = await h.runAllot(['train', 'kinds', '--data', data]);
    assert.equal(noOut.code, 2, noOut.stderr);
    assert.match(noOut.stderr, /--out/);
    const noData = await h.runAllot(['train', 'kinds', '--out', file('x.model')]);
    assert.equal(noData.code, 2, noData.stderr);
    assert.match(noData.stderr, /--data/);
    assert.equal(fs.existsSync(file('x.model')), false);
  });
});

describe('routing.classifier_model in `allot route` and `allot config check`', () => {
  let model;
  before(async () => {
    model = file('route.model');
    await trainOk(write('route.jsonl', jsonl()), model);
  });

  it('`allot route --json` classifies with the configured model', h.LIMIT, async () => {
    const cfg = write('route.yaml', offlineConfig(model));
    const want = [[FIXED_PROMPT, 'summarize'], [RISK_PROMPT, 'risk'], [CODE_PROMPT, 'implement']];
    for (const [text, category] of want) {
      const r = await h.runAllot(['route', '--json', '--config', cfg, text]);
      assert.equal(r.code, 0, r.stderr);
      const d = JSON.parse(r.stdout);
      assert.equal(d.classifier.category, category, `${text}: ${r.stdout}`);
      assert.equal(d.source, 'classifier', r.stdout);
    }
    // the tiny model knows only its three categories, whatever the text
    for (const text of ['Translate this into French: bonjour tout le monde.', 'Plan a week of meals for a family of four.',
      'Extract every date from the letter below.']) {
      const r = await h.runAllot(['route', '--json', '--config', cfg, text]);
      assert.equal(r.code, 0, r.stderr);
      const c = JSON.parse(r.stdout).classifier;
      assert.ok(TRAINED.includes(c.category), `${text}: category ${c.category} is not one the model was trained on`);
    }
  });

  it('`allot route` names the model file in use', h.LIMIT, async () => {
    const cfg = write('route-text.yaml', offlineConfig(model));
    const r = await h.runAllot(['route', '--config', cfg, FIXED_PROMPT]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^model {7}${esc(model)}$`, 'm'), r.stdout);
    assert.match(r.stdout, /^category\s+summarize$/m);
    // relative to the working directory (docs/config.md)
    const rel = await h.runAllot(['route', '--config', write('route-rel.yaml', offlineConfig('route.model')), FIXED_PROMPT],
      { cwd: dir });
    assert.equal(rel.code, 0, rel.stderr);
    assert.match(rel.stdout, /^model {7}route\.model$/m, rel.stdout);
    // without the key, the built-in model
    const builtin = await h.runAllot(['route', '--config', write('route-builtin.yaml',
      offlineConfig(model).replace(/^routing:\n.*\n/m, '')), FIXED_PROMPT]);
    assert.equal(builtin.code, 0, builtin.stderr);
    assert.match(builtin.stdout, /^model {7}built-in$/m, builtin.stdout);
  });

  it('`allot config check` accepts a config with a model that loads', h.LIMIT, async () => {
    const r = await h.runAllot(['config', 'check', '--config', write('check-ok.yaml', offlineConfig(model))]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\bok\b/);
  });

  it('a missing model file fails `config check`, `route` and `serve`, naming the file', h.LIMIT, async () => {
    const missing = file('no-such.model');
    const cfg = write('missing.yaml', offlineConfig(missing));
    const check = await h.runAllot(['config', 'check', '--config', cfg]);
    assert.equal(check.code, 1, `exit ${check.code}: ${check.stdout}${check.stderr}`);
    assert.ok(check.stderr.includes(missing), `config check does not name ${missing}:\n${check.stderr}`);
    assert.doesNotMatch(check.stdout, /\bok\b/);
    const route = await h.runAllot(['route', '--config', cfg, FIXED_PROMPT]);
    assert.equal(route.code, 1, `exit ${route.code}: ${route.stdout}${route.stderr}`);
    assert.ok(route.stderr.includes(missing), `route does not name ${missing}:\n${route.stderr}`);
    assert.equal(route.stdout, '');
    const serve = await h.runAllot(['serve', '--config', cfg, '--listen', '127.0.0.1:0', '--store', file('missing.db')]);
    assert.equal(serve.code, 1, `exit ${serve.code}: ${serve.stderr}`);
    assert.ok(serve.stderr.includes(missing), serve.stderr);
    assert.doesNotMatch(serve.stdout, /listening/);
  });

  it('a damaged model file fails `config check` with the cause', h.LIMIT, async () => {
    const damaged = file('damaged.model');
    fs.writeFileSync(damaged, fs.readFileSync(model).subarray(0, 100));
    const r = await h.runAllot(['config', 'check', '--config', write('damaged.yaml', offlineConfig(damaged))]);
    assert.equal(r.code, 1, `exit ${r.code}: ${r.stdout}${r.stderr}`);
    assert.ok(r.stderr.includes(damaged), r.stderr);
    assert.match(r.stderr, /truncated: 100 of \d+ bytes/);
    // one flipped weight byte: the CRC catches it
    const flipped = Buffer.from(fs.readFileSync(model));
    flipped[1000] ^= 0xff;
    fs.writeFileSync(damaged, flipped);
    const crc = await h.runAllot(['config', 'check', '--config', file('damaged.yaml')]);
    assert.equal(crc.code, 1, `exit ${crc.code}: ${crc.stdout}${crc.stderr}`);
    assert.match(crc.stderr, /checksum/);
  });
});

describe('`allot serve` with routing.classifier_model', () => {
  let frontier, local, allot, live, modelA, modelB;

  before(async () => {
    modelA = file('serve-a.model');
    modelB = file('serve-b.model');
    // B: the same prompts, summarize and implement labels swapped
    await trainOk(write('serve-a.jsonl', jsonl()), modelA);
    await trainOk(write('serve-b.jsonl', jsonl({ summarize: 'implement', implement: 'summarize' })), modelB);
    live = file('live.model');
    fs.copyFileSync(modelA, live);
    frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    local = await h.startFake({ name: 'local' });
    allot = await h.startAllot(h.baseConfig({ frontier, local }, { routing: { classifier_model: live } }),
      { env: h.ALLOT_ENV });
  });

  it('POST /v1/route classifies with the configured model', h.LIMIT, async () => {
    const d = await routeJson(allot.base, FIXED_PROMPT);
    assert.equal(d.classifier.category, 'summarize', JSON.stringify(d));
    assert.equal(d.tier, 'labour');
    assert.equal((await routeJson(allot.base, CODE_PROMPT)).classifier.category, 'implement');
  });

  it('the ledger explains a classified request; not one routed by X-Allot-Work', h.LIMIT, async () => {
    const r = await h.chat(allot.base, { model: 'auto', messages: user(FIXED_PROMPT) });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-allot-source'), 'classifier');
    assert.equal(r.headers.get('x-allot-category'), 'summarize');
    assert.ok(r.headers.get('x-allot-reason').startsWith('summarize '), r.headers.get('x-allot-reason'));
    const row = await h.ledgerRow(allot.db, r.headers.get('x-allot-request-id'));
    assert.equal(row.category, 'summarize');
    assert.equal(row.source, 'classifier');
    assert.ok(row.explain.startsWith('summarize '), `explain: ${JSON.stringify(row.explain)}`);
    assert.ok(row.explain.includes('; for: '), `explain: ${JSON.stringify(row.explain)}`);
    assert.ok(row.explain.includes("'summarise'"), `explain: ${JSON.stringify(row.explain)}`);

    const hdr = await h.chat(allot.base, { model: 'auto', messages: user(FIXED_PROMPT) }, { 'X-Allot-Work': 'implement' });
    assert.equal(hdr.status, 200, hdr.text);
    assert.equal(hdr.headers.get('x-allot-source'), 'header');
    const hrow = await h.ledgerRow(allot.db, hdr.headers.get('x-allot-request-id'));
    assert.equal(hrow.source, 'header');
    assert.equal(hrow.category, 'implement');
    assert.equal(hrow.explain, '');

    const tier = await h.chat(allot.base, { model: 'allot:labour', messages: user(FIXED_PROMPT) });
    assert.equal(tier.status, 200, tier.text);
    const trow = await h.ledgerRow(allot.db, tier.headers.get('x-allot-request-id'));
    assert.equal(trow.source, 'tier');
    assert.equal(trow.explain, '');
  });

  it('an agent loop\'s next step is classified once: the worker copies it (/metrics, headers)', h.LIMIT, async () => {
    const classified = async () => {
      const m = h.parseMetrics(await (await fetch(`${allot.origin}/metrics`)).text());
      return { model: h.metricSum(m, 'allot_classifications_total', { from: 'model' }),
        memo: h.metricSum(m, 'allot_classifications_total', { from: 'memo' }) };
    };
    // a new instruction (its bytes are this run's), then tool calls and
    // results after it, one more a step: steps 2, 3 and 4 have 5, 7 and 9
    // messages, one bucket of the classifier's structure (4-9)
    const ask = `Fix the failing test in parser.c and run the suite again (run ${process.pid}-${Date.now()}).`;
    const tools = [{ type: 'function', function: { name: 'read_file', parameters: { type: 'object', properties: { path: { type: 'string' } } } } }];
    const step = (k) => {
      const messages = [{ role: 'user', content: ask }];
      for (let i = 0; i < k; i++) {
        messages.push({ role: 'assistant', content: null,
          tool_calls: [{ id: `c${i}`, type: 'function', function: { name: 'read_file', arguments: `{"path":"f${i}.c"}` } }] });
        messages.push({ role: 'tool', tool_call_id: `c${i}`, content: `int f${i}(void) { return ${i}; }` });
      }
      return { model: 'auto', messages, tools };
    };
    const before = await classified();
    const answers = [];
    for (let k = 1; k <= 4; k++) {
      const r = await h.chat(allot.base, step(k));
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get('x-allot-source'), 'classifier');
      answers.push(r.headers);
    }
    const after = await classified();
    // step 1 (3 messages) and step 2 are classified; steps 3 and 4 find
    // step 2's classification on a worker that made it
    assert.ok(after.model - before.model >= 2, JSON.stringify({ before, after }));
    assert.ok(after.memo - before.memo >= 1, JSON.stringify({ before, after }));
    assert.equal(after.model + after.memo - before.model - before.memo, 4, JSON.stringify({ before, after }));
    for (const name of ['x-allot-category', 'x-allot-confidence', 'x-allot-reason', 'x-allot-tier']) {
      assert.equal(answers[2].get(name), answers[1].get(name), name);
      assert.equal(answers[3].get(name), answers[1].get(name), name);
    }
  });

  it('SIGHUP with a damaged file keeps the model in use and keeps serving', h.LIMIT, async () => {
    // the whole decision, features and confidences included: the built-in
    // model also calls this prompt summarize, but not with these numbers
    const before = await routeJson(allot.base, FIXED_PROMPT);
    assert.equal(before.classifier.category, 'summarize');
    const logFrom = allot.logs().length;
    fs.truncateSync(live, 100);
    allot.proc.kill('SIGHUP');
    const line = await h.waitFor(() => allot.logs().slice(logFrom).split('\n').find((l) => l.includes('SIGHUP')),
      { what: 'a SIGHUP line in the log' });
    assert.ok(line.includes(`model '${live}': truncated: 100 of ${MODEL_BYTES} bytes`), line);
    assert.ok(line.endsWith(`keeping the model in use (${live})`), line);
    assert.match(line, / error: /);
    assert.equal(allot.proc.exitCode, null, 'allot exited on SIGHUP');
    assert.deepEqual(await routeJson(allot.base, FIXED_PROMPT), before, 'the decision changed after a failed reload');
    const r = await h.chat(allot.base, { model: 'auto', messages: user(FIXED_PROMPT) });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-allot-category'), 'summarize');
  });

  it('SIGHUP with a good file swaps the model', h.LIMIT, async () => {
    const logFrom = allot.logs().length;
    fs.copyFileSync(modelB, live);
    allot.proc.kill('SIGHUP');
    const d = await h.waitFor(async () => {
      const j = await routeJson(allot.base, FIXED_PROMPT);
      return j.classifier.category === 'implement' ? j : null;
    }, { what: 'POST /v1/route to classify with the new model' });
    assert.equal(d.tier, 'code');
    // the swap happens before the log line is written: wait for the line
    const reloaded = new RegExp(`reloaded from ${esc(live)}`);
    await h.waitFor(() => reloaded.test(allot.logs().slice(logFrom)), { what: 'the reload log line' });
    assert.equal((await routeJson(allot.base, CODE_PROMPT)).classifier.category, 'summarize');
    const r = await h.chat(allot.base, { model: 'auto', messages: user(FIXED_PROMPT) });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-allot-category'), 'implement');
    const row = await h.ledgerRow(allot.db, r.headers.get('x-allot-request-id'));
    assert.ok(row.explain.startsWith('implement '), row.explain);
  });

  it('reloads while requests are being classified: every answer is A\'s or B\'s', h.LIMIT, async () => {
    const reloads = () => allot.logs().split('\n').filter((l) => l.includes('SIGHUP: classifier model reloaded')).length;
    let stop = false;
    const seen = new Set();
    const client = async () => {
      let n = 0;
      while (!stop || n === 0) {
        const r = await h.chat(allot.base, { model: 'auto', messages: user(FIXED_PROMPT) });
        assert.equal(r.status, 200, r.text);
        seen.add(r.headers.get('x-allot-category'));
        n++;
      }
      return n;
    };
    const clients = [client(), client(), client(), client()];
    try {
      for (let i = 0; i < 6; i++) {
        const before = reloads();
        fs.copyFileSync(i % 2 ? modelB : modelA, live);
        allot.proc.kill('SIGHUP');
        await h.waitFor(() => reloads() > before, { what: `reload ${i + 1}` });
      }
    } finally {
      stop = true;
    }
    const counts = await Promise.all(clients);
    assert.ok(counts.every((n) => n > 0));
    for (const c of seen) assert.ok(c === 'summarize' || c === 'implement', `category ${c} during reloads`);
    // the last file installed was B
    assert.equal((await routeJson(allot.base, FIXED_PROMPT)).classifier.category, 'implement');
    assert.equal(h.sanitizerReport(allot.logs()), null, allot.logs().slice(-4000));
  });

  it('stops cleanly on SIGTERM', h.LIMIT, async () => {
    await h.assertCleanStop(allot);
  });
});

describe('allot train kinds --export-ledger: the ledger kept instructions, to label', () => {
  let frontier, local;
  before(async () => {
    frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    local = await h.startFake({ name: 'local' });
  });

  const data = () => write('export-train.jsonl', jsonl());
  const readJsonl = (p) => fs.readFileSync(p, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

  it('with store.keep_prompts: all, every routed instruction is written once, least sure of its tier first, ready to train on', h.LIMIT, async () => {
    const cfg = h.baseConfig({ frontier, local });
    cfg.store = { keep_prompts: 'all' };
    const gw = await h.startAllot(cfg, { env: h.ALLOT_ENV });
    const sent = [
      [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: RISK_PROMPT }],
      user(CODE_PROMPT),
      user(FIXED_PROMPT),
      user(FIXED_PROMPT), // an agent sending the same instruction again
      user('Convert this YAML config to TOML: a: 1'),
    ];
    for (const messages of sent) {
      const res = await h.post(`${gw.base}/chat/completions`, { model: 'auto', messages });
      assert.equal(res.status, 200, await res.text());
    }
    const hinted = await h.post(`${gw.base}/chat/completions`, { model: 'auto', messages: user('Tidy up these notes: a, b') }, { 'x-allot-work': 'reformat' });
    assert.equal(hinted.status, 200, await hinted.text());
    await h.assertCleanStop(gw);
    const rows = await h.sql(gw.db, "select id, prompt, category, confidence, tier_confidence, tier, source from requests where prompt <> '' order by tier_confidence, confidence, ts_ms, id");
    assert.equal(rows.length, 6, 'every routed request kept its instruction');
    assert.equal(rows.find((r) => r.prompt.startsWith('You are terse.')).prompt, `You are terse.\n\n${RISK_PROMPT}`);

    const out = path.join(gw.dir, 'label.jsonl');
    const r = await h.runAllot(['train', 'kinds', '--export-ledger', gw.db, '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^wrote 5 instructions to ${esc(out)}, least sure of their tier first \\(1 repeats left out\\)`, 'm'));
    assert.match(r.stdout, new RegExp(`allot train kinds --data data/kinds --data ${esc(out)} --out MODEL`));
    const lines = readJsonl(out);
    assert.equal(lines.length, 5);
    assert.deepEqual(lines.map((l) => Object.keys(l)), lines.map(() => ['category', 'prompt', 'confidence', 'tier_confidence', 'tier', 'source', 'id']));
    // the ledger's rows in its order, the repeat dropped at its second sending
    const firstOfEach = rows.filter((row, i) => rows.findIndex((o) => o.prompt === row.prompt) === i);
    assert.deepEqual(lines.map((l) => l.id), firstOfEach.map((row) => row.id));
    for (const [i, l] of lines.entries()) {
      const row = firstOfEach[i];
      assert.equal(l.prompt, row.prompt);
      assert.equal(l.category, row.category);
      assert.equal(l.tier, row.tier);
      assert.equal(l.source, row.source);
      assert.ok(Math.abs(l.confidence - row.confidence) < 1e-4, `${l.confidence} vs ${row.confidence}`);
      assert.ok(Math.abs(l.tier_confidence - row.tier_confidence) < 1e-4, `${l.tier_confidence} vs ${row.tier_confidence}`);
      assert.ok(l.tier_confidence > 0 && l.tier_confidence <= 1, `tier_confidence ${l.tier_confidence}`);
      if (i > 0) assert.ok(l.tier_confidence >= lines[i - 1].tier_confidence, 'not the least sure of its tier first');
    }
    assert.equal(lines.find((l) => l.prompt.startsWith('Tidy')).source, 'header');
    assert.equal(lines.find((l) => l.prompt.startsWith('Tidy')).category, 'reformat');
    assert.equal(lines.find((l) => l.prompt.startsWith('Tidy')).tier_confidence, 1);

    // --limit: the least sure N
    const two = path.join(gw.dir, 'two.jsonl');
    const r2 = await h.runAllot(['train', 'kinds', '--export-ledger', gw.db, '--out', two, '--limit', '2']);
    assert.equal(r2.code, 0, r2.stderr);
    assert.deepEqual(readJsonl(two).map((l) => l.id), lines.slice(0, 2).map((l) => l.id));

    // corrected and trained on: the file is labelled data as it stands
    const fixed = lines.map((l) => JSON.stringify(l.prompt === CODE_PROMPT ? { ...l, category: 'implement' } : l)).join('\n') + '\n';
    const labelled = path.join(gw.dir, 'labelled.jsonl');
    fs.writeFileSync(labelled, fixed);
    const model = path.join(gw.dir, 'mine.model');
    const t = await h.runAllot(['train', 'kinds', '--data', data(), '--data', labelled, '--out', model, '--epochs', '10']);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, new RegExp(`^trained ${esc(model)} on 29 examples`, 'm'));
  });

  it('with store.keep_prompts: true, unchecked requests keep nothing, and the export says how to keep them', h.LIMIT, async () => {
    const cfg = h.baseConfig({ frontier, local });
    cfg.store = { keep_prompts: true };
    const gw = await h.startAllot(cfg, { env: h.ALLOT_ENV });
    const res = await h.post(`${gw.base}/chat/completions`, { model: 'auto', messages: user(RISK_PROMPT) });
    assert.equal(res.status, 200, await res.text());
    await h.assertCleanStop(gw);
    const out = path.join(gw.dir, 'none.jsonl');
    const r = await h.runAllot(['train', 'kinds', '--export-ledger', gw.db, '--out', out]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /has no routed request with its instruction kept \(store\.keep_prompts: all keeps every one\)/);
    const missing = await h.runAllot(['train', 'kinds', '--export-ledger', path.join(gw.dir, 'nope.db'), '--out', out]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nope\.db' does not exist/);
  });

  it('usage: --out is required, --data and --limit alone are refused, exit 2', h.LIMIT, async () => {
    const noOut = await h.runAllot(['train', 'kinds', '--export-ledger', file('x.db')]);
    assert.equal(noOut.code, 2);
    assert.match(noOut.stderr, /--export-ledger STORE takes --out FILE, and no --data/);
    const withData = await h.runAllot(['train', 'kinds', '--export-ledger', file('x.db'), '--data', data(), '--out', file('x.jsonl')]);
    assert.equal(withData.code, 2);
    const limitAlone = await h.runAllot(['train', 'kinds', '--data', data(), '--out', file('x.model'), '--limit', '3']);
    assert.equal(limitAlone.code, 2);
    assert.match(limitAlone.stderr, /--limit goes with --export-ledger/);
    const badLimit = await h.runAllot(['train', 'kinds', '--export-ledger', file('x.db'), '--out', file('x.jsonl'), '--limit', '0']);
    assert.equal(badLimit.code, 2);
    assert.match(badLimit.stderr, /bad value '0' for --limit/);
    assert.equal(fs.existsSync(file('x.model')), false);
  });

  it('store.keep_prompts takes true, false or all, and nothing else', h.LIMIT, async () => {
    const cfg = write('keep.yaml', offlineConfig('x.model').replace(/^routing:\n.*\n/m, '') + 'store:\n  keep_prompts: always\n');
    const r = await h.runAllot(['config', 'check', '--config', cfg]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /store\.keep_prompts.*expected true, false or all/);
  });
});
