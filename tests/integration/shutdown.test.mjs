// Graceful stop: SIGTERM while requests are in flight lets every one of
// them finish with its answer, writes every ledger row, and exits 0.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import * as h from './harness.mjs';

const N = 40;
const N_STREAM = 8;

describe('SIGTERM under load', () => {
  let frontier, local, allot;

  before(async () => {
    frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    local = await h.startFake({ name: 'local' });
    allot = await h.startAllot(h.baseConfig({ frontier, local }, {
      models: [{ name: 'slowish', provider: 'frontier', model: 'sim-latency1000', price: { input: 1, output: 2 } }],
      tiers: { judgment: ['slowish'] },
    }), { env: h.ALLOT_ENV, workers: 2 });
  });
  after(h.cleanup);

  it(`drains ${N} in-flight requests, ledgers all of them and exits 0`, h.LIMIT, async () => {
    let finished = 0;
    const one = async (i) => {
      const stream = i < N_STREAM;
      const res = await h.post(`${allot.base}/chat/completions`, {
        model: 'allot:judgment', stream, messages: [{ role: 'user', content: `request ${i}` }],
      });
      const out = { status: res.status, stream };
      if (stream) {
        const sse = await h.readSSE(res);
        out.done = sse.events.at(-1)?.data === '[DONE]';
        out.content = h.eventJson(sse).map((e) => e.choices?.[0]?.delta?.content ?? '').join('');
      } else {
        out.content = (await res.json()).choices?.[0]?.message?.content;
      }
      finished++;
      return out;
    };
    const all = Promise.allSettled(Array.from({ length: N }, (_, i) => one(i)));

    // Every request is in allot's hands (it reached the fake upstream, which
    // holds it for a second) before the signal.
    await h.waitFor(async () => (await frontier.stats()).requests >= N,
      { timeoutMs: 20000, intervalMs: 10, what: `${N} requests to reach the upstream` });
    assert.ok(finished < N, 'precondition: requests still in flight at SIGTERM');
    allot.proc.kill('SIGTERM');

    const results = await all;
    const failures = results.filter((r) => r.status === 'rejected').map((r) => String(r.reason?.cause ?? r.reason));
    assert.deepEqual(failures, [], 'requests that failed at the client');
    const got = results.map((r) => r.value);
    assert.deepEqual(got.map((r) => r.status), Array(N).fill(200));
    got.forEach((r, i) => {
      assert.ok(r.content?.startsWith(`[frontier] answer to: request ${i}`), `answer ${i}: ${r.content}`);
      if (r.stream) assert.ok(r.done, `stream ${i} did not end with [DONE]`);
    });

    const exit = await allot.exited;
    assert.equal(h.sanitizerReport(allot.logs()), null, allot.logs());
    assert.deepEqual(exit, { code: 0, signal: null }, allot.logs());

    // allot has exited: the ledger must already hold every row.
    const rows = await h.sql(allot.db, 'select status, http_status, stream, model from requests');
    assert.equal(rows.length, N, `ledger rows after exit`);
    assert.deepEqual(rows.filter((r) => r.status !== 'ok' || r.http_status !== 200), []);
    assert.equal(rows.filter((r) => r.stream === 1).length, N_STREAM);
  });
});

