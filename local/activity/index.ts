/** The local mode's activity lines: what happened (events.ts) and how it is printed (format.ts). */
export { fromDeliver, fromGateway, fromPublish, printable, type ActivityEvent, type ActivityKind } from './events';
export { ACTIVITY_FORMATS, activityPrinter, formatJson, formatText, type ActivityFormat, type ActivityPrinterOptions } from './format';
