/**
 * The Pulumi program: read the stack's `realtime:*` settings (defaults and rules in
 * components/config.ts, declared in Pulumi.yaml), build the system, export its outputs
 * (the keys of protocol/outputs.ts STACK_OUTPUT_KEYS).
 */
import { readStackConfig } from './components/config';
import { RealtimePubSub } from './components/realtime-pubsub';

const system = new RealtimePubSub('realtime', readStackConfig());

export const websocketUrl = system.outputs.websocketUrl;
export const managementEndpoint = system.outputs.managementEndpoint;
export const queueUrl = system.outputs.queueUrl;
export const queueArn = system.outputs.queueArn;
export const dlqUrl = system.outputs.dlqUrl;
export const eventBusName = system.outputs.eventBusName;
export const tableName = system.outputs.tableName;
export const historyTableName = system.outputs.historyTableName;
export const deliveryQueueUrl = system.outputs.deliveryQueueUrl;
export const deliveryDlqUrl = system.outputs.deliveryDlqUrl;
export const dashboardUrl = system.outputs.dashboardUrl;
