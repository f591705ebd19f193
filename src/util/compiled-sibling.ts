/**
 * The compiled sibling of a module, for code that must load JavaScript by URL (a worker thread
 * cannot load .ts; a `thread: true` sink loads its plugin by URL).
 *
 * Compiled runs (dist/…/x.js) resolve `relative` next to the caller, as `new URL(relative, callerUrl)`.
 * Source runs (tests through a TypeScript loader, the caller's URL ends in .ts) resolve it in the
 * compiled tree instead: <root>/src/sink/thread.ts + './thread-worker.js' → <root>/dist/src/sink/thread-worker.js.
 * There the dist file must not be older than its source, or a test would quietly exercise yesterday's
 * code: BuildStaleError (code BUILD_STALE) when it is older than its own .ts or than another .ts of
 * that source folder (the modules it most likely imports, e.g. queue/store.ts next to queue/worker.ts);
 * code BUILD_MISSING when it does not exist. Both say "run npm run build".
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export class BuildStaleError extends Error {
  override name = 'BuildStaleError';
  constructor(
    readonly code: 'BUILD_STALE' | 'BUILD_MISSING',
    message: string,
    readonly compiled: string,
    readonly source: string,
  ) {
    super(message);
  }
}

/** The folder holding package.json above `file` (the project root, where dist/ lives). */
function projectRoot(file: string): string {
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${file}`);
  }
}

const mtimeMs = (file: string): number | undefined => {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
};

/** A build input of `source` newer than `builtAt`: itself first, then the other (non-test) .ts files of its folder. */
function newerSource(source: string, builtAt: number): string | undefined {
  if ((mtimeMs(source) ?? 0) > builtAt) return source;
  let names: string[] = [];
  try {
    names = fs.readdirSync(path.dirname(source));
  } catch {
    return undefined;
  }
  for (const name of names) {
    if (!name.endsWith('.ts') || name.endsWith('.d.ts') || name.endsWith('.test.ts')) continue;
    const file = path.join(path.dirname(source), name);
    if ((mtimeMs(file) ?? 0) > builtAt) return file;
  }
  return undefined;
}

/**
 * `relative` (a .js specifier such as './thread-worker.js' or '../../plugins/kafka/index.js')
 * resolved against `callerUrl` (the caller's import.meta.url), in dist/ when the caller runs from source.
 */
export function compiledSibling(callerUrl: string, relative: string): URL {
  const caller = fileURLToPath(callerUrl);
  if (!caller.endsWith('.ts')) return new URL(relative, callerUrl);
  const root = projectRoot(caller);
  const compiledCaller = path.join(root, 'dist', path.relative(root, caller)).replace(/\.ts$/, '.js');
  const compiled = path.resolve(path.dirname(compiledCaller), relative);
  const source = path.resolve(path.dirname(caller), relative).replace(/\.js$/, '.ts');
  const builtAt = mtimeMs(compiled);
  if (builtAt === undefined) {
    throw new BuildStaleError('BUILD_MISSING', `BUILD_MISSING: ${compiled} (the compiled ${source}) does not exist: run npm run build`, compiled, source);
  }
  const newer = newerSource(source, builtAt);
  if (newer) {
    const why = newer === source ? '' : ` (${newer}, of its folder, changed since)`;
    throw new BuildStaleError(
      'BUILD_STALE',
      `BUILD_STALE: ${compiled} is older than its source ${source}${why}: run npm run build`,
      compiled,
      source,
    );
  }
  return pathToFileURL(compiled);
}
