/**
 * plugins/webhook/README.md stays true: its YAML example loads and validates (host keys and the
 * webhook configSchema, defaults applied), its Node receiver verifies what the sink sends and
 * refuses a forged request. Also the small pure pieces: templates, Retry-After, header encoding,
 * and signatures identical to the standardwebhooks library's.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { pino } from 'pino';
import t from 'tap';
import { Webhook } from 'standardwebhooks';
import plugin from '../../../plugins/webhook/index.js';
import { batchId, percentEncodeHeader, Signer } from '../../../plugins/webhook/encode.js';
import { parseRetryAfter } from '../../../plugins/webhook/http.js';
import { compileUrlTemplate } from '../../../plugins/webhook/template.js';
import { loadConfigText } from '../../../src/config/load.js';
import { resolvePlugin } from '../../../src/sink/loader.js';
import type { CanonicalEvent } from '../../../src/sink/api.js';
import { freePort, REPO_ROOT, waitFor } from '../../helpers/daemon.js';

const README = fs.readFileSync(path.join(REPO_ROOT, 'plugins/webhook/README.md'), 'utf8');
const block = (lang: string) => {
  const match = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(README);
  if (!match) throw new Error(`README has no ${lang} block`);
  return match[1]!;
};
const SECRET = 'whsec_' + Buffer.from('readme-receiver-secret-0123456789').toString('base64');

t.test('the README YAML example is a valid bridge.yaml for the webhook sink', async (t) => {
  const { config } = await loadConfigText(block('yaml'), '/tmp/README.yaml', '/tmp', {
    resolvePlugin,
    env: { BACKEND_TOKEN: 'tok', WEBHOOK_SECRET: SECRET },
  });
  const sink = config.sinks.backend!;
  t.equal(sink.type, 'webhook');
  t.equal(sink.max_in_flight, 4);
  t.same(sink.batch, { max_events: 200, max_wait_ms: 20, max_bytes: 4 * 1024 * 1024 });
  t.same(sink.options, {
    url: 'https://backend.example.com/im/{{imsdkappid}}/events',
    method: 'POST',
    headers: { Authorization: 'Bearer tok' },
    encoding: 'structured',
    timeout_ms: 10000,
    max_connections: 16,
    follow_redirects: false,
    max_redirects: 5,
    max_retry_after_ms: 300000,
    signing: { secrets: [SECRET, 'whsec_cHJldmlvdXMtc2VjcmV0LXN0aWxsLWFjY2VwdGVk'] },
    tls: { ca_file: './certs/backend-ca.pem', cert_file: './certs/bridge.pem', key_file: './certs/bridge.key', reject_unauthorized: true },
  });
});

t.test('defaults and rejections of the configSchema', async (t) => {
  const load = (sinkYaml: string) =>
    loadConfigText(`apps: [ { sdk_app_id: 1400000000 } ]\nsinks:\n  hook:\n${sinkYaml}\nroutes: [ { name: all, match: { command: "*" }, to: [hook] } ]\n`, '/tmp/x.yaml', '/tmp', { resolvePlugin, env: {} });
  const { config } = await load('    type: webhook\n    url: http://127.0.0.1:9/x');
  t.same(config.sinks.hook!.options, {
    url: 'http://127.0.0.1:9/x',
    method: 'POST',
    headers: {},
    timeout_ms: 10000,
    encoding: 'structured',
    tls: { reject_unauthorized: true },
    max_connections: 16,
    follow_redirects: false,
    max_redirects: 5,
    max_retry_after_ms: 300000,
  });
  const rejects = async (yaml: string, key: RegExp) => {
    await t.rejects(load(yaml), { code: /CONFIG_/, key }, yaml.replace(/\n/g, ' | '));
  };
  await rejects('    type: webhook', /sinks\.hook/);
  await rejects('    type: webhook\n    url: http://x\n    nope: 1', /nope/);
  await rejects('    type: webhook\n    url: http://x\n    method: GET', /method/);
  await rejects('    type: webhook\n    url: http://x\n    encoding: avro', /encoding/);
  await rejects('    type: webhook\n    url: http://x\n    signing: { secrets: [not-a-secret] }', /secrets/);
  await rejects('    type: webhook\n    url: http://x\n    signing: { secrets: [] }', /secrets/);
  await rejects('    type: webhook\n    url: http://x\n    tls: { verify: false }', /tls/);
  await rejects('    type: webhook\n    url: http://x\n    headers: { "bad header": x }', /headers/);
  await rejects('    type: webhook\n    url: http://x\n    max_connections: 0', /max_connections/);
});

t.test('the README receiver verifies what the sink sends and refuses a forged request', async (t) => {
  const port = await freePort();
  const child = spawn(process.execPath, ['--input-type=module', '-e', block('js')], {
    cwd: REPO_ROOT,
    env: { ...process.env, PORT: String(port), WEBHOOK_SECRET: SECRET },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  t.teardown(() => child.kill());
  await waitFor(
    () => fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: '{}' }).then((r) => r.status, () => 0),
    (status) => status === 401,
    15_000,
  );
  const sink = await plugin.create(
    { url: `http://127.0.0.1:${port}/hook`, method: 'POST', headers: {}, timeout_ms: 5000, encoding: 'structured', tls: { reject_unauthorized: true }, max_connections: 2, follow_redirects: false, max_redirects: 5, max_retry_after_ms: 1000, signing: { secrets: [SECRET] } },
    { name: 'docs', logger: pino({ level: 'silent' }), signal: new AbortController().signal, configDir: '.', count: () => undefined },
  );
  t.teardown(() => sink.close());
  const event = sampleEvent('readme-1', 'hello from the sink');
  await sink.writeBatch([event, event], new AbortController().signal);
  await waitFor(() => out, (o) => o.includes('hello from the sink'));
  t.equal(out.split('hello from the sink').length - 1, 1, 'logged once: duplicates are skipped by webhook-id');

  const forged = await fetch(`http://127.0.0.1:${port}/hook`, {
    method: 'POST',
    headers: { 'webhook-id': 'x', 'webhook-timestamp': String(Math.floor(Date.now() / 1000)), 'webhook-signature': 'v1,AAAA' },
    body: JSON.stringify(event),
  });
  t.equal(forged.status, 401);
});

t.test('signatures equal the standardwebhooks library’s, for any id, body and secrets', async (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 64 }), { minLength: 1, maxLength: 3 }),
      fc.stringMatching(/^[A-Za-z0-9_.:-]{1,40}$/),
      fc.string({ unit: 'grapheme', maxLength: 300 }),
      fc.integer({ min: 1_600_000_000, max: 2_000_000_000 }),
      (keys, id, body, seconds) => {
        const secrets = keys.map((k) => 'whsec_' + Buffer.from(k).toString('base64'));
        const headers = new Signer(secrets).headers(id, body, seconds * 1000 + 999);
        const expected = secrets.map((s) => new Webhook(s).sign(id, new Date(seconds * 1000), body)).join(' ');
        return headers['webhook-signature'] === expected && headers['webhook-timestamp'] === String(seconds) && headers['webhook-id'] === id;
      },
    ),
    { numRuns: 300 },
  );
  t.throws(() => new Signer(['whsec_']), 'empty key refused');
  t.pass('identical signatures');
});

t.test('Retry-After: delay-seconds, HTTP-date, garbage', async (t) => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  t.equal(parseRetryAfter('2', now), 2000);
  t.equal(parseRetryAfter(' 120 ', now), 120_000);
  t.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now), 5000);
  t.equal(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', now), 0, 'past date: no wait');
  t.equal(parseRetryAfter(undefined, now), undefined);
  t.equal(parseRetryAfter('-1', now), undefined);
  t.equal(parseRetryAfter('1.5', now), undefined);
  t.equal(parseRetryAfter('soon', now), undefined);
});

t.test('URL templates', async (t) => {
  const e = sampleEvent('id/1', 'x');
  t.equal(compileUrlTemplate('https://h.example/a').render(e), 'https://h.example/a');
  t.equal(compileUrlTemplate('https://h.example/a').origin, 'https://h.example');
  const tpl = compileUrlTemplate('https://h.example:8443/{{ imsdkappid }}/{{subject}}/{{data.elements.0.kind}}?id={{id}}');
  t.equal(tpl.origin, 'https://h.example:8443');
  t.equal(tpl.render(e), 'https://h.example:8443/1400000000/group%2Fg%3F%23%40x/text?id=id%2F1');
  t.equal(compileUrlTemplate('https://{{imsdkappid}}.h.example/x').origin, undefined, 'placeholder in the host: no static origin');
  t.throws(() => compileUrlTemplate('https://h.example/{{data}}').render(e), /not a string/);
  t.throws(() => compileUrlTemplate('https://h.example/{{nope.x}}').render(e), /has no nope\.x/);
  t.throws(() => compileUrlTemplate('https://h.example/{{data.text}}').render({ ...e, data: { ...e.data, text: '' } }), /empty/);
  t.throws(() => compileUrlTemplate('https://h.example/{{ }}'), /bad placeholder/);
  t.throws(() => compileUrlTemplate('https://h.example/{{a}'), /unbalanced/);
  t.throws(() => compileUrlTemplate('mailto:x@{{a}}'), /http or https/);
});

t.test('CloudEvents header percent-encoding and batch ids', async (t) => {
  t.equal(percentEncodeHeader('group/abc-123_~'), 'group/abc-123_~');
  t.equal(percentEncodeHeader('a b"c%d'), 'a%20b%22c%25d');
  t.equal(percentEncodeHeader('群€'), '%E7%BE%A4%E2%82%AC');
  t.equal(percentEncodeHeader('\n'), '%0A');
  const a = sampleEvent('a', 'x');
  const b = sampleEvent('b', 'y');
  t.equal(batchId([a, b]), batchId([a, b]));
  t.not(batchId([a, b]), batchId([b, a]));
  t.not(batchId([a]), batchId([a, b]));
});

function sampleEvent(id: string, text: string): CanonicalEvent {
  return {
    specversion: '1.0',
    id,
    type: 'com.tencent.im.Group.CallbackAfterSendMsg',
    source: '/tencent-im/1400000000',
    subject: 'group/g?#@x',
    time: '2026-01-01T00:00:00.000Z',
    datacontenttype: 'application/json',
    imsdkappid: '1400000000',
    imcommand: 'Group.CallbackAfterSendMsg',
    data: { family: 'group', conversation: { kind: 'group', groupId: 'g' }, text, elements: [{ type: 'TIMTextElem', kind: 'text', content: { text } }], receivedAtMs: 1 },
  };
}
