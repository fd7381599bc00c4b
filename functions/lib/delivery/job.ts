/**
 * A delivery job: one frame for a list of connections, carried on the delivery queue.
 * Publish cuts a big topic into slice jobs and hands what it could not deliver to retry jobs;
 * the delivery function posts each job and hands on what is still left. A job names only its
 * connections, so a retry never re-sends to anyone who already has the message, and the frame
 * (with its `id` and `seq`) is the same in every retry.
 */
import * as z from '../../../protocol/zod';

export const JOB_KINDS = [
  /** A part of a big topic, not tried yet. */
  'slice',
  /** Connections whose post failed (429, 5xx, timeout, 403) after the retries one invocation gives. */
  'retry',
  /** Connections not tried because the invocation's deadline came first. */
  'rest',
] as const;
export type JobKind = (typeof JOB_KINDS)[number];

const nonEmpty = () => z.string().check(z.minLength(1));

export const deliveryJobSchema = z.strictObject({
  kind: z.enum(JOB_KINDS),
  messageId: nonEmpty(),
  topic: nonEmpty(),
  /** The frame exactly as subscribers receive it (JSON text). */
  frame: nonEmpty(),
  connectionIds: z.array(nonEmpty()).check(z.minLength(1)),
  /** Failed rounds these connections have had so far (0: never tried). */
  attempt: z.int().check(z.minimum(0)),
});

export type DeliveryJob = z.infer<typeof deliveryJobSchema>;

/** Jobs for `connectionIds`, at most `perJob` connections each. */
export function jobsFor(base: Omit<DeliveryJob, 'connectionIds'>, connectionIds: readonly string[], perJob: number): DeliveryJob[] {
  const jobs: DeliveryJob[] = [];
  for (let i = 0; i < connectionIds.length; i += perJob) jobs.push({ ...base, connectionIds: connectionIds.slice(i, i + perJob) });
  return jobs;
}

export type ParsedJob = { ok: true; job: DeliveryJob } | { ok: false; reason: string };

/** Decode a queue message body; a body that is not a job is reported, never thrown. */
export function parseJob(body: string): ParsedJob {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return { ok: false, reason: 'the delivery job is not valid JSON' };
  }
  const parsed = deliveryJobSchema.safeParse(value);
  if (!parsed.success) return { ok: false, reason: `not a delivery job: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'job'}: ${i.message}`).join('; ')}` };
  return { ok: true, job: parsed.data };
}