// A rolling restart: a second allot starts on the same port (SO_REUSEPORT)
// and the first gets SIGTERM while clients keep sending on keep-alive
// connections. The first accepts what the kernel had queued for it before
// it closes its listener, answers the requests its connections still bring
// with "Connection: close", and closes idle connections only after a moment:
// no client sees a failed request, and every answer has its row in one of
// the two ledgers.
describe('rolling restart under load', () => {
  let frontier, local, a, b;
  const cfg = () => h.baseConfig({ frontier, local });

  before(async () => {
    frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    local = await h.startFake({ name: 'local' });
    a = await h.startAllot(cfg(), { env: h.ALLOT_ENV });
  });
  after(h.cleanup);

  it('no request fails while a new allot takes over the port', h.LIMIT, async () => {
    const ids = [], failures = [];
    let stop = false;
    // A client as strict as a load generator: keep-alive, and the next
    // request written the moment an answer is complete, so some connection
    // is always between two requests when the signal comes. It does not
    // retry: a request on a connection that closes before its answer is a
    // failure. After "Connection: close" it opens a new connection.
    const client = (c) => new Promise((resolve) => {
      let sock, buf = Buffer.alloc(0), i = 0;
      const send = () => {
        const body = JSON.stringify({ model: 'allot:labour', messages: [{ role: 'user', content: `client ${c} request ${i++}` }] });
        sock.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      };
      const open = () => {
        buf = Buffer.alloc(0);
        sock = net.connect(a.port, '127.0.0.1', send);
        let answered = false; // the request written on this connection got its answer
        sock.on('data', (d) => {
          buf = Buffer.concat([buf, d]);
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          const head = buf.subarray(0, end).toString();
          const len = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? -1);
          if (len < 0 || buf.length < end + 4 + len) return;
          buf = buf.subarray(end + 4 + len);
          const status = Number(head.split(' ')[1]);
          if (status !== 200) failures.push(`client ${c}: ${head.split('\r\n')[0]}`);
          else ids.push(/x-allot-request-id: *(\S+)/i.exec(head)?.[1]);
          answered = true;
          if (stop) sock.end();
          else if (/connection: *close/i.test(head)) sock.end();
          else { answered = false; send(); }
        });
        sock.on('error', () => {});
        sock.on('close', () => {
          if (!answered) failures.push(`client ${c}: connection closed before its answer (request ${i - 1})`);
          if (stop) resolve();
          else open();
        });
      };
      open();
    });
    const clients = Array.from({ length: 16 }, (_, c) => client(c));
    await h.sleep(300);
    b = await h.startAllot(cfg(), { env: h.ALLOT_ENV, args: ['--listen', `127.0.0.1:${a.port}`] });
    assert.equal(b.port, a.port);
    await h.sleep(300);
    const before = ids.length;
    a.proc.kill('SIGTERM');
    const exit = await a.exited;
    await h.sleep(300); // the clients go on with the new allot alone
    stop = true;
    await Promise.all(clients);

    assert.deepEqual(failures, [], `requests that failed at the client (${ids.length} answered)`);
    assert.deepEqual(exit, { code: 0, signal: null }, a.logs());
    assert.equal(h.sanitizerReport(a.logs()), null, a.logs());
    assert.ok(before > 0 && ids.length > before, `answers: ${before} before SIGTERM, ${ids.length} in all`);
    await h.assertCleanStop(b);
    const rowsA = await h.sql(a.db, 'select id from requests');
    const rowsB = await h.sql(b.db, 'select id from requests');
    assert.ok(rowsA.length > 0 && rowsB.length > 0, `rows: first ${rowsA.length}, second ${rowsB.length}`);
    const ledgered = new Set([...rowsA, ...rowsB].map((r) => r.id));
    assert.deepEqual(ids.filter((id) => !ledgered.has(id)), [], 'answers without a ledger row');
  });
});

