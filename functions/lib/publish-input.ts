/**
 * Turning what the publish function receives (an SQS record's body, or an EventBridge event's
 * `detail`) into the frames to deliver, or into the reason it must be dropped. A dropped input
 * is logged and never retried: no number of retries would make it valid.
 */
import { envelopeSchema, envelopeTopics, deliveredMessage, type PublishEnvelope } from '../../protocol/envelope';
import { describeIssues } from './untrusted';

export interface PublishInput {
  /** The envelope, already JSON-parsed (or the raw text when it came as a string). */
  payload: unknown;
  /** Used when the envelope has no `id`: the SQS message id or the EventBridge event id. */
  fallbackId: string;
  /** A time that stays the same across retries (SQS SentTimestamp, event `time`), if known. */
  publishedAt?: string;
}

export interface Frame {
  topic: string;
  bytes: Uint8Array;
}

export type Prepared =
  | { ok: true; id: string; topics: string[]; frames: Frame[]; envelope: PublishEnvelope }
  | { ok: false; id: string; reason: string };

/** Epoch milliseconds (as SQS gives SentTimestamp) or an ISO string → ISO-8601, else undefined. */
export function toIsoTime(value: string | number | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  const asNumber = typeof value === 'number' ? value : /^\d+$/.test(value) ? Number(value) : NaN;
  const date = Number.isFinite(asNumber) ? new Date(asNumber) : new Date(String(value));
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

export function prepareFrames(input: PublishInput, limits: { maxTopicLength: number; maxFrameBytes: number }): Prepared {
  let payload = input.payload;
  if (typeof payload === 'string') {
    try {
      payload = JSON.parse(payload);
    } catch (error) {
      return { ok: false, id: input.fallbackId, reason: `the envelope is not valid JSON: ${(error as Error).message}` };
    }
  }
  const parsed = envelopeSchema(limits.maxTopicLength).safeParse(payload);
  if (!parsed.success) return { ok: false, id: input.fallbackId, reason: `invalid envelope: ${describeIssues(parsed.error)}` };

  const envelope = parsed.data;
  const id = envelope.id ?? input.fallbackId;
  const publishedAt = input.publishedAt ?? new Date().toISOString();
  const topics = envelopeTopics(envelope);
  const encoder = new TextEncoder();
  const frames: Frame[] = [];
  for (const topic of topics) {
    const bytes = encoder.encode(JSON.stringify(deliveredMessage(topic, id, envelope.data, publishedAt)));
    if (bytes.byteLength > limits.maxFrameBytes) {
      return {
        ok: false,
        id,
        reason: `payload too large: the message delivered on "${topic}" would be ${bytes.byteLength} bytes; the limit is ${limits.maxFrameBytes}`,
      };
    }
    frames.push({ topic, bytes });
  }
  return { ok: true, id, topics, frames, envelope };
}
