/** Renders docs/codes.md from the registry in src/codes.ts (`npm run codes:doc`; checked by test/unit/codes.test.ts). */
import { CODE_AREAS, CODES, type CodeArea, type CodeInfo } from './codes.js';

const AREA_TITLES: Record<CodeArea, string> = {
  ingest: 'Ingest (HTTP answers and request handling)',
  config: 'Configuration, plugin loading and reload',
  bridge: 'Daemon lifecycle',
  queue: 'Queue',
  delivery: 'Delivery',
  sink: 'Sink host',
  transform: 'Transforms',
  gaps: 'Gap detection',
  backfill: 'Backfill',
  cli: '`im-bridge check` warnings',
  telemetry: 'Telemetry',
  kafka: 'Plugin: kafka',
  nats: 'Plugin: nats',
  elasticsearch: 'Plugin: elasticsearch',
  webhook: 'Plugin: webhook',
  file: 'Plugin: file',
  stdout: 'Plugin: stdout',
};

function kindOf(info: CodeInfo): string {
  switch (info.kind) {
    case 'log':
      return `log ${info.level}`;
    case 'answer':
      return 'HTTP answer';
    case 'error':
      return info.retriable === undefined ? 'error' : info.retriable ? 'error, retried' : 'error, dead-lettered';
    case 'check':
      return 'check warning';
  }
}

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const codeCell = (code: string): string => `\`${code.endsWith('*') ? `${code.slice(0, -1)}…` : code}\``;

export function renderCodesDoc(): string {
  const entries = Object.entries(CODES) as Array<[string, CodeInfo]>;
  const out: string[] = [
    '# Error and log codes',
    '',
    '<!-- Generated from src/codes.ts by `npm run codes:doc`; do not edit. test/unit/codes.test.ts checks it. -->',
    '',
    'Every code im-bridge logs (the `code` field of a log line, `[CODE]` in pretty output), answers',
    '(the start of `ErrorInfo`, with the HTTP status and numeric `ErrorCode`) or gives a failed delivery',
    '(`errorCode` of `SINK_WRITE_RETRY` / `EVENT_DEAD_LETTERED`, the dead letter\'s `code` in',
    '`im-bridge dlq list`, the `code` label of the delivery metrics, `[CODE]` of a config error).',
    '',
    'Kinds: **log *level***: a log line; **HTTP answer**: a rejection (also logged and counted in',
    '`im_bridge_requests_rejected_total{code}`); **error, retried**: the batch is retried with backoff;',
    '**error, dead-lettered**: the event goes to the dead-letter store at once; **error**: a thrown',
    'error or stored code that is not a delivery outcome by itself; **check warning**: printed by',
    '`im-bridge check`. A code ending in `…` is a prefix completed at run time.',
    '',
    `${entries.length} codes.`,
    '',
  ];
  for (const area of CODE_AREAS) {
    const rows = entries.filter(([, info]) => info.area === area).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    if (rows.length === 0) continue;
    const http = rows.some(([, info]) => info.kind === 'answer');
    out.push(`## ${AREA_TITLES[area]}`, '');
    out.push(http ? '| code | kind | HTTP status / `ErrorCode` | meaning | what to do |' : '| code | kind | meaning | what to do |');
    out.push(http ? '|---|---|---|---|---|' : '|---|---|---|---|');
    for (const [code, info] of rows) {
      const status = info.kind === 'answer' ? `${info.status} / ${info.errorCode}` : '';
      const cells = [codeCell(code), kindOf(info), ...(http ? [status] : []), cell(info.meaning), cell(info.action ?? '')];
      out.push(`| ${cells.join(' | ')} |`);
    }
    out.push('');
  }
  return out.join('\n');
}
