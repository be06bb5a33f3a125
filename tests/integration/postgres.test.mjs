// The ledger in PostgreSQL (docs/ledger.md, "PostgreSQL"): a real server,
// started here with initdb and postgres into a temp dir on a free port (as
// the unprivileged user nobody when the suite runs as root, since initdb
// refuses root), and stopped at the end, also when a test failed. allot
// serves through the official openai client with `store: postgresql://...`;
// rows are read back with psql, as an operator would. The URL carries a
// password (the server trusts local connections, so any password works)
// and every test checks that it is shown nowhere.
//
// Missing PostgreSQL binaries fail the file: scripts/install-deps.sh
// installs them (package postgresql).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import * as h from './harness.mjs';

const PASSWORD = 'pw-Zq8x-never-shown';
const PG_START_TIMEOUT_MS = 60000;

// ---------------------------------------------------------------------------
// a PostgreSQL server of our own

function pgBinDir() {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  const dirs = [process.env.PG_BIN, ...versions.map((v) => path.join(root, v, 'bin'))].filter(Boolean);
  for (const d of dirs) {
    if (fs.existsSync(path.join(d, 'initdb')) && fs.existsSync(path.join(d, 'postgres'))) return d;
  }
  throw new Error(`PostgreSQL server binaries (initdb, postgres) not found in ${root}/*/bin or $PG_BIN: ` +
    'run scripts/install-deps.sh (Debian package postgresql)');
}

const servers = new Set();
process.on('exit', () => {
  for (const pg of servers) {
    try { pg.proc?.kill('SIGKILL'); } catch { /* gone */ }
  }
});

/** initdb into a fresh temp dir and start postgres on a free port. */
async function startPostgres() {
  const bin = pgBinDir();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'allot-pg-'));
  const asRoot = process.getuid() === 0;
  // setpriv execs postgres itself, so the pid we signal is the postmaster's
  const asUser = asRoot ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'] : [];
  if (asRoot) fs.chownSync(dir, 65534, 65534);
  const pg = { bin, dir, data: path.join(dir, 'data'), asUser, port: 0, proc: null, log: '' };
  servers.add(pg);
  const [cmd, ...args] = [...asUser, path.join(bin, 'initdb'), '-D', pg.data, '-U', 'allot',
    '--auth=trust', '-E', 'UTF8', '--locale=C', '-N'];
  execFileSync(cmd, args, { cwd: dir, stdio: 'pipe' });
  pg.port = await h.closedPort();
  await pgStart(pg);
  return pg;
}

async function pgStart(pg) {
  const mark = pg.log.length;
  const [cmd, ...args] = [...pg.asUser, path.join(pg.bin, 'postgres'), '-D', pg.data, '-k', pg.dir,
    '-p', String(pg.port), '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'];
  const proc = spawn(cmd, args, { cwd: pg.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  pg.proc = proc;
  pg.exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  proc.stdout.on('data', (d) => { pg.log += d; });
  proc.stderr.on('data', (d) => { pg.log += d; });
  await h.waitFor(() => {
    if (proc.exitCode !== null) throw new Error(`postgres exited (${proc.exitCode}):\n${pg.log.slice(mark)}`);
    return pg.log.slice(mark).includes('ready to accept connections');
  }, { timeoutMs: PG_START_TIMEOUT_MS, what: `PostgreSQL on port ${pg.port}` }).catch((e) => {
    throw new Error(`${e.message}\n${pg.log.slice(mark)}`);
  });
}

/** Fast shutdown (SIGINT: clients are disconnected), SIGKILL after 20 s. */
async function pgStop(pg) {
  if (!pg?.proc || pg.proc.exitCode !== null || pg.proc.signalCode !== null) return;
  pg.proc.kill('SIGINT');
  const timer = setTimeout(() => pg.proc.kill('SIGKILL'), 20000);
  await pg.exited;
  clearTimeout(timer);
}

async function pgRemove(pg) {
  if (!pg) return;
  await pgStop(pg);
  servers.delete(pg);
  fs.rmSync(pg.dir, { recursive: true, force: true });
}

/** psql -c sql against database db; stdout, unaligned, tuples only. */
function psql(pg, db, sql) {
  return new Promise((resolve, reject) => {
    execFile('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(pg.port),
      '-U', 'allot', '-d', db, '-c', sql], { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`psql ${db}: ${stderr || err.message}`));
      resolve(stdout.trim());
    });
  });
}

/** The rows of a query as objects. */
async function rows(pg, db, sql) {
  return JSON.parse(await psql(pg, db, `select coalesce(json_agg(t), '[]') from (${sql}) t`));
}

