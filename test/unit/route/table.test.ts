import t from 'tap';
import fc from 'fast-check';
import { RouteTable, globToRegExp } from '../../../src/route/table.js';
import { normalize } from '../../../src/normalize/index.js';
import type { RouteConfig } from '../../../src/config/schema.js';

const meta = (command: string) => ({ sdkAppId: '1400000000', command, receivedAtMs: 1767225600000 });
const groupMsg = (groupId: string, type = 'Public', elem = 'TIMTextElem', from = 'alice') =>
  normalize(
    { GroupId: groupId, Type: type, From_Account: from, MsgSeq: 1, MsgTime: 1, Random: 1, MsgBody: [{ MsgType: elem, MsgContent: { Text: 'x' } }] },
    meta('Group.CallbackAfterSendMsg'),
    { includeRaw: true },
  );
const route = (name: string, match: RouteConfig['match'], to: string[], final = false): RouteConfig => ({ name, match, to, final });

t.test('globs', async (t) => {
  t.ok(globToRegExp('Group.*').test('Group.CallbackAfterSendMsg'));
  t.notOk(globToRegExp('Group.*').test('C2C.CallbackAfterSendMsg'));
  t.ok(globToRegExp('*.CallbackAfter*').test('C2C.CallbackAfterSendMsg'));
  t.ok(globToRegExp('Group.Callback?fterSendMsg').test('Group.CallbackAfterSendMsg'));
  t.notOk(globToRegExp('Group.CallbackAfterSendMsg').test('Group.CallbackAfterSendMsgX'), 'anchored');
  t.ok(globToRegExp('@TGS#(x)+').test('@TGS#(x)+'), 'regex metacharacters are literal');
});

t.test('fan-out, dedup, final, and every match key', async (t) => {
  const table = new RouteTable([
    route('groups', { command: 'Group.*' }, ['kafka', 'archive']),
    route('public', { group_type: 'Public' }, ['archive', 'es']),
    route('work', { group_type: 'Work' }, ['work']),
    route('images', { element_type: 'TIMImageElem' }, ['images']),
    route('vip', { group_id: ['@TGS#vip*'], sender: 'boss' }, ['vip'], true),
    route('after-final', { command: '*' }, ['late']),
  ]);
  t.same(table.match(groupMsg('@TGS#1')).sinks, ['kafka', 'archive', 'es', 'late']);
  t.same(table.match(groupMsg('@TGS#1', 'Private')).sinks, ['kafka', 'archive', 'work', 'late'], 'Private matches Work');
  t.same(table.match(groupMsg('@TGS#1', 'Private', 'TIMImageElem')).sinks, ['kafka', 'archive', 'work', 'images', 'late']);
  t.same(table.match(groupMsg('@TGS#vip1', 'Meeting', 'TIMTextElem', 'boss')).sinks, ['kafka', 'archive', 'vip'], 'final stops evaluation');
  t.same(table.match(groupMsg('@TGS#vip1', 'Meeting', 'TIMTextElem', 'bob')).sinks, ['kafka', 'archive', 'late']);
});

t.test('before-callbacks reach only routes that name them', async (t) => {
  const before = normalize({ GroupId: 'g', Type: 'Public', From_Account: 'a', Random: 1, MsgBody: [] }, meta('Group.CallbackBeforeSendMsg'), { includeRaw: true });
  t.same(new RouteTable([route('all', { command: '*' }, ['a'])]).match(before).sinks, [], 'catch-all does not forward before-callbacks');
  t.same(new RouteTable([route('b', { command: '*.CallbackBefore*' }, ['b'])]).match(before).sinks, ['b']);
  t.same(new RouteTable([route('b', { command: 'Group.CallbackBeforeSendMsg' }, ['b'])]).match(before).sinks, ['b']);
});

t.test('no match yields an empty result', async (t) => {
  t.same(new RouteTable([route('c2c', { command: 'C2C.*' }, ['x'])]).match(groupMsg('g')).sinks, []);
  t.same(new RouteTable([]).match(groupMsg('g')).sinks, []);
});

t.test('property: a literal glob matches exactly its own text', async () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 40 }).filter((s) => !s.includes('*') && !s.includes('?')), fc.string({ maxLength: 40 }), (a, b) => {
      const re = globToRegExp(a);
      if (!re.test(a)) throw new Error(`glob ${a} does not match itself`);
      if (a !== b && re.test(b)) throw new Error(`glob ${a} matches ${b}`);
    }),
    { numRuns: 500 },
  );
});
