/**
 * Lambda events of API Gateway's exact WebSocket shapes (CONNECT, MESSAGE, DISCONNECT and the
 * REQUEST authorizer's input), as captured from real deployments and @types/aws-lambda.
 */
import { awsId, traceId } from './ids';

export interface ApiInfo {
  apiId: string;
  stage: string;
  /** `127.0.0.1:PORT`: `http://${domainName}/${stage}` is the management endpoint. */
  domainName: string;
  region: string;
  accountId: string;
}

/** What every event of one connection shares. */
export interface ConnectionInfo {
  connectionId: string;
  connectedAt: number;
  sourceIp: string;
  userAgent?: string;
  /** `{ principalId, ...context }` when an authorizer ran on $connect. */
  authorizer?: Record<string, string>;
}

/** Header name/value pairs in the client's order and spelling. */
export type HeaderPairs = ReadonlyArray<readonly [string, string]>;

export interface HeaderMaps {
  headers: Record<string, string>;
  multiValueHeaders: Record<string, string[]>;
}

export interface QueryMaps {
  queryStringParameters?: Record<string, string>;
  multiValueQueryStringParameters?: Record<string, string[]>;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number) => String(n).padStart(2, '0');

/** `08/Apr/2022:07:53:39 +0000`, API Gateway's requestTime format. */
export function requestTime(ms: number): string {
  const d = new Date(ms);
  return (
    `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`
  );
}

/**
 * Headers as API Gateway hands them on: the client's own spelling (the first one seen, when a
 * name repeats), `headers` keeping the last value and `multiValueHeaders` every value.
 */
export function headerMaps(pairs: HeaderPairs, skip: ReadonlySet<string> = new Set()): HeaderMaps {
  const spelling = new Map<string, string>();
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [rawName, value] of pairs) {
    const lower = rawName.toLowerCase();
    if (skip.has(lower)) continue;
    let name = spelling.get(lower);
    if (name === undefined) {
      name = rawName;
      spelling.set(lower, name);
      multiValueHeaders[name] = [];
    }
    headers[name] = value;
    multiValueHeaders[name].push(value);
  }
  return { headers, multiValueHeaders };
}

/** Query parameters; both maps are absent when the URL has none (as on AWS). */
export function queryMaps(rawQuery: string): QueryMaps {
  const params = new URLSearchParams(rawQuery);
  const single: Record<string, string> = {};
  const multi: Record<string, string[]> = {};
  let any = false;
  for (const [name, value] of params) {
    any = true;
    single[name] = value;
    (multi[name] ??= []).push(value);
  }
  return any ? { queryStringParameters: single, multiValueQueryStringParameters: multi } : {};
}

/**
 * The handshake's headers plus those API Gateway's front door adds (trace id, X-Forwarded-*).
 * The authorizer sees all of them; $connect does not see the hop-by-hop ones (CONNECT_SKIPPED).
 */
export function handshakeHeaderPairs(raw: HeaderPairs, sourceIp: string, port: number, nowMs: number): HeaderPairs {
  const forwardedFor = raw.find(([name]) => name.toLowerCase() === 'x-forwarded-for')?.[1];
  const kept = raw.filter(([name]) => !FRONT_DOOR_HEADERS.has(name.toLowerCase()));
  return [
    ...kept,
    ['X-Amzn-Trace-Id', traceId(nowMs)],
    ['X-Forwarded-For', forwardedFor ? `${forwardedFor}, ${sourceIp}` : sourceIp],
    ['X-Forwarded-Port', String(port)],
    ['X-Forwarded-Proto', 'http'],
  ];
}

const FRONT_DOOR_HEADERS = new Set(['x-amzn-trace-id', 'x-forwarded-for', 'x-forwarded-port', 'x-forwarded-proto']);

/** Hop-by-hop headers that the $connect integration does not receive. */
export const CONNECT_SKIPPED: ReadonlySet<string> = new Set(['connection', 'upgrade', 'content-length']);

function identity(conn: ConnectionInfo): Record<string, string> {
  return conn.userAgent === undefined ? { sourceIp: conn.sourceIp } : { userAgent: conn.userAgent, sourceIp: conn.sourceIp };
}

function requestContext(api: ApiInfo, conn: ConnectionInfo, routeKey: string, eventType: 'CONNECT' | 'MESSAGE' | 'DISCONNECT') {
  const now = Date.now();
  const requestId = awsId();
  return {
    routeKey,
    eventType,
    extendedRequestId: requestId,
    requestTime: requestTime(now),
    messageDirection: 'IN' as const,
    stage: api.stage,
    connectedAt: conn.connectedAt,
    requestTimeEpoch: now,
    identity: identity(conn),
    requestId,
    domainName: api.domainName,
    connectionId: conn.connectionId,
    apiId: api.apiId,
    ...(conn.authorizer ? { authorizer: conn.authorizer } : {}),
  };
}

export function connectEvent(api: ApiInfo, conn: ConnectionInfo, headers: HeaderMaps, query: QueryMaps) {
  return {
    headers: headers.headers,
    multiValueHeaders: headers.multiValueHeaders,
    ...query,
    requestContext: requestContext(api, conn, '$connect', 'CONNECT'),
    isBase64Encoded: false,
  };
}

export function messageEvent(api: ApiInfo, conn: ConnectionInfo, routeKey: string, body: string) {
  return {
    requestContext: { ...requestContext(api, conn, routeKey, 'MESSAGE'), messageId: awsId() },
    body,
    isBase64Encoded: false,
  };
}

export function disconnectEvent(api: ApiInfo, conn: ConnectionInfo, code: number, reason: string) {
  // AWS sends these four headers, no others, on $disconnect.
  const headers = { Host: api.domainName, 'x-api-key': '', 'X-Forwarded-For': '', 'x-restapi': '' };
  const multiValueHeaders = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]]));
  return {
    headers,
    multiValueHeaders,
    requestContext: {
      ...requestContext(api, conn, '$disconnect', 'DISCONNECT'),
      disconnectStatusCode: code,
      disconnectReason: reason,
    },
    isBase64Encoded: false,
  };
}

/** `arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/$connect` */
export function connectMethodArn(api: ApiInfo): string {
  return `arn:aws:execute-api:${api.region}:${api.accountId}:${api.apiId}/${api.stage}/$connect`;
}

/** The REQUEST authorizer's input for a WebSocket API (no path parameters, methodArn without a verb). */
export function authorizerEvent(api: ApiInfo, conn: ConnectionInfo, headers: HeaderMaps, query: QueryMaps) {
  // The authorizer runs before any authorizer context exists.
  const context = requestContext(api, { ...conn, authorizer: undefined }, '$connect', 'CONNECT');
  return {
    type: 'REQUEST' as const,
    methodArn: connectMethodArn(api),
    headers: headers.headers,
    multiValueHeaders: headers.multiValueHeaders,
    queryStringParameters: query.queryStringParameters ?? {},
    multiValueQueryStringParameters: query.multiValueQueryStringParameters ?? {},
    stageVariables: {},
    requestContext: context,
  };
}
