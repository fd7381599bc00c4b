/** `realtime publish <topic> <json | @file | ->`: one envelope through SQS, or EventBridge with --via events. */
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { DIRECT_PUBLISH_DETAIL_TYPE, DIRECT_PUBLISH_SOURCE } from '../../protocol/direct-publish';
import { deliveredMessage, envelopeSchema, type PublishEnvelope } from '../../protocol/envelope';
import { DEFAULTS } from '../../protocol/limits';
import { endpointName, eventBridgeClient, sqsClient } from '../aws';
import { CliError, describeError } from '../errors';
import { readJsonArgument } from '../input';
import { resolveTarget, type TargetFlags } from '../target';
import { checkTopic } from '../topics';

export interface PublishOptions extends TargetFlags {
  via: 'sqs' | 'events';
  id?: string;
  source: string;
  detailType: string;
}

export const PUBLISH_DEFAULTS = { source: DIRECT_PUBLISH_SOURCE, detailType: DIRECT_PUBLISH_DETAIL_TYPE } as const;

/** Publishes and returns the id subscribers will see. */
export async function publish(topic: string, dataArgument: string, options: PublishOptions): Promise<string> {
  checkTopic(topic);
  if (options.via === 'events' && options.id !== undefined) {
    throw new CliError('--id cannot be used with --via events: the message id is the EventBridge event id', 2);
  }
  const data = await readJsonArgument(dataArgument);
  const envelope = buildEnvelope(topic, data, options.id);
  if (options.via === 'events') return publishViaEvents(envelope, options);
  const target = await resolveTarget(options, ['queueUrl']);
  const sqs = sqsClient(target);
  try {
    const sent = await sqs.send(new SendMessageCommand({ QueueUrl: target.outputs.queueUrl, MessageBody: JSON.stringify(envelope) }));
    return envelope.id ?? (sent.MessageId as string);
  } catch (err) {
    throw new CliError(`SendMessage to ${endpointName(target, 'SQS')} failed: ${describeError(err)}`);
  } finally {
    sqs.destroy();
  }
}

/** The envelope, checked as the publish function will check it, including the size limit. */
export function buildEnvelope(topic: string, data: unknown, id?: string): PublishEnvelope {
  const parsed = envelopeSchema().safeParse(id === undefined ? { topic, data } : { topic, data, id });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CliError(`invalid message: ${issue.path.join('.') || 'envelope'}: ${issue.message}`);
  }
  const bytes = Buffer.byteLength(JSON.stringify(deliveredMessage(topic, id ?? 'x'.repeat(36), data, new Date().toISOString())));
  if (bytes > DEFAULTS.maxPublishBytes) {
    throw new CliError(`message too large: it would be delivered as ${bytes} bytes; the limit is ${DEFAULTS.maxPublishBytes}`);
  }
  return parsed.data;
}

async function publishViaEvents(envelope: PublishEnvelope, options: PublishOptions): Promise<string> {
  // The rule's input transformer inserts `detail.data` as raw JSON: only objects and arrays survive that.
  if (typeof envelope.data !== 'object' || envelope.data === null) {
    throw new CliError('--via events needs an object or array as data (the rule inserts it into the envelope as JSON)');
  }
  const target = await resolveTarget(options, ['eventBusName']);
  const events = eventBridgeClient(target);
  try {
    const result = await events.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: target.outputs.eventBusName,
            Source: options.source,
            DetailType: options.detailType,
            Detail: JSON.stringify({ topic: envelope.topic, data: envelope.data }),
          },
        ],
      }),
    );
    const entry = result.Entries?.[0];
    if (!entry?.EventId || result.FailedEntryCount) {
      throw new CliError(`PutEvents refused the event: ${entry?.ErrorCode ?? 'unknown error'} ${entry?.ErrorMessage ?? ''}`.trim());
    }
    if (options.detailType === DIRECT_PUBLISH_DETAIL_TYPE) {
      // PutEvents accepts events no rule matches; say what delivery depends on.
      process.stderr.write(`note: delivered only if a rule on ${target.outputs.eventBusName} matches detail-type "${DIRECT_PUBLISH_DETAIL_TYPE}" (DIRECT_PUBLISH_RULE in protocol/direct-publish.ts)\n`);
    }
    return entry.EventId;
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`PutEvents to ${endpointName(target, 'EventBridge')} failed: ${describeError(err)}`);
  } finally {
    events.destroy();
  }
}
