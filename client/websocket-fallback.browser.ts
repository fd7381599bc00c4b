/** websocket-fallback.ts for browser builds: browsers have a global WebSocket, so `ws` is never needed. */
import type { WebSocketConstructor } from './websocket.js';

export async function loadFallbackWebSocket(): Promise<WebSocketConstructor> {
  throw new Error('no global WebSocket here: pass the `WebSocket` option');
}
