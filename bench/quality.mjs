// quality.mjs: the quality floor end to end, on a scripted mix.
//
// For each kind of bad answer (empty, refusal, cut off, invalid JSON,
// schema violation) the labour model of a fake upstream answers every 5th
// request badly (20%). The same requests go through allot twice: with the
// built-in checks and escalation (the default), and with quality.enabled:
// false (labour everywhere, nothing checked). The client judges every
// answer itself, independently of allot, and the ledger gives the cost.
//
// Prints per kind: bad answers that reached the client with and without
// the floor, and the cost against judgment-everywhere (the ledger's
// counterfactual) and labour-everywhere (the unchecked run).
//
// Usage: node bench/quality.mjs [--requests N] [--concurrency C] [--json]
// Needs build/allot and build/fake_upstream (make bench-quality).
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ALLOT = process.env.ALLOT_BIN || path.join(ROOT, 'build/allot');
const FAKE = process.env.FAKE_BIN || path.join(ROOT, 'build/fake_upstream');
const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : def;
};
const N = Number(arg('--requests', 200));
const C = Number(arg('--concurrency', 8));
const JSON_OUT = process.argv.includes('--json');
const BAD_EVERY = 5;

const SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['answer', 'ok'],
  properties: { answer: { type: 'string' }, ok: { type: 'boolean' } },
};
const KINDS = [
  { bad: 'empty', rf: null },
  { bad: 'refusal', rf: null },
  { bad: 'cut', rf: null },
  { bad: 'json', rf: { type: 'json_object' } },
  { bad: 'schema', rf: { type: 'json_schema', json_schema: { name: 'answer', strict: true, schema: SCHEMA } } },
];

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'allot-bench-quality-'));
const children = [];

