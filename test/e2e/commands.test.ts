/**
 * Every documented command through the real daemon and the real file sink (issue 20): each official
 * sample (test/fixtures/callbacks/official-*.json) posted twice → 200 twice with the documented reply,
 * one event per post with the catalogue's subject, time and id rule, every documented top-level field
 * in `data`, `data.raw` equal to the body. Then the edge values of Tencent's pages: EventTime as a
 * string, "", null or a fraction, Push batches of 0 and 101 items, indented bodies.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { CATALOGUE, catalogueEntry } from '../../src/catalogue/index.js';
import { missingFields, subjectFor } from '../../src/normalize/catalogue-fields.js';
import { beforeCallbackAnswer } from '../../src/ingest/before-reply.js';
import type { CanonicalEvent } from '../../src/normalize/event.js';
import { canonicalJson } from '../../src/normalize/ids.js';
import { postCallback, startDaemon, waitFor } from '../helpers/daemon.js';
import { expectedTime, officialFixtures, sameIdTwice } from '../helpers/catalogue.js';

const APP = '1400000000';

// Before-callbacks are forwarded only by a route that names them (route/table.ts).
const CONFIG = `
listen: { host: 127.0.0.1, port: \${PORT}, path: /im/callback }
apps: [ { sdk_app_id: ${APP} } ]
queue: { dir: \${DIR}/queue }
log: { level: info }
sinks:
  out: { type: file, path: \${DIR}/events.ndjson, batch: { max_events: 200, max_wait_ms: 5 } }
routes:
  - { name: all, match: { command: ["*", "*.CallbackBefore*", "Sns.CallbackPrev*"] }, to: [out] }
`;

function events(file: string): CanonicalEvent[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as CanonicalEvent);
}

t.test('61 commands: official sample ×2 → documented reply, one event each, as the catalogue says', async (t) => {
  const daemon = await startDaemon({ config: CONFIG });
  t.teardown(() => daemon.stop());
  const file = path.join(daemon.dir, 'events.ndjson');
  const fixtures = officialFixtures();
  t.equal(fixtures.size, CATALOGUE.length, 'one official sample per catalogue command');

  const started = Date.now();
  for (const entry of CATALOGUE) {
    const fx = fixtures.get(entry.command)!;
    const expectedReply = JSON.parse(beforeCallbackAnswer(entry.command, fx.body).body) as unknown;
    for (let i = 0; i < 2; i++) {
      const res = await postCallback(daemon.url, entry.command, fx.body, { query: fx.query });
      t.equal(res.status, 200, `${entry.command} post ${i + 1}: 200`);
      t.same(res.json, expectedReply, `${entry.command} post ${i + 1}: the documented reply`);
    }
  }
  const finished = Date.now();
  const all = await waitFor(() => events(file), (list) => list.length >= 2 * CATALOGUE.length, 60_000);
  t.equal(all.length, 2 * CATALOGUE.length, 'one event per post');

  const byCommand = new Map<string, CanonicalEvent[]>();
  for (const e of all) byCommand.set(e.imcommand, [...(byCommand.get(e.imcommand) ?? []), e]);
  for (const entry of CATALOGUE) {
    const fx = fixtures.get(entry.command)!;
    const pair = byCommand.get(entry.command) ?? [];
    t.test(entry.command, async (t) => {
      t.equal(pair.length, 2, 'two events');
      for (const e of pair) {
        t.equal(e.subject, subjectFor(entry.subject, fx.body, APP), 'subject');
        const received = e.data.receivedAtMs;
        t.ok(received >= started - 1000 && received <= finished + 1000, 'received during the test');
        t.equal(e.time, expectedTime(entry, fx.body, received), 'time');
        t.same(missingFields(entry, fx.body, e), [], 'every documented field in data');
        t.same(e.data.raw, fx.body, 'data.raw is the body');
        t.equal(e.data.before, entry.before, 'before flag');
      }
      if (pair.length === 2) {
        if (sameIdTwice(entry, fx.body)) t.equal(pair[0]!.id, pair[1]!.id, 'keyed or timed: one id');
        else t.not(pair[0]!.id, pair[1]!.id, 'no key, no time: two ids');
      }
    });
  }
});

t.test('edge values from the pages are accepted and normalized', async (t) => {
  const daemon = await startDaemon({ config: CONFIG });
  t.teardown(() => daemon.stop());
  const file = path.join(daemon.dir, 'events.ndjson');
  const fixtures = officialFixtures();
  const exit = fixtures.get('Group.CallbackAfterMemberExit')!;
  const push = fixtures.get('Push.OfflinePush')!;
  const item = (push.body.Events as unknown[])[0];

  const posts: Array<{ what: string; command: string; body: Record<string, unknown>; text?: string; eventTimeMs?: number | null; items?: number }> = [
    { what: 'EventTime as a string', command: exit.query.CallbackCommand!, body: { ...exit.body, ExitType: 'a', EventTime: '1670574414123' }, eventTimeMs: 1670574414123 },
    { what: 'EventTime ""', command: exit.query.CallbackCommand!, body: { ...exit.body, ExitType: 'b', EventTime: '' }, eventTimeMs: null },
    { what: 'EventTime null', command: exit.query.CallbackCommand!, body: { ...exit.body, ExitType: 'c', EventTime: null }, eventTimeMs: null },
    { what: 'EventTime a float', command: exit.query.CallbackCommand!, body: { ...exit.body, ExitType: 'd', EventTime: 1670574414123.5 }, eventTimeMs: 1670574414123 },
    { what: '0 push items', command: 'Push.OfflinePush', body: { Events: [] }, items: 0 },
    { what: '101 push items', command: 'Push.OfflinePush', body: { Events: Array.from({ length: 101 }, () => item) }, items: 101 },
  ];
  for (const command of ['Group.CallbackAfterSendMsg', 'OfficialAccount.CallbackAfterSendMsg', 'ContentCallback.ResultNotify']) {
    const fx = fixtures.get(command)!;
    posts.push({ what: `indented ${command}`, command, body: fx.body, text: JSON.stringify(fx.body, null, 4) });
  }
  for (const p of posts) {
    const res = await postCallback(daemon.url, p.command, p.text ?? p.body);
    t.equal(res.status, 200, `${p.what}: 200`);
  }
  const all = await waitFor(() => events(file), (list) => list.length >= posts.length, 60_000);
  t.equal(all.length, posts.length, 'one event per post');
  // Events of different subjects may be written in any order: find each post's event by its body.
  const key = (command: string, raw: unknown) => command + ' ' + canonicalJson(raw);
  const byBody = new Map(all.map((e) => [key(e.imcommand, e.data.raw), e]));
  for (const p of posts) {
    const e = byBody.get(key(p.command, p.body));
    t.ok(e, `${p.what}: its event, data.raw equal to the body`);
    if (e === undefined) continue;
    if (p.eventTimeMs !== undefined) t.equal(e.data.eventTimeMs, p.eventTimeMs ?? undefined, `${p.what}: eventTimeMs`);
    if (p.items !== undefined) t.equal((e.data.events as unknown[]).length, p.items, `${p.what}: every item normalized`);
    const entry = catalogueEntry(p.command)!;
    t.same(missingFields(entry, p.body, e), [], `${p.what}: every documented field in data`);
    t.equal(e.subject, subjectFor(entry.subject, p.body, APP), `${p.what}: subject`);
  }
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
  t.equal(lines.length, posts.length, 'indented bodies are one line each');
});
