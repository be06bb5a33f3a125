// The native HTTP/1.1 upstream client (src/upstream/h1.c), which calls
// every http:// provider unless http_client: curl. Driven through allot
// against a raw TCP server written here, which answers each request the
// way the test asks (chunked, 100 Continue first, a head dribbled out a
// few bytes at a time, close-delimited, Connection: close, dropping a
// reused connection, a cut body) and counts connections; and against the
// fake upstream closing idle keep-alive connections, and a slow client
// that makes allot pause and resume a big stream.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import * as h from './harness.mjs';

const ANSWER = JSON.stringify({
  id: 'chatcmpl-raw', object: 'chat.completion', created: 1, model: 'raw-up',
  choices: [{ index: 0, message: { role: 'assistant', content: 'raw answer' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 7, completion_tokens: 2, total_tokens: 9 },
});

const sseEvent = (content) => `data: ${JSON.stringify({
  id: 'chatcmpl-raw', object: 'chat.completion.chunk', created: 1, model: 'raw-up',
  choices: [{ index: 0, delta: { content }, finish_reason: null }],
})}\n\n`;
const SSE_TAIL = `data: ${JSON.stringify({
  id: 'chatcmpl-raw', object: 'chat.completion.chunk', created: 1, model: 'raw-up',
  choices: [{ index: 0, delta: {}, finish_reason: 'stop' }],
  usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 },
})}\n\ndata: [DONE]\n\n`;

const delay = (ms) => new Promise((r) => setTimeout(r, ms));

/** A raw HTTP/1.1 server: reads each request (head + Content-Length body),
 *  records it, and answers with behave(sock, req, conn), the mode set by
 *  the test. Counts connections. */
function rawServer() {
  const srv = { connections: 0, requests: [], mode: 'plain' };
  srv.server = net.createServer((sock) => {
    const conn = { id: ++srv.connections, served: 0 };
    let buf = Buffer.alloc(0);
    sock.on('error', () => {});
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        const m = head.match(/\r\ncontent-length: *(\d+)/i);
        const len = m ? Number(m[1]) : 0;
        if (buf.length < end + 4 + len) return;
        const body = buf.subarray(end + 4, end + 4 + len).toString();
        buf = buf.subarray(end + 4 + len);
        const req = { conn: conn.id, head, body, n: conn.served++ };
        srv.requests.push(req);
        behave(srv.mode, sock, req);
      }
    });
  });
  return srv;
}

function respond(sock, head, body) {
  sock.write(`${head}\r\n\r\n${body}`);
}

