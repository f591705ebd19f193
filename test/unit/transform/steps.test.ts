import { createHmac } from 'node:crypto';
import t from 'tap';
import fc from 'fast-check';
import { compileStep, TransformConfigError } from '../../../src/transform/steps.js';
import { parsePath, PathError, ALL } from '../../../src/transform/path.js';
import type { TransformStepConfig } from '../../../src/transform/schema.js';

function sample() {
  return {
    specversion: '1.0',
    id: 'evt-1',
    type: 'com.tencent.im.Group.CallbackAfterSendMsg',
    source: '/tencent-im/1400000000',
    subject: 'group/g1',
    imcommand: 'Group.CallbackAfterSendMsg',
    imsdkappid: '1400000000',
    data: {
      family: 'group',
      sender: 'alice',
      text: 'hello\nworld',
      conversation: { kind: 'group', groupId: 'g1' },
      elements: [
        { type: 'TIMTextElem', kind: 'text', content: { text: 'hello' } },
        { type: 'TIMFaceElem', kind: 'face', content: { index: 1 } },
        { type: 'TIMTextElem', kind: 'text', content: { text: 'world' } },
      ],
      receivedAtMs: 1,
      raw: { From_Account: 'alice', MsgBody: [] },
    },
  };
}

const run = (step: TransformStepConfig, event: object = sample()) => compileStep(step, 0).apply!(event as Record<string, unknown>) as any;

t.test('paths parse dotted names, [*] and indexes; bad paths are refused', async (t) => {
  t.same(parsePath('data.elements[*].content.text'), ['data', 'elements', ALL, 'content', 'text']);
  t.same(parsePath('data.elements[2].kind'), ['data', 'elements', 2, 'kind']);
  for (const bad of ['', 'data..text', 'data.__proto__.x', 'data.el[x]', '[0]', 'data.a b']) t.throws(() => parsePath(bad), PathError, bad);
});

t.test('drop removes paths, wildcards included, and never changes the input', async (t) => {
  const event = sample();
  const before = JSON.stringify(event);
  const out = run({ drop: ['data.raw', 'data.elements[*].type', 'data.missing.deep'] }, event);
  t.notOk('raw' in out.data);
  t.same(out.data.elements.map((e: any) => Object.keys(e)), [['kind', 'content'], ['kind', 'content'], ['kind', 'content']]);
  t.equal(JSON.stringify(event), before, 'the stored event is unchanged (copy on write)');
  t.equal(out.data.conversation, event.data.conversation, 'untouched branches are shared, not copied');
  t.equal(run({ drop: 'data.nope' }, event), event, 'nothing to drop: the same object (its stored JSON is reused)');
});

t.test('redact replaces present values, including every element text', async (t) => {
  const out = run({ redact: ['data.text', 'data.elements[*].content.text', 'data.absent'] });
  t.equal(out.data.text, '[REDACTED]');
  t.same(out.data.elements.map((e: any) => e.content.text), ['[REDACTED]', undefined, '[REDACTED]']);
  t.notOk('absent' in out.data, 'a missing path stays missing');
  t.equal(run({ redact: 'data.text', with: '***' }).data.text, '***');
});

t.test('hash is keyed HMAC-SHA256 (hex), stable across runs', async (t) => {
  const expected = createHmac('sha256', 'k3y').update('alice').digest('hex');
  const a = run({ hash: ['data.sender', 'data.raw.From_Account'], key: 'k3y' });
  t.equal(a.data.sender, expected);
  t.equal(a.data.raw.From_Account, expected);
  t.equal(run({ hash: 'data.sender', key: 'k3y' }).data.sender, expected, 'same input, same output (redelivery, replay)');
  t.not(run({ hash: 'data.sender', key: 'other' }).data.sender, expected, 'another key, another value');
});

t.test('keep keeps only the named paths plus id and subject', async (t) => {
  const out = run({ keep: ['type', 'data.family', 'data.elements[*].kind'] });
  t.same(out, { id: 'evt-1', type: 'com.tencent.im.Group.CallbackAfterSendMsg', subject: 'group/g1', data: { family: 'group', elements: [{ kind: 'text' }, { kind: 'face' }, { kind: 'text' }] } });
});

