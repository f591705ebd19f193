/**
 * The code registry (src/codes.ts) and the source agree, in the manner of fastify's
 * test/internals/errors.test.js: every code written in src/ or plugins/ is registered, every
 * registered code is used, and docs/codes.md is what the registry generates.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { CODES, type CodeInfo } from '../../src/codes.js';
import { renderCodesDoc } from '../../src/codes-doc.js';
import { REJECTIONS } from '../../src/ingest/answers.js';
import { scanCodes, type CodeSite } from '../helpers/code-scan.js';
import { REPO_ROOT } from '../helpers/daemon.js';

/**
 * Code-shaped strings in the source that are not ours: codes of Node (errno), SQLite, undici,
 * node:util parseArgs, and the Kafka broker error types that errors.ts turns into KAFKA_<type>.
 */
const NOT_OURS = new Set([
  'EACCES', 'EISDIR', 'ENOENT', 'ENOSPC', 'EPERM', 'EROFS', 'ERROR',
  'ERR_PARSE_ARGS_INVALID_OPTION_VALUE', 'ERR_PARSE_ARGS_UNKNOWN_OPTION',
  'SQLITE_BUSY', 'SQLITE_FULL', 'SQLITE_LOCKED',
  'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT',
  'CLUSTER_AUTHORIZATION_FAILED', 'INVALID_CONFIG', 'INVALID_PARTITIONS', 'INVALID_RECORD', 'INVALID_REPLICATION_FACTOR',
  'INVALID_REQUIRED_ACKS', 'INVALID_TIMESTAMP', 'INVALID_TOPIC_EXCEPTION', 'MESSAGE_TOO_LARGE', 'POLICY_VIOLATION',
  'RECORD_LIST_TOO_LARGE', 'TOPIC_ALREADY_EXISTS', 'TOPIC_AUTHORIZATION_FAILED', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'UNKNOWN_TOPIC_OR_PARTITION', 'UNSUPPORTED_COMPRESSION_TYPE', 'UNSUPPORTED_FOR_MESSAGE_FORMAT',
]);

/** Registered but written nowhere as a literal: declared in a type only, or produced only through a prefix. */
const DOCUMENTED_ONLY = new Set([
  'CONFIG_PLUGIN_INVALID', // in ConfigErrorCode, never raised (code-review §1.5)
]);

const SCANNED = ['src', 'plugins'];
const SKIP_DIRS = new Set(['node_modules', 'example', 'dist']);
const REGISTRY_FILES = new Set(['src/codes.ts', 'src/codes-doc.ts']);

function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true })) {
      const rel = path.posix.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!SKIP_DIRS.has(entry.name)) walk(rel);
      } else if (/\.m?ts$/.test(entry.name) && !/\.(test|d)\.m?ts$/.test(entry.name) && !REGISTRY_FILES.has(rel)) {
        out.push(rel);
      }
    }
  };
  for (const dir of SCANNED) walk(dir);
  return out.sort();
}

interface Found extends CodeSite {
  file: string;
}

function scanTree(): Found[] {
  return sourceFiles().flatMap((file) => scanCodes(fs.readFileSync(path.join(REPO_ROOT, file), 'utf8'), file).map((site) => ({ ...site, file })));
}

function areaGuess(file: string): string {
  const m = /^plugins\/([^/]+)\//.exec(file) ?? /^src\/([^/]+)\//.exec(file);
  const dir = m?.[1] ?? 'bridge';
  return ({ route: 'delivery', normalize: 'ingest', catalogue: 'ingest' } as Record<string, string>)[dir] ?? dir;
}

/** What to add to src/codes.ts for a missing code, ready to paste. */
function suggestion(site: Found): string {
  return `  ${/^[A-Z0-9_]+$/.test(site.code) ? site.code : `'${site.code}'`}: log('${areaGuess(site.file)}', 'warn', 'TODO meaning'),   // or err(area, retriable, meaning)`;
}

function missingFromRegistry(sites: readonly Found[], registry: Record<string, unknown>): string[] {
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const site of sites) {
    if (Object.hasOwn(registry, site.code) || NOT_OURS.has(site.code) || seen.has(site.code)) continue;
    seen.add(site.code);
    problems.push(`${site.file}:${site.line}: code ${site.code} is not in src/codes.ts; add to CODES:\n${suggestion(site)}\n  then run npm run codes:doc (or, if it is not our code, add it to NOT_OURS in test/unit/codes.test.ts)`);
  }
  return problems;
}

