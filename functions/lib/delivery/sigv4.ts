/**
 * AWS Signature Version 4 for the management API's requests, on node:crypto, synchronous.
 *
 * Hand-written because it measured cheapest (bench/post-path.ts: the SDK's own signer,
 * @smithy/signature-v4, does the same work through promises and request clones). It signs
 * exactly what @smithy/signature-v4 signs for the same request (test/functions/sigv4.test.ts
 * compares the Authorization headers): canonical URI escaped a second time (non-S3 rule, `/`
 * kept), no query, signed headers `host`, `x-amz-content-sha256` (the payload's SHA-256, which
 * the SDK's signer adds by default), `x-amz-date` and, with a session token,
 * `x-amz-security-token`. The derived
 * signing key is cached per (secret, day) — region and service are fixed per signer — so a
 * request costs two SHA-256 and one HMAC.
 */
import { createHash, createHmac } from 'node:crypto';

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface SignableRequest {
  method: string;
  /** The Host header as sent (`host[:port]`). */
  host: string;
  /** The path as sent: already percent-encoded, no query string. */
  path: string;
  body?: Uint8Array;
}

/** Headers to add to the request (`x-amz-security-token` too, with a session token). */
export interface SignedHeaders {
  [name: string]: string;
  authorization: string;
  'x-amz-content-sha256': string;
  'x-amz-date': string;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** RFC 3986 escaping as the SDK does it: encodeURIComponent plus `!'()*`. */
export function escapeUri(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * The canonical URI of a path as sent: `.`/`..`/empty segments resolved (as the SDK's signer
 * does), then every segment escaped again, so `%3D` becomes `%253D` and `@` becomes `%40`.
 */
export function canonicalUri(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const trailing = segments.length > 0 && path.endsWith('/') ? '/' : '';
  return `${path.startsWith('/') ? '/' : ''}${segments.map(escapeUri).join('/')}${trailing}`;
}

/** `YYYYMMDDTHHMMSSZ` of a time in ms since the epoch. */
export function amzDate(epochMs: number): string {
  return new Date(epochMs).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

export class SigV4Signer {
  private key?: { secret: string; day: string; value: Buffer };
  /** The x-amz-date of the current second: formatting a date costs more than signing reuses. */
  private date = { second: -1, value: '' };

  constructor(
    readonly region: string,
    readonly service: string,
  ) {}

  sign(request: SignableRequest, credentials: Credentials, epochMs: number = Date.now()): SignedHeaders {
    const second = Math.floor(epochMs / 1000);
    if (second !== this.date.second) this.date = { second, value: amzDate(epochMs) };
    const date = this.date.value;
    const day = date.slice(0, 8);
    const token = credentials.sessionToken;
    const payloadHash = request.body && request.body.byteLength > 0 ? createHash('sha256').update(request.body).digest('hex') : EMPTY_SHA256;
    const signedHeaders = token ? 'host;x-amz-content-sha256;x-amz-date;x-amz-security-token' : 'host;x-amz-content-sha256;x-amz-date';
    const canonicalRequest =
      `${request.method}\n${canonicalUri(request.path)}\n\nhost:${request.host}\nx-amz-content-sha256:${payloadHash}\nx-amz-date:${date}\n` +
      (token ? `x-amz-security-token:${token}\n` : '') +
      `\n${signedHeaders}\n${payloadHash}`;
    const scope = `${day}/${this.region}/${this.service}/aws4_request`;
    const stringToSign = `${ALGORITHM}\n${date}\n${scope}\n${createHash('sha256').update(canonicalRequest).digest('hex')}`;
    const signature = createHmac('sha256', this.signingKey(credentials.secretAccessKey, day)).update(stringToSign).digest('hex');
    const headers: SignedHeaders = {
      authorization: `${ALGORITHM} Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
      'x-amz-content-sha256': payloadHash,
      'x-amz-date': date,
    };
    if (token) headers['x-amz-security-token'] = token;
    return headers;
  }

  /** kSigning = HMAC chain over day, region, service, "aws4_request"; recomputed when the secret or the day changes. */
  private signingKey(secret: string, day: string): Buffer {
    const cached = this.key;
    if (cached && cached.secret === secret && cached.day === day) return cached.value;
    let key: Buffer = Buffer.from(`AWS4${secret}`, 'utf8');
    for (const part of [day, this.region, this.service, 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
    this.key = { secret, day, value: key };
    return key;
  }
}
