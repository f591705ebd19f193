/**
 * The `transforms:` key of a sink block (one TypeBox schema: the type, the load-time validator and
 * the editor JSON schema). One step is one object with one action key; which modifiers go with
 * which action is checked by steps.ts, which reports the step's file:line.
 */
import { Type, type Static } from '@sinclair/typebox';

const Paths = Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })], {
  description: 'A path or a list of paths over the canonical event: data.text, data.sender, data.elements[*].content.text, data.raw…',
});

export const TransformStepSchema = Type.Object(
  {
    name: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,64}$', description: 'Label of this step in im_bridge_transform_events_total (default <action>#<index>, or the plugin type).' })),
    keep: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'Keep only these paths (id and subject are always kept).' })),
    drop: Type.Optional(Paths),
    rename: Type.Optional(Type.Record(Type.String({ minLength: 1 }), Type.String({ minLength: 1 }), { description: 'old.path: new.path — moves a value; no [*].' })),
    set: Type.Optional(
      Type.Record(Type.String({ minLength: 1 }), Type.Unknown(), {
        description: 'path: value — a constant, or a string template over the event such as "{{imsdkappid}}-{{data.family}}". Missing objects on the way are created.',
      }),
    ),
    redact: Type.Optional(Paths),
    with: Type.Optional(Type.String({ description: 'Replacement for redact (default "[REDACTED]").' })),
    hash: Type.Optional(Paths),
    key: Type.Optional(Type.String({ description: 'HMAC-SHA256 secret for hash; use ${VAR} so that it stays out of the file.' })),
    plugin: Type.Optional(Type.String({ minLength: 1, description: 'A transform plugin (defineTransform): a path relative to bridge.yaml or an npm package.' })),
    options: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: "The plugin's own config, checked against its configSchema at load." })),
    timeout_ms: Type.Optional(Type.Integer({ minimum: 1, maximum: 600_000, description: 'Deadline per event for a plugin step (default 1000); past it the event is dead-lettered for this sink (TRANSFORM_TIMEOUT).' })),
  },
  {
    additionalProperties: false,
    description: 'One step: exactly one of keep, drop, rename, set, redact (+ with), hash (+ key), plugin (+ options, timeout_ms).',
  },
);

export const TransformsSchema = Type.Array(TransformStepSchema, {
  description: 'Steps applied in order to each event when it is delivered to this sink (docs/transforms.md). The stored event is not changed.',
});

export type TransformStepConfig = Static<typeof TransformStepSchema>;
