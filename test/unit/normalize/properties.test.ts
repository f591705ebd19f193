import t from 'tap';
import fc from 'fast-check';
import { normalize } from '../../../src/normalize/index.js';
import { secondsToMs } from '../../../src/normalize/time.js';
import type { CallbackMeta } from '../../../src/normalize/event.js';
import { createCallbackValidator } from '../../../src/ingest/schemas/index.js';

const validator = createCallbackValidator();
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;
const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

const uint32 = fc.integer({ min: 0, max: 0xffffffff });
const seconds = fc.integer({ min: 0, max: 4_102_444_800 }); // up to 2100
const str = fc.string({ maxLength: 12 });
const account = fc.oneof(fc.constantFrom('jared', 'admin', 'u_lina', '', '@RBT#x'), fc.string({ minLength: 0, maxLength: 8 }));
const eventTime = fc.oneof(
  fc.integer({ min: 0, max: 9_999_999_999_999 }),
  fc.integer({ min: 0, max: 9_999_999_999_999 }).map(String),
  fc.stringMatching(/^[0-9]{1,16}$/),
);
const num = fc.oneof(fc.integer({ min: 0, max: 1e9 }), fc.double({ noNaN: true, noDefaultInfinity: true }));

/** Puts every key of `req` and a random subset of `opt`. */
function rec<R extends Record<string, fc.Arbitrary<unknown>>, O extends Record<string, fc.Arbitrary<unknown>>>(
  req: R,
  opt: O,
): fc.Arbitrary<Record<string, unknown>> {
  const model: Record<string, fc.Arbitrary<unknown>> = { ...req, ...opt };
  return fc.record(model, { requiredKeys: Object.keys(req) }) as fc.Arbitrary<Record<string, unknown>>;
}

const leafElement: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  rec({ Text: str }, {}).map((c) => ({ MsgType: 'TIMTextElem', MsgContent: c })),
  rec({ Latitude: num, Longitude: num }, { Desc: str }).map((c) => ({ MsgType: 'TIMLocationElem', MsgContent: c })),
  rec({ Index: num }, { Data: str }).map((c) => ({ MsgType: 'TIMFaceElem', MsgContent: c })),
  rec({}, { Data: str, Desc: str, Ext: str, Sound: str }).map((c) => ({ MsgType: 'TIMCustomElem', MsgContent: c })),
  rec({}, { Url: str, UUID: str, Size: num, Second: num, Download_Flag: num }).map((c) => ({
    MsgType: 'TIMSoundElem',
    MsgContent: c,
  })),
  rec(
    {
      ImageInfoArray: fc.array(rec({ Type: fc.constantFrom(1, 2, 3, 9) }, { Size: num, Width: num, Height: num, URL: str, Url: str }), {
        maxLength: 3,
      }),
    },
    { UUID: str, ImageFormat: fc.constantFrom(1, 2, 3, 4, 255, 7) },
  ).map((c) => ({ MsgType: 'TIMImageElem', MsgContent: c })),
  rec({}, { Url: str, URL: str, UUID: str, FileSize: num, FileName: str, fileName: str, Download_Flag: num }).map((c) => ({
    MsgType: 'TIMFileElem',
    MsgContent: c,
  })),
  rec({}, { VideoUrl: str, VideoUUID: str, VideoSize: num, VideoSecond: num, VideoFormat: str, ThumbUrl: str, ThumbWidth: num }).map(
    (c) => ({ MsgType: 'TIMVideoFileElem', MsgContent: c }),
  ),
  rec({ MsgType: fc.constantFrom('TIMGroupTipsElem', 'Custom.New', '') }, { MsgContent: fc.dictionary(str, fc.jsonValue({ maxDepth: 2 })) }),
);

