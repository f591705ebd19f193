/**
 * Per-partition commit point for the shared Kafka queue: an offset may be committed only once every
 * event before it was delivered or dead-lettered (Connect's checkpoint.Capped model). Events of
 * one partition are settled out of order (conversations move independently), so the tracker keeps
 * the offsets still outstanding, in offer order, and commits up to the lowest of them.
 *
 * Offsets that carry nothing for this sink count as settled the moment they are seen.
 */
export class PartitionOffsets {
  /** Offsets offered and not yet settled, ascending; `head` is the first possibly outstanding one. */
  private pending: number[] = [];
  private head = 0;
  private readonly settled = new Set<number>();
  /** Highest offset seen (offered or skipped); -1 before the first. */
  private highest = -1;
  /** The commit point last handed out by takeCommit(). */
  private committed = -1;

  /** Whether this offset was already seen in this generation (a fetch that starts again behind it). */
  seen(offset: number): boolean {
    return offset <= this.highest;
  }

  /** An offset this sink must settle (call in offset order). */
  track(offset: number): void {
    this.pending.push(offset);
    if (offset > this.highest) this.highest = offset;
  }

  /** An offset with nothing for this sink. */
  skip(offset: number): void {
    if (offset > this.highest) this.highest = offset;
  }

  settle(offset: number): void {
    this.settled.add(offset);
    while (this.head < this.pending.length && this.settled.delete(this.pending[this.head]!)) this.head++;
    if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.head);
      this.head = 0;
    }
  }

  /** The next offset to consume from after a restart: the lowest outstanding one, or past the highest seen. */
  commitPoint(): number {
    return this.head < this.pending.length ? this.pending[this.head]! : this.highest + 1;
  }

  /** The commit point if it moved since the last call, else undefined. */
  takeCommit(): number | undefined {
    const point = this.commitPoint();
    if (point <= this.committed || point <= 0) return undefined;
    this.committed = point;
    return point;
  }

  /** A commit that failed: hand the point out again next time. */
  uncommit(point: number): void {
    if (this.committed === point) this.committed = point - 1;
  }

  get outstanding(): number {
    return this.pending.length - this.head;
  }
}
