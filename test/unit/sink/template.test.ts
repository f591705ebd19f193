import t from 'tap';
import fc from 'fast-check';
import { compileTemplate, TemplateError } from '../../../src/sink/template.js';

const event = {
  specversion: '1.0',
  id: 'evt-1',
  type: 'com.tencent.im.Group.CallbackAfterSendMsg',
  source: '/tencent-im/1400000000',
  subject: 'group/g1',
  imcommand: 'Group.CallbackAfterSendMsg',
  imsdkappid: '1400000000',
  implatform: 'Android',
  data: {
    family: 'group',
    seq: 42,
    before: false,
    conversation: { kind: 'group', groupId: 'g1' },
    elements: [{ kind: 'text', content: { text: 'hi' } }],
    nothing: null,
  },
};

t.test('renders attributes and dotted paths into data', async (t) => {
  t.equal(compileTemplate('im.{{imcommand}}')(event), 'im.Group.CallbackAfterSendMsg');
  t.equal(compileTemplate('{{data.family}}-{{imsdkappid}}')(event), 'group-1400000000');
  t.equal(compileTemplate('x.{{ data.conversation.groupId }}.y')(event), 'x.g1.y', 'whitespace inside braces is ignored');
  t.equal(compileTemplate('{{data.elements.0.kind}}')(event), 'text', 'numeric segments index arrays');
  t.equal(compileTemplate('{{subject}}')(event), 'group/g1', 'a template that is one field');
});

t.test('value kinds', async (t) => {
  t.equal(compileTemplate('s{{data.seq}}')(event), 's42', 'numbers as text');
  t.equal(compileTemplate('{{data.before}}')(event), 'false', 'booleans as text');
  t.equal(compileTemplate('a{{data.missing}}b')(event), 'ab', 'missing → empty');
  t.equal(compileTemplate('a{{data.family.deeper}}b')(event), 'ab', 'a path through a string → empty');
  t.equal(compileTemplate('a{{data.nothing}}b')(event), 'ab', 'null → empty');
  t.equal(compileTemplate('{{data.conversation}}')(event), '{"kind":"group","groupId":"g1"}', 'objects as JSON');
  t.equal(compileTemplate('{{constructor}}|{{data.__proto__}}|{{toString}}')(event), '||', 'never reaches Object.prototype');
});

t.test('static templates and metadata', async (t) => {
  const fixed = compileTemplate('im.events');
  t.equal(fixed.isStatic, true);
  t.same(fixed.fields, []);
  t.equal(fixed(event), 'im.events');
  t.equal(fixed({}), 'im.events');
  const dynamic = compileTemplate('im.{{imcommand}}.{{data.family}}');
  t.equal(dynamic.isStatic, false);
  t.same(dynamic.fields, ['imcommand', 'data.family']);
  t.equal(dynamic.text, 'im.{{imcommand}}.{{data.family}}');
  t.equal(compileTemplate('')(event), '');
  t.equal(compileTemplate('a } b }} c')(event), 'a } b }} c', 'lone closing braces are literal');
});

t.test('malformed templates are refused at compile time', async (t) => {
  t.throws(() => compileTemplate('im.{{imcommand'), TemplateError, 'unclosed');
  t.throws(() => compileTemplate('im.{{ }}'), /empty field/);
  t.throws(() => compileTemplate('im.{{a..b}}'), /malformed field/);
  t.throws(() => compileTemplate('im.{{a b}}'), /malformed field/);
  t.throws(() => compileTemplate('im.{{data[0]}}'), /malformed field/);
  try {
    compileTemplate('ab{{');
  } catch (error) {
    t.equal((error as TemplateError).position, 2, 'the error names the position');
  }
});

t.test('property: text without "{{" renders as itself; each field renders its value', async () => {
  fc.assert(
    fc.property(fc.string().filter((s) => !s.includes('{{')), (text) => compileTemplate(text)(event) === text),
  );
  fc.assert(
    fc.property(
      fc.string().filter((s) => !s.includes('{{') && !s.endsWith('{')),
      fc.string().filter((s) => !s.includes('{{')),
      fc.string(),
      (before, after, value) => compileTemplate(`${before}{{v}}${after}`)({ v: value }) === before + value + after,
    ),
  );
});

t.test('options: encode applies to values only; onMissing empty, fail or a replacement', async (t) => {
  const upper = compileTemplate('im.{{data.family}}.{{data.conversation.groupId}}', { encode: (v, field) => `${field}=${v.toUpperCase()}` });
  t.equal(upper(event), 'im.data.family=GROUP.data.conversation.groupId=G1', 'encode sees each value and its field; literal text is left alone');
  t.equal(compileTemplate('x/{{subject}}', { encode: encodeURIComponent })(event), 'x/group%2Fg1');
  t.equal(compileTemplate('a{{data.none}}b')(event), 'ab', 'default: missing is empty');
  t.equal(compileTemplate('a{{data.nothing}}b', { onMissing: 'empty' })(event), 'ab', 'null counts as missing');
  t.equal(compileTemplate('a-{{data.none}}', { onMissing: 'unknown', encode: () => 'never' })(event), 'a-unknown', 'a replacement is not encoded');
  const strict = compileTemplate('u/{{data.conversation.groupId}}/{{data.none}}', { onMissing: 'fail' });
  t.throws(() => strict(event), TemplateError, 'fail: the render throws');
  t.throws(() => strict(event), /no value for "data.none" at position 32/);
  t.equal(compileTemplate('{{data.seq}}', { onMissing: 'fail' })(event), '42', 'present values render as before');
});
