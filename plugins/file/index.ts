/**
 * file sink: canonical events as NDJSON (one CloudEvent per line), fsync'd before a batch is
 * reported delivered, rotated by size (`events.ndjson` → `events.ndjson.1` → … `.N`). Batches that
 * arrive during a write share the next write and its fsync.
 */
import { open, rename, rm, stat, mkdir, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import { defineSink, eventJson, RetriableError, FatalError } from '../../src/sink/api.js';

const configSchema = Type.Object({
  path: Type.String({ minLength: 1, description: 'NDJSON file; relative paths resolve against bridge.yaml.' }),
  fsync: Type.Boolean({ default: true, description: 'fsync after every write (a batch is delivered only once on disk; batches that arrive during a write share the next one and its fsync).' }),
  max_file_bytes: Type.Integer({ minimum: 0, default: 256 * 1024 * 1024, description: 'Rotate when the file would grow past this size; 0 = never.' }),
  max_files: Type.Integer({ minimum: 1, default: 10, description: 'Rotated files kept (.1 … .N); older ones are deleted.' }),
});

export default defineSink({
  type: 'file',
  apiVersion: '1',
  configSchema,
  create(config, ctx) {
    const file = path.resolve(ctx.configDir, config.path);
    let handle: FileHandle | undefined;
    let size = 0;

    async function openFile(): Promise<void> {
      await mkdir(path.dirname(file), { recursive: true });
      handle = await open(file, 'a+');
      size = (await handle.stat()).size;
      if (size > 0) {
        // A crash during a write can leave a torn last line; end it so the next event starts clean.
        // (That event was not acked by this sink, so it is written again in full.)
        const last = Buffer.alloc(1);
        await handle.read(last, 0, 1, size - 1);
        if (last[0] !== 0x0a) {
          await handle.write('\n');
          size += 1;
          ctx.logger.warn({ code: 'FILE_TORN_TAIL', file }, `ended a torn last line in ${file}`);
        }
      }
    }

    async function rotate(): Promise<void> {
      await handle?.close();
      handle = undefined;
      await rm(`${file}.${config.max_files}`, { force: true });
      for (let i = config.max_files - 1; i >= 1; i--) {
        const from = `${file}.${i}`;
        if (await exists(from)) await rename(from, `${file}.${i + 1}`);
      }
      await rename(file, `${file}.1`);
      ctx.logger.info({ code: 'FILE_ROTATED', file }, `rotated ${file}`);
      await openFile();
    }

    // One scratch buffer, reused for every batch (writes are serialized, so it is free again when
    // the next batch is built): each event's JSON is UTF-8 encoded straight into it. Concatenating
    // the batch into one string first cost a batch-sized flat copy on the JS heap, and measuring it
    // another pass: together a quarter of everything the daemon allocated per request.
    let scratch = Buffer.allocUnsafeSlow(64 * 1024);
    const SCRATCH_KEEP_BYTES = 4 * 1024 * 1024;

    function encode(lines: readonly string[]): { buffer: Buffer; bytes: number } {
      // UTF-8 takes at most 3 bytes per UTF-16 code unit: when that bound fits in the scratch buffer
      // the lines are written without measuring each one first (Buffer.byteLength is a pass over
      // every line, ~1 µs per event in bench case 4); only a batch that may not fit is measured.
      let bound = 0;
      for (const line of lines) bound += 3 * line.length + 1;
      let buffer = scratch;
      let needed = bound;
      if (bound > buffer.length) {
        needed = 0;
        for (const line of lines) needed += Buffer.byteLength(line) + 1;
      }
      if (needed > buffer.length) {
        // Grown to the bound, so that the next batch like this one skips the measuring (only the
        // pages written to become resident).
        buffer = Buffer.allocUnsafeSlow(Math.max(needed, Math.min(bound, SCRATCH_KEEP_BYTES)));
        // Keep a grown buffer for next time unless it is one exceptional batch of huge events.
        if (needed <= SCRATCH_KEEP_BYTES) scratch = buffer;
      }
      let offset = 0;
      for (const line of lines) {
        offset += buffer.write(line, offset);
        buffer[offset++] = 0x0a;
      }
      return { buffer, bytes: offset };
    }

    async function write(lines: readonly string[]): Promise<void> {
      if (!handle) await openFile();
      const { buffer, bytes } = encode(lines);
      if (config.max_file_bytes > 0 && size > 0 && size + bytes > config.max_file_bytes) await rotate();
      let offset = 0;
      // A short write is rare on a regular file (e.g. the disk filled up): finish the rest.
      while (offset < bytes) {
        const { bytesWritten } = await handle!.write(buffer, offset, bytes - offset);
        if (bytesWritten === 0) throw Object.assign(new Error(`wrote 0 of ${bytes - offset} bytes to ${file}`), { code: 'ENOSPC' });
        offset += bytesWritten;
      }
      size += bytes;
      if (config.fsync) await handle!.datasync();
    }

    // Batches that arrive while a write is in flight (the host runs up to max_in_flight at once) are
    // coalesced: the next write takes all of them, with one fdatasync. An fdatasync of an appended
    // file commits the file system's journal (the size changed): in bench case 4 the sink's
    // fdatasyncs cost ~8 % of the daemon's CPU per event (fsync: false against true), and sharing
    // them cut the daemon's CPU per event by 4-5 %.
    let next: Group | undefined;
    let draining: Promise<void> | undefined;

    async function drain(): Promise<void> {
      while (next) {
        const group = next;
        next = undefined;
        try {
          await write(group.lines);
          group.resolve();
        } catch (error) {
          // A failed write may have left a partial line; start the next write on a fresh line.
          handle?.close().catch(() => undefined);
          handle = undefined;
          group.reject(error as NodeJS.ErrnoException);
        }
      }
      draining = undefined;
    }

    return {
      async connect() {
        await openFile();
      },
      writeBatch(events) {
        const group = (next ??= newGroup());
        for (const event of events) group.lines.push(eventJson(event));
        // Writes are serialized so lines never interleave.
        draining ??= drain();
        return group.done.catch((error: NodeJS.ErrnoException) => {
          if (error.code === 'EACCES' || error.code === 'EISDIR' || error.code === 'EROFS') {
            throw new FatalError(`cannot write ${file}: ${error.message}`, { code: `FILE_${error.code}`, cause: error });
          }
          throw new RetriableError(`cannot write ${file}: ${error.message}`, { code: `FILE_${error.code ?? 'WRITE'}`, cause: error });
        });
      },
      async healthcheck() {
        await stat(path.dirname(file));
      },
      async close() {
        while (draining) await draining;
        await handle?.close();
        handle = undefined;
      },
    };
  },
});

/** The lines of the batches one write takes, and their common outcome. */
interface Group {
  lines: string[];
  done: Promise<void>;
  resolve: () => void;
  reject: (error: NodeJS.ErrnoException) => void;
}

function newGroup(): Group {
  const group = { lines: [] } as unknown as Group;
  group.done = new Promise<void>((resolve, reject) => {
    group.resolve = resolve;
    group.reject = reject;
  });
  // Each batch attaches its own handler; this one keeps a group nobody awaits from being unhandled.
  group.done.catch(() => undefined);
  return group;
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
