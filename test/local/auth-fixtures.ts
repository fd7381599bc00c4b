/** Helpers of the local-mode auth and fuzz tests: real `ws` clients and publishing through SQS. */
import { sendEnvelope } from '../client/local-helpers';
import WebSocket from 'ws';
import type { StackOutputs } from '../../protocol/outputs';

/** How long a test waits for one expected frame before it fails (not a speed assertion). */
const FRAME_WAIT_MS = 5000;

/** Opens a socket; resolves when open, rejects with the HTTP status of a refused handshake. */
export function openSocket(url: string, protocols?: string[]): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols);
    ws.once('unexpected-response', (_req, res) => {
      reject(Object.assign(new Error(`handshake refused: ${res.statusCode}`), { statusCode: res.statusCode }));
      res.resume();
      ws.terminate();
    });
    ws.once('error', reject);
    ws.once('open', () => {
      ws.off('error', reject);
      resolve(new Client(ws));
    });
  });
}

/** The status code a refused handshake answered with. */
export async function refusedStatus(url: string, protocols?: string[]): Promise<number> {
  const outcome = await openSocket(url, protocols).then(
    async (client) => {
      await client.close();
      return undefined;
    },
    (error: { statusCode?: number }) => error.statusCode,
  );
  if (outcome === undefined) throw new Error('the handshake was accepted');
  return outcome;
}

/** A real WebSocket client that queues every frame it receives. */
export class Client {
  private readonly frames: string[] = [];
  private waiter: (() => void) | undefined;
  closeCode: number | undefined;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.frames.push(data.toString());
      this.waiter?.();
    });
    ws.on('close', (code) => {
      this.closeCode = code;
      this.waiter?.();
    });
    ws.on('error', () => undefined); // a refused frame must not crash the test process
  }

  /** Removes and returns the first queued frame matching `predicate`, waiting for it if needed. */
  async next(predicate: (frame: Record<string, unknown>) => boolean = () => true, what = 'a frame'): Promise<Record<string, unknown>> {
    const deadline = Date.now() + FRAME_WAIT_MS;
    for (;;) {
      const index = this.frames.findIndex((f) => {
        try {
          return predicate(JSON.parse(f) as Record<string, unknown>);
        } catch {
          return predicate({ unparsable: f });
        }
      });
      if (index >= 0) {
        const [frame] = this.frames.splice(index, 1);
        try {
          return JSON.parse(frame as string) as Record<string, unknown>;
        } catch {
          return { unparsable: frame };
        }
      }
      if (this.closeCode !== undefined) throw new Error(`connection closed (${this.closeCode}) while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} within ${FRAME_WAIT_MS} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
  }

  /** Sends a text frame and returns the reply to it (the next frame that is not a delivered message). */
  async request(text: string | object): Promise<Record<string, unknown>> {
    this.ws.send(typeof text === 'string' ? text : JSON.stringify(text));
    return this.next((f) => f.type !== 'message', 'a reply');
  }

  /** Resolves with the close code once the connection has ended (whoever ended it). */
  closed(): Promise<number> {
    if (this.closeCode !== undefined) return Promise.resolve(this.closeCode);
    return new Promise((resolve) => this.ws.once('close', (code) => resolve(code)));
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}

/** Publishes the way a backend does: an envelope on the publish queue. */
export async function publish(outputs: StackOutputs, topic: string, data: unknown): Promise<void> {
  await sendEnvelope(outputs, { topic, data });
}

export function withToken(url: string, token: string): string {
  return `${url}?token=${encodeURIComponent(token)}`;
}
