/**
 * event_files — an example im-bridge sink plugin to copy.
 *
 * Writes each event to `<dir>/<subject-as-path>/<id>.json`. The file name is the event id, so a
 * redelivered event overwrites its own file instead of duplicating it (idempotent sink), and the
 * write is atomic (temp file, fsync, rename, fsync of the directory).
 *
 * Paths from event fields: the subject holds group and account ids, which IM users choose and
 * which may contain `..`, `/`, `\`, NUL or lone UTF-16 surrogates. Each path segment is mapped to a
 * name that can only ever be one plain file name (safeSegment), and the result is checked to lie
 * inside `dir` before anything is created. Copy both steps if your sink names anything after events.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { defineSink, eventJson, FatalError, PartialBatchError, RetriableError, throwIfInvalid, type CanonicalEvent, type ConfigProblem, type ItemFailure } from 'im-bridge/sink';

const configSchema = Type.Object({
  dir: Type.String({ minLength: 1, description: 'Directory for the event files; relative to bridge.yaml.' }),
  fsync: Type.Boolean({ default: true, description: 'fsync each file and its directory before reporting it delivered.' }),
});

/**
 * What the schema cannot say. Pure and synchronous: no file system here (whether `dir` exists or can
 * be written is for connect, which the host retries). `im-bridge check`, every start and every reload
 * run it after the schema, and report each problem at the bridge.yaml line of `sinks.<name>.<path>`
 * (CONFIG_PLUGIN_INVALID), so a config that could never work is refused before it runs.
 */
export function validate(config: Static<typeof configSchema>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (path.isAbsolute(config.dir) && path.normalize(config.dir) === path.parse(config.dir).root) {
    problems.push({ path: 'dir', message: 'is the file-system root: give the event files a directory of their own', code: 'EVENT_FILES_CONFIG' });
  }
  return problems;
}

/** Errors a retry can fix (disk full, too many open files) versus ones it cannot. */
const RETRIABLE_CODES = new Set(['ENOSPC', 'EMFILE', 'ENFILE', 'EAGAIN', 'EBUSY', 'EIO']);

/** Characters kept in a file name; everything else, `.` and `%` included, becomes %XX. */
const SAFE_CHAR = /^[A-Za-z0-9_-]$/;
/** Longer encoded names are cut and suffixed with a hash (file systems allow 255 bytes). */
const MAX_SEGMENT_CHARS = 120;

/**
 * One path segment (a group id, an account id…) as a safe file name, injective (distinct values,
 * distinct names):
 * - `[A-Za-z0-9_-]` stay; every other character becomes `%XX` per UTF-8 byte, so `.`, `..`, `/`,
 *   `\`, `:`, NUL and control characters can never mean anything to the file system;
 * - a lone UTF-16 surrogate (valid JSON, not Unicode) becomes the WTF-8 bytes of its code unit
 *   (`%ED%A0%80` for `\ud800`), which no valid text produces (U+FFFD would merge distinct ids);
 * - the empty segment becomes `%` (nothing else encodes to a lone `%`);
 * - a name over MAX_SEGMENT_CHARS is cut to a prefix plus `%~` and a SHA-256 of the whole value.
 */
export function safeSegment(value: string): string {
  if (value === '') return '%';
  let out = '';
  const bytes: number[] = [];
  for (const ch of value) {
    const code = utf8(ch);
    bytes.push(...code);
    if (SAFE_CHAR.test(ch)) out += ch;
    else for (const byte of code) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  if (out.length <= MAX_SEGMENT_CHARS) return out;
  let cut = MAX_SEGMENT_CHARS - 40;
  const pct = out.lastIndexOf('%', cut - 1);
  if (pct > cut - 3) cut = pct; // never cut inside a %XX
  return `${out.slice(0, cut)}%~${createHash('sha256').update(Buffer.from(bytes)).digest('hex').slice(0, 32)}`;
}

/** UTF-8 bytes of one code point; a lone surrogate gets the 3-byte form of its code unit (WTF-8). */
function utf8(ch: string): number[] {
  const cp = ch.codePointAt(0)!;
  if (cp < 0x80) return [cp];
  if (cp < 0x800) return [0xc0 | (cp >> 6), 0x80 | (cp & 0x3f)];
  if (cp < 0x10000) return [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)];
  return [0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)];
}

