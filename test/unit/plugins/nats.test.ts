import { readFileSync } from 'node:fs';
import t from 'tap';
import fc from 'fast-check';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { ErrorCode, NatsError } from 'nats';
import plugin, { configSchema, connectionOptions, messageHeaderBytes, streamConfig } from '../../../plugins/nats/index.js';
import { checkSubject, compileSubject, escapeToken, unescapeToken, filterCovers, subjectMatches, MAX_TOKEN_CHARS } from '../../../plugins/nats/subject.js';
import { classify } from '../../../plugins/nats/errors.js';
import { toMessage, encodeHeaderValue, decodeHeaderValue, headerBytesBound } from '../../../plugins/nats/message.js';
import { SINK_COMMON_KEYS } from '../../../src/config/schema.js';
import { FatalError, type CanonicalEvent } from '../../../src/sink/api.js';
import { rememberEventJson } from '../../../src/sink/event-json.js';
import { loadConfigText } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/config/errors.js';
import { resolvePlugin } from '../../../src/sink/loader.js';

const README = new URL('../../../plugins/nats/README.md', import.meta.url);

function event(overrides: Partial<CanonicalEvent> = {}, groupId = '@TGS#1ABC'): CanonicalEvent {
  return {
    specversion: '1.0',
    id: 'evt-1',
    type: 'com.tencent.im.Group.CallbackAfterSendMsg',
    source: '/tencent-im/1400000000',
    subject: `group/${groupId}`,
    time: '2026-01-01T00:00:00.000Z',
    datacontenttype: 'application/json',
    imsdkappid: '1400000000',
    imcommand: 'Group.CallbackAfterSendMsg',
    implatform: 'Android',
    data: { family: 'group', conversation: { kind: 'group', groupId }, seq: 7, receivedAtMs: 1 },
    ...overrides,
  };
}

function validator() {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
  return ajv.compile({ ...configSchema, additionalProperties: false });
}

t.test('README example parses and validates against configSchema', async (t) => {
  const text = readFileSync(README, 'utf8');
  const block = /```yaml\n([\s\S]*?)```/.exec(text);
  t.ok(block, 'README has a yaml block');
  const doc = parseYaml(block![1]!) as { sinks: Record<string, Record<string, unknown>> };
  const sink = doc.sinks.im_stream!;
  t.equal(sink.type, 'nats');
  const own = Object.fromEntries(Object.entries(sink).filter(([k]) => !SINK_COMMON_KEYS.has(k)));
  const validate = validator();
  t.ok(validate(own), JSON.stringify(validate.errors));
  t.equal(own.ordering, 'pipelined', 'defaults applied');
  t.same((own.create_stream as Record<string, unknown>).replicas, 1);
  // and the plugin accepts it (create compiles the template, checks auth/TLS combos; it does not connect)
  const sinkInstance = await plugin.create(own as never, fakeContext());
  t.type(sinkInstance.writeBatch, 'function');
  await sinkInstance.close();
});

t.test('config schema: defaults, unknown keys, bad values', async (t) => {
  const validate = validator();
  const minimal: Record<string, unknown> = { servers: 'nats://127.0.0.1:4222' };
  t.ok(validate(minimal));
  t.match(minimal, { subject: 'im.{{imcommand|tokens}}', mode: 'jetstream', content_mode: 'binary', ack_timeout_ms: 5000, ordering: 'pipelined' });
  t.notOk(validate({ servers: 'nats://x', topic: 'nope' }), 'unknown key rejected');
  t.notOk(validate({ servers: 'nats://x', mode: 'kafka' }));
  t.notOk(validate({ servers: 'nats://x', stream: 'a.b' }), 'stream names cannot hold dots');
  t.notOk(validate({ servers: 'nats://x', stream: 'S', create_stream: { storage: 'disk' } }));
  t.notOk(validate({ servers: 'nats://x', auth: { username: 'u' } }), 'unknown nested key rejected');
  t.notOk(validate({ servers: [] }));
});

