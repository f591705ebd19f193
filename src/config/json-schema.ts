/** The JSON Schema of bridge.yaml for editors (config/bridge.schema.json), built from the TypeBox schemas. */
import { BridgeConfigSchema, SinkCommonSchema } from './schema.js';

export function bridgeJsonSchema(): Record<string, unknown> {
  const plain = JSON.parse(JSON.stringify(BridgeConfigSchema)) as Record<string, any>;
  const sinkCommon = JSON.parse(JSON.stringify(SinkCommonSchema)) as Record<string, any>;
  // A sink block is the host keys plus the plugin's own keys (documented per plugin).
  plain.properties.sinks = {
    type: 'object',
    description: 'Sinks by name. Host keys below; each sink type adds its own keys (see plugins/<type>/README.md).',
    additionalProperties: { ...sinkCommon, additionalProperties: true },
  };
  dropDefaultedFromRequired(plain);
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://github.com/im-bridge/im-bridge/config/bridge.schema.json',
    title: 'im-bridge bridge.yaml',
    ...plain,
  };
}

/** Keys with a default are optional for the user (ajv fills them in): editors must not demand them. */
function dropDefaultedFromRequired(schema: unknown): void {
  if (!schema || typeof schema !== 'object') return;
  const node = schema as { required?: string[]; properties?: Record<string, { default?: unknown }> };
  if (Array.isArray(node.required) && node.properties) {
    node.required = node.required.filter((key) => node.properties![key]?.default === undefined);
    if (node.required.length === 0) delete node.required;
  }
  for (const value of Object.values(schema as Record<string, unknown>)) {
    if (Array.isArray(value)) value.forEach(dropDefaultedFromRequired);
    else dropDefaultedFromRequired(value);
  }
}
