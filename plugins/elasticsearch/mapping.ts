/**
 * The composable index template the elasticsearch sink installs (`install_template: true`).
 *
 * The mapping is closed (`dynamic: false`): only the fields listed here are indexed; every other
 * field of the event is kept in `_source` (returned by searches and `GET`) but never creates a
 * mapping entry. So no callback shape can add fields (no mapping explosion) or make a field
 * change type (no mapping conflict):
 * - ids, accounts, commands, group ids: `keyword` (with `ignore_above`, so an over-long value is
 *   stored but not indexed instead of failing the document);
 * - `time`: `date`; `data.eventTimeMs`, `data.receivedAtMs`: `date` (epoch_millis);
 * - `data.text` (all text of the message): `text` with the `standard` analyzer, for full-text search;
 * - `data.changes` (Group.CallbackAfterGroupInfoChanged: any field the group got, custom ones
 *   included): `flattened`, searchable by exact value whatever its shape;
 * - `data.elements[].content` and `data.raw` (the callback exactly as received): stored, not
 *   indexed (`enabled: false`).
 * Every field the template indexes is one the normalizer always writes with one JSON type, so a
 * document indexed through this template cannot be refused for its shape.
 */

const keyword = { type: 'keyword', ignore_above: 1024 } as const;
const long = { type: 'long' } as const;
const epochMillis = { type: 'date', format: 'epoch_millis' } as const;
const notIndexed = { type: 'object', enabled: false } as const;

export const EVENT_MAPPINGS = {
  dynamic: false,
  properties: {
    specversion: keyword,
    id: keyword,
    type: keyword,
    source: keyword,
    subject: keyword,
    time: { type: 'date', format: 'strict_date_optional_time||epoch_millis' },
    datacontenttype: keyword,
    imsdkappid: keyword,
    imcommand: keyword,
    implatform: keyword,
    imclientip: keyword,
    imorigin: keyword, // "backfill" for events pulled from Tencent's history API (README "When callbacks are lost")
    data: {
      properties: {
        family: keyword,
        before: { type: 'boolean' },
        conversation: {
          properties: {
            kind: keyword,
            groupId: keyword,
            groupType: keyword,
            topicId: keyword,
            accounts: keyword,
          },
        },
        sender: keyword,
        operator: keyword,
        owner: keyword,
        member: keyword,
        members: keyword,
        account: keyword,
        peer: keyword,
        requestor: keyword,
        requester: keyword,
        reporter: keyword,
        admin: keyword,
        seq: long,
        random: long,
        msgId: keyword,
        msgKey: keyword,
        recalledSeqs: long,
        elements: {
          properties: {
            type: keyword,
            kind: keyword,
            content: notIndexed,
          },
        },
        text: { type: 'text', analyzer: 'standard' },
        cloudCustomData: keyword,
        onlineOnly: { type: 'boolean' },
        eventTimeMs: epochMillis,
        receivedAtMs: epochMillis,
        action: keyword,
        joinType: keyword,
        exitType: keyword,
        eventType: keyword,
        eventCause: keyword,
        role: keyword,
        name: keyword,
        nameCard: keyword,
        errorCode: long,
        errorInfo: keyword,
        changes: { type: 'flattened', ignore_above: 1024 },
        raw: notIndexed,
      },
    },
  },
} as const;

export interface TemplateOptions {
  indexPatterns: string[];
  priority: number;
  numberOfShards: number;
  numberOfReplicas: number | undefined;
  refreshInterval: string | undefined;
  dataStream: boolean;
}

/** Body of `PUT _index_template/<name>`. */
export function indexTemplateBody(options: TemplateOptions): Record<string, unknown> {
  const settings: Record<string, unknown> = { number_of_shards: options.numberOfShards };
  if (options.numberOfReplicas !== undefined) settings.number_of_replicas = options.numberOfReplicas;
  if (options.refreshInterval !== undefined) settings.refresh_interval = options.refreshInterval;
  const mappings: Record<string, unknown> = options.dataStream
    ? { ...EVENT_MAPPINGS, properties: { '@timestamp': { type: 'date' }, ...EVENT_MAPPINGS.properties } }
    : EVENT_MAPPINGS;
  const body: Record<string, unknown> = {
    index_patterns: options.indexPatterns,
    priority: options.priority,
    template: { settings, mappings },
    _meta: { managed_by: 'im-bridge', description: 'Tencent IM callback events (CloudEvents), see plugins/elasticsearch/README.md' },
  };
  if (options.dataStream) body.data_stream = {};
  return body;
}
