/**
 * The embedded default configuration, used when no --config is given and ./bridge.yaml is absent.
 * It must stay identical to the repository's bridge.yaml (a unit test checks).
 */
export const EMBEDDED_DEFAULT_NAME = '<embedded default bridge.yaml>';

export const DEFAULT_CONFIG_TEXT = `# im-bridge default configuration: runs with no external service.
# Tencent IM callbacks in on http://127.0.0.1:8080/im/callback, durably queued under ./data/queue,
# and written as CloudEvents (one JSON object per line) to ./data/events.ndjson.
# Reference: README.md "Configuration". JSON Schema for editors: config/bridge.schema.json
listen:
  host: \${IM_BRIDGE_HOST:-127.0.0.1}
  port: \${IM_BRIDGE_PORT:-8080}
  path: /im/callback          # the callback URL path set in the IM console
apps:
  - sdk_app_id: \${IM_SDK_APP_ID:-1400000000}
    token: \${IM_CALLBACK_TOKEN:-}   # empty: no signature check; set: Sign/RequestTime required
queue:
  dir: ./data/queue
sinks:
  archive:
    type: file
    path: ./data/events.ndjson
routes:
  - name: everything
    match:
      command: "*"              # glob on CallbackCommand
    to: [archive]
`;
