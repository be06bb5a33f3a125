// Graceful stop: SIGTERM while requests are in flight lets every one of
// them finish with its answer, writes every ledger row, and exits 0.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
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
