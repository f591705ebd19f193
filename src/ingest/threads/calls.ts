/**
 * Request/answer over a worker port: each call gets an id, the answer (`reply`) settles it. One
 * class for both ends of the ingest-thread channel.
 */
export interface ReplyMessage {
  t: 'reply';
  id: number;
  ok: boolean;
  result?: unknown;
  error?: { message: string; code?: string };
}

export class Calls {
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 1;

  constructor(private readonly post: (message: unknown) => void) {}

  /** Sends `{ t: 'call', id, op, ...payload }`; resolves with the other side's result. */
  call<T>(op: string, payload: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.post({ t: 'call', id, op, ...payload });
    });
  }

  /** Settles the call a reply answers; false when no call waits for it. */
  settle(message: ReplyMessage): boolean {
    const call = this.waiting.get(message.id);
    if (!call) return false;
    this.waiting.delete(message.id);
    if (message.ok) call.resolve(message.result);
    else call.reject(Object.assign(new Error(message.error?.message ?? 'ingest thread error'), { code: message.error?.code }));
    return true;
  }

  /** The other side is gone: every waiting call fails. */
  failAll(error: Error): void {
    for (const call of this.waiting.values()) call.reject(error);
    this.waiting.clear();
  }
}

/** Answers a `call` message with the outcome of `work`. */
export function answer(post: (message: unknown) => void, id: number, work: () => unknown): void {
  Promise.resolve()
    .then(work)
    .then(
      (result) => post({ t: 'reply', id, ok: true, result }),
      (error: unknown) => post({ t: 'reply', id, ok: false, error: errorOf(error) }),
    );
}

/** An error as it crosses a thread boundary. */
export function errorOf(error: unknown): { message: string; code?: string } {
  const e = error as { message?: string; code?: string };
  return { message: e?.message ?? String(error), ...(e?.code ? { code: e.code } : {}) };
}
