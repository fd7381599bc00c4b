/**
 * Which web pages may talk to the local system. A browser attaches `Origin` to every WebSocket
 * handshake and to every cross-site request, and any page the developer visits could otherwise
 * publish through the demo server or subscribe through the gateway. Trusted: the demo page, the
 * gateway itself and origins named with --allow-origin (a dev server); requests without
 * `Origin` come from programs, not pages, and pass.
 *
 * API Gateway itself checks no Origin (a deployed stack authorizes with tokens); this guards the
 * developer's machine, where local mode runs with auth off by default.
 */

/** `http://127.0.0.1:8080/x` → the origins a browser may name that server by: 127.0.0.1 and localhost. */
export function loopbackOrigins(url: string): string[] {
  const u = new URL(url);
  const scheme = u.protocol === 'wss:' ? 'https:' : u.protocol === 'ws:' ? 'http:' : u.protocol;
  const port = u.port ? `:${u.port}` : '';
  return [`${scheme}//127.0.0.1${port}`, `${scheme}//localhost${port}`];
}

/** An origin as browsers serialize it (`scheme://host[:port]`, lowercase, default port left out); undefined if it is none. */
export function normalizeOrigin(text: string): string | undefined {
  try {
    const origin = new URL(text).origin;
    return origin === 'null' ? undefined : origin;
  } catch {
    return undefined;
  }
}

export class OriginPolicy {
  private readonly trusted = new Set<string>();

  constructor(origins: Iterable<string> = []) {
    this.trust(...origins);
  }

  /** Adds origins; throws on text that is not one (a flag's value). */
  trust(...origins: string[]): void {
    for (const text of origins) {
      const origin = normalizeOrigin(text);
      if (origin === undefined) throw new Error(`not an origin: ${text.slice(0, 100)} (expected e.g. http://localhost:5173)`);
      this.trusted.add(origin);
    }
  }

  /** True for a request without Origin (not a page) or from a trusted page; `null` (file://, sandboxed frames) is not trusted. */
  allows(origin: string | string[] | undefined): boolean {
    if (origin === undefined) return true;
    if (Array.isArray(origin)) return origin.every((o) => this.allows(o));
    const normalized = normalizeOrigin(origin);
    return normalized !== undefined && this.trusted.has(normalized);
  }
}
