/** Identifiers shaped like API Gateway's. */
import { randomBytes, randomInt } from 'node:crypto';

/**
 * Connection, request and message ids look like `QQFxqeZfIAMCKRA=`: 16 characters, base64url
 * alphabet (AWS ids contain `-` and `_`, never `+` or `/`), one trailing `=`. 11 random bytes
 * encode to exactly 15 base64url characters; the `=` is what standard padding would add.
 */
export function awsId(): string {
  return randomBytes(11).toString('base64url') + '=';
}

const API_ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** 10 lowercase letters and digits, like `abcdef1234`. */
export function randomApiId(): string {
  let id = '';
  for (let i = 0; i < 10; i++) id += API_ID_ALPHABET[randomInt(API_ID_ALPHABET.length)];
  return id;
}

/** X-Amzn-Trace-Id: `Root=1-<epoch seconds, hex>-<24 hex digits>`. */
export function traceId(nowMs: number): string {
  return `Root=1-${Math.floor(nowMs / 1000).toString(16)}-${randomBytes(12).toString('hex')}`;
}