t.test('the scanner finds codes where they are written', async (t) => {
  const source = [
    "// a comment with FAKE_COMMENT_CODE is ignored",
    "logger.warn({ code: 'ONE_CODE', n: 1 }, 'message');",
    "throw new RetriableError('closing', { code: 'TWO_CODE' });",
    "const x = { code: ok ? 'THREE_A' : 'THREE_B' };",
    "item.lastCode = `RETRY_PREFIX:${item.lastCode}`;",
    "const c = type ? 'ES_' + type : `ES_HTTP_${status}`;",
    "throw new Error(`LOCKED_HERE: the directory ${dir} is in use`);",
    "readonly code = 'LOWER';",
    "type T = 'IN_TYPE' | 'OTHER_TYPE';",
    "export const REJECTIONS = { KEY_CODE: { status: 400, errorCode: 1 } };",
    "const re = /'NOT_A_STRING'/;",
  ].join('\n');
  const sites = scanCodes(source);
  const codes = sites.map((s) => s.code);
  t.same(codes.sort(), ['ES_*', 'ES_HTTP_*', 'IN_TYPE', 'KEY_CODE', 'LOCKED_HERE', 'LOWER', 'ONE_CODE', 'OTHER_TYPE', 'RETRY_PREFIX:*', 'THREE_A', 'THREE_B', 'TWO_CODE'].sort());
  t.equal(sites.find((s) => s.code === 'TWO_CODE')!.line, 3, 'line numbers');
  t.ok(sites.find((s) => s.code === 'IN_TYPE')!.inType, 'type positions are marked');
  t.notOk(sites.find((s) => s.code === 'ONE_CODE')!.inType);

  const problems = missingFromRegistry(sites.map((s) => ({ ...s, file: 'src/ingest/fake.ts' })), CODES);
  t.ok(problems.some((p) => p.startsWith('src/ingest/fake.ts:2: code ONE_CODE is not in src/codes.ts') && p.includes("ONE_CODE: log('ingest'")), 'an unregistered code fails, naming file:line and the line to add');
});

t.test('every code in src/ and plugins/ is in the registry (src/codes.ts)', async (t) => {
  const sites = scanTree();
  t.ok(sites.length > 300, `scanned ${sites.length} code sites`);
  const problems = missingFromRegistry(sites, CODES);
  t.same(problems, [], problems.join('\n'));
});

t.test('every registry entry is used in src/ or plugins/', async (t) => {
  const used = new Set(scanTree().filter((s) => !s.inType).map((s) => s.code));
  // Keys of REJECTIONS are the HTTP table itself; each is used through reject('X') or rejectTransport('X').
  const stale = Object.keys(CODES).filter((code) => !used.has(code) && !DOCUMENTED_ONLY.has(code));
  t.same(stale, [], `registered in src/codes.ts but used nowhere (remove the entry, or list it in DOCUMENTED_ONLY in test/unit/codes.test.ts): ${stale.join(', ')}`);
  for (const code of DOCUMENTED_ONLY) t.ok(Object.hasOwn(CODES, code), `${code} of DOCUMENTED_ONLY is registered`);
});

t.test('every entry has a code shape and a one-line meaning; HTTP answers come from REJECTIONS', async (t) => {
  const bad: string[] = [];
  for (const [code, info] of Object.entries(CODES) as Array<[string, CodeInfo]>) {
    if (!/^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*(?:_\*|:\*)?$/.test(code)) bad.push(`${code}: not a code (CAPITALS_AND_DIGITS, a prefix ends in _* or :*)`);
    if (info.meaning.length < 6 || info.meaning.includes('\n')) bad.push(`${code}: the meaning must be one line`);
    if (info.kind === 'answer') {
      const table = REJECTIONS[code as keyof typeof REJECTIONS];
      if (!table || table.status !== info.status || table.errorCode !== info.errorCode) bad.push(`${code}: an HTTP answer must take status and ErrorCode from REJECTIONS`);
    }
  }
  for (const code of Object.keys(REJECTIONS)) if ((CODES as Record<string, CodeInfo>)[code]?.kind !== 'answer') bad.push(`${code}: in REJECTIONS but not an answer in CODES`);
  t.same(bad, [], bad.join('\n'));
});

t.test('docs/codes.md is current (run npm run codes:doc)', async (t) => {
  const committed = fs.readFileSync(path.join(REPO_ROOT, 'docs/codes.md'), 'utf8');
  t.ok(committed === renderCodesDoc(), 'docs/codes.md differs from src/codes.ts: run npm run codes:doc and commit docs/codes.md');
  const absent = Object.keys(CODES).filter((code) => !committed.includes(`\`${code.replace(/\*$/, '…')}\``));
  t.same(absent, [], `not in docs/codes.md (run npm run codes:doc): ${absent.join(', ')}`);
});

t.test('the README "HTTP answers" table agrees with REJECTIONS', async (t) => {
  const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## HTTP answers'), readme.indexOf('\n## ', readme.indexOf('## HTTP answers') + 1));
  const wrong: string[] = [];
  let rows = 0;
  for (const line of section.split('\n')) {
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    if (cells.length !== 4 || !/^\d/.test(cells[1]!)) continue;
    const codes = [...cells[3]!.matchAll(/`([A-Z][A-Z0-9_]+)/g)].map((m) => m[1]!);
    const statuses = cells[1]!.split(' / ').map(Number);
    const errorCodes = cells[2]!.split(' / ').map(Number);
    codes.forEach((code, i) => {
      rows++;
      const want = REJECTIONS[code as keyof typeof REJECTIONS];
      const status = statuses[Math.min(i, statuses.length - 1)];
      const errorCode = errorCodes[Math.min(i, errorCodes.length - 1)];
      if (!want) wrong.push(`README: ${code} is not an HTTP answer code`);
      else if (want.status !== status || want.errorCode !== errorCode) wrong.push(`README: ${code} says ${status} / ${errorCode}, REJECTIONS says ${want.status} / ${want.errorCode}`);
    });
  }
  t.ok(rows >= 20, `${rows} README rows checked`);
  t.same(wrong, [], wrong.join('\n'));
});
