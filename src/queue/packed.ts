/**
 * Records of one group commit as they travel from the HTTP thread to the queue worker: all
 * fields concatenated in one string, and per record its field lengths (UTF-16 units) plus the
 * body's UTF-8 byte length. Sink names cannot contain ',' (config schema), so they travel joined.
 */
import type { AppendRecord } from './store.js';

export interface PackedRecords {
  text: string;
  /** Per record: id, subject, sinks, body lengths, then the body's UTF-8 bytes. */
  lengths: Uint32Array;
}

export const RECORD_FIELDS = 5;

export function unpackRecords({ text, lengths }: PackedRecords): AppendRecord[] {
  const records: AppendRecord[] = new Array(lengths.length / RECORD_FIELDS);
  let pos = 0;
  for (let i = 0; i < records.length; i++) {
    const at = i * RECORD_FIELDS;
    const id = text.slice(pos, (pos += lengths[at]!));
    const subject = text.slice(pos, (pos += lengths[at + 1]!));
    const sinks = text.slice(pos, (pos += lengths[at + 2]!));
    const body = text.slice(pos, (pos += lengths[at + 3]!));
    records[i] = { id, subject, sinks: sinks === '' ? [] : sinks.split(','), body, bytes: lengths[at + 4]! };
  }
  return records;
}
