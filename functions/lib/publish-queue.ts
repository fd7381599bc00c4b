/**
 * Sending onto the publish queue from inside the system: client publishes (relay) and presence
 * events (presence/) take the same path as backends' messages — one retry policy, one DLQ. The
 * SQS client has explicit timeouts (clients.ts) and the SDK's own retries.
 */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { ENV } from '../../protocol/env';
import { makeSqsClient } from './clients';
import { required, type Config } from './config';

export interface PublishQueue {
  /** Resolves once SQS accepted the message (its message id); throws when it did not. */
  send(body: unknown): Promise<string>;
}

export function makePublishQueue(config: Config, sqs: SQSClient = makeSqsClient(config)): PublishQueue {
  const queueUrl = required(config.publishQueueUrl, ENV.publishQueueUrl);
  return {
    async send(body) {
      const out = await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(body) }));
      return out.MessageId ?? '';
    },
  };
}