const url = (pg, db, password = PASSWORD) => `postgresql://allot:${password}@127.0.0.1:${pg.port}/${db}`;
const shown = (pg, db) => `postgresql://allot:***@127.0.0.1:${pg.port}/${db}`;

function assertNoPassword(text, what) {
  assert.ok(!text.includes(PASSWORD), `${what} shows the password:\n${text.slice(-4000)}`);
}

// ---------------------------------------------------------------------------

const PRICES = { 'judge-a': [3.0, 15.0], 'labour-a': [0.2, 0.6], 'coder-a': [1.25, 10.0] };

describe('the ledger in PostgreSQL', () => {
  let pg, frontier, local;

  before(async () => {
    pg = await startPostgres();
    frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    local = await h.startFake({ name: 'local' });
  });
  after(async () => {
    await h.cleanup();
    await pgRemove(pg);
  });

  it('store: postgresql://... in allot.yaml: the openai client is served and each row lands in PostgreSQL', h.LIMIT, async () => {
    await psql(pg, 'postgres', 'create database ledger_sdk');
    const cfg = h.baseConfig({ frontier, local });
    cfg.store = url(pg, 'ledger_sdk');
    const allot = await h.startAllot(cfg, { env: h.ALLOT_ENV, store: null });
    assert.match(allot.stdout(), new RegExp(`ledger ${shown(pg, 'ledger_sdk').replace(/[.*?]/g, '\\$&')}\\)`));
    assertNoPassword(allot.stdout(), 'the start line');

    const client = new OpenAI({ baseURL: allot.base, apiKey: 'client-key', maxRetries: 0, timeout: 60000 });
    const messages = [{ role: 'user', content: 'Summarise: the quarterly budget moved from April to May.' }];
    const sent = [];
    for (const [model, tier, name] of [['allot:labour', 'labour', 'labour-a'], ['allot:judgment', 'judgment', 'judge-a'],
      ['allot:code', 'code', 'coder-a']]) {
      const { data, response } = await client.chat.completions.create({ model, messages }).withResponse();
      assert.equal(response.headers.get('x-allot-model'), name);
      sent.push({ id: response.headers.get('x-allot-request-id'), tier, name, usage: data.usage, stream: 0 });
    }
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'allot:labour', messages, stream: true, stream_options: { include_usage: true } }).withResponse();
    let usage = null;
    for await (const chunk of stream) usage = chunk.usage ?? usage;
    assert.ok(usage, 'the stream carried usage');
    sent.push({ id: response.headers.get('x-allot-request-id'), tier: 'labour', name: 'labour-a', usage, stream: 1 });

    const ids = sent.map((s) => `'${s.id}'`).join(',');
    const got = await h.waitFor(async () => {
      const r = await rows(pg, 'ledger_sdk', `select * from requests where id in (${ids})`);
      return r.length === sent.length ? r : null;
    }, { timeoutMs: 10000, what: 'the four rows in PostgreSQL' });
    for (const s of sent) {
      const row = got.find((r) => r.id === s.id);
      const [pin, pout] = PRICES[s.name];
      assert.equal(row.tier, s.tier);
      assert.equal(row.model, s.name);
      assert.equal(row.status, 'ok');
      assert.equal(row.http_status, 200);
      assert.equal(row.stream, s.stream);
      assert.equal(row.prompt_tokens, s.usage.prompt_tokens);
      assert.equal(row.completion_tokens, s.usage.completion_tokens);
      assert.ok(row.prompt_tokens > 0 && row.completion_tokens > 0);
      assert.ok(h.near(row.cost_usd, (s.usage.prompt_tokens * pin + s.usage.completion_tokens * pout) / 1e6),
        `cost ${row.cost_usd} of ${s.name}`);
      assert.ok(h.near(row.counterfactual_usd, (s.usage.prompt_tokens * 3.0 + s.usage.completion_tokens * 15.0) / 1e6));
    }
    // the schema as docs/ledger.md describes it
    assert.equal(await psql(pg, 'ledger_sdk', 'select version from allot_meta'), '7');
    const types = Object.fromEntries((await rows(pg, 'ledger_sdk',
      "select column_name as name, data_type as type from information_schema.columns where table_name = 'requests'"))
      .map((r) => [r.name, r.type]));
    assert.deepEqual([types.id, types.ts_ms, types.http_status, types.cost_usd, types.check, types.overhead_ms,
      types.cached_tokens, types.cache_write_tokens],
      ['text', 'bigint', 'integer', 'double precision', 'text', 'double precision', 'bigint', 'bigint']);
    await h.assertCleanStop(allot);
    assertNoPassword(allot.logs(), 'allot serve');
  });

  it('allot report --json and --from-ledger read PostgreSQL as they read SQLite, for the same traffic', h.LIMIT, async () => {
    await psql(pg, 'postgres', 'create database ledger_report');
    const config = () => {
      const cfg = h.baseConfig({ frontier, local }, {
        models: [{ name: 'flaky', provider: 'local', model: 'flaky?bad-every=3&bad=refusal', price: { input: 0.1, output: 0.2 } }],
        tiers: { labour: ['flaky'] },
      });
      cfg.store = { keep_prompts: true };
      return cfg;
    };
    const lite = await h.startAllot(config(), { env: h.ALLOT_ENV });
    const post = await h.startAllot(config(), { env: h.ALLOT_ENV, store: url(pg, 'ledger_report') });
    const traffic = [
      ...Array.from({ length: 9 }, (_, i) => [{ model: 'auto', messages: [{ role: 'system', content: 'Be brief.' },
        { role: 'user', content: `Summarise meeting note ${i}: the budget moved to May.` }] }, { 'x-allot-work': 'summarize' }]),
      [{ model: 'auto', messages: [{ role: 'user', content: 'What could go wrong if we ship this on Friday?' }] }, {}],
      [{ model: 'allot:code', messages: [{ role: 'user', content: 'Fix: int add(int a, int b) { return a - b; }' }] }, {}],
      [{ model: 'allot:judgment', stream: true, messages: [{ role: 'user', content: 'Tabs\tnew\nlines \\ and "quotes" \u00e9' }] }, {}],
      [{ model: 'no-such-model', messages: [{ role: 'user', content: 'hello' }] }, {}],
    ];
    for (const gw of [lite, post]) {
      for (const [body, headers] of traffic) {
        const res = await h.post(`${gw.base}/chat/completions`, body, headers);
        await res.arrayBuffer();
        assert.ok(res.status === 200 || body.model === 'no-such-model', `status ${res.status}`);
      }
      await h.assertCleanStop(gw);
    }

    const report = async (store) => {
      const r = await h.runAllot(['report', '--json', '--store', store]);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout);
    };
    const a = await report(lite.db), b = await report(url(pg, 'ledger_report'));
    assert.equal(b.ledger, shown(pg, 'ledger_report'));
    assert.equal(b.totals.requests, traffic.length);
    assert.equal(b.totals.rejected, 1);
    assert.ok(b.quality.totals.escalated >= 3, JSON.stringify(b.quality.totals));
    // latencies differ between two runs; everything else is the traffic's
    const strip = (o) => JSON.parse(JSON.stringify(o, (k, v) => (k === 'p50_latency_ms' ? undefined : v)));
    for (const r of [a, b]) { delete r.ledger; delete r.window; }
    assert.deepEqual(strip(b), strip(a));

    const table = await h.runAllot(['report', '--store', url(pg, 'ledger_report')]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, new RegExp(`\\(ledger ${shown(pg, 'ledger_report').replace(/[.*?]/g, '\\$&')}\\)`));
    assertNoPassword(table.stdout, 'allot report');

    const train = async (store) => {
      const r = await h.runAllot(['train', 'outcomes', '--from-ledger', store, '--kfold', '2',
        '--out', path.join(lite.dir, 'mine.accept')], { timeoutMs: 120000 });
      assert.equal(r.code, 0, r.stderr);
      return r.stdout;
    };
    const fromPg = await train(url(pg, 'ledger_report'));
    assert.match(fromPg, /from the ledger postgresql:\/\/allot:\*\*\*@.*: 9 checked labour requests/);
    assertNoPassword(fromPg, 'allot train outcomes');
    assert.match(await train(lite.db), /: 9 checked labour requests/);

    // the kept instructions to label, from either store: the same lines but for the ids
    const exported = async (store) => {
      const out = path.join(lite.dir, 'label.jsonl');
      const r = await h.runAllot(['train', 'kinds', '--export-ledger', store, '--out', out]);
      assert.equal(r.code, 0, r.stderr);
      assertNoPassword(r.stdout + r.stderr, 'allot train kinds --export-ledger');
      return fs.readFileSync(out, 'utf8').split('\n').filter(Boolean)
        .map((l) => { const { id, ...rest } = JSON.parse(l); assert.match(id, /^req_/); return rest; });
    };
    const pgLines = await exported(url(pg, 'ledger_report'));
    assert.equal(pgLines.length, 9);
    assert.ok(pgLines.every((l) => l.category === 'summarize' && l.source === 'header' && l.prompt.startsWith('Be brief.\n\nSummarise meeting note ')));
    assert.deepEqual(pgLines, await exported(lite.db));
  });

  it('SIGTERM under load: every in-flight request gets its row in PostgreSQL before exit', h.LIMIT, async () => {
    await psql(pg, 'postgres', 'create database ledger_term');
    const N = 30;
    const cfg = h.baseConfig({ frontier, local }, {
      models: [{ name: 'slowish', provider: 'frontier', model: 'sim-latency1000', price: { input: 1, output: 2 } }],
      tiers: { judgment: ['slowish'] },
    });
    cfg.store = url(pg, 'ledger_term');
    await frontier.reset();
    const allot = await h.startAllot(cfg, { env: h.ALLOT_ENV, workers: 2, store: null });
    const all = Promise.allSettled(Array.from({ length: N }, async (_, i) => {
      const res = await h.post(`${allot.base}/chat/completions`,
        { model: 'allot:judgment', stream: i % 4 === 0, messages: [{ role: 'user', content: `request ${i}` }] });
      await res.arrayBuffer();
      return res.status;
    }));
    await h.waitFor(async () => (await frontier.stats()).requests >= N,
      { timeoutMs: 20000, intervalMs: 10, what: `${N} requests to reach the upstream` });
    allot.proc.kill('SIGTERM');
    const results = await all;
    assert.deepEqual(results.map((r) => r.value), Array(N).fill(200));
    const exit = await allot.exited;
    assert.equal(h.sanitizerReport(allot.logs()), null, allot.logs());
    assert.deepEqual(exit, { code: 0, signal: null }, allot.logs());
    // allot has exited: PostgreSQL must already hold every row
    assert.equal(await psql(pg, 'ledger_term', "select count(*) from requests where status = 'ok'"), String(N));
  });

  it('SIGKILL at once after answers: the pending file keeps the rows, and allot report commits them to PostgreSQL', h.LIMIT, async () => {
    await psql(pg, 'postgres', 'create database ledger_kill');
    const N = 10;
    const cfg = h.baseConfig({ frontier, local });
    const dir = h.tempDir();
    cfg.store = { url: url(pg, 'ledger_kill'), commit_ms: 200, pending: `${dir}/kill.pending` };
    const allot = await h.startAllot(cfg, { env: h.ALLOT_ENV, store: null });
    const ids = [];
    for (let i = 0; i < N; i++) {
      const res = await h.post(`${allot.base}/chat/completions`,
        { model: 'allot:labour', messages: [{ role: 'user', content: `kill ${i}` }] });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
      ids.push(res.headers.get('x-allot-request-id'));
    }
    allot.proc.kill('SIGKILL');
    assert.equal((await allot.exited).signal, 'SIGKILL');
    const rep = await h.runAllot(['report', '--config', allot.configPath, '--json'], { env: h.ALLOT_ENV });
    assert.equal(rep.code, 0, rep.stderr);
    assert.equal(JSON.parse(rep.stdout).totals.requests, N);
    const have = (await psql(pg, 'ledger_kill', 'select id from requests')).split('\n').filter(Boolean).sort();
    assert.deepEqual(have, [...ids].sort());
  });

  it('PostgreSQL restarted while allot serves: requests before, during and after all get their rows', h.LIMIT, async () => {
    await psql(pg, 'postgres', 'create database ledger_restart');
    const cfg = h.baseConfig({ frontier, local });
    cfg.store = url(pg, 'ledger_restart');
    const allot = await h.startAllot(cfg, { env: h.ALLOT_ENV, store: null });
    const answered = [];
    let stop = false, phase = 'before';
    const byPhase = { before: 0, down: 0, after: 0 };
    const sender = async (k) => {
      for (let i = 0; !stop; i++) {
        const res = await h.post(`${allot.base}/chat/completions`,
          { model: 'allot:labour', messages: [{ role: 'user', content: `restart ${k}.${i}` }] });
        await res.arrayBuffer();
        assert.equal(res.status, 200, 'allot keeps serving whatever its ledger does');
        answered.push(res.headers.get('x-allot-request-id'));
        byPhase[phase]++;
        await h.sleep(10);
      }
    };
    const senders = Promise.all([0, 1, 2].map(sender));
    try {
      await h.waitFor(async () => Number(await psql(pg, 'ledger_restart', 'select count(*) from requests')) >= 10,
        { timeoutMs: 20000, what: 'rows before the restart' });
      await pgStop(pg);
      phase = 'down';
      const downAt = answered.length;
      await h.waitFor(() => answered.length >= downAt + 20, { timeoutMs: 30000, what: 'answers while PostgreSQL is down' });
      await h.sleep(300); // past the writer's first reconnect attempts
      await pgStart(pg);
      phase = 'after';
      const upAt = answered.length;
      await h.waitFor(() => answered.length >= upAt + 20, { timeoutMs: 30000, what: 'answers after the restart' });
    } finally {
      stop = true;
      await senders;
    }
    assert.ok(byPhase.down >= 20 && byPhase.after >= 20, JSON.stringify(byPhase));
    const want = new Set(answered);
    const missing = await h.waitFor(async () => {
      const have = new Set((await psql(pg, 'ledger_restart', 'select id from requests')).split('\n'));
      const m = [...want].filter((id) => !have.has(id));
      return m.length === 0 ? [] : null;
    }, { timeoutMs: 30000, what: `all ${want.size} rows in PostgreSQL` }).catch(async (e) => {
      throw new Error(`${e.message}\nallot stderr:\n${allot.logs().slice(-4000)}`);
    });
    assert.deepEqual(missing, []);
    assert.equal(Number(await psql(pg, 'ledger_restart', 'select count(*) from requests')), want.size, 'no row twice');
    assert.match(allot.logs(), /ledger 'postgresql:\/\/allot:\*\*\*@[^']*': PostgreSQL connection lost: /);
    assert.match(allot.logs(), /PostgreSQL connection back after [0-9.]+ s/);
    assert.equal(allot.logs().match(/connection lost/g).length, 1, 'logged once per outage');
    assertNoPassword(allot.logs(), 'allot serve');
    await h.assertCleanStop(allot);
  });

  it('an unreachable server at start: allot serve exits 1 naming host, port and database, not the password', h.LIMIT, async () => {
    const port = await h.closedPort();
    const dir = h.tempDir();
    const cfg = h.baseConfig({ frontier, local });
    // the password through ${PGPASSWORD}, as a deployment would write it
    cfg.store = `postgresql://allot:\${PGPASSWORD}@127.0.0.1:${port}/allot_gone?sslmode=disable`;
    fs.writeFileSync(path.join(dir, 'allot.yaml'), h.toYaml(cfg).replace(/^\n/, '') + '\n');
    const env = { ...h.ALLOT_ENV, PGPASSWORD: PASSWORD };
    const r = await h.runAllot(['serve', '--config', path.join(dir, 'allot.yaml'), '--listen', '127.0.0.1:0'], { env, cwd: dir });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`allot serve: ledger 'postgresql://allot:\\*\\*\\*@127\\.0\\.0\\.1:${port}/allot_gone\\?sslmode=disable': ` +
      `cannot connect: connection to server at "127\\.0\\.0\\.1", port ${port} failed: Connection refused`));
    assertNoPassword(r.stderr + r.stdout, 'allot serve');
    assert.equal(h.sanitizerReport(r.stderr), null, r.stderr);

    const rep = await h.runAllot(['report', '--store', `postgresql://allot:${PASSWORD}@127.0.0.1:${port}/allot_gone`]);
    assert.equal(rep.code, 1);
    assert.match(rep.stderr, /cannot connect/);
    assertNoPassword(rep.stderr + rep.stdout, 'allot report');
  });

  // Last: it leaves the server stopped.
  it('a close with PostgreSQL gone gives up after 5 s, counts the rows and exits', h.LIMIT, async () => {
    await psql(pg, 'postgres', 'create database ledger_gone');
    const cfg = h.baseConfig({ frontier, local });
    cfg.store = url(pg, 'ledger_gone');
    const allot = await h.startAllot(cfg, { env: h.ALLOT_ENV, store: null });
    await pgStop(pg);
    for (let i = 0; i < 3; i++) {
      const res = await h.post(`${allot.base}/chat/completions`,
        { model: 'allot:labour', messages: [{ role: 'user', content: `lost ${i}` }] });
      await res.arrayBuffer();
      assert.equal(res.status, 200);
    }
    const t0 = Date.now();
    const exit = await allot.stop('SIGTERM');
    const took = Date.now() - t0;
    assert.deepEqual(exit, { code: 0, signal: null }, allot.logs());
    assert.equal(h.sanitizerReport(allot.logs()), null, allot.logs());
    assert.ok(took >= 4000 && took < 19000, `exit ${took} ms after SIGTERM`);
    assert.match(allot.logs(), /PostgreSQL still unreachable 5 s after close began/);
    assert.match(allot.logs(), /ledger: 3 row\(s\) could not be written/);
    assertNoPassword(allot.logs(), 'allot serve');
  });
});
