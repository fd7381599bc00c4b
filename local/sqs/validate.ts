/** Input checks for the SQS operations, with the error codes and wording SQS uses. */
import { AwsServiceError } from '../aws-json';
import type { AttributeValue } from './md5';

export function invalidParameter(message: string): AwsServiceError {
  return new AwsServiceError('InvalidParameterValue', message);
}

export function missingParameter(name: string): AwsServiceError {
  return new AwsServiceError('MissingParameter', `The request must contain the parameter ${name}.`);
}

export function requiredString(input: Record<string, unknown>, name: string): string {
  const value = input[name];
  if (value === undefined || value === null) throw missingParameter(name);
  if (typeof value !== 'string') throw invalidParameter(`Value for parameter ${name} must be a string.`);
  return value;
}

/** An optional whole number within [min, max]. */
export function optionalInteger(input: Record<string, unknown>, name: string, min: number, max: number): number | undefined {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidParameter(`Value ${JSON.stringify(value)} for parameter ${name} is invalid. Reason: Must be between ${min} and ${max}, if provided.`);
  }
  return value;
}

export function optionalStringList(input: Record<string, unknown>, name: string): string[] {
  const value = input[name];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw invalidParameter(`Value for parameter ${name} must be a list of strings.`);
  return value;
}

// SQS accepts #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF.
const INVALID_CHARACTER = /[^\u0009\u000A\u000D\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

export function checkCharacters(text: string, what: string): void {
  if (INVALID_CHARACTER.test(text)) {
    throw new AwsServiceError(
      'InvalidMessageContents',
      `Invalid characters found in ${what}. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF`,
    );
  }
}

const ATTRIBUTE_NAME = /^[A-Za-z0-9_.-]{1,256}$/;
const DATA_TYPE = /^(String|Number|Binary)(\..+)?$/;
const MAX_ATTRIBUTES = 10;

/**
 * Parse `MessageAttributes` (or `MessageSystemAttributes`) from the JSON wire form, where binary
 * values travel base64-encoded. Returns the attributes and their size toward the message limit.
 */
export function parseAttributes(raw: unknown, kind: 'message' | 'system'): { attributes: Record<string, AttributeValue>; bytes: number } {
  if (raw === undefined || raw === null) return { attributes: {}, bytes: 0 };
  if (typeof raw !== 'object' || Array.isArray(raw)) throw invalidParameter(`${kind === 'system' ? 'MessageSystemAttributes' : 'MessageAttributes'} must be a map.`);
  const entries = Object.entries(raw as Record<string, unknown>);
  const label = kind === 'system' ? 'system' : 'user';
  if (kind === 'message' && entries.length > MAX_ATTRIBUTES) {
    throw invalidParameter(`Number of message attributes [${entries.length}] exceeds the allowed maximum [${MAX_ATTRIBUTES}].`);
  }
  const attributes: Record<string, AttributeValue> = {};
  let bytes = 0;
  for (const [name, value] of entries) {
    if (kind === 'system' && name !== 'AWSTraceHeader') throw invalidParameter(`Message system attribute name '${name}' is invalid.`);
    if (kind === 'message' && (!ATTRIBUTE_NAME.test(name) || /^(aws|amazon)\./i.test(name) || name.startsWith('.') || name.endsWith('.') || name.includes('..'))) {
      throw invalidParameter(`Message (user) attribute name '${name}' is invalid. Names use A-Z a-z 0-9 _ - . (no leading, trailing or repeated periods), at most 256 characters, and must not start with AWS. or Amazon.`);
    }
    if (typeof value !== 'object' || value === null) throw invalidParameter(`Message (${label}) attribute '${name}' must be an object with DataType and a value.`);
    const v = value as Record<string, unknown>;
    const dataType = v.DataType;
    if (typeof dataType !== 'string' || dataType === '') throw invalidParameter(`The message (${label}) attribute '${name}' must contain a non-empty attribute type.`);
    const match = DATA_TYPE.exec(dataType);
    if (!match) throw invalidParameter(`The type of message (${label}) attribute '${name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String.`);
    if (v.StringListValues !== undefined || v.BinaryListValues !== undefined) {
      throw invalidParameter(`Message (${label}) attribute '${name}': StringListValues and BinaryListValues are reserved and not supported.`);
    }
    if (match[1] === 'Binary') {
      if (typeof v.BinaryValue !== 'string' || v.BinaryValue === '') throw invalidParameter(`Message (${label}) attribute '${name}' must contain a non-empty value of type 'Binary'.`);
      const binary = Buffer.from(v.BinaryValue, 'base64');
      attributes[name] = { DataType: dataType, BinaryValue: binary };
      bytes += binary.length;
    } else {
      if (typeof v.StringValue !== 'string' || v.StringValue === '') throw invalidParameter(`Message (${label}) attribute '${name}' must contain a non-empty value of type '${match[1]}'.`);
      if (match[1] === 'Number' && !Number.isFinite(Number(v.StringValue))) throw invalidParameter(`Can't cast the value of message (${label}) attribute '${name}' to a number.`);
      checkCharacters(v.StringValue, `message (${label}) attribute '${name}'`);
      attributes[name] = { DataType: dataType, StringValue: v.StringValue };
      bytes += Buffer.byteLength(v.StringValue);
    }
    bytes += Buffer.byteLength(name) + Buffer.byteLength(dataType);
  }
  return { attributes, bytes };
}

/** The JSON wire form of stored attributes (binary back to base64). */
export function attributesToWire(attributes: Record<string, AttributeValue>): Record<string, Record<string, string>> {
  const wire: Record<string, Record<string, string>> = {};
  for (const [name, value] of Object.entries(attributes)) {
    wire[name] =
      value.BinaryValue !== undefined
        ? { DataType: value.DataType, BinaryValue: value.BinaryValue.toString('base64') }
        : { DataType: value.DataType, StringValue: value.StringValue ?? '' };
  }
  return wire;
}

const BATCH_ID = /^[A-Za-z0-9_-]{1,80}$/;
export const MAX_BATCH_ENTRIES = 10;

/** Check a batch request's `Entries`: 1..10 entries with distinct valid ids. */
export function batchEntries(input: Record<string, unknown>): Record<string, unknown>[] {
  const entries = input.Entries;
  if (entries === undefined || entries === null || (Array.isArray(entries) && entries.length === 0)) {
    throw new AwsServiceError('EmptyBatchRequest', 'There should be at least one SendMessageBatchRequestEntry in the request.', { queryCode: 'AWS.SimpleQueueService.EmptyBatchRequest' });
  }
  if (!Array.isArray(entries) || !entries.every((e) => typeof e === 'object' && e !== null)) throw invalidParameter('Entries must be a list of objects.');
  if (entries.length > MAX_BATCH_ENTRIES) {
    throw new AwsServiceError('TooManyEntriesInBatchRequest', `Maximum number of entries per request are ${MAX_BATCH_ENTRIES}. You have sent ${entries.length}.`, {
      queryCode: 'AWS.SimpleQueueService.TooManyEntriesInBatchRequest',
    });
  }
  const seen = new Set<string>();
  for (const entry of entries as Record<string, unknown>[]) {
    const id = entry.Id;
    if (typeof id !== 'string' || !BATCH_ID.test(id)) {
      throw new AwsServiceError('InvalidBatchEntryId', `A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long. Got ${JSON.stringify(id)}.`, {
        queryCode: 'AWS.SimpleQueueService.InvalidBatchEntryId',
      });
    }
    if (seen.has(id)) {
      throw new AwsServiceError('BatchEntryIdsNotDistinct', `Id ${id} repeated.`, { queryCode: 'AWS.SimpleQueueService.BatchEntryIdsNotDistinct' });
    }
    seen.add(id);
  }
  return entries as Record<string, unknown>[];
}
