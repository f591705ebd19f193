/**
 * The queue directory's lock: at most one daemon per `queue.dir`, held by the kernel, so that it dies
 * with the process however the process dies.
 *
 * WHY NOT A PID FILE: a pid checked with kill(pid, 0) says nothing about who owns the queue. A daemon
 * killed with -9 whose parent has not reaped it (a zombie) still "exists", and after a reboot or a
 * container restart the pid is often reused by an unrelated process. Either way the next start was
 * refused until someone deleted the file.
 *
 * HOW: `im-bridge.lock` in the queue directory is opened as a SQLite database (better-sqlite3, whose
 * unix VFS locks with POSIX fcntl locks) with `locking_mode=EXCLUSIVE` and a `BEGIN EXCLUSIVE`
 * transaction that stays open for the life of the daemon. The kernel drops fcntl locks when the
 * process's files are closed at exit, which happens before the process becomes a zombie, whatever
 * killed it and whether or not its parent reaps it (checked with a child killed by SIGKILL whose
 * parent never waits for it: test/e2e/restart.test.ts).
 *
 * INVARIANTS
 * 1. The lock's connection stays open until the daemon has stopped (release()). `held` keeps a
 *    reference to it: a garbage-collected Database closes its file, which drops the lock.
 * 2. Nothing else in the daemon process opens `im-bridge.lock`. POSIX locks belong to the process,
 *    and closing ANY descriptor of the file drops them (an fs.readFileSync of the lock file would
 *    unlock the queue). The queue itself is `queue.db` (store.ts, in a worker thread): another file.
 * 3. `im-bridge.pid` is information for operators, `im-bridge reload` and error messages. It is
 *    written after the lock is taken and removed before the lock is released. It never decides who
 *    holds the lock.
 * 4. The lock file is never deleted: unlinking it would let two processes lock two different files
 *    under the same name.
 *
 * RECOVERY
 *   Nothing to do after a crash: the lock went with the process, and the next holder overwrites the
 *   stale pid file. `probe()` (used by `im-bridge reload`) takes the lock for a moment when no daemon
 *   runs, so a daemon that starts at that instant waits up to ACQUIRE_WAIT_MS for it before refusing.
 *   Keep `queue.dir` on a local file system: fcntl locks are not reliable over NFS (nor is SQLite's WAL).
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

export const LOCK_FILE = 'im-bridge.lock';
export const PID_FILE = 'im-bridge.pid';
/** Longer than a `reload` probe holds the lock (microseconds), short enough to refuse a second daemon promptly. */
const ACQUIRE_WAIT_MS = 1000;

export interface QueueLock {
  readonly dir: string;
  readonly lockFile: string;
  readonly pidFile: string;
  /** Removes the pid file (if it is still ours), then drops the lock. Idempotent. */
  release(): void;
}

/** Locks held by this process (invariant 1: the reference keeps the connection open). */
const held = new Set<Database.Database>();

/**
 * Takes the lock on `dir` (created if missing) for the life of the process and writes the pid file.
 * Throws code QUEUE_LOCKED, naming the directory and the holder's pid when known, if another process
 * holds it.
 */
export function acquireQueueLock(dir: string, waitMs = ACQUIRE_WAIT_MS): QueueLock {
  fs.mkdirSync(dir, { recursive: true });
  const lockFile = path.join(dir, LOCK_FILE);
  const pidFile = path.join(dir, PID_FILE);
  const db = tryLock(lockFile, waitMs);
  if (!db) {
    const holder = lockHolders(lockFile)?.[0];
    const pid = holder ?? readPid(pidFile);
    const who = holder ? `process ${holder}` : pid ? `another process (pid ${pid} according to ${pidFile})` : 'another process';
    throw Object.assign(
      new Error(`QUEUE_LOCKED: queue directory ${dir} is in use by ${who}: one im-bridge per queue.dir. Stop that daemon, or give this one its own queue.dir`),
      { code: 'QUEUE_LOCKED', dir, pid },
    );
  }
  held.add(db);
  // Written atomically (rename), so a reader never sees a partial pid.
  const tmp = `${pidFile}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${process.pid}\n`);
  fs.renameSync(tmp, pidFile);
  let released = false;
  return {
    dir,
    lockFile,
    pidFile,
    release() {
      if (released) return;
      released = true;
      if (readPid(pidFile) === process.pid) fs.rmSync(pidFile, { force: true });
      held.delete(db);
      db.close();
    },
  };
}