t.test('create refuses inconsistent configs with FatalError NATS_CONFIG', async (t) => {
  const base = { servers: 'nats://127.0.0.1:1', subject: 'im.x', mode: 'jetstream', content_mode: 'binary', ordering: 'pipelined', ack_timeout_ms: 1000, reconnect_wait_ms: 100 } as const;
  const bad: Array<[string, Record<string, unknown>]> = [
    ['bad template', { subject: 'im.{{data.family}}..x' }],
    ['wildcard literal', { subject: 'im.*.{{imcommand}}' }],
    ['unknown modifier', { subject: 'im.{{imcommand|upper}}' }],
    ['create_stream without stream', { create_stream: { storage: 'file', retention: 'limits', duplicate_window_ms: 1000, replicas: 1, max_age_ms: 0, max_bytes: -1, max_msgs: -1 } }],
    ['stream in core mode', { mode: 'core', stream: 'S' }],
    ['two auth kinds', { auth: { token: 't', user: 'u', password: 'p' } }],
    ['user without password', { auth: { user: 'u' } }],
    ['cert without key', { tls: { cert_file: 'c.pem', handshake_first: false } }],
  ];
  for (const [name, extra] of bad) {
    await t.rejects(Promise.resolve().then(() => plugin.create({ ...base, ...extra } as never, fakeContext())), { name: 'FatalError', code: 'NATS_CONFIG' }, name);
  }
});

t.test('validate: the cross-field rules, pure, each at its key; the loader refuses them at file:line', async (t) => {
  const schema = validator();
  const problems = (extra: Record<string, unknown>) => {
    const config: Record<string, unknown> = { servers: 'nats://127.0.0.1:1', ...structuredClone(extra) };
    t.ok(schema(config), `schema-valid: ${JSON.stringify(extra)}`);
    return plugin.validate!(config as never).map((p) => [p.path, p.code]);
  };
  const C = 'NATS_CONFIG';
  t.same(problems({}), [], 'a good config has no problem');
  t.same(problems({ subject: 'im.{{data.family}}..x' }), [['subject', C]]);
  t.same(problems({ subject: 'im.*.{{imcommand}}' }), [['subject', C]]);
  t.same(problems({ subject: 'im.{{imcommand|upper}}' }), [['subject', C]]);
  t.same(problems({ subject: 'a.b.c.{{imcommand}}', max_subject_tokens: 3 }), [['subject', C]], 'a template that can never fit');
  t.same(problems({ create_stream: {} }), [['create_stream', C]], 'create_stream without stream');
  t.same(problems({ mode: 'core', stream: 'S' }), [['stream', C]]);
  t.same(problems({ auth: { token: 't', user: 'u', password: 'p' } }), [['auth', C]], 'two auth kinds');
  t.same(problems({ auth: { user: 'u' } }), [['auth.user', C]], 'user without password: at the key that is there');
  t.same(problems({ auth: { nkey_seed: 'S', nkey_seed_file: 'f' } }), [['auth.nkey_seed_file', C]]);
  t.same(problems({ tls: { cert_file: 'c.pem' } }), [['tls.cert_file', C]], 'cert without key');

  const yaml = 'apps: [ { sdk_app_id: 1400000000 } ]\nsinks:\n  n:\n    type: nats\n    servers: nats://127.0.0.1:1\n    auth:\n      user: u\nroutes: [ { name: all, match: { command: "*" }, to: [n] } ]\n';
  const refused = await loadConfigText(yaml, '/tmp/nats.yaml', '/tmp', { resolvePlugin }).catch((e: unknown) => e);
  t.match(refused, { code: 'CONFIG_PLUGIN_INVALID', key: 'sinks.n.auth.user', line: 7 }, 'a nested key, at its line');
  const collected: ConfigError[] = [];
  await loadConfigText(yaml.replace('      user: u', '      user: u\n      token: t'), '/tmp/nats.yaml', '/tmp', { resolvePlugin, collect: collected }).catch(() => undefined);
  t.same(collected.map((e) => [e.code, e.key]), [['CONFIG_PLUGIN_INVALID', 'sinks.n.auth'], ['CONFIG_PLUGIN_INVALID', 'sinks.n.auth.user']], 'check collects every problem');
});

