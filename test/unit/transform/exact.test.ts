import { createHmac } from 'node:crypto';
import t from 'tap';
import pino from 'pino';
import { eventJson, type CanonicalEvent } from '../../../src/sink/api.js';
import { rememberEventJson } from '../../../src/sink/event-json.js';
import { TransformChain } from '../../../src/transform/chain.js';
import { markBigIntegers } from '../../../src/transform/exact.js';
import type { TransformStepConfig } from '../../../src/transform/schema.js';

// The stored JSON as ingest writes it: a 64-bit account id kept digit for digit (JSON.parse rounds it).
const STORED =
  '{"specversion":"1.0","id":"e1","type":"t","source":"s","subject":"c2c/a/b","time":"2026-01-01T00:00:00.000Z","datacontenttype":"application/json","imsdkappid":"1","imcommand":"C2C.CallbackAfterSendMsg",' +
  '"data":{"family":"c2c","conversation":{"kind":"c2c"},"sender":"a","text":"id 12345678901234567891 in text","receivedAtMs":1,"raw":{"From_Account":12345678901234567891,"MsgSeq":7,"Big":-98765432109876543210,"F":1.5,"Fake":"\\u0000im-bridge:0000:1"}}}';

function stored(): CanonicalEvent {
  const event = JSON.parse(STORED) as CanonicalEvent;
  rememberEventJson(event, STORED);
  return event;
}

const shape = (steps: TransformStepConfig[]) => {
  const chain = new TransformChain('s', steps, '/', pino({ level: 'silent' }), undefined);
  const out = chain.apply([stored()]) as { events: CanonicalEvent[] };
  return eventJson(out.events[0]!);
};

t.test('integers beyond 2^53 keep their digits through declarative steps', async (t) => {
  const json = shape([{ redact: 'data.text' }]);
  t.match(json, /"From_Account":12345678901234567891,/, 'exact digits in the output JSON');
  t.match(json, /"Big":-98765432109876543210,/);
  t.match(json, /"text":"\[REDACTED\]"/);
  t.match(json, /"Fake":"\\u0000im-bridge:0000:1"/, 'a string that looks like a marker stays a string');
  t.match(JSON.stringify(JSON.parse(STORED)), /"From_Account":12345678901234567000,/, '(JSON.parse alone would round it)');
  const hashed = JSON.parse(shape([{ hash: 'data.raw.From_Account', key: 'k' }]));
  t.equal(hashed.data.raw.From_Account, createHmac('sha256', 'k').update('12345678901234567891').digest('hex'), 'hashed as its exact digits');
  t.match(shape([{ set: { 'data.who': 'acct-{{data.raw.From_Account}}' } }]), /"who":"acct-12345678901234567891"/, 'templates render the exact digits');
  t.match(shape([{ drop: 'data.nothing' }]), /"From_Account":12345678901234567891,/, 'nothing changed: the stored bytes');
});

t.test('the scan ignores digits inside strings and leaves safe numbers alone', async (t) => {
  const text = '{"a":"12345678901234567890","b":9007199254740991,"c":1e300,"d":[18446744073709551615]}';
  t.equal(markBigIntegers(text).includes('"a":"12345678901234567890"'), true);
  t.equal(markBigIntegers(text).includes('"b":9007199254740991'), true);
  t.notOk(markBigIntegers(text).includes('[18446744073709551615]'), 'the unsafe one is marked');
  t.equal(markBigIntegers('{"x":1}'), '{"x":1}');
});
