/**
 * `im-bridge gaps list`: the group MsgSeq gaps recorded in <queue.dir>/gaps.db (src/gaps). Read-only:
 * safe while the daemon runs (WAL; the daemon writes its state every gaps.flush_interval_ms, so the
 * listing may be that much behind).
 */
import path from 'node:path';
import { GapStore, GAPS_DB_FILE, type SeqState } from '../gaps/index.js';
import { escapeControl } from '../telemetry/pretty.js';
import type { QueueSideConfig } from './queue-config.js';
import { EXIT_OK, timeArg, type Parsed } from './spec.js';

interface GapRow {
  sdkAppId: string;
  groupId: string;
  topicId: string | null;
  from: number;
  to: number;
  missing: number;
  state: 'gap' | 'pending';
  openedAt: string;
  reportedAt: string | null;
  /** Highest seq up to which everything arrived, and the highest seen. */
  contiguousTo: number;
  highestSeen: number;
}

function rows(states: SeqState[], includePending: boolean): GapRow[] {
  const out: GapRow[] = [];
  for (const s of states) {
    for (const r of s.ranges) {
      if (r.confirmedMs === undefined && !includePending) continue;
      out.push({
        sdkAppId: s.sdkAppId,
        groupId: s.groupId,
        topicId: s.topicId || null,
        from: r.from,
        to: r.to,
        missing: r.to - r.from + 1,
        state: r.confirmedMs === undefined ? 'pending' : 'gap',
        openedAt: new Date(r.openedMs).toISOString(),
        reportedAt: r.confirmedMs === undefined ? null : new Date(r.confirmedMs).toISOString(),
        contiguousTo: s.high,
        highestSeen: s.max,
      });
    }
  }
  return out;
}

export function gapsList(config: QueueSideConfig, values: Parsed['values']): number {
  const dir = path.resolve(config.dir, config.queue.dir);
  const store = GapStore.openReadOnly(dir);
  const sinceMs = timeArg('--since', values.since as string | undefined);
  const groupId = values.group as string | undefined;
  let list: GapRow[] = [];
  if (store) {
    try {
      list = rows(store.open({ groupId, sinceMs }), values.pending === true);
    } finally {
      store.close();
    }
  }
  if (values.json === true) {
    console.log(JSON.stringify(list, null, 2));
    return EXIT_OK;
  }
  if (!store) {
    console.log(`no gap state yet (${path.join(dir, GAPS_DB_FILE)} does not exist: the daemon has not run with gaps.enabled here)`);
    return EXIT_OK;
  }
  if (list.length === 0) {
    console.log(groupId !== undefined || sinceMs !== undefined ? 'no gaps match' : 'no open gaps');
    return EXIT_OK;
  }
  if (process.stdout.isTTY) console.log(['APP', 'GROUP', 'TOPIC', 'SEQS', 'MISSING', 'STATE', 'OPENED'].join('\t'));
  let total = 0;
  for (const r of list) {
    total += r.missing;
    // Group and topic ids are chosen by the app's users: escape controls.
    const fields = [r.sdkAppId, r.groupId, r.topicId ?? '-', r.from === r.to ? String(r.from) : `${r.from}-${r.to}`, String(r.missing), r.state, r.openedAt];
    console.log(fields.map(escapeControl).join('\t'));
  }
  console.error(`${list.length} range(s), ${total} missing message(s)`);
  return EXIT_OK;
}
