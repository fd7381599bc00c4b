/**
 * The stack outputs a user (and the CLI, client and tests) needs. `index.ts` exports these keys,
 * and the local mode prints the same keys with `--json` (all but `dashboardUrl`: there is no
 * CloudWatch locally), so a local run and a deployed stack can be used alike.
 */
import * as z from 'zod';

export const stackOutputsSchema = z.object({
  /** wss://…/{stage}: what clients connect to. */
  websocketUrl: z.string(),
  /** https://{apiId}.execute-api.{region}.amazonaws.com/{stage}: the @connections API. */
  managementEndpoint: z.string(),
  queueUrl: z.string(),
  queueArn: z.string(),
  dlqUrl: z.string(),
  eventBusName: z.string(),
  tableName: z.string(),
  /** The history table (topic streams), which `realtime history` reads. */
  historyTableName: z.string(),
  deliveryQueueUrl: z.string(),
  deliveryDlqUrl: z.string(),
  /** Deployed stacks only (the local mode has no CloudWatch): the stack's dashboard in the CloudWatch console. */
  dashboardUrl: z.string().optional(),
  /** Local mode only: endpoints of the local stand-ins. */
  region: z.string().optional(),
  sqsEndpoint: z.string().optional(),
  eventBridgeEndpoint: z.string().optional(),
  dynamodbEndpoint: z.string().optional(),
  demoUrl: z.string().optional(),
  /** Local mode only: whether the $connect authorizer is on (a client must bring a token). */
  authRequired: z.boolean().optional(),
});
export type StackOutputs = z.infer<typeof stackOutputsSchema>;

export const STACK_OUTPUT_KEYS = [
  'websocketUrl',
  'managementEndpoint',
  'queueUrl',
  'queueArn',
  'dlqUrl',
  'eventBusName',
  'tableName',
  'historyTableName',
  'deliveryQueueUrl',
  'deliveryDlqUrl',
  'dashboardUrl',
] as const;
