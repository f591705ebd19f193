/**
 * For sinks that refuse names built from sender-controlled fields (topics, indices, subjects): log
 * each refused name once, at most `perWindow` names per window, so that a flood of forged names does
 * not become a flood of log lines. Names not logged are summed into the next line that is. Exported
 * from `im-bridge/sink` for plugin authors; the Kafka and Elasticsearch sinks use it.
 */
export class RefusalLog {
  private readonly logged = new Set<string>();
  private windowStart = 0;
  private inWindow = 0;
  private suppressed = 0;

  constructor(
    private readonly perWindow = 10,
    private readonly windowMs = 60_000,
    /** Names remembered as logged; past this the memory is cleared (a name may then be logged again). */
    private readonly remember = 10_000,
  ) {}

  /** Whether to log `name` now, and how many refused names were not logged since the last line. */
  take(name: string, now = Date.now()): { log: boolean; suppressed: number } {
    if (this.logged.has(name)) return { log: false, suppressed: 0 };
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now;
      this.inWindow = 0;
    }
    if (this.inWindow >= this.perWindow) {
      this.suppressed++;
      return { log: false, suppressed: 0 };
    }
    if (this.logged.size >= this.remember) this.logged.clear();
    this.logged.add(name);
    this.inWindow++;
    const suppressed = this.suppressed;
    this.suppressed = 0;
    return { log: true, suppressed };
  }
}
