// The command line: help, `allot config check` on good and broken files
// (errors name file, line and key), `allot route`, and `allot serve`
// refusing a bad config or a taken port with a reason.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as h from './harness.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const GOOD = `providers:
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
`;

describe('allot command line', () => {
  const dir = h.tempDir();
  const write = (name, text) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, text);
    return p;
  };
  after(h.cleanup);

  it('`allot --help` lists the commands', h.LIMIT, async () => {
    const r = await h.runAllot(['--help']);
    assert.equal(r.code, 0, r.stderr);
    for (const cmd of ['serve', 'route', 'report', 'config']) {
      assert.match(r.stdout, new RegExp(`^\\s+${cmd}\\s`, 'm'), `--help does not list ${cmd}:\n${r.stdout}`);
    }
  });

  it('`allot serve --help` documents its flags', h.LIMIT, async () => {
    const r = await h.runAllot(['serve', '--help']);
    assert.equal(r.code, 0, r.stderr);
    for (const flag of ['--config', '--listen', '--store', '--workers', '--quiet']) assert.ok(r.stdout.includes(flag), `serve --help lacks ${flag}`);
  });

  it('no command or an unknown one: usage on stderr, exit 2', h.LIMIT, async () => {
    const none = await h.runAllot([]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /usage/i);
    const bad = await h.runAllot(['frobnicate']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /frobnicate/);
  });

  it('`allot config check` accepts a good file, and the shipped example', h.LIMIT, async () => {
    const p = write('good.yaml', GOOD);
    const r = await h.runAllot(['config', 'check', '--config', p]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\bok\b/);
    const ex = await h.runAllot(['config', 'check', '--config', path.join(ROOT, 'examples/allot.yaml')],
      { env: { OPENAI_API_KEY: 'sk-test' } });
    assert.equal(ex.code, 0, ex.stderr);
    assert.match(ex.stdout, /\bok\b/);
  });

  const broken = [
    ['a value of the wrong type', GOOD.replace('    base_url: http://127.0.0.1:9/v1\n', '    base_url: http://127.0.0.1:9/v1\n    timeout_ms: banana\n'),
      4, 'providers[0].timeout_ms', /banana|integer/],
    // (allot words this one "FILE:LINE: unknown key 'colour'; known keys: ...")
    ['an unknown key', `${GOOD}colour: blue\n`, 12, 'colour', /unknown key/i, true],
    ['a model naming a provider that does not exist', GOOD.replace('    provider: p', '    provider: nowhere'),
      6, 'models[0].provider', /nowhere/],
    ['an unset environment variable', GOOD.replace('    base_url: http://127.0.0.1:9/v1\n', '    base_url: http://127.0.0.1:9/v1\n    api_key: ${ALLOT_IT_SURELY_UNSET}\n'),
      4, 'providers[0].api_key', /ALLOT_IT_SURELY_UNSET/],
  ];
  for (const [what, text, line, key, why, loose] of broken) {
    it(`\`allot config check\` rejects ${what} with FILE:LINE: key '${key}'`, h.LIMIT, async () => {
      const p = write(`broken-${line}-${key.replace(/\W/g, '_')}.yaml`, text);
      const r = await h.runAllot(['config', 'check', '--config', p]);
      assert.equal(r.code, 1, `exit ${r.code}; stdout ${r.stdout}; stderr ${r.stderr}`);
      assert.match(r.stderr, loose ? new RegExp(`^${esc(p)}:${line}: .*'${esc(key)}'`, 'm')
        : new RegExp(`^${esc(p)}:${line}: key '${esc(key)}': .+`, 'm'));
      assert.match(r.stderr, why);
    });
  }

  it('`allot serve` with a broken config exits 1 with the config error, without listening', h.LIMIT, async () => {
    const p = write('serve-broken.yaml', `${GOOD}colour: blue\n`);
    const r = await h.runAllot(['serve', '--config', p, '--listen', '127.0.0.1:0', '--store', path.join(dir, 'x.db')]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`${esc(p)}:12: .*'colour'`));
    assert.doesNotMatch(r.stdout, /listening/);
  });

  it('`allot serve` on a port already taken exits 1 naming the address', h.LIMIT, async () => {
    const srv = net.createServer();
    await new Promise((res) => srv.listen(0, '127.0.0.1', res));
    const { port } = srv.address();
    try {
      const p = write('serve-good.yaml', GOOD);
      const r = await h.runAllot(['serve', '--config', p, '--listen', `127.0.0.1:${port}`, '--store', path.join(dir, 'y.db')]);
      assert.equal(r.code, 1, `exit ${r.code}: ${r.stderr}`);
      assert.ok(r.stderr.includes(String(port)), r.stderr);
    } finally {
      srv.close();
    }
  });

  it('`allot route` prints the decision for an instruction', h.LIMIT, async () => {
    const p = write('route.yaml', GOOD);
    const r = await h.runAllot(['route', '--config', p, 'Summarise this article in five bullet points: a b c']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^tier\s+labour$/m);
    assert.match(r.stdout, /^category\s+summarize$/m);
    const j = await h.runAllot(['route', '--config', p, '--json', '--work', 'implement', 'anything']);
    assert.equal(j.code, 0, j.stderr);
    const d = JSON.parse(j.stdout);
    assert.equal(d.tier, 'code');
    assert.equal(d.category, 'implement');
    assert.equal(d.source, 'header');
    assert.deepEqual(d.models, ['m']);
  });
});