// Durability: a row is committed within the ledger's commit window
// (store_commit_ms, default 20 ms, at most 200 ms; docs/ledger.md), so a
// SIGKILL soon after the last answer loses nothing. The margin on top of
// the window is for a loaded CI machine running the sanitizer build.
describe('SIGKILL after answers', () => {
  let frontier, local, allot;

  before(async () => {
    frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    local = await h.startFake({ name: 'local' });
    allot = await h.startAllot(h.baseConfig({ frontier, local }), { env: h.ALLOT_ENV });
  });
  after(h.cleanup);

  it('keeps the row of every answered request (commit window + 400 ms margin)', h.LIMIT, async () => {
    const N_KILL = 30;
    for (let i = 0; i < N_KILL; i++) {
      const res = await h.post(`${allot.base}/chat/completions`, {
        model: 'allot:labour', messages: [{ role: 'user', content: `kill test ${i}` }],
      });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
    await h.sleep(500);
    allot.proc.kill('SIGKILL');
    const exit = await allot.exited;
    assert.equal(exit.signal, 'SIGKILL');
    const rows = await h.sql(allot.db, "select count(*) as n from requests where status = 'ok'");
    assert.equal(rows[0].n, N_KILL);
  });
});

// Durability without a margin: a row is in the pending-rows file
// (STORE.pending, a shared file mapping) before the last byte of its
// answer is sent, so a SIGKILL at once after the answers loses none of
// them, even with the longest commit window. The next `allot report` (or
// `allot serve`) on the store commits what the killed process had not.
describe('SIGKILL at once after answers', () => {
  let frontier, local, allot;
  const N = 12;
  const ids = [];

  before(async () => {
    frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    local = await h.startFake({ name: 'local' });
    const cfg = h.baseConfig({ frontier, local });
    allot = await h.startAllot({ ...cfg, store: { commit_ms: 200 } }, { env: h.ALLOT_ENV });
  });
  after(h.cleanup);

  it('keeps the row of every answered request, plain and streamed', h.LIMIT, async (t) => {
    for (let i = 0; i < N; i++) {
      const stream = i % 4 === 3;
      const res = await h.post(`${allot.base}/chat/completions`, {
        model: 'allot:labour', stream, messages: [{ role: 'user', content: `kill at once ${i}` }],
      });
      assert.equal(res.status, 200);
      const text = await res.text();
      if (stream) assert.match(text, /data: \[DONE\]/);
      ids.push(res.headers.get('x-allot-request-id'));
    }
    allot.proc.kill('SIGKILL'); // no wait: the last rows are not committed yet
    const exit = await allot.exited;
    assert.equal(exit.signal, 'SIGKILL');
    const [{ n: committed }] = await h.sql(allot.db, 'select count(*) as n from requests');
    t.diagnostic(`${committed} of ${N} rows were committed when allot was killed`);
    assert.ok(committed <= N);

    // allot report commits the rows the killed process left pending, then reports
    const rep = await h.runAllot(['report', '--store', allot.db, '--json']);
    assert.equal(rep.code, 0, rep.stderr);
    assert.equal(JSON.parse(rep.stdout).totals.requests, N);
    if (committed < N) assert.match(rep.stderr, new RegExp(`recovered ${N - committed} rows? `));
    const rows = await h.sql(allot.db, "select id, status, tokens_estimated, cost_usd from requests order by ts_ms");
    assert.deepEqual(rows.map((r) => r.id).sort(), [...ids].sort());
    for (const r of rows) {
      assert.equal(r.status, 'ok');
      assert.ok(r.cost_usd > 0, JSON.stringify(r));
    }

    // a second report, and a new gateway on the same store, add nothing
    const again = await h.runAllot(['report', '--store', allot.db, '--json']);
    assert.equal(JSON.parse(again.stdout).totals.requests, N);
    assert.doesNotMatch(again.stderr, /recovered/);
  });
});

// The same with two workers and 40 requests at once (a quarter streamed):
// both workers' rows go through the one pending file, and a SIGKILL as soon
// as the last answer is in loses none of them.
describe('SIGKILL at once after 40 concurrent answers on 2 workers', () => {
  let frontier, local, allot;

  before(async () => {
    frontier = await h.startFake({ name: 'frontier', expectKey: h.FRONTIER_KEY });
    local = await h.startFake({ name: 'local' });
    const cfg = h.baseConfig({ frontier, local });
    allot = await h.startAllot({ ...cfg, store: { commit_ms: 200 } }, { env: h.ALLOT_ENV, workers: 2 });
  });
  after(h.cleanup);

  it('keeps the row of every answered request', h.LIMIT, async (t) => {
    const answers = await Promise.all(Array.from({ length: 40 }, async (_, i) => {
      const stream = i % 4 === 0;
      const res = await h.post(`${allot.base}/chat/completions`, {
        model: i % 2 ? 'allot:labour' : 'allot:judgment', stream,
        messages: [{ role: 'user', content: `concurrent kill ${i}` }],
      });
      const text = await res.text();
      assert.equal(res.status, 200, text);
      if (stream) assert.match(text, /data: \[DONE\]/);
      return res.headers.get('x-allot-request-id');
    }));
    allot.proc.kill('SIGKILL');
    assert.equal((await allot.exited).signal, 'SIGKILL');
    const [{ n: committed }] = await h.sql(allot.db, 'select count(*) as n from requests');
    t.diagnostic(`${committed} of 40 rows were committed when allot was killed`);

    const rep = await h.runAllot(['report', '--store', allot.db, '--json']);
    assert.equal(rep.code, 0, rep.stderr);
    assert.equal(JSON.parse(rep.stdout).totals.requests, 40);
    const rows = await h.sql(allot.db, "select id from requests where status = 'ok'");
    assert.deepEqual(rows.map((r) => r.id).sort(), [...answers].sort());
  });
});
