#!/usr/bin/env node
// Store choice, isolated and measured over an event's whole life in the queue, at the batch sizes
// ingest produces (≤ the concurrent requests: 8, 32, 128): each commit appends a batch of ~1.3 KB
// events and records the deliveries of the previous batch (acks ride along, as in the daemon), with
// one fsync. Reported per event: CPU (user + sys of this process) and records/s. Layouts:
//   - sqlite-schema-1    the queue's previous layout: insert event, insert a pending row per sink (+ its
//                        seq index); on ack delete the pending row and reclaim the event when no
//                        pending row is left: four row operations per event
//   - sqlite-schema-2    the daemon's own QueueStore (dist/src/queue/store.js): one insert per event (its
//                        sinks in a column), each sink's cursor moved per commit, the events every
//                        cursor passed deleted as a range
//   - segment-log        CRC32-framed records appended to 64 MB segment files, one write + fdatasync
//                        per commit, the acks as a watermark record in the same write, whole segments
//                        unlinked once delivered
//   (lmdb, measured for issue #22 at 27 µs of CPU per event for the same four operations, is not a
//   dependency of this repository and is not run here.)
// Each layout × batch runs BENCH_STORE_SECONDS (default 2) on fresh files in os.tmpdir(). Prints one JSON line.
//   node bench/lib/queue-store.js
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SECONDS = Number(process.env.BENCH_STORE_SECONDS ?? 2);
const BATCHES = (process.env.BENCH_STORE_BATCHES ?? '8,32,128').split(',').map(Number);
const RECORD_BYTES = 1300;
const SINK = 'archive';

function record(i) {
  const base = JSON.stringify({ specversion: '1.0', id: `evt-${i}`, source: '/tencent-im/1400000000', type: 'com.tencent.im.Group.CallbackAfterSendMsg', subject: `group/@TGS#bench${i % 97}`, time: new Date(1767225600000 + i).toISOString(), data: { text: '' } });
  return base.replace('"text":""', `"text":"${'x'.repeat(Math.max(0, RECORD_BYTES - base.length))}"`);
}
const RECORDS = Array.from({ length: 4096 }, (_, i) => ({ id: `evt-${i}`, subject: `group/@TGS#bench${i % 97}`, body: record(i), sinks: [SINK] }));

/** Runs `commit(batch)` until the time is up: each call appends `batch` events and acks the previous call's. */
function measure(batch, commit) {
  let events = 0;
  let commits = 0;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const deadline = start + SECONDS * 1000;
  while (performance.now() < deadline) {
    commit(commits);
    events += batch;
    commits++;
  }
  const s = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { events, commits, seconds: +s.toFixed(2), records_per_s: Math.round(events / s), cpu_us_per_event: +((cpu.user + cpu.system) / events).toFixed(1), sys_us_per_event: +(cpu.system / events).toFixed(1) };
}

async function sqliteSchema2(dir, batch) {
  const { QueueStore } = await import(path.join(ROOT, 'dist/src/queue/store.js'));
  const store = new QueueStore(path.join(dir, `v2-${batch}`), { checkIntegrity: 'never' });
  let previous = [];
  let i = 0;
  const result = measure(batch, () => {
    const records = [];
    for (let k = 0; k < batch; k++, i++) records.push(RECORDS[i % RECORDS.length]);
    previous = store.commit(records, previous.length ? [[SINK, previous]] : [], Date.now()).seqs;
  });
  store.close();
  return result;
}

