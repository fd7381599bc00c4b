export { startSqs, systemAttributesOf, type QueueDefinition, type SqsEndpoint, type SqsOptions } from './server';
export { Queue, type Delivery, type QueueSettings } from './queue';
export { md5Hex, md5OfAttributes, type AttributeValue } from './md5';
