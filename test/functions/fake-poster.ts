/**
 * A stand-in for the management API client in handler tests: every post goes through a function
 * the test sets (which may wait, throw, count), and every call is recorded. The real client is
 * tested over real HTTP in clients.test.ts and management-api.test.ts.
 */
import type { Poster } from '../../functions/lib/delivery/management-api';

export interface PostCall {
  connectionId: string;
  data: Uint8Array;
}

export type PostHandler = (call: PostCall) => Promise<unknown> | unknown;

export class FakePoster implements Poster {
  readonly calls: PostCall[] = [];
  private handler: PostHandler = () => undefined;

  async post(connectionId: string, data: Uint8Array): Promise<void> {
    const call = { connectionId, data };
    this.calls.push(call);
    await this.handler(call);
  }

  /** Route every post through `handler` (which may throw to fail it). */
  callsFake(handler: PostHandler): this {
    this.handler = handler;
    return this;
  }

  /** Every post fails with `error`. */
  rejects(error: unknown): this {
    return this.callsFake(() => Promise.reject(error));
  }

  /** Forget the calls and answer every post with success again. */
  reset(): void {
    this.calls.length = 0;
    this.handler = () => undefined;
  }
}
