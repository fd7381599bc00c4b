/**
 * SQS: what the publish function needs to consume its own queue, and the queue's resource
 * policy (TLS only; EventBridge may send only on behalf of this stack's rules).
 */
import * as pulumi from '@pulumi/pulumi';
import type { PolicyStatement, ResourcePolicyStatement } from './document';

/** What the Lambda event source mapping polls with, on the function's role. */
export const QUEUE_CONSUME_ACTIONS = ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage'];

export function consumeQueueStatement(queueArn: pulumi.Input<string>, sid = 'ConsumePublishQueue'): PolicyStatement {
  return { Sid: sid, Effect: 'Allow', Action: QUEUE_CONSUME_ACTIONS, Resource: [queueArn] };
}

/** Putting delivery jobs on the delivery queue (SendMessageBatch needs sqs:SendMessage) and, out of attempts, on its DLQ. */
export function sendDeliveryJobsStatement(queueArns: pulumi.Input<string>[]): PolicyStatement {
  return { Sid: 'SendDeliveryJobs', Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: queueArns };
}

/**
 * Sending onto the publish queue from inside the stack: the relay (client publishes) and, with
 * presence topics, the functions that announce joins and leaves. SendMessage on that queue only.
 */
export function sendToPublishQueueStatement(queueArn: pulumi.Input<string>): PolicyStatement {
  return { Sid: 'SendToPublishQueue', Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: [queueArn] };
}

export function denyInsecureTransportStatement(queueArn: pulumi.Input<string>): ResourcePolicyStatement {
  return {
    Sid: 'DenyInsecureTransport',
    Effect: 'Deny',
    Principal: '*',
    Action: ['sqs:*'],
    Resource: [queueArn],
    Condition: { Bool: { 'aws:SecureTransport': 'false' } },
  };
}

/** EventBridge may SendMessage only when the message comes from one of these rules. */
export function allowEventRulesStatement(queueArn: pulumi.Input<string>, ruleArns: pulumi.Input<string>[]): ResourcePolicyStatement {
  return {
    Sid: 'AllowThisStacksEventRules',
    Effect: 'Allow',
    Principal: { Service: 'events.amazonaws.com' },
    Action: ['sqs:SendMessage'],
    Resource: [queueArn],
    Condition: { ArnEquals: { 'aws:SourceArn': ruleArns } },
  };
}

export function queuePolicyStatements(queueArn: pulumi.Input<string>, ruleArns: pulumi.Input<string>[]): ResourcePolicyStatement[] {
  const statements = [denyInsecureTransportStatement(queueArn)];
  if (ruleArns.length > 0) statements.push(allowEventRulesStatement(queueArn, ruleArns));
  return statements;
}