async function behave(mode, sock, req) {
  const stream = /"stream":\s*true/.test(req.body);
  switch (mode) {
    case 'plain':
      return respond(sock, `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(ANSWER)}`, ANSWER);
    case 'drop-reused':
      // A reused connection is closed as the request arrives, unanswered:
      // what a server that timed it out a moment ago looks like.
      if (req.n > 0) return sock.destroy();
      return behave('plain', sock, req);
    case 'close':
      return respond(sock, `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(ANSWER)}`, ANSWER);
    case 'eof-body':
      // HTTP/1.0 style: no length, the body ends when the connection does.
      sock.write(`HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n${ANSWER.slice(0, 40)}`);
      await delay(20);
      sock.end(ANSWER.slice(40));
      return;
    case 'continue':
      sock.write('HTTP/1.1 100 Continue\r\nX-Interim: yes\r\n\r\n');
      await delay(10);
      return behave('plain', sock, req);
    case 'dribble': {
      // The head in 7-byte pieces, then the body in two.
      const head = `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(ANSWER)}\r\n\r\n`;
      for (let i = 0; i < head.length; i += 7) {
        sock.write(head.slice(i, i + 7));
        await delay(2);
      }
      sock.write(ANSWER.slice(0, 10));
      await delay(5);
      sock.write(ANSWER.slice(10));
      return;
    }
    case 'chunked': {
      // Chunk boundaries that fall inside events, inside JSON, inside the
      // chunk-size lines' reads.
      const payload = stream
        ? ['alpha ', 'beta ', 'gamma'].map(sseEvent).join('') + SSE_TAIL
        : ANSWER;
      sock.write('HTTP/1.1 200 OK\r\nContent-Type: ' + (stream ? 'text/event-stream' : 'application/json') +
        '\r\nTransfer-Encoding: chunked\r\n\r\n');
      const sizes = [1, 17, 3, 64, 5, 200];
      let off = 0;
      for (let i = 0; off < payload.length; i++) {
        const piece = payload.slice(off, off + sizes[i % sizes.length]);
        off += piece.length;
        const wire = `${Buffer.byteLength(piece).toString(16)}\r\n${piece}\r\n`;
        sock.write(wire.slice(0, 2));
        await delay(1);
        sock.write(wire.slice(2));
      }
      sock.write('0\r\n\r\n');
      return;
    }
    case 'cut':
      sock.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n${ANSWER.slice(0, 30)}`);
      await delay(10);
      sock.destroy();
      return;
    case 'garbage':
      sock.write('HTTP/1.1 2x0 What\r\n\r\n');
      return;
    case 'hinted': {
      // A 429 with retry hints in every awkward way, three bytes at a
      // time: an interim head's hint (not this response's), a longer name,
      // both headers (retry-after-ms counts), a repeated one (the last
      // counts), odd case and blanks.
      const err = '{"error":{"message":"slow down","type":"rate_limit_error"}}';
      const wire = 'HTTP/1.1 100 Continue\r\nRetry-After-Ms: 99999\r\n\r\n' +
        'HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n' +
        'Retry-After-Ms-Extra: 5\r\nX-Retry-After-Ms: 6\r\nRetry-After: 7\r\nretry-after-ms: 100\r\n' +
        `ReTrY-AfTeR-mS:  1234.5 \r\nContent-Length: ${err.length}\r\n\r\n${err}`;
      for (let i = 0; i < wire.length; i += 3) {
        sock.write(wire.slice(i, i + 3));
        await delay(1);
      }
      return;
    }
    default:
      throw new Error(`mode ${mode}`);
  }
}

const ask = (model, extra = {}) => ({ model, messages: [{ role: 'user', content: 'Which of these libraries should we adopt?' }], ...extra });

describe('the native HTTP/1.1 upstream client', () => {
  let raw, allot, idleFake, idleAllot, local, deadPort;

  before(async () => {
    raw = rawServer();
    await new Promise((r) => raw.server.listen(0, '127.0.0.1', r));
    deadPort = await h.closedPort();
    const rawUrl = `http://127.0.0.1:${raw.server.address().port}/v1`;
    allot = await h.startAllot({
      providers: [
        { name: 'raw', base_url: rawUrl, api_key: '${ALLOT_IT_FRONTIER_KEY}', connect_timeout_ms: 2000, timeout_ms: 5000 },
        { name: 'rawlocal', base_url: `http://localhost:${raw.server.address().port}/v1`, connect_timeout_ms: 2000, timeout_ms: 5000 },
        { name: 'dead', base_url: `http://127.0.0.1:${deadPort}/v1`, connect_timeout_ms: 2000, timeout_ms: 5000 },
        { name: 'rawcurl', base_url: rawUrl, http_client: 'curl', connect_timeout_ms: 2000, timeout_ms: 5000 },
      ],
      models: [
        { name: 'r', provider: 'raw', model: 'raw-up', price: { input: 1, output: 2 } },
        { name: 'rl', provider: 'rawlocal', model: 'raw-up', price: { input: 1, output: 2 } },
        { name: 'd', provider: 'dead', model: 'x', price: { input: 1, output: 2 } },
        { name: 'rc', provider: 'rawcurl', model: 'raw-up', price: { input: 1, output: 2 } },
      ],
      tiers: { judgment: ['r'], labour: ['rl'], code: ['d'] },
      routing: { default_tier: 'judgment', confidence_threshold: 0.5, aliases: ['auto'] },
      limits: { max_attempts: 1, drain_timeout_ms: 10000 },
    }, { env: h.ALLOT_ENV });
    idleFake = await h.startFake({ name: 'idle', args: ['--idle-timeout-ms', '100'] });
    local = await h.startFake({ name: 'local' });
    idleAllot = await h.startAllot(h.baseConfig({ frontier: idleFake, local }, {
      models: [{ name: 'big', provider: 'frontier', model: 'sim?tokens=100000', price: { input: 1, output: 2 } }],
    }), { env: h.ALLOT_ENV });
  });
  after(async () => {
    raw.server.close();
    await h.cleanup();
  });

  async function run(mode, model = 'r', extra = {}) {
    raw.mode = mode;
    const r = await h.chat(allot.base, ask(model, extra));
    return r;
  }

  it('sends the head libcurl sent, and reuses one kept-alive connection', h.LIMIT, async () => {
    const c0 = raw.connections, q0 = raw.requests.length;
    for (let i = 0; i < 5; i++) {
      const r = await run('plain');
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.choices[0].message.content, 'raw answer');
    }
    assert.equal(raw.connections - c0 <= 1, true, `${raw.connections - c0} connections for 5 requests`);
    const req = raw.requests[q0];
    const lines = req.head.split('\r\n');
    assert.equal(lines[0], 'POST /v1/chat/completions HTTP/1.1');
    const hdr = Object.fromEntries(lines.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    assert.equal(hdr.host, `127.0.0.1:${raw.server.address().port}`);
    assert.equal(hdr['content-type'], 'application/json');
    assert.equal(hdr.authorization, `Bearer ${h.FRONTIER_KEY}`);
    assert.equal(Number(hdr['content-length']), Buffer.byteLength(req.body));
    assert.equal(hdr.expect, undefined);
    assert.equal(JSON.parse(req.body).model, 'raw-up');
  });

  it('resolves a host name (localhost) and keeps the connection alive too', h.LIMIT, async () => {
    const c0 = raw.connections;
    for (let i = 0; i < 3; i++) {
      const r = await run('plain', 'allot:labour');
      assert.equal(r.status, 200, r.text);
    }
    assert.equal(raw.connections - c0, 1);
  });

  it('a reused connection the server drops unanswered is retried once on a fresh one', h.LIMIT, async () => {
    assert.equal((await run('plain')).status, 200); // a kept-alive connection to reuse
    const c0 = raw.connections;
    for (let i = 0; i < 3; i++) {
      const r = await run('drop-reused');
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get('x-allot-attempts'), '1');
    }
    assert.equal(raw.connections - c0, 3, 'one fresh connection per dropped one');
  });

  it('a server that closes idle keep-alive connections never fails a request', h.LIMIT, async () => {
    for (let i = 0; i < 4; i++) {
      const r = await h.chat(idleAllot.base, ask('judge-a'));
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get('x-allot-attempts'), '1');
      await delay(i % 2 ? 250 : 0); // past the fake's 100 ms idle timeout
    }
    const r = await h.chat(idleAllot.base, ask('judge-a'));
    assert.equal(r.status, 200, r.text);
  });

  it('Connection: close and close-delimited answers are read whole and never reused', h.LIMIT, async () => {
    assert.equal((await run('close')).status, 200); // may reuse an idle connection, then closes it
    for (const mode of ['eof-body', 'close', 'eof-body']) {
      const c0 = raw.connections;
      const r = await run(mode);
      assert.equal(r.status, 200, `${mode}: ${r.text}`);
      assert.equal(r.json.choices[0].message.content, 'raw answer');
      assert.equal(raw.connections - c0, 1, `${mode}: a fresh connection`);
    }
    const c0 = raw.connections;
    assert.equal((await run('plain')).status, 200);
    assert.equal(raw.connections - c0, 1, 'the closed connection was not pooled');
  });

  it('skips a 100 Continue head; parses a head that arrives a few bytes at a time', h.LIMIT, async () => {
    for (const mode of ['continue', 'dribble', 'continue']) {
      const r = await run(mode);
      assert.equal(r.status, 200, `${mode}: ${r.text}`);
      assert.equal(r.json.choices[0].message.content, 'raw answer');
    }
  });

  it('reads a retry hint from a head in pieces, as libcurl does', h.LIMIT, async () => {
    // 'r' goes through the native client, 'rc' through libcurl: the same bytes, the same hint
    for (const model of ['r', 'rc']) {
      const r = await run('hinted', model);
      assert.equal(r.status, 429, `${model}: ${r.text}`);
      assert.equal(r.headers.get('retry-after-ms'), '1235', model);
      assert.equal(r.headers.get('retry-after'), '2', model);
      const row = await h.ledgerRow(allot.db, r.headers.get('x-allot-request-id'));
      assert.equal(row.attempt_log, `${model}:429(retry-after=1235ms)`);
    }
  });

  it('dechunks chunked answers, plain and streamed', h.LIMIT, async () => {
    const r = await run('chunked');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, 'raw answer');
    raw.mode = 'chunked';
    const res = await h.post(`${allot.base}/chat/completions`, ask('r', { stream: true }));
    const sse = await h.readSSE(res);
    assert.equal(res.status, 200, sse.raw);
    const text = h.eventJson(sse).map((e) => e.choices?.[0]?.delta?.content ?? '').join('');
    assert.equal(text, 'alpha beta gamma');
    assert.equal(sse.events.at(-1).data, '[DONE]');
    const row = await h.ledgerRow(allot.db, res.headers.get('x-allot-request-id'));
    assert.equal(row.completion_tokens, 3);
  });

  it('a cut body, a garbled head and a refused connection fail with libcurl-style reasons', h.LIMIT, async () => {
    const cases = [
      ['cut', 'r', /upstream 'raw' at http:\/\/127\.0\.0\.1:\d+\/v1: transfer closed with \d+ bytes remaining to read/],
      ['garbage', 'r', /upstream 'raw' at http:\/\/127\.0\.0\.1:\d+\/v1: Weird server reply/],
      ['plain', 'allot:code', /upstream 'dead' at http:\/\/127\.0\.0\.1:\d+\/v1: Failed to connect to 127\.0\.0\.1 port \d+ after \d+ ms: Couldn't connect to server/],
    ];
    for (const [mode, model, re] of cases) {
      const r = await run(mode, model);
      assert.equal(r.status, 502, `${mode}: ${r.text}`);
      assert.match(r.json.error.message, re);
      assert.doesNotMatch(r.text, new RegExp(h.FRONTIER_KEY));
    }
    const c0 = raw.connections;
    assert.equal((await run('plain')).status, 200, 'after the failures');
    assert.equal(raw.connections - c0, 1, 'a connection that failed is not reused');
  });

  it('a slow client pauses a big stream and gets every byte when it reads again', h.LIMIT, async () => {
    // ~100000 events (~17 MB): more than the kernel buffers hold, so
    // allot's write queue passes its high-water mark and the upstream
    // transfer is paused until the client reads again.
    // The bytes on_data paused on are handed over again on resume: a lost
    // or doubled piece shows as a wrong word count or a broken event.
    const body = JSON.stringify(ask('big', { stream: true }));
    const { status, headers, text } = await new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: idleAllot.port, path: '/v1/chat/completions', method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        res.pause();
        const chunks = [];
        setTimeout(() => {
          res.on('data', (d) => chunks.push(d));
          res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString() }));
          res.resume();
        }, 1500);
      });
      req.on('error', reject);
      req.end(body);
    });
    assert.equal(status, 200);
    const events = text.split('\n\n').filter((e) => e.startsWith('data: '));
    assert.equal(events.at(-1), 'data: [DONE]');
    let content = '';
    for (const e of events.slice(0, -1)) content += JSON.parse(e.slice(6)).choices?.[0]?.delta?.content ?? '';
    assert.equal(content.trim().split(/\s+/).length, 100000);
    const row = await h.ledgerRow(idleAllot.db, headers['x-allot-request-id']);
    assert.equal(row.status, 'ok');
    assert.equal(row.completion_tokens, 100000);
  });

  it('stops cleanly on SIGTERM', h.LIMIT, async () => {
    await h.assertCleanStop(allot);
    await h.assertCleanStop(idleAllot);
  });
});
