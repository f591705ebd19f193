#!/usr/bin/env node
// Store choice, isolated: appends of ~1 KB records with group commit (one fsync per batch) of
//   batch = 1, 16, 128, 1024 records, on
//   - better-sqlite3, WAL, synchronous=FULL (the daemon's pragmas; each batch = one transaction that
//     inserts into events + pending, like src/queue/store.ts)
//   - a plain append-only log: length-prefixed records, one write() + fdatasync() per batch
//   (- lmdb: not installed in this repo, so not measured)
// Each config runs BENCH_STORE_SECONDS (default 2) on a fresh file in os.tmpdir(). Prints one JSON line.
//   node bench/lib/queue-store.js
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const SECONDS = Number(process.env.BENCH_STORE_SECONDS ?? 2);
const BATCHES = (process.env.BENCH_STORE_BATCHES ?? '1,16,128,1024').split(',').map(Number);
const RECORD_BYTES = 1024;

function record(i) {
  const base = JSON.stringify({
    specversion: '1.0',
    id: `evt-${i}`,
    source: 'tencent-im://1400000000',
    type: 'im.group.message.sent',
    subject: `group/@TGS#bench${i % 97}`,
    time: new Date(1767225600000 + i).toISOString(),
    data: { text: '' },
  });
  return base.replace('"text":""', `"text":"${'x'.repeat(Math.max(0, RECORD_BYTES - base.length))}"`);
}
const RECORDS = Array.from({ length: 4096 }, (_, i) => record(i));

function timed(fn) {
  let records = 0;
  let batches = 0;
  const start = performance.now();
  const deadline = start + SECONDS * 1000;
  while (performance.now() < deadline) {
    records += fn(batches);
    batches++;
  }
  const s = (performance.now() - start) / 1000;
  return { records, batches, seconds: +s.toFixed(2), records_per_s: Math.round(records / s), ms_per_commit: +((s * 1000) / batches).toFixed(3) };
}

function benchSqlite(dir, batch) {
  const Database = require('better-sqlite3');
  const db = new Database(path.join(dir, `q-${batch}.db`));
  db.pragma('auto_vacuum = INCREMENTAL');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('wal_autocheckpoint = 1000');
  db.pragma('journal_size_limit = 16777216');
  db.pragma('cache_size = -32000');
  db.exec(`CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, subject TEXT NOT NULL, bytes INTEGER NOT NULL, enqueued_ms INTEGER NOT NULL, body BLOB NOT NULL);
           CREATE TABLE pending (sink TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (sink, seq)) WITHOUT ROWID;`);
  const insertEvent = db.prepare('INSERT INTO events (id, subject, bytes, enqueued_ms, body) VALUES (?, ?, ?, ?, ?)');
  const insertPending = db.prepare('INSERT INTO pending (sink, seq) VALUES (?, ?)');
  let i = 0;
  const commit = db.transaction((n) => {
    for (let k = 0; k < n; k++, i++) {
      const body = RECORDS[i % RECORDS.length];
      const { lastInsertRowid } = insertEvent.run(`evt-${i}`, `group/${i % 97}`, body.length, Date.now(), body);
      insertPending.run('archive', lastInsertRowid);
    }
  });
  const result = timed(() => (commit(batch), batch));
  db.close();
  return result;
}

function benchLog(dir, batch) {
  const fd = fs.openSync(path.join(dir, `log-${batch}.bin`), 'a');
  let i = 0;
  const result = timed(() => {
    const parts = [];
    for (let k = 0; k < batch; k++, i++) {
      const body = Buffer.from(RECORDS[i % RECORDS.length]);
      const header = Buffer.allocUnsafe(4);
      header.writeUInt32LE(body.length);
      parts.push(header, body);
    }
    fs.writeSync(fd, Buffer.concat(parts));
    fs.fdatasyncSync(fd);
    return batch;
  });
  fs.closeSync(fd);
  return result;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'im-bridge-bench-store-'));
try {
  const rows = [];
  for (const batch of BATCHES) {
    rows.push({ store: 'sqlite-wal-full', batch, ...benchSqlite(dir, batch) });
    rows.push({ store: 'fs-append-fdatasync', batch, ...benchLog(dir, batch) });
  }
  let lmdb = 'not installed (no lmdb package in node_modules); not measured';
  try {
    require.resolve('lmdb');
    lmdb = 'installed but not benchmarked here';
  } catch {}
  console.log(JSON.stringify({ bench: 'queue-store', record_bytes: RECORD_BYTES, seconds_per_config: SECONDS, tmpdir: os.tmpdir(), rows, lmdb }));
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