const { element } = fc.letrec<{ element: Record<string, unknown>; relay: Record<string, unknown> }>((tie) => ({
  element: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leafElement, tie('relay')),
  relay: rec(
    {},
    {
      Title: str,
      MsgNum: fc.nat(),
      CompatibleText: str,
      AbstractList: fc.array(str, { maxLength: 3 }),
      JsonMsgKey: str,
      MsgList: fc.array(
        rec(
          {},
          {
            From_Account: account,
            To_Account: account,
            GroupId: str,
            MsgSeq: uint32,
            MsgRandom: uint32,
            MsgTimeStamp: seconds,
            CloudCustomData: str,
            MsgBody: fc.array(tie('element'), { maxLength: 2 }),
          },
        ),
        { maxLength: 2 },
      ),
    },
  ).map((c) => ({ MsgType: 'TIMRelayElem', MsgContent: c })),
}));

const msgBody = fc.array(element, { maxLength: 4 });

const groupAfterSendMsg = rec(
  { GroupId: fc.string({ minLength: 1, maxLength: 16 }), MsgBody: msgBody },
  {
    CallbackCommand: fc.constant('Group.CallbackAfterSendMsg'),
    Type: fc.oneof(fc.constantFrom('Public', 'Private', 'Work', 'ChatRoom', 'Meeting', 'AVChatRoom', 'Community'), str),
    From_Account: account,
    Operator_Account: account,
    Random: uint32,
    MsgId: str,
    MsgSeq: uint32,
    MsgTime: seconds,
    OnlineOnlyFlag: fc.constantFrom(0, 1),
    CloudCustomData: str,
    TopicId: str,
    EventTime: eventTime,
    Unknown_Field: fc.jsonValue({ maxDepth: 2 }),
  },
);

const c2cAfterSendMsg = rec(
  { From_Account: account, To_Account: account, MsgBody: msgBody },
  {
    CallbackCommand: fc.constant('C2C.CallbackAfterSendMsg'),
    MsgSeq: uint32,
    MsgRandom: uint32,
    MsgTime: seconds,
    MsgKey: str,
    MsgId: str,
    OnlineOnlyFlag: fc.constantFrom(0, 1),
    SendMsgResult: fc.integer({ min: -1, max: 100000 }),
    ErrorInfo: str,
    UnreadMsgNum: fc.integer({ min: -1, max: 1000 }),
    CloudCustomData: str,
    EventTime: eventTime,
  },
);

const meta = (command: string, receivedAtMs: number, extra: Partial<CallbackMeta> = {}): CallbackMeta => ({
  sdkAppId: '1400000000',
  command,
  receivedAtMs,
  ...extra,
});

const receivedAt = fc.integer({ min: 1_600_000_000_000, max: 2_000_000_000_000 });
const platform = fc.option(fc.constantFrom('IOS', 'iOS', 'Mac', 'macOS', 'IPad', 'Android', 'RESTAPI', 'NewThing'), {
  nil: undefined,
});

function checkMessage(t: { pass(msg: string): unknown }, command: string, arb: fc.Arbitrary<Record<string, unknown>>, subjectPrefix: string) {
  fc.assert(
    fc.property(arb, receivedAt, receivedAt, platform, (body, r1, r2, optPlatform) => {
      const res = validator.validate(command, body);
      if (!res.ok) throw new Error(`generated body is not schema-valid: ${res.error}`);
      const snapshot = clone(body);
      const extra: Partial<CallbackMeta> = optPlatform === undefined ? {} : { optPlatform };
      const a = normalize(body, meta(command, r1, extra), { includeRaw: true });
      const b = normalize(clone(body), meta(command, r2, extra), { includeRaw: true });
      // A message without its key and its own time is identified by its reception (ids.ts).
      // An empty MsgKey/MsgId is no key (fast-check counterexample {"MsgKey":""}, seed 1863916499).
      const key = (v: unknown) => typeof v === 'string' && v !== '';
      // MsgTime counts as its own time only when usable (> 0 s): 0 is no time (counterexample
      // {"MsgTime":0,...}, seed 934956275), by the normalizer's own rule, secondsToMs.
      const ownTime = a.data.eventTimeMs !== undefined || secondsToMs(body.MsgTime) !== undefined || key(body.MsgKey) || key(body.MsgId);
      if (ownTime && a.id !== b.id) throw new Error('id not stable');
      if (!/^[0-9a-f]{32}$/.test(a.id)) throw new Error('bad id ' + a.id);
      if (!RFC3339.test(a.time)) throw new Error('bad time ' + a.time);
      if (!a.subject.startsWith(subjectPrefix)) throw new Error('bad subject ' + a.subject);
      if (a.data.raw !== body) throw new Error('raw is not the input body');
      if (JSON.stringify(body) !== JSON.stringify(snapshot)) throw new Error('input mutated');
      if (JSON.stringify(a.data.raw) !== JSON.stringify(snapshot)) throw new Error('raw differs from input');
      if (!Array.isArray(a.data.elements) || a.data.elements.length !== (body.MsgBody as unknown[]).length)
        throw new Error('elements length');
      // the event is JSON-serializable
      JSON.stringify(a);
      const noRaw = normalize(body, meta(command, r1, extra), { includeRaw: false });
      if ('raw' in noRaw.data || (ownTime && noRaw.id !== a.id)) throw new Error('includeRaw false');
    }),
    { numRuns: 400 },
  );
  t.pass(`${command}: 400 generated bodies normalize; ids stable; raw equals input`);
}

