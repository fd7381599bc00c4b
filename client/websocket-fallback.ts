/**
 * The WebSocket for runtimes without a global one (Node 20): the `ws` package, an optional peer
 * dependency, imported only when needed. Browser builds replace this module with
 * websocket-fallback.browser.ts (see build.ts), so bundlers never see `ws`.
 */
import type { WebSocketConstructor } from './websocket.js';

export async function loadFallbackWebSocket(): Promise<WebSocketConstructor> {
  try {
    const ws = await import('ws');
    return (ws.default ?? ws.WebSocket) as unknown as WebSocketConstructor;
  } catch (err) {
    throw new Error('this runtime has no global WebSocket (Node < 22): install the `ws` package, or pass the `WebSocket` option', { cause: err });
  }
}
