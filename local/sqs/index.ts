export { startSqs, systemAttributesOf, type QueueDefinition, type SqsEndpoint, type SqsOptions } from './server';
export { Queue, type Delivery, type PersistedMessage, type QueueSettings, type QueueStore } from './queue';
export { QueueJournal } from './journal';
export { md5Hex, md5OfAttributes, type AttributeValue } from './md5';