t.test('Group.CallbackAfterSendMsg', async (t) => {
  checkMessage(t, 'Group.CallbackAfterSendMsg', groupAfterSendMsg, 'group/');
});

t.test('C2C.CallbackAfterSendMsg', async (t) => {
  checkMessage(t, 'C2C.CallbackAfterSendMsg', c2cAfterSendMsg, 'c2c/');
});

t.test('hash ids: stable under key permutation, any JSON object with its own time, any command', async (t) => {
  const permute = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(permute);
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      // defineProperty, as JSON.parse does: `out['__proto__'] = x` would set the prototype instead.
      for (const k of Object.keys(v).reverse()) Object.defineProperty(out, k, { value: permute((v as Record<string, unknown>)[k]), enumerable: true, writable: true, configurable: true });
      return out;
    }
    return v;
  };
  fc.assert(
    fc.property(
      fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 3 })),
      fc.constantFrom('Group.CallbackAfterMemberExit', 'State.StateChange', 'Sns.CallbackFriendAdd', 'Push.OfflinePush', 'X.Y'),
      receivedAt,
      (dict, command, r) => {
        const body = { ...dict, EventTime: 1670574414123 };
        const a = normalize(body, meta(command, r), { includeRaw: true });
        const b = normalize(permute(body) as Record<string, unknown>, meta(command, r + 1), { includeRaw: false });
        if (a.id !== b.id) throw new Error('id changed with key order');
        if (!RFC3339.test(a.time)) throw new Error('bad time ' + a.time);
      },
    ),
    { numRuns: 400 },
  );
  t.pass('ok');
});

t.test('a `__proto__` key in a body is plain data for the id (regression: fast-check seed 969613859)', async (t) => {
  const body = JSON.parse('{"":{"__proto__":0},"a":1,"EventTime":1670574414123}') as Record<string, unknown>;
  const reordered = JSON.parse('{"EventTime":1670574414123,"a":1,"":{"__proto__":0}}') as Record<string, unknown>;
  const without = JSON.parse('{"":{},"a":1,"EventTime":1670574414123}') as Record<string, unknown>;
  const id = (b: Record<string, unknown>) => normalize(b, meta('Group.CallbackAfterMemberExit', 1600000000000), { includeRaw: true }).id;
  t.equal(id(body), id(reordered), 'same id in any key order');
  t.not(id(body), id(without), 'the __proto__ key counts');
});

t.test('canonicalJson equals a naive sorted-keys serialization for any JSON value', async (t) => {
  const { canonicalJson } = await import('../../../src/normalize/ids.js');
  const naive = (v: unknown): string => {
    if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
    if (Array.isArray(v)) return '[' + v.map(naive).join(',') + ']';
    const o = v as Record<string, unknown>;
    return '{' + Object.keys(o).sort().map((k) => JSON.stringify(k) + ':' + naive(o[k])).join(',') + '}';
  };
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
      // Through JSON text, as ingest sees bodies (own data properties, plain prototypes).
      const parsed: unknown = JSON.parse(JSON.stringify(value));
      return canonicalJson(parsed) === naive(parsed);
    }),
    { numRuns: 2000 },
  );
  t.pass('2000 random JSON values');
});