t.test('connection options: auth, TLS paths, reconnect forever', async (t) => {
  const o = connectionOptions(
    { servers: 'nats://a:1, nats://b:2', auth: { user: 'u', password: 'p' }, tls: { ca_file: 'ca.pem', cert_file: 'c.pem', key_file: 'k.pem', handshake_first: true }, reconnect_wait_ms: 250 } as never,
    { name: 'out', configDir: '/etc/im-bridge' },
  );
  t.same(o.servers, ['nats://a:1', 'nats://b:2']);
  t.equal(o.user, 'u');
  t.equal(o.pass, 'p');
  t.equal(o.maxReconnectAttempts, -1);
  t.equal(o.reconnectTimeWait, 250);
  t.equal(o.name, 'im-bridge/out');
  t.same(o.tls, { handshakeFirst: true, caFile: '/etc/im-bridge/ca.pem', certFile: '/etc/im-bridge/c.pem', keyFile: '/etc/im-bridge/k.pem' });
  const tok = connectionOptions({ servers: ['nats://a:1'], auth: { token: 's3cret' }, reconnect_wait_ms: 1000 } as never, { name: 'x', configDir: '/' });
  t.equal(tok.token, 's3cret');
  const nk = connectionOptions({ servers: ['nats://a:1'], auth: { nkey_seed: 'SUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4' }, reconnect_wait_ms: 1000 } as never, { name: 'x', configDir: '/' });
  t.type(nk.authenticator, 'function');
});

t.test('escapeToken: one safe token per value, reversible, injective', async (t) => {
  const cases: Array<[string, string]> = [
    ['@TGS#2C5SZEAEF', '@TGS#2C5SZEAEF'],
    ['a.b', 'a%2Eb'],
    ['with space', 'with%20space'],
    ['*', '%2A'],
    ['>', '%3E'],
    ['a*b>c', 'a%2Ab%3Ec'],
    ['群组 1', '%E7%BE%A4%E7%BB%84%201'],
    ['100%', '100%25'],
    ['$JS', '%24JS'],
    ['tab\there\nnl', 'tab%09here%0Anl'],
    ['', '_'],
    ['_', '%5F'],
    ['__', '__'],
    ['user_1-x', 'user_1-x'],
  ];
  for (const [input, expected] of cases) {
    t.equal(escapeToken(input), expected, JSON.stringify(input));
    t.equal(unescapeToken(expected), input, `round trip ${JSON.stringify(input)}`);
  }
  const valid = /^[A-Za-z0-9_\-@#:=+~!%]+$/;
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 40 }), (a, b) => {
      const ea = escapeToken(a);
      if (!valid.test(ea)) return false;
      if (ea.length > MAX_TOKEN_CHARS) return false;
      if (a !== b && ea === escapeToken(b)) return false;
      return ea.includes("%~") || unescapeToken(ea) === a;
    }),
    { numRuns: 2000 },
  );
});

t.test('escapeToken: long values are cut with a hash, never inside %XX', async (t) => {
  const long = '群'.repeat(200);
  const a = escapeToken(long);
  const b = escapeToken(long + 'x');
  t.ok(a.length <= MAX_TOKEN_CHARS, `length ${a.length}`);
  t.match(a, /^(%[0-9A-F]{2})+%~[0-9a-f]{16}$/);
  t.not(a, b, 'distinct values stay distinct');
  t.equal(escapeToken(long), a, 'deterministic');
});

