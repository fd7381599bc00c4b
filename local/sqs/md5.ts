/**
 * The MD5 digests SQS returns: of the body, and of the message (system) attributes as AWS
 * documents it ("Calculating the MD5 message digest for message attributes"): for each attribute,
 * sorted by name, the name, the data type and the value, each as a 4-byte big-endian length
 * followed by its UTF-8 (or raw binary) bytes, with a 1-byte transport type (1 = String/Number,
 * 2 = Binary) between data type and value; then MD5 over the concatenation, in hex.
 */
import { createHash } from 'node:crypto';

export interface AttributeValue {
  DataType: string;
  StringValue?: string;
  /** Raw bytes (the wire carries them base64-encoded). */
  BinaryValue?: Buffer;
}

export function md5Hex(data: string | Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

function lengthPrefixed(bytes: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** `undefined` when there are no attributes (SQS then omits the digest). */
export function md5OfAttributes(attributes: Record<string, AttributeValue> | undefined): string | undefined {
  const names = Object.keys(attributes ?? {});
  if (names.length === 0) return undefined;
  const hash = createHash('md5');
  // AWS sorts by name in byte order; JavaScript's default sort compares UTF-16 units, which
  // agrees for the characters attribute names may use.
  for (const name of names.sort()) {
    const value = attributes![name];
    const binary = value.DataType.startsWith('Binary');
    hash.update(lengthPrefixed(Buffer.from(name, 'utf8')));
    hash.update(lengthPrefixed(Buffer.from(value.DataType, 'utf8')));
    hash.update(Buffer.from([binary ? 2 : 1]));
    hash.update(lengthPrefixed(binary ? (value.BinaryValue ?? Buffer.alloc(0)) : Buffer.from(value.StringValue ?? '', 'utf8')));
  }
  return hash.digest('hex');
}
