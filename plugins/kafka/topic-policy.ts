/**
 * Which missing topics the kafka sink may create (create_topics: true).
 *
 * A topic template over sender-controlled fields (`imcommand`, `data.family`, group ids, accounts)
 * would otherwise let forged callbacks create any number of topics: every new name costs the cluster
 * partitions, files and controller work. So a topic is created only when its name matches
 * `create_topics_pattern` and this sink instance has created fewer than `max_topics` topics; an event
 * for any other missing topic fails alone, fatally (KAFKA_TOPIC_LIMIT). Topics that already exist are
 * written whatever their name: they cost nothing new.
 */

/**
 * One rendered value in the default pattern: 1-128 topic characters, starting and ending with a
 * letter or digit, so an empty value, `.` or `..` does not match (`im.` from an empty family).
 */
export const TEMPLATE_VALUE_PATTERN = '[A-Za-z0-9](?:[A-Za-z0-9._-]{0,126}[A-Za-z0-9])?';

/** The default create_topics_pattern: the template's literal text, each `{{…}}` one bounded value. */
export function defaultCreatePattern(template: string): string {
  let out = '';
  let at = 0;
  for (const match of template.matchAll(/\{\{[^}]*\}\}/g)) {
    out += escapeRegExp(template.slice(at, match.index)) + TEMPLATE_VALUE_PATTERN;
    at = match.index + match[0].length;
  }
  return out + escapeRegExp(template.slice(at));
}

export interface TopicRefusal {
  reason: 'pattern' | 'limit';
  message: string;
}

export class TopicCreationPolicy {
  readonly pattern: RegExp;
  /** Topics this instance created or is creating (a slot is taken before the request goes out). */
  private readonly created = new Set<string>();

  /** Throws a SyntaxError for a pattern that is not a regular expression. */
  constructor(
    readonly patternText: string,
    readonly maxTopics: number,
  ) {
    // Anchored: the pattern must describe the whole name, not a part of it.
    this.pattern = new RegExp(`^(?:${patternText})$`);
  }

  get createdCount(): number {
    return this.created.size;
  }

  /** Takes a creation slot for `topic`; a refusal when it may not be created. */
  reserve(topic: string): TopicRefusal | undefined {
    if (this.created.has(topic)) return undefined;
    if (!this.pattern.test(topic)) {
      return { reason: 'pattern', message: `topic ${topic} does not exist and does not match create_topics_pattern ${this.patternText}; not created` };
    }
    if (this.created.size >= this.maxTopics) {
      return { reason: 'limit', message: `topic ${topic} does not exist and this sink already created max_topics (${this.maxTopics}) topics; not created` };
    }
    this.created.add(topic);
    return undefined;
  }

  /** Gives the slot back: the topic was not created by us (it existed, or creation failed). */
  release(topic: string): void {
    this.created.delete(topic);
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