function start(bin, args) {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(p);
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${bin} did not start: ${out}`)), 20000);
    p.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on [^\s:]+:(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ proc: p, port: Number(m[1]) });
      }
    });
    p.stderr.on('data', () => {});
    p.on('exit', (code) => reject(new Error(`${bin} exited ${code}: ${out}`)));
  });
}

function stop(p) {
  return new Promise((resolve) => {
    if (p.exitCode !== null) return resolve();
    p.removeAllListeners('exit');
    p.on('exit', resolve);
    p.kill('SIGTERM');
  });
}

// The client's own verdict on an answer: what a user would call bad.
function isBad(body, rf) {
  const choice = body.choices?.[0];
  const content = choice?.message?.content ?? '';
  if (!content.trim()) return 'empty';
  if (choice.finish_reason === 'length') return 'cut';
  if (/^\W*(I'm|I am) sorry|^\W*I can(no|')t/i.test(content)) return 'refusal';
  if (rf) {
    let v;
    try {
      v = JSON.parse(content);
    } catch {
      return 'json';
    }
    if (rf.type === 'json_schema') {
      const keys = v && typeof v === 'object' ? Object.keys(v) : [];
      if (!keys.includes('answer') || !keys.includes('ok') || keys.some((k) => !(k in SCHEMA.properties))) return 'schema';
    }
  }
  return null;
}

async function runOnce(kind, quality, fakePort) {
  const store = path.join(dir, `${kind.bad}-${quality ? 'on' : 'off'}.db`);
  const json = kind.rf ? '&content-json=1' : '';
  const cfg = [
    `store: ${store}`,
    'providers:',
    `  - {name: fake, base_url: "http://127.0.0.1:${fakePort}/v1"}`,
    'models:',
    `  - {name: strong, provider: fake, model: "sim?tokens=60${json}", price: {input: 2.50, output: 10.00}}`,
    // a distinct model id per run (the fake counts bad-every per id), with no
    // knob words in its name
    `  - {name: cheap, provider: fake, model: "run${KINDS.indexOf(kind)}${quality ? 1 : 0}?tokens=60&bad-every=${BAD_EVERY}&bad=${kind.bad}${json}", price: {input: 0.15, output: 0.60}}`,
    'tiers: {judgment: [strong], labour: [cheap], code: [strong]}',
    `quality: {enabled: ${quality}, floor: {enabled: false}}`,
    '',
  ].join('\n');
  const cfgPath = path.join(dir, `${kind.bad}-${quality}.yaml`);
  fs.writeFileSync(cfgPath, cfg);
  const allot = await start(ALLOT, ['serve', '--config', cfgPath, '--listen', '127.0.0.1:0', '--quiet']);
  const base = `http://127.0.0.1:${allot.port}/v1`;
  const material = 'Invoice INV-2026-0042 from Harbour Supplies, dated 3 March, lists twelve parts. '.repeat(12);
  let next = 0, bad = 0, escalated = 0;
  const lat = [];
  async function worker() {
    while (next < N) {
      const i = next++;
      const body = {
        model: 'auto',
        messages: [{ role: 'user', content: `Extract the invoice number and the supplier (request ${i}):\n\n${material}` }],
        ...(kind.rf ? { response_format: kind.rf } : {}),
      };
      const t0 = performance.now();
      const res = await fetch(`${base}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-allot-work': 'extract' },
        body: JSON.stringify(body),
      });
      const answer = await res.json();
      lat.push(performance.now() - t0);
      if (res.status !== 200) throw new Error(`status ${res.status}: ${JSON.stringify(answer)}`);
      if (isBad(answer, kind.rf)) bad++;
      if (res.headers.get('x-allot-escalated')) escalated++;
    }
  }
  await Promise.all(Array.from({ length: C }, worker));
  await stop(allot.proc);
  const report = JSON.parse(execFileSync(ALLOT, ['report', '--store', store, '--json']).toString());
  lat.sort((a, b) => a - b);
  return {
    bad,
    escalated,
    cost: report.totals.cost_usd,
    counterfactual: report.totals.counterfactual_usd,
    p50_ms: lat[Math.floor(lat.length / 2)],
  };
}

async function main() {
  const fake = await start(FAKE, ['--listen', '127.0.0.1:0', '--quiet']);
  const rows = [];
  try {
    for (const kind of KINDS) {
      const on = await runOnce(kind, true, fake.port);
      const off = await runOnce(kind, false, fake.port);
      rows.push({ kind: kind.bad, requests: N, labour_bad: Math.floor(N / BAD_EVERY), on, off });
    }
  } finally {
    await stop(fake.proc);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const tot = (f) => rows.reduce((s, r) => s + f(r), 0);
  const summary = {
    requests: tot((r) => r.requests),
    labour_bad: tot((r) => r.labour_bad),
    reached_client_with_floor: tot((r) => r.on.bad),
    reached_client_without: tot((r) => r.off.bad),
    cost_with_floor: tot((r) => r.on.cost),
    cost_labour_everywhere: tot((r) => r.off.cost),
    cost_judgment_everywhere: tot((r) => r.on.counterfactual),
  };
  if (JSON_OUT) {
    console.log(JSON.stringify({ rows, summary }, null, 2));
    return;
  }
  const usd = (v) => `$${v.toFixed(4)}`;
  console.log(`\nscripted mix: ${N} requests per kind, every ${BAD_EVERY}th labour answer bad (${100 / BAD_EVERY}%), ${C} clients`);
  console.log('kind      labour bad  reached client: floor on / off   escalated   cost: floor on   labour only   judgment only   p50 ms on/off');
  for (const r of rows) {
    console.log(
      `${r.kind.padEnd(10)}${String(r.labour_bad).padStart(10)}${String(r.on.bad).padStart(23)} / ${String(r.off.bad).padEnd(9)}${String(r.on.escalated).padStart(10)}` +
        `${usd(r.on.cost).padStart(17)}${usd(r.off.cost).padStart(14)}${usd(r.on.counterfactual).padStart(16)}` +
        `${r.on.p50_ms.toFixed(1).padStart(11)}/${r.off.p50_ms.toFixed(1)}`,
    );
  }
  const s = summary;
  console.log(
    `total: ${s.reached_client_with_floor} of ${s.labour_bad} bad labour answers reached the client with the floor on ` +
      `(${s.reached_client_without} with it off); cost ${usd(s.cost_with_floor)} vs ${usd(s.cost_judgment_everywhere)} judgment everywhere ` +
      `(${((1 - s.cost_with_floor / s.cost_judgment_everywhere) * 100).toFixed(1)}% saved) and ${usd(s.cost_labour_everywhere)} labour everywhere ` +
      `(${(s.cost_with_floor / s.cost_labour_everywhere).toFixed(2)}x)`,
  );
  console.log(`target: no failing-check answer reaches the client with escalation on: ${s.reached_client_with_floor === 0 ? 'met' : 'MISSED'}`);
}

main().catch(async (e) => {
  console.error(e.stack || String(e));
  for (const c of children) c.kill('SIGKILL');
  process.exit(1);
});