/**
 * Whether a process holds the lock on `dir`: takes it for a moment and gives it back. Never creates
 * the directory or the lock file (no lock file = no daemon has ever run on it).
 */
export function probeQueueLock(dir: string): 'held' | 'free' {
  const lockFile = path.join(dir, LOCK_FILE);
  if (!fs.existsSync(lockFile)) return 'free';
  const db = tryLock(lockFile, 0);
  if (!db) return 'held';
  db.close();
  return 'free';
}

/** The lock connection, or undefined if another process (or another connection of this one) holds it. */
function tryLock(lockFile: string, waitMs: number): Database.Database | undefined {
  let db: Database.Database;
  try {
    db = new Database(lockFile, { timeout: waitMs });
  } catch (error) {
    throw Object.assign(new Error(`cannot open the queue lock ${lockFile}: ${(error as Error).message}`), { code: 'QUEUE_LOCK_FAILED' });
  }
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = MEMORY'); // nothing is ever written: no -journal file beside the lock
    db.exec('BEGIN EXCLUSIVE');
    return db;
  } catch (error) {
    db.close();
    const code = (error as { code?: string }).code;
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') return undefined;
    throw Object.assign(new Error(`cannot lock ${lockFile}: ${(error as Error).message}`), { code: 'QUEUE_LOCK_FAILED' });
  }
}

/** The pid in the pid file, if it holds one. Information only (invariant 3). */
export function readPid(pidFile: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The pids holding a POSIX lock on `file`, as the kernel reports them in /proc/locks (matched by
 * inode number); undefined where /proc/locks cannot be read. Pids of processes outside this pid
 * namespace show as 0 there and are left out.
 */
export function lockHolders(file: string): number[] | undefined {
  let text: string;
  let inode: number;
  try {
    inode = fs.statSync(file).ino;
    text = fs.readFileSync('/proc/locks', 'utf8');
  } catch {
    return undefined;
  }
  const pids = new Set<number>();
  // "8: POSIX  ADVISORY  WRITE 24040 fe:00:2196645 1073741824 1073742335"
  for (const line of text.split('\n')) {
    const m = /^\d+:\s+POSIX\s+\S+\s+\S+\s+(\d+)\s+[0-9a-f]+:[0-9a-f]+:(\d+)\s/.exec(line);
    if (m && Number(m[2]) === inode && Number(m[1]) > 0) pids.add(Number(m[1]));
  }
  return [...pids];
}

/** Whether `pid` runs `im-bridge run` (its /proc/<pid>/cmdline: the CLI script or bin, then `run`). */
export function isImBridgeRun(pid: number): boolean {
  let args: string[];
  try {
    args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return false;
  }
  // args[0] is node; `im-bridge run` through the bin's shebang still shows as `node …/im-bridge run`.
  const cli = args.findIndex((arg, i) => i > 0 && /^(cli\.js|im-bridge)$/.test(path.basename(arg)));
  return cli >= 0 && args.slice(cli + 1).includes('run');
}

export type DaemonLookup = { pid: number } | { refused: string };

/**
 * The pid of the im-bridge daemon running on `dir`, for `im-bridge reload`: only a live `im-bridge
 * run` that holds this queue's lock. A free lock means no daemon runs, whatever the pid file says.
 */
export function locateDaemon(dir: string): DaemonLookup {
  const lockFile = path.join(dir, LOCK_FILE);
  const pidFile = path.join(dir, PID_FILE);
  const fromFile = readPid(pidFile);
  if (probeQueueLock(dir) === 'free') {
    const stale = fromFile ? `; ${pidFile} names pid ${fromFile}, which is stale (not signalled)` : '';
    return { refused: `no im-bridge is running on queue directory ${dir}: nothing holds ${lockFile}${stale}` };
  }
  const holders = lockHolders(lockFile);
  // The kernel knows who holds the lock; the pid file is the fallback where /proc/locks is unreadable.
  const pid = holders?.length === 1 ? holders[0]! : fromFile;
  if (!pid) return { refused: `${lockFile} is locked, but no pid is known (${pidFile} is missing or empty); not signalling anything` };
  if (holders?.length && !holders.includes(pid)) {
    return { refused: `${pidFile} names pid ${pid}, but ${lockFile} is held by pid(s) ${holders.join(', ')}; not signalling anything` };
  }
  if (!isImBridgeRun(pid)) {
    return { refused: `pid ${pid} (holding ${lockFile}) is not an \`im-bridge run\` process; not signalled` };
  }
  return { pid };
}