t.test('rename moves values; set writes constants and templates, creating objects', async (t) => {
  const renamed = run({ rename: { 'data.sender': 'data.from', 'data.nope': 'data.x' } });
  t.equal(renamed.data.from, 'alice');
  t.notOk('sender' in renamed.data);
  t.notOk('x' in renamed.data);
  const set = run({ set: { 'data.tenant': 'acme', 'data.meta.route': '{{imsdkappid}}/{{data.family}}', 'data.meta.flags': { pii: false }, 'data.n': 3 } });
  t.equal(set.data.tenant, 'acme');
  t.same(set.data.meta, { route: '1400000000/group', flags: { pii: false } });
  t.equal(set.data.n, 3);
  const again = run({ set: { 'data.meta.flags': { pii: false } } });
  t.not(again.data.meta.flags, set.data.meta.flags, 'object constants are not shared between events');
  t.equal(run({ set: { 'data.text.deeper': 1 } }).data.text, 'hello\nworld', 'a non-object on the way is left alone');
});

t.test('steps are refused at load: id/subject, no or two actions, stray modifiers, bad paths, empty key, bad template', async (t) => {
  const cases: Array<[TransformStepConfig, RegExp, Array<string | number>]> = [
    [{ drop: ['id'] }, /cannot be changed/, ['drop', 0]],
    [{ set: { subject: 'x' } }, /cannot be changed/, ['set', 'subject']],
    [{ rename: { 'data.sender': 'id' } }, /cannot be changed/, ['rename', 'data.sender']],
    [{ hash: ['subject'], key: 'k' }, /cannot be changed/, ['hash', 0]],
    [{}, /exactly one of/, []],
    [{ drop: ['data.raw'], redact: ['data.text'] }, /split it/, ['redact']],
    [{ drop: ['data.raw'], with: 'x' }, /"with" does not apply to a drop step/, ['with']],
    [{ hash: ['data.sender'] }, /needs "key:"/, ['hash']],
    [{ hash: ['data.sender'], key: '' }, /needs "key:"/, ['key']],
    [{ redact: ['data..text'] }, /empty segment|malformed/, ['redact', 0]],
    [{ rename: { 'data.elements[*].type': 'data.t' } }, /\[\*\] is not allowed/, ['rename', 'data.elements[*].type']],
    [{ set: { 'data.x': '{{oops' } }, /unclosed/, ['set', 'data.x']],
  ];
  for (const [step, message, at] of cases) {
    try {
      compileStep(step, 0);
      t.fail(`accepted ${JSON.stringify(step)}`);
    } catch (error) {
      t.type(error, TransformConfigError, JSON.stringify(step));
      t.match((error as Error).message, message, JSON.stringify(step));
      t.same((error as TransformConfigError).at, at, `${JSON.stringify(step)}: at`);
    }
  }
});

t.test('property: every step is a pure function of its input (no mutation, same result twice)', async () => {
  const steps: TransformStepConfig[] = [
    { drop: ['data.raw', 'data.elements[*].type'] },
    { redact: ['data.text', 'data.elements[*].content.text'] },
    { hash: ['data.sender'], key: 'k' },
    { rename: { 'data.sender': 'data.from' } },
    { set: { 'data.tenant': '{{imsdkappid}}' } },
    { keep: ['data.text', 'data.elements[*].kind'] },
  ];
  const compiled = steps.map((s, i) => compileStep(s, i).apply!);
  fc.assert(
    fc.property(fc.string(), fc.array(fc.record({ kind: fc.string(), content: fc.record({ text: fc.string() }) })), fc.anything(), (text, elements, raw) => {
      const event = { ...sample(), data: { ...sample().data, text, elements, raw } } as Record<string, unknown>;
      const before = JSON.stringify(event);
      for (const apply of compiled) {
        const a = JSON.stringify(apply(event));
        const b = JSON.stringify(apply(event));
        if (a !== b || JSON.stringify(event) !== before) return false;
      }
      return true;
    }),
  );
});
