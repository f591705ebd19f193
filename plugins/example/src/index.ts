/**
 * event_files — an example im-bridge sink plugin to copy.
 *
 * Writes each event to `<dir>/<subject-as-path>/<id>.json`. The file name is the event id, so a
 * redelivered event overwrites its own file instead of duplicating it (idempotent sink), and the
 * write is atomic (temp file, fsync, rename, fsync of the directory).
 */
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import { defineSink, eventJson, FatalError, PartialBatchError, RetriableError, type CanonicalEvent, type ItemFailure } from 'im-bridge/sink';

const configSchema = Type.Object({
  dir: Type.String({ minLength: 1, description: 'Directory for the event files; relative to bridge.yaml.' }),
  fsync: Type.Boolean({ default: true, description: 'fsync each file and its directory before reporting it delivered.' }),
});

/** Errors a retry can fix (disk full, too many open files) versus ones it cannot. */
const RETRIABLE_CODES = new Set(['ENOSPC', 'EMFILE', 'ENFILE', 'EAGAIN', 'EBUSY', 'EIO']);

export default defineSink({
  type: 'event_files',
  apiVersion: '1',
  configSchema,
  async create(config, ctx) {
    const root = path.resolve(ctx.configDir, config.dir);

    async function writeOne(event: CanonicalEvent): Promise<void> {
      // Subjects such as "group/@TGS#1" become nested directories; unsafe characters are encoded.
      const folder = path.join(root, ...event.subject.split('/').map((part) => encodeURIComponent(part)));
      await mkdir(folder, { recursive: true });
      const target = path.join(folder, `${event.id}.json`);
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
          // Keep per-conversation order: after a failure, later events of that subject fail too.
          if (failedSubjects.has(event.subject)) {
            failures.push({ index, retriable: true, code: 'EVENT_FILES_ORDER', message: 'an earlier event of this conversation failed' });
            continue;
          }
          try {
            await writeOne(event);
          } catch (error) {
            const code = (error as NodeJS.ErrnoException).code ?? 'UNKNOWN';
            failedSubjects.add(event.subject);
            failures.push({ index, retriable: RETRIABLE_CODES.has(code), code: `EVENT_FILES_${code}`, message: (error as Error).message });
          }
        }
        if (failures.length > 0) throw new PartialBatchError(failures);
        ctx.count('files_written', events.length);
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