function sqliteSchema1(dir, batch) {
  const Database = require('better-sqlite3');
  fs.mkdirSync(path.join(dir, `v1-${batch}`));
  const db = new Database(path.join(dir, `v1-${batch}`, 'q.db'));
  db.pragma('auto_vacuum = INCREMENTAL');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('wal_autocheckpoint = 1000');
  db.pragma('cache_size = -8000');
  db.exec(`CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, subject TEXT NOT NULL, bytes INTEGER NOT NULL, enqueued_ms INTEGER NOT NULL, body TEXT NOT NULL);
           CREATE TABLE pending (sink TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (sink, seq)) WITHOUT ROWID;
           CREATE INDEX pending_by_seq ON pending (seq);`);
  const insertEvent = db.prepare('INSERT INTO events (id, subject, bytes, enqueued_ms, body) VALUES (?, ?, ?, ?, ?)');
  const insertPending = db.prepare('INSERT INTO pending (sink, seq) VALUES (?, ?)');
  const deletePending = db.prepare('DELETE FROM pending WHERE sink = ? AND seq = ?');
  const reclaim = db.prepare('DELETE FROM events WHERE seq = ? AND NOT EXISTS (SELECT 1 FROM pending WHERE seq = ?) RETURNING bytes');
  let previous = [];
  let i = 0;
  const commit = db.transaction(() => {
    const seqs = [];
    for (let k = 0; k < batch; k++, i++) {
      const r = RECORDS[i % RECORDS.length];
      const seq = Number(insertEvent.run(r.id, r.subject, r.body.length, Date.now(), r.body).lastInsertRowid);
      for (const sink of r.sinks) insertPending.run(sink, seq);
      seqs.push(seq);
    }
    for (const seq of previous) {
      deletePending.run(SINK, seq);
      reclaim.get(seq, seq);
    }
    previous = seqs;
  });
  const result = measure(batch, () => commit());
  db.close();
  return result;
}

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();
function crc32(buf, start, end) {
  let c = -1;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

function segmentLog(dir, batch) {
  const SEGMENT_BYTES = 64 * 2 ** 20;
  const base = path.join(dir, `log-${batch}`);
  fs.mkdirSync(base);
  const segments = []; // { file, lastSeq }
  let fd = -1;
  let size = SEGMENT_BYTES;
  let seq = 0;
  let i = 0;
  let previous = 0;
  const open = () => {
    if (fd >= 0) fs.closeSync(fd);
    const file = path.join(base, `${String(seq + 1).padStart(12, '0')}.seg`);
    fd = fs.openSync(file, 'a');
    segments.push({ file, lastSeq: seq });
    size = 0;
  };
  const result = measure(batch, () => {
    if (size >= SEGMENT_BYTES) open();
    // Frame: u32 length, u32 crc32(payload), payload = u8 kind (1 event, 2 watermark) + JSON.
    const parts = [];
    const frame = (kind, text) => {
      const payload = Buffer.from(`${kind}${text}`);
      const head = Buffer.allocUnsafe(8);
      head.writeUInt32LE(payload.length, 0);
      head.writeUInt32LE(crc32(payload, 0, payload.length), 4);
      parts.push(head, payload);
    };
    for (let k = 0; k < batch; k++, i++) {
      const r = RECORDS[i % RECORDS.length];
      frame('1', JSON.stringify([++seq, r.id, r.subject, r.sinks, Date.now()]) + '\n' + r.body);
    }
    if (previous) frame('2', JSON.stringify([SINK, previous]));
    const chunk = Buffer.concat(parts);
    fs.writeSync(fd, chunk);
    fs.fdatasyncSync(fd);
    size += chunk.length;
    segments.at(-1).lastSeq = seq;
    // Reclaim: a segment whose every event is delivered (all but the one being written).
    while (segments.length > 1 && segments[0].lastSeq <= previous) fs.unlinkSync(segments.shift().file);
    previous = seq;
  });
  if (fd >= 0) fs.closeSync(fd);
  return result;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'im-bridge-bench-store-'));
try {
  const rows = [];
  for (const batch of BATCHES) {
    rows.push({ store: 'sqlite-schema-1', batch, ...sqliteSchema1(dir, batch) });
    rows.push({ store: 'sqlite-schema-2', batch, ...(await sqliteSchema2(dir, batch)) });
    rows.push({ store: 'segment-log', batch, ...segmentLog(dir, batch) });
  }
  console.log(JSON.stringify({ bench: 'queue-store', record_bytes: RECORD_BYTES, seconds_per_config: SECONDS, tmpdir: os.tmpdir(), rows, lmdb: 'not a dependency here; issue #22 measured 27 µs of CPU per event for the four row operations (better-sqlite3: 14 µs)' }));
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
