/**
 * Host side of `eventJson` (api.ts): the serialized form of each event the host parsed from the
 * queue, kept beside the event so that sinks writing JSON send the stored bytes. Internal: plugins
 * read through `eventJson`, only the host (the delivery engine, threads, transforms) remembers.
 */
import type { CanonicalEvent } from '../normalize/event.js';

// Weak: an event dropped by the host takes its JSON with it.
const serializedEvents = new WeakMap<object, string>();

/** The event as JSON: the stored bytes when the host remembered them, else JSON.stringify. */
export function eventJson(event: CanonicalEvent): string {
  return serializedEvents.get(event) ?? JSON.stringify(event);
}

/** Remember the serialized form of an event the host parsed from the queue. */
export function rememberEventJson(event: CanonicalEvent, json: string): void {
  serializedEvents.set(event, json);
}
