/**
 * The WebSocket implementation: the one given, else the global one (browsers, Node >= 22),
 * else the `ws` package (Node 20 has no global WebSocket), imported lazily from
 * websocket-fallback.ts, which browser builds swap for a stub so they never include `ws`.
 */
import { loadFallbackWebSocket } from './websocket-fallback.js';

/** The part of the WHATWG WebSocket API the client uses; `ws` and browsers both provide it. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export const OPEN = 1;

export async function resolveWebSocket(given?: WebSocketConstructor): Promise<WebSocketConstructor> {
  if (given) return given;
  const globalCtor = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (globalCtor) return globalCtor;
  return loadFallbackWebSocket();
}

/** A readable reason from an error event (`ws` gives a message; browsers give nothing). */
export function describeSocketError(event: unknown): string | undefined {
  const e = event as { message?: unknown; error?: { message?: unknown } } | undefined;
  const message = e?.message ?? e?.error?.message;
  return typeof message === 'string' && message !== '' ? message : undefined;
}