/**
 * `<root>/<segment>/…/<id>.json` for an event, or a FatalError: the second check does not trust the
 * first (a future change to safeSegment, an odd platform), since writing outside `dir` is the one
 * thing this sink must never do.
 */
export function eventPath(root: string, event: CanonicalEvent): { folder: string; target: string } {
  // Subjects such as "group/@TGS#1" become nested directories, one safe segment per part.
  const folder = path.join(root, ...String(event.subject ?? '').split('/').map(safeSegment));
  const target = path.join(folder, `${safeSegment(String(event.id))}.json`);
  const relative = path.relative(root, target);
  if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) {
    throw new FatalError(`event ${JSON.stringify(event.id)}: path ${JSON.stringify(target)} is outside ${root}`, { code: 'EVENT_FILES_PATH_OUTSIDE_DIR' });
  }
  return { folder, target };
}

export default defineSink({
  type: 'event_files',
  apiVersion: '1',
  configSchema,
  validate,
  async create(config, ctx) {
    // A config can reach create() without the host's load (tests, tools): refuse it the same way.
    throwIfInvalid(validate(config), 'EVENT_FILES_CONFIG');
    const root = path.resolve(ctx.configDir, config.dir);

    async function writeOne(event: CanonicalEvent): Promise<void> {
      const { folder, target } = eventPath(root, event);
      await mkdir(folder, { recursive: true });
      const temp = `${target}.${process.pid}.tmp`;
      const handle = await open(temp, 'w');
      try {
        await handle.writeFile(eventJson(event));
        if (config.fsync) await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, target);
      if (config.fsync) {
        const dir = await open(folder, 'r');
        await dir.sync().finally(() => dir.close());
      }
    }

    return {
      async connect() {
        await mkdir(root, { recursive: true });
        const info = await stat(root);
        if (!info.isDirectory()) throw new FatalError(`${root} is not a directory`, { code: 'EVENT_FILES_NOT_A_DIRECTORY' });
      },

      async writeBatch(events, signal) {
        const failures: ItemFailure[] = [];
        const failedSubjects = new Set<string>();
        for (let index = 0; index < events.length; index++) {
          const event = events[index]!;
          if (signal.aborted) throw new RetriableError('aborted by the host', { code: 'EVENT_FILES_ABORTED' });
          // Keep per-conversation order: after a retriable failure, later events of that subject are
          // held back (not attempted, so the host counts no attempt for them). After a fatal one (the
          // event is dead-lettered, never retried) there is nothing to wait for.
          if (failedSubjects.has(event.subject)) {
            failures.push({ index, retriable: true, code: 'EVENT_FILES_ORDER', message: 'an earlier event of this conversation failed', notAttempted: true });
            continue;
          }
          try {
            await writeOne(event);
          } catch (error) {
            // One event's failure, whatever it is, is reported for that event only: an exception
            // escaping writeBatch would make the host retry (and rewrite) the whole batch.
            const failure = classify(error);
            if (failure.retriable) failedSubjects.add(event.subject);
            failures.push({ index, ...failure });
          }
        }
        const written = events.length - failures.length;
        if (written > 0) ctx.count('files_written', written);
        if (failures.length > 0) throw new PartialBatchError(failures);
      },

      async healthcheck() {
        const probe = path.join(root, `.healthcheck-${process.pid}`);
        const handle = await open(probe, 'w');
        await handle.close();
        await rm(probe, { force: true });
      },

      async close() {
        // Every write is complete when writeBatch resolves: nothing to flush.
      },
    };
  },
});

function classify(error: unknown): { retriable: boolean; code: string; message: string } {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof FatalError) return { retriable: false, code: error.code, message };
  const errno = (error as NodeJS.ErrnoException)?.code;
  if (typeof errno === 'string') return { retriable: RETRIABLE_CODES.has(errno), code: `EVENT_FILES_${errno}`, message };
  return { retriable: false, code: 'EVENT_FILES_UNEXPECTED', message };
}
