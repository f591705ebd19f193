/**
 * Human-readable log lines for a terminal (log.format: pretty, or auto on a TTY). pino still builds
 * the same JSON record, so codes, redaction and levels are those of the JSON format; this only
 * re-renders each line. A few dozen lines instead of a dependency (pino-pretty pulls in eleven).
 */
import pino from 'pino';

const LEVEL_COLOR: Record<string, string> = { fatal: '35', error: '31', warn: '33', info: '32', debug: '36', trace: '90' };
/** Keys every line carries; shown in their own columns or not at all. */
const HIDDEN = new Set(['level', 'time', 'msg', 'service', 'pid', 'hostname', 'code']);

/** C0/C1 controls (and DEL) as visible escapes: a log line must not move the cursor or retitle the terminal. */
export function escapeControl(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

function value(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) || v === '' ? JSON.stringify(v) : escapeControl(v);
  return escapeControl(JSON.stringify(v) ?? String(v));
}

/** One JSON log record → one (or, for the start-up summary, several) terminal lines. */
export function formatRecord(line: string, color: boolean): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const paint = (code: string, text: string) => (color ? `\u001b[${code}m${text}\u001b[0m` : text);
  const time = typeof record.time === 'string' ? record.time.slice(11, 23) : '';
  const level = String(record.level ?? 'info');
  const head = `${paint('90', time)} ${paint(LEVEL_COLOR[level] ?? '0', level.toUpperCase().padEnd(5))}`;
  const code = typeof record.code === 'string' ? ` ${paint('90', `[${record.code}]`)}` : '';
  if (Array.isArray(record.summary)) {
    // BRIDGE_SUMMARY: the start-up block, one aligned line per item (src/cli/summary.ts).
    const rows = (record.summary as string[]).map((r) => `    ${escapeControl(r)}`).join('\n');
    return `${head} ${escapeControl(String(record.msg ?? ''))}${code}\n${rows}\n`;
  }
  const fields = Object.entries(record)
    .filter(([k]) => !HIDDEN.has(k))
    .map(([k, v]) => `${paint('90', `${k}=`)}${value(v)}`)
    .join(' ');
  return `${head} ${escapeControl(String(record.msg ?? ''))}${code}${fields ? ` ${fields}` : ''}\n`;
}

/**
 * A pino destination that re-renders each record. It keeps sonic-boom underneath (flushSync and the
 * in-flight flag), so the CLI's exit-time flush (src/cli.ts flushLogs) works as with JSON.
 */
export class PrettyDestination {
  private readonly out: pino.DestinationStream & { flushSync(): void; _writing?: boolean };
  constructor(private readonly color: boolean, fd = 1) {
    this.out = pino.destination({ fd, sync: false }) as unknown as PrettyDestination['out'];
  }
  write(chunk: string): void {
    this.out.write(formatRecord(chunk.trimEnd(), this.color));
  }
  flushSync(): void {
    this.out.flushSync();
  }
  get _writing(): boolean {
    return this.out._writing === true;
  }
}