t.test('escapeToken: lone surrogates are escaped distinctly (WTF-8), never merged into U+FFFD', async (t) => {
  t.equal(escapeToken('@TGS#\ud800x'), '@TGS#%ED%A0%80x');
  t.equal(escapeToken('\udfff'), '%ED%BF%BF');
  t.equal(escapeToken('\ufffd'), '%EF%BF%BD', 'a real U+FFFD keeps its UTF-8 form');
  t.equal(escapeToken('😀'), '%F0%9F%98%80', 'a surrogate pair is one code point, as before');
  t.equal(escapeToken('\ud83d\ude00'), escapeToken('😀'));
  const ids = ['@TGS#\ud800x', '@TGS#\ud801x', '@TGS#\udbffx', '@TGS#\udc00x', '@TGS#\ufffdx', '@TGS#x\ud800', '@TGS#\ude00\ud83d'];
  const tokens = ids.map(escapeToken);
  t.equal(new Set(tokens).size, ids.length, 'distinct ids, distinct tokens');
  for (const [i, id] of ids.entries()) t.equal(unescapeToken(tokens[i]!), id, `round trip ${JSON.stringify(id)}`);
  // shortened tokens: the hash covers the surrogate too (hashing the string would see U+FFFD twice)
  const long = 'x'.repeat(200);
  t.not(escapeToken(long + '\ud800'), escapeToken(long + '\ud801'));
  t.not(escapeToken(long + '\ud800'), escapeToken(long + '\ufffd'));
  t.equal(escapeToken('群'.repeat(200)), escapeToken('群'.repeat(200)), 'well-formed long values hash as before (deterministic)');
  // any UTF-16 string at all (lone surrogates included): valid, bounded, injective
  fc.assert(
    fc.property(anyUtf16(30), anyUtf16(30), (a, b) => {
      const ea = escapeToken(a);
      if (!/^[A-Za-z0-9_\-@#:=+~!%]+$/.test(ea) || ea.length > MAX_TOKEN_CHARS) return false;
      if (a !== b && ea === escapeToken(b)) return false;
      return ea.includes('%~') || unescapeToken(ea) === a;
    }),
    { numRuns: 2000 },
  );
  const s = compileSubject('im.{{data.conversation.groupId}}');
  t.not(s.render(event({}, '@TGS#\ud800x')), s.render(event({}, '@TGS#\udbffx')), 'two ids with lone surrogates get two subjects');
});

t.test('checkSubject: length, token count, empty tokens, whitespace, control characters, wildcards', async (t) => {
  const limits = { maxBytes: 1024, maxTokens: 32 };
  t.equal(checkSubject('im.Group.CallbackAfterSendMsg', limits), undefined);
  t.equal(checkSubject('im.' + 'a'.repeat(1021), limits), undefined, 'exactly max_subject_bytes');
  t.equal(checkSubject(Array.from({ length: 32 }, () => 'a').join('.'), limits), undefined, 'exactly max_subject_tokens');
  t.match(checkSubject('im.' + 'a'.repeat(1022), limits), { code: 'NATS_SUBJECT_TOO_LONG', message: /1025 bytes exceeds max_subject_bytes 1024/ });
  t.match(checkSubject('im.' + '群'.repeat(341), limits), { code: 'NATS_SUBJECT_TOO_LONG' }, 'bytes, not characters');
  t.match(checkSubject(Array.from({ length: 33 }, () => 'a').join('.'), limits), { code: 'NATS_SUBJECT_TOO_LONG', message: /33 tokens/ });
  for (const bad of ['', '.im', 'im.', 'im..x', 'im.a b', 'im.a\tb', 'im.a\r\nPUB x 1', 'im.a\u0000', 'im.a\u007f', 'im.*', 'im.>', 'im.a*', 'im.\u00a0', 'im.\ud800']) {
    t.match(checkSubject(bad, limits), { code: 'NATS_SUBJECT_INVALID' }, JSON.stringify(bad));
  }
  // The default template over a forged CallbackCommand (finding 1: 3,000 dots, 6 KB)
  const d = compileSubject('im.{{imcommand|tokens}}');
  t.match(checkSubject(d.render(event({ imcommand: 'A' + '.a'.repeat(3000) })), limits), { code: 'NATS_SUBJECT_TOO_LONG' });
  t.match(checkSubject(d.render(event({ imcommand: 'A.' + 'b'.repeat(10_000) })), limits), undefined, 'one long token is hashed short: fine');
  // whatever a value holds, an escaped value never makes a subject invalid, only (with |tokens) long
  fc.assert(
    fc.property(anyUtf16(60), (value) => {
      const problem = checkSubject(d.render(event({ imcommand: value })), limits);
      return problem === undefined || problem.code === 'NATS_SUBJECT_TOO_LONG';
    }),
    { numRuns: 2000 },
  );
});

t.test('subject caps: config keys, defaults, a template that can never fit is refused at create', async (t) => {
  const validate = validator();
  const minimal: Record<string, unknown> = { servers: 'nats://127.0.0.1:4222' };
  t.ok(validate(minimal));
  t.match(minimal, { max_subject_bytes: 1024, max_subject_tokens: 32 });
  t.notOk(validate({ servers: 'nats://x', max_subject_bytes: 5000 }), 'no cap beyond what fits in the server control line');
  t.notOk(validate({ servers: 'nats://x', max_subject_tokens: 0 }));
  const base = { servers: 'nats://127.0.0.1:1', mode: 'jetstream', content_mode: 'binary', ordering: 'pipelined', ack_timeout_ms: 1000, reconnect_wait_ms: 100, max_subject_bytes: 1024, max_subject_tokens: 32 } as const;
  await t.rejects(Promise.resolve().then(() => plugin.create({ ...base, subject: 'a.b.c.{{imcommand}}', max_subject_tokens: 3 } as never, fakeContext())), { name: 'FatalError', code: 'NATS_CONFIG' });
  await t.rejects(Promise.resolve().then(() => plugin.create({ ...base, subject: `${'x'.repeat(30)}.{{imcommand}}`, max_subject_bytes: 16 } as never, fakeContext())), { name: 'FatalError', code: 'NATS_CONFIG' });
  const ok = await plugin.create({ ...base, subject: 'a.b.{{imcommand}}', max_subject_tokens: 3 } as never, fakeContext());
  await ok.close();
});

t.test('the size check counts headers as the client does; the cheap bound is never below it', async (t) => {
  const e = event({ subject: 'group/技术 部 \ud800', imclientip: '203.0.113.7' }, '技术 部');
  for (const mode of ['binary', 'structured'] as const) {
    const m = toMessage(e, mode);
    t.equal(messageHeaderBytes(m), (m.headers as unknown as { encode(): Uint8Array }).encode().length, mode);
  }
  fc.assert(
    fc.property(anyUtf16(200), anyUtf16(40), fc.constantFrom('binary', 'structured'), (subject, command, mode) => {
      const ev = event({ subject, imcommand: command, datacontenttype: 'application/json; charset=utf-8' as 'application/json' });
      return headerBytesBound(ev, mode) >= messageHeaderBytes(toMessage(ev, mode));
    }),
    { numRuns: 2000 },
  );
});

t.test('subject templates: edge cases of GroupId', async (t) => {
  const s = compileSubject('im.{{data.family}}.{{data.conversation.groupId}}');
  t.equal(s.filter, 'im.*.*');
  const groups: Array<[string, string]> = [
    ['@TGS#1ABC', 'im.group.@TGS#1ABC'],
    ['team one', 'im.group.team%20one'],
    ['a.b.c', 'im.group.a%2Eb%2Ec'],
    ['*', 'im.group.%2A'],
    ['>', 'im.group.%3E'],
    ['技术部', 'im.group.%E6%8A%80%E6%9C%AF%E9%83%A8'],
    ['emoji😀', 'im.group.emoji%F0%9F%98%80'],
  ];
  for (const [groupId, expected] of groups) {
    const rendered = s.render(event({}, groupId));
    t.equal(rendered, expected, groupId);
    t.equal(rendered.split('.').length, 3, 'always three tokens');
    t.ok(subjectMatches(s.filter, rendered));
  }
  t.equal(s.render({ ...event(), data: { family: 'c2c', conversation: { kind: 'c2c' }, receivedAtMs: 1 } } as CanonicalEvent), 'im.c2c._', 'missing value → _');
});

t.test('subject templates: syntax, |tokens, filters', async (t) => {
  const d = compileSubject('im.{{imcommand|tokens}}');
  t.equal(d.render(event()), 'im.Group.CallbackAfterSendMsg');
  t.equal(d.filter, 'im.>');
  t.equal(d.render(event({ imcommand: 'Weird..Cmd x' })), 'im.Weird._.Cmd%20x', 'empty parts and spaces stay safe');
  const mixed = compileSubject('app-{{imsdkappid}}.{{ data.seq }}.{{data.conversation.kind}}-{{data.family}}');
  t.equal(mixed.render(event()), 'app-1400000000.7.group-group');
  t.equal(mixed.filter, '*.*.*');
  t.equal(compileSubject('fixed.subject').render(event()), 'fixed.subject');
  t.equal(compileSubject('x.{{data.elements.0.kind}}').render({ ...event(), data: { ...event().data, elements: [{ type: 'TIMTextElem', kind: 'text', content: {} }] } }), 'x.text');
  t.equal(compileSubject('x.{{data.conversation}}').render(event()), `x.${escapeToken(JSON.stringify(event().data.conversation))}`, 'objects as (escaped) JSON, still one token');
  t.equal(compileSubject('x.{{constructor}}').render(event()), 'x._', 'never reaches Object.prototype');
  for (const bad of ['.im', 'im.', 'im..x', 'im x', 'im.>', 'im.*', 'im.{{a b}}', 'im.{{}}', 'im.{{data..x}}', 'im.{{x}', 'im.{{x|lower}}']) {
    t.throws(() => compileSubject(bad), { name: 'SubjectTemplateError' }, bad);
  }
  t.ok(filterCovers('im.>', 'im.*.*'));
  t.ok(filterCovers('>', 'im.>'));
  t.ok(filterCovers('im.*.*', 'im.*.*'));
  t.notOk(filterCovers('im.*', 'im.*.*'));
  t.notOk(filterCovers('im.*.*', 'im.>'));
  t.notOk(filterCovers('other.>', 'im.>'));
});

t.test('messages: binary mode headers + data, structured mode stored JSON', async (t) => {
  const e = event({ subject: 'group/技术 部', imclientip: '203.0.113.7' }, '技术 部');
  const m = toMessage(e, 'binary');
  t.equal(m.headers.get('ce-id'), 'evt-1');
  t.equal(m.headers.get('ce-specversion'), '1.0');
  t.equal(m.headers.get('ce-type'), 'com.tencent.im.Group.CallbackAfterSendMsg');
  t.equal(m.headers.get('ce-imcommand'), 'Group.CallbackAfterSendMsg');
  t.equal(m.headers.get('ce-imclientip'), '203.0.113.7');
  t.equal(m.headers.get('Content-Type'), 'application/json');
  t.equal(decodeHeaderValue(m.headers.get('ce-subject')), 'group/技术 部');
  t.match(m.headers.get('ce-subject'), /^[\x21-\x7e]+$/);
  t.same(JSON.parse(Buffer.from(m.payload).toString()), e.data);
  t.equal(encodeHeaderValue('50% "q"'), '50%25%20%22q%22');

  const stored = JSON.stringify(e);
  const parsed = JSON.parse(stored) as CanonicalEvent;
  rememberEventJson(parsed, stored);
  const s = toMessage(parsed, 'structured');
  t.equal(Buffer.from(s.payload).toString(), stored, 'structured payload is the stored JSON');
  t.match(s.headers.get('Content-Type'), /^application\/cloudevents\+json/);
  t.equal(s.headers.get('ce-id'), '', 'no ce-* headers in structured mode');
});

t.test('error classification', async (t) => {
  const api = (code: number, err_code: number, description: string) => {
    const e = new NatsError(description, String(code));
    e.api_error = { code, err_code, description };
    return e;
  };
  const cases: Array<[unknown, boolean, string]> = [
    [NatsError.errorForCode(ErrorCode.Timeout), true, 'NATS_TIMEOUT'],
    [NatsError.errorForCode(ErrorCode.NoResponders), true, 'NATS_NO_RESPONDERS'],
    [NatsError.errorForCode(ErrorCode.MaxPayloadExceeded), false, 'NATS_MESSAGE_TOO_LARGE'],
    [NatsError.errorForCode(ErrorCode.BadSubject), false, 'NATS_SUBJECT_INVALID'],
    [NatsError.errorForCode(ErrorCode.ConnectionClosed), true, 'NATS_DISCONNECTED'],
    [NatsError.errorForCode(ErrorCode.PermissionsViolation), false, 'NATS_PERMISSION_DENIED'],
    [NatsError.errorForCode(ErrorCode.AuthorizationViolation), false, 'NATS_AUTH_FAILED'],
    [api(400, 10060, 'expected stream does not match'), false, 'NATS_WRONG_STREAM'],
    [api(404, 10059, 'stream not found'), false, 'NATS_STREAM_NOT_FOUND'],
    [api(400, 10054, 'message size exceeds maximum allowed'), false, 'NATS_MESSAGE_TOO_LARGE'],
    [api(503, 10077, 'maximum messages exceeded'), true, 'NATS_JETSTREAM_BUSY'],
    [api(500, 10047, 'insufficient storage resources available'), true, 'NATS_JETSTREAM_BUSY'],
    [api(503, 10008, 'JetStream system temporarily unavailable'), true, 'NATS_JETSTREAM_BUSY'],
    [api(503, 10076, 'JetStream not enabled'), true, 'NATS_JETSTREAM_UNAVAILABLE'],
    [api(400, 10003, 'bad request'), false, 'NATS_JETSTREAM_REJECTED'],
    [new Error('boom'), true, 'NATS_ERROR'],
  ];
  for (const [error, retriable, code] of cases) {
    t.match(classify(error), { retriable, code }, code);
  }
});

/** Any UTF-16 string, lone surrogates (fc 'binary' has none), NATS specials and escapes included. */
function anyUtf16(maxLength: number) {
  const unit = fc.oneof(
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
    fc.constantFrom('.', '*', '>', ' ', '%', '_', '%ED', '\u0000', '\r\n'),
  );
  return fc.string({ unit, maxLength });
}

function fakeContext() {
  return {
    name: 'unit',
    logger: { info() {}, warn() {}, error() {}, debug() {}, child() { return this; } } as never,
    signal: new AbortController().signal,
    configDir: '/tmp',
    count() {},
  };
}

void FatalError;
void streamConfig;
