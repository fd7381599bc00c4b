/**
 * Where a $connect request carries its token. Browsers cannot set headers on a WebSocket, so the
 * token comes either as the `token` query parameter or as a `bearer.<jwt>` entry of the offered
 * subprotocols (`Sec-WebSocket-Protocol: realtime, bearer.<jwt>`).
 */
import { TOKEN_QUERY_PARAMETER, TOKEN_SUBPROTOCOL_PREFIX } from '../../../protocol/auth';

/** The parts of a WebSocket REQUEST authorizer event (or a $connect event) that can carry a token. */
export interface TokenCarrier {
  headers?: Record<string, string | undefined> | null;
  multiValueHeaders?: Record<string, string[] | undefined> | null;
  queryStringParameters?: Record<string, string | undefined> | null;
  multiValueQueryStringParameters?: Record<string, string[] | undefined> | null;
}

export type TokenLookup =
  | { kind: 'found'; token: string; via: 'query' | 'subprotocol' }
  | { kind: 'missing' }
  /** More than one distinct token was offered: refuse rather than guess which one counts. */
  | { kind: 'ambiguous' };

const SUBPROTOCOL_HEADER = 'sec-websocket-protocol';

/** Every value of a header, whatever the case of its name, from both header maps. */
export function headerValues(event: TokenCarrier, name: string): string[] {
  const wanted = name.toLowerCase();
  const values: string[] = [];
  for (const [key, value] of Object.entries(event.multiValueHeaders ?? {})) {
    if (key.toLowerCase() === wanted && Array.isArray(value)) values.push(...value);
  }
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted && typeof value === 'string') values.push(value);
  }
  return values;
}

/** The subprotocols a client offered, in order, without duplicates. */
export function offeredSubprotocols(event: TokenCarrier): string[] {
  const entries = headerValues(event, SUBPROTOCOL_HEADER)
    .flatMap((value) => value.split(','))
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  return [...new Set(entries)];
}

function queryTokens(event: TokenCarrier): string[] {
  const values = [
    ...(event.multiValueQueryStringParameters?.[TOKEN_QUERY_PARAMETER] ?? []),
    event.queryStringParameters?.[TOKEN_QUERY_PARAMETER],
  ];
  return values.filter((v): v is string => typeof v === 'string' && v !== '');
}

function subprotocolTokens(event: TokenCarrier): string[] {
  return offeredSubprotocols(event)
    .filter((entry) => entry.startsWith(TOKEN_SUBPROTOCOL_PREFIX))
    .map((entry) => entry.slice(TOKEN_SUBPROTOCOL_PREFIX.length))
    .filter((token) => token !== '');
}

/** Finds the one token a request carries. */
export function findToken(event: TokenCarrier): TokenLookup {
  const fromQuery = [...new Set(queryTokens(event))];
  const fromSubprotocol = [...new Set(subprotocolTokens(event))];
  const distinct = new Set([...fromQuery, ...fromSubprotocol]);
  if (distinct.size === 0) return { kind: 'missing' };
  if (distinct.size > 1) return { kind: 'ambiguous' };
  const token = [...distinct][0] as string;
  return { kind: 'found', token, via: fromQuery.length > 0 ? 'query' : 'subprotocol' };
}
